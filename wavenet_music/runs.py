"""Writing files without losing any: the one atomic writer, the run lock, log appends.

Every file the tool writes goes through ``write_atomically``: the bytes go to a temporary
file beside the target, are synced, and replace it in one rename, so a crash, a full disk
or a read-only folder leaves either the old file or the new one, never a truncated mix;
the error is one line naming the file and the reason. Only regular files are replaced: a
directory, a device (``/dev/null``), a FIFO or a socket is refused, never swapped for a
file. A symlink is written through (its target is replaced, the link stays).

``run_lock`` makes a run directory one process's at a time: an advisory ``flock`` on
``RUN/.lock``, which the operating system releases when the process ends, crash included
(and the command removes when it ends).

Resuming keeps to the run (``resumed_settings``, ``require_same_data``): the stored config
with a new budget, on the data folder the run recorded; anything else asked is refused
by name rather than ignored.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import fcntl
import glob
import io
import json
import os
import re
import secrets
import stat
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from .config import UserError

LOCK_FILE = ".lock"
_HELD: set[Path] = set()  # the run folders this process holds the lock of
LOCK_ATTEMPTS = 10  # a lock file removed as it is opened: open it again, this often
T = TypeVar("T")


# --- the atomic writer -----------------------------------------------------------------------


def check_target(path: Path) -> Path:
    """The file ``path`` names, links followed; a one-line error when it is something a
    file must not replace (a directory, a device, a FIFO, a socket) or its folder takes no
    new file (``check_folder_takes_files``). Call it before long work, so that a bad
    ``--out`` fails at once rather than after it."""
    real = Path(os.path.realpath(path))
    try:
        mode = real.stat().st_mode
    except FileNotFoundError:
        if os.path.islink(path) and not real.parent.is_dir():  # never make folders it names
            raise UserError(
                f"cannot write {path}: a link to {real}, whose folder does not exist"
            ) from None
        check_folder_takes_files(path, real)
        return real
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror}") from None
    if stat.S_ISDIR(mode):
        raise UserError(f"cannot write {path}: it is a directory; name a file inside it")
    if not stat.S_ISREG(mode):
        raise UserError(
            f"cannot write {path}: it is {_kind(mode)}, not a regular file; it is left "
            "as it is (name a regular file)"
        )
    check_folder_takes_files(path, real)
    return real


def check_folder_takes_files(path: Path, real: Path) -> None:
    """A one-line error when the folder that ``real`` (``path``, links followed) will be
    written in, or the nearest of its parents that exists (the rest are made when it is
    written), takes no new file: read-only, not the user's, or a file system of no files
    (/proc). Tried with a nameless file, which leaves nothing behind; a file is written
    beside its target first and then renamed over it, so the folder must take one."""
    folder = real.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise UserError(
            f"cannot write {path}: {folder} takes no new file ({exc.strerror}); "
            "choose another folder"
        ) from None


def check_apart(outputs: Iterable[Path], inputs: dict[str, str | Path | None]) -> None:
    """A one-line error when one of ``outputs`` is one of ``inputs`` (``{flag: path}``,
    None where not given): the same path, a link to it or a hard link of it. Call it
    before long work: a command must never write over the file it reads."""
    for flag, given in inputs.items():
        if given is None:
            continue
        for out in outputs:
            if _one_file(Path(out), Path(given)):
                raise UserError(
                    f"--out: {out} would replace {flag} {given}, which this command reads; "
                    "name another --out"
                )


def _one_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return os.path.realpath(a) == os.path.realpath(b)


TEMPORARY = re.compile(r"^\..+\.(\d+)\.[0-9a-f]{8}\.tmp$")  # .NAME.PID.HEX.tmp, as written here


def remove_stale_temporaries(folder: Path) -> int:
    """Remove the hidden temporary files a killed writer left in ``folder`` (a kill -9
    while a cache file was built left 46 MB that no later run removed): those named by
    ``write_atomically`` or a block writer whose process is gone. Returns how many."""
    removed = 0
    try:
        names = os.listdir(folder)
    except OSError:
        return 0
    for name in names:
        match = TEMPORARY.match(name)
        if match is None or _alive(int(match.group(1))):
            continue
        with contextlib.suppress(OSError):
            (Path(folder) / name).unlink()
            removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: alive
        return True
    return True


def write_atomically(path: Path, data: bytes | str, hint: str = "") -> Path:
    """Replace (or create) the regular file ``path`` with ``data`` in one rename.

    On any failure (disk full, no permission, read-only) the previous file is intact, no
    temporary file is left and the error is a ``UserError`` naming the file and the
    reason, followed by ``hint``."""
    payload = data.encode() if isinstance(data, str) else data
    return replace_atomically(path, lambda real: _replace_with(real, payload), hint)


def replace_atomically(path: Path, replace: Callable[[Path], None], hint: str = "") -> Path:
    """``write_atomically``'s checks and errors around ``replace(real)``, which writes the
    regular file ``path`` names (links followed) through a temporary file and one rename,
    leaving nothing behind when it fails (``_replace_with``; a file written in pieces:
    ``audio.cache_blocks.write_npy_atomically``)."""
    real = check_target(path)
    existed = real.exists()
    try:
        real.parent.mkdir(parents=True, exist_ok=True)
        replace(real)
    except OSError as exc:
        kept = "the previous file is intact" if existed else "nothing was written"
        reason = exc.strerror or type(exc).__name__
        if isinstance(exc, FileExistsError | NotADirectoryError):
            reason = "a file stands where a folder is needed"
        raise UserError(f"cannot write {path} ({reason}); {kept}{hint}") from None
    return Path(path)


def _replace_with(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name[:200]}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        old = path.stat()
    except FileNotFoundError:
        old = None
    try:
        write_new_file(tmp, data, old)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def write_new_file(path: Path, data: bytes, like: os.stat_result | None = None) -> None:
    """Create ``path`` (which must not exist) holding ``data``, synced to disk; with
    ``like``, with that file's permissions and (where allowed) owner. Raises OSError."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        if like is not None:
            os.fchmod(fd, stat.S_IMODE(like.st_mode))
            with contextlib.suppress(PermissionError):  # not ours to give: it becomes ours
                os.fchown(fd, like.st_uid, like.st_gid)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (file systems that cannot sync folders: skip)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.EBADF):
            raise
    finally:
        os.close(fd)


def npy_bytes(array: np.ndarray) -> bytes:
    """``array`` as the bytes of a ``.npy`` file."""
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def _kind(mode: int) -> str:
    kinds = {
        stat.S_ISCHR: "a character device",
        stat.S_ISBLK: "a block device",
        stat.S_ISFIFO: "a FIFO",
        stat.S_ISSOCK: "a socket",
    }
    return next((name for test, name in kinds.items() if test(mode)), "a special file")


# --- caches ------------------------------------------------------------------------------------


def file_identity(path: Path) -> list:
    """What a cache built from the file ``path`` is keyed by, as git's index tells a file
    changed: its resolved path, size, modification and change times (ns) and inode. The
    change time is the system's own, set whenever the file is written or replaced and
    never copied, so a file replaced by one of the same length with an old modification
    time (``cp -p``, ``rsync -t``, ``touch -r``, a restore from a backup) is read again,
    not served from the cache of the audio it replaced."""
    stat = Path(path).stat()
    times = [stat.st_mtime_ns, stat.st_ctime_ns]
    return [str(Path(path).resolve()), stat.st_size, *times, stat.st_ino]


def cached(
    path: Path,
    read: Callable[[Path], T],
    build: Callable[[], bytes],
    hint: str = "",
    identity: list | None = None,
) -> T:
    """``read(path)``; a missing file is built first, and a damaged one (cut short by a
    crash or a full disk, overwritten) is reported, built again and replaced, so that one
    bad cache file never fails every later run. ``read`` raises OSError or ValueError (or
    KeyError, EOFError) for a file it cannot use. With ``identity`` (an entry of the shared
    cache folder: its source's ``file_identity``, hashed into its name), the source is
    recorded (``record_source``)."""
    if path.exists():
        try:
            found = read(path)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            print(
                f"warning: cache file {path} is damaged ({type(exc).__name__}: {exc}); "
                "building it again",
                file=sys.stderr,
            )
        else:
            return _kept(path, identity, found)
    write_atomically(path, build(), hint)
    return _kept(path, identity, read(path))


def _kept(entry: Path, identity: list | None, found: T) -> T:
    if identity is not None:
        record_source(entry, identity)
    return found


# Cache files held open (memory-mapped) at once by one store: each map holds a file
# descriptor, and a process may hold 256 by default on macOS, 1,024 on Linux, so a store
# that kept every file of a corpus of some hundreds of recordings open failed mid-training
# with "Too many open files". Opening a map again costs about 0.1 ms; a training step, ms
# (the tiny preset on 200 recordings trained as fast with the bound as without it).
MAX_OPEN_ARRAYS = 64


class OpenArrays:
    """Arrays ``open(path)`` gives (memory maps of cache files), at most ``limit`` held
    at once: the least recently used is let go first (its map closes once no window still
    reads it), and opened again when asked for again."""

    def __init__(self, open: Callable[[Path], np.ndarray], limit: int = MAX_OPEN_ARRAYS) -> None:
        self._open, self.limit = open, limit
        self._held: collections.OrderedDict[Path, np.ndarray] = collections.OrderedDict()

    def __getitem__(self, path: Path) -> np.ndarray:
        if path in self._held:
            self._held.move_to_end(path)
            return self._held[path]
        array = self._held[path] = self._open(path)
        while len(self._held) > self.limit:
            self._held.popitem(last=False)
        return array

    def __len__(self) -> int:
        return len(self._held)


# --- what each cache entry was built from -------------------------------------------------------

# An entry's name hashes its source file's identity, so a file edited, replaced or only
# touched gets a new entry and the old one is never read again: a cache folder grows by
# every version of every recording (12 decodes of one test file in this machine's). They
# are not removed as a new one is built: a run started before the change may still read
# the old one. Beside each entry, ENTRY.source.json records what it was built from, so that
# ``survey_cache`` tells those whose source changed or is gone and ``wavenet-music cache
# --prune`` removes them when the user says so.
SOURCE_RECORD = ".source.json"
# what a cache entry is named (``NAME-DIGEST[.score|.notes].npy``), its derived features
# (``NAME-DIGEST.features-KEY.npy``) and its record: nothing else in a folder is touched
ENTRY = re.compile(r"^.{1,40}-[0-9a-f]{20}(\.score|\.notes)?\.npy$")
DERIVED = re.compile(r"^(?P<entry>.{1,40}-[0-9a-f]{20})\.features-[0-9a-f]{12}\.npy$")


def record_source(entry: Path, identity: list) -> None:
    """Record beside ``entry`` the file it was built from as it was then (``identity``,
    its ``file_identity`` hashed into the entry's name, not read again: a file replaced
    while it was decoded is recorded as it was), once; a folder that cannot be written
    keeps no record, and its entries read as written before records."""
    path, *rest = identity
    mine = {"source": path, "identity": rest}
    record = entry.with_name(entry.name + SOURCE_RECORD)
    if _read_record(record) != mine:
        with contextlib.suppress(UserError):
            write_atomically(record, json.dumps(mine))


def remove_entry(entry: Path) -> int:
    """Remove the cache entry ``entry``, its record and its derived features; the bytes
    freed (what another process removed first counts nothing)."""
    derived = entry.parent.glob(f"{glob.escape(entry.name.removesuffix('.npy'))}.features-*.npy")
    freed = 0
    for path in [entry, entry.with_name(entry.name + SOURCE_RECORD), *derived]:
        with contextlib.suppress(OSError):
            size = path.stat().st_size
            path.unlink()
            freed += size
    return freed


def _read_record(record: Path) -> dict:
    try:
        found = json.loads(record.read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


@dataclass
class CacheSurvey:
    """A cache folder's entries: ``live`` (their source as they were built from it),
    ``stale`` (their source changed since, or gone: never read again) and ``unrecorded``
    (written before entries kept records, or their record lost), each entry with the bytes
    it holds (its derived features included)."""

    live: dict[Path, int] = field(default_factory=dict)
    stale: dict[Path, int] = field(default_factory=dict)
    unrecorded: dict[Path, int] = field(default_factory=dict)


def survey_cache(folder: Path) -> CacheSurvey:
    """Every entry of the cache ``folder`` (``ENTRY``), judged by its record; a record or
    derived features whose entry is gone count as a stale entry."""
    folder = Path(folder)
    names = os.listdir(folder) if folder.is_dir() else []
    sizes: dict[str, int] = {}
    for name in names:
        derived = DERIVED.match(name)
        entry = derived.group("entry") + ".npy" if derived else name.removesuffix(SOURCE_RECORD)
        if ENTRY.match(entry):
            with contextlib.suppress(OSError):
                sizes[entry] = sizes.get(entry, 0) + (folder / name).stat().st_size
    survey = CacheSurvey()
    for entry, size in sizes.items():
        record = _read_record(folder / (entry + SOURCE_RECORD))
        if entry not in names or (record and not _unchanged(record)):
            survey.stale[folder / entry] = size
        elif record:
            survey.live[folder / entry] = size
        else:
            survey.unrecorded[folder / entry] = size
    return survey


def _unchanged(record: dict) -> bool:
    try:
        return file_identity(Path(record["source"]))[1:] == record["identity"]
    except (OSError, KeyError, TypeError):
        return False


# --- appending to a log ------------------------------------------------------------------------


def append_record(path: Path, record: dict) -> None:
    """Append ``record`` as one JSON line in a single write (a crash cuts at most this
    line short; readers skip such a line). A full disk is one line naming the file."""
    line = (json.dumps(record) + "\n").encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
    except OSError as exc:
        raise UserError(f"cannot append to {path} ({exc.strerror})") from None


def keep_records_through(path: Path, step: int) -> int:
    """Rewrite the log ``path`` (``append_record``'s) without the records of steps after
    ``step``, the checkpoint a run resumes from: a run killed after its last checkpoint
    had logged steps its resume logs again (10 kills left 29 steps twice). A line cut
    short by the crash goes too. Returns how many lines went."""
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return 0
    kept = [line for line in lines if _logged_through(line, step)]
    if len(kept) < len(lines):
        write_atomically(path, "".join(line + "\n" for line in kept))
    return len(lines) - len(kept)


def _logged_through(line: str, step: int) -> bool:
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return False
    logged = record.get("step") if isinstance(record, dict) else None
    return not isinstance(logged, int) or logged <= step


# --- one process per run -----------------------------------------------------------------------


@contextlib.contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """Hold ``RUN/.lock`` while the body runs; a second process gets a one-line error.

    The lock is an ``flock`` on the open file: the operating system releases it when the
    process ends, however it ends, so a crashed run never stays locked. Creates the run
    directory. The lock file goes when the body ends, however it ends (and the directory
    too when this created it and nothing else was written there): no command leaves one."""
    run_dir = Path(run_dir)
    created = not run_dir.exists()
    fd = _locked(run_dir)
    _HELD.add(run_dir.resolve())
    try:
        yield
    finally:
        _HELD.discard(run_dir.resolve())
        _release(fd, run_dir, created)


def _locked(run_dir: Path) -> int:
    """An open, locked ``RUN/.lock`` holding this process's pid."""
    path = run_dir / LOCK_FILE
    for attempt in range(LOCK_ATTEMPTS):
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except FileNotFoundError as exc:  # its holder removed the folder as it finished
            if attempt + 1 < LOCK_ATTEMPTS:
                continue
            raise UserError(f"cannot write run directory {run_dir} ({exc.strerror})") from None
        except OSError as exc:
            raise UserError(f"cannot write run directory {run_dir} ({exc.strerror})") from None
        try:
            _take(fd, run_dir)
        except BaseException:
            os.close(fd)
            raise
        if _same_file(fd, path):
            break
        os.close(fd)  # locked a file its holder had just removed: lock the new one
    else:
        raise UserError(f"cannot lock run directory {run_dir}: its lock file keeps changing")
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def _same_file(fd: int, path: Path) -> bool:
    try:
        named = path.stat()
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (held.st_dev, held.st_ino) == (named.st_dev, named.st_ino)


def _release(fd: int, run_dir: Path, created: bool) -> None:
    """Remove the lock file while still holding it (a process that opened it meanwhile
    finds it gone once it gets the lock, and locks a new one), then let go."""
    try:
        with contextlib.suppress(OSError):
            (run_dir / LOCK_FILE).unlink(missing_ok=True)
            if created and not any(run_dir.iterdir()):
                run_dir.rmdir()  # a first command that failed leaves no empty run behind
    finally:
        os.close(fd)


def _take(fd: int, run_dir: Path) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        raise UserError(
            f"run {run_dir} is in use by another process (pid {holder}); wait for it to "
            "finish or stop it, then try again"
        ) from None


def lock_holder(run_dir: Path) -> str | None:
    """The pid of the other process that holds ``RUN/.lock`` now (a training under way),
    or None when none does."""
    if Path(run_dir).resolve() in _HELD:
        return None
    try:
        fd = os.open(Path(run_dir) / LOCK_FILE, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # let go at once, by the close
    except BlockingIOError:
        return os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
    finally:
        os.close(fd)
    return None


# --- what a resumed run may change -------------------------------------------------------------


def resumed_settings(
    what: str, stored: dict[str, Any], asked: dict[str, Any], budget: tuple[str, ...]
) -> dict[str, Any]:
    """``stored`` (flat settings of a checkpoint) with the ``budget`` keys of ``asked``; a
    one-line error naming every other key where ``asked`` differs (a resumed run cannot
    change its model, data or optimisation, and a request silently ignored is worse)."""
    differ = differing_settings(stored, asked, budget)
    if differ:
        raise UserError(
            f"resuming {what} continues its stored config; only {' and '.join(budget)} may "
            f"change, got a different {listed(differ, 6)} (start a new run to change them)"
        )
    return {**stored, **{k: asked.get(k) for k in budget}}


def differing_settings(
    stored: dict[str, Any], other: dict[str, Any], budget: tuple[str, ...]
) -> list[str]:
    """The keys of ``stored`` (flat settings) but the ``budget`` ones where ``other``
    holds another value."""
    return [k for k, value in stored.items() if k not in budget and other.get(k) != value]


def listed(keys: list[str], shown: int) -> str:
    """``keys`` for one line: the first ``shown``, then how many more."""
    more = f" and {len(keys) - shown} more" if len(keys) > shown else ""
    return ", ".join(keys[:shown]) + more


def read_data_record(run_dir: Path) -> dict:
    """``RUN/data.json`` as training wrote it: the split (``train`` and ``validation``, rows
    ``[source, start, end]``), the files it skipped, and (absent in older runs) ``root``,
    the data folder, ``labels`` and ``fingerprints`` (``source -> label``, ``source ->``
    a digest of its audio). Raises OSError or ValueError for a file it cannot read."""
    return json.loads((Path(run_dir) / "data.json").read_text())


def recorded_data_root(run_dir: Path) -> str | None:
    """The data folder ``data.json`` records (absolute); None where there is none to read."""
    try:
        root = read_data_record(run_dir).get("root")
    except (OSError, ValueError, AttributeError):
        return None
    return root if isinstance(root, str) else None


def require_same_data(run_dir: Path, data_root: Path) -> None:
    """A resumed run trains on the folder it recorded in ``data.json`` (the split and the
    data order in the checkpoint refer to its files); runs that recorded none pass. A
    recorded folder that is gone (renamed, or its drive mounted elsewhere) lets another be
    named, said in a note: the recorded split then vouches for it (``require_recorded_split``
    refuses a folder whose files, labels or lengths differ)."""
    recorded = recorded_data_root(run_dir)
    if recorded is None or Path(recorded).resolve() == Path(data_root).resolve():
        return
    if not Path(recorded).exists():
        print(
            f"note: {run_dir} was trained on {recorded}, which is gone; resuming on "
            f"{data_root} if its files are the same",
            file=sys.stderr,
        )
        return
    raise UserError(
        f"{run_dir} was trained on {recorded}, not {data_root}; resume it with the "
        "same data folder, or start a new --run"
    )


def read_metrics(run_dir: Path) -> list[dict]:
    """The logged records, oldest first; a line cut short by a crash is left out."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records
