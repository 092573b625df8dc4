"""Which files under a data folder are training data, and with which labels.

Files are found recursively, symlinked folders and files followed, each real file once (a
repeat is skipped); files of audio this tool cannot decode are counted. A file's label is
its first folder level under the data folder, or its row in a CSV manifest of ``file,label``
rows. What was left out is never silent: each skipped file is named (unless quiet) and
counted.
"""

from __future__ import annotations

import csv
import errno
import os
import sys
import unicodedata
from collections.abc import Iterator, Sequence
from itertools import count
from pathlib import Path
from typing import NamedTuple

from ..audio.io import AUDIO_EXTENSIONS, UNDECODED_EXTENSIONS, AudioReadError
from ..config import UserError, read_user_text
from ..runtime.console import say, warn

APPLE_DOUBLE_MAGIC = b"\x00\x05\x16\x07"  # RFC 1740
UNMATCHED_SHOWN = 10  # label-manifest rows without their file, named one by one


class Discovery(NamedTuple):
    """What ``discover`` found under a data folder."""

    files: list[Path]  # the audio files to decode, each real file once
    skipped: list[tuple[str, str]]  # (file, reason): repeats of a file and broken links
    undecoded: dict[str, int]  # extension -> files of audio this tool cannot decode
    apple_double: int = 0  # macOS ``._NAME`` files: a copied file's Finder data, not audio


def find_audio_files(root: Path, exclude: Path | None = None) -> list[Path]:
    """All audio files under ``root``, symlinks followed, each real file once (``discover``)."""
    return discover(root, exclude).files


def discover(root: Path, exclude: Path | None = None) -> Discovery:
    """The audio files under ``root`` (a folder, or one file), in name order, symlinked
    folders and files followed. A file reached twice (through a symlinked folder or file)
    is kept once, under its real path where it has one, and the repeats are skipped; a
    link to a folder above it (a loop) is not followed; nothing under ``exclude`` (the
    run's own folder) is read."""
    root = Path(root)
    if not root.exists():
        raise UserError(f"data folder {root} does not exist; pass a folder of recordings")
    if root.is_file():
        return Discovery([root] if _is_audio(root) else [], [], _undecoded([root]))
    entries, aliases, unreadable = _walk(root, exclude)
    audio = [path for path in entries if _is_audio(path) and not _is_apple_double(path)]
    apple_double = sum(map(_is_apple_double, entries))
    broken = [(relative_name(p, root), _link_problem(p)) for p in audio if not p.exists()]
    special = [  # reading a FIFO waits for a writer, /dev/zero never ends: never opened
        (relative_name(p, root), "not a regular file (a device, FIFO or socket)")
        for p in audio
        if p.exists() and not p.is_file()
    ]
    files, repeats = _unique_files([p for p in audio if p.is_file()], root)
    repeats += _alias_repeats(aliases, files, root)
    skipped = unreadable + broken + special + repeats
    return Discovery(files, skipped, _undecoded(entries), apple_double)


def _walk(
    root: Path, exclude: Path | None
) -> tuple[list[Path], list[tuple[Path, Path]], list[tuple[str, str]]]:
    """Every file entry under ``root``, each folder walked once; the symlinked folders not
    walked because they repeat one that is: ``(alias, the folder it repeats)``; and the
    folders that could not be listed, as skipped (``os.walk`` passes over them without a
    word: a folder of recordings left out unsaid). ``root`` unlisted is a ``UserError``."""
    walked = {os.path.realpath(d): Path(d) for d, _, _ in os.walk(root)}  # the real folders
    skip = os.path.realpath(exclude) if exclude is not None else None
    entries, aliases, errors = [], [], []
    for folder, dirs, names in os.walk(root, onerror=errors.append, followlinks=True):
        here, kept = os.path.realpath(folder), []
        for name in sorted(dirs):
            path = Path(folder, name)
            real = os.path.realpath(path)
            if _within(real, skip) or _within(here, real):
                continue  # the run's folder, or a loop
            if path.is_symlink() and real in walked:
                aliases.append((path, walked[real]))
                continue
            walked.setdefault(real, path)
            kept.append(name)
        dirs[:] = kept
        entries += [Path(folder, name) for name in sorted(names)]
    return entries, aliases, [_unlisted(error, root) for error in errors]


def _unlisted(error: OSError, root: Path) -> tuple[str, str]:
    """``(folder/, reason)`` of a folder ``os.walk`` could not list."""
    why = error.strerror or str(error)
    if Path(error.filename) == root:
        raise UserError(f"cannot read the data folder {root} ({why}); pass a folder you can read")
    name = relative_name(Path(error.filename), root)
    return f"{name}/", f"folder cannot be read ({why}): its files left out"


def _within(path: str, folder: str | None) -> bool:
    return folder is not None and (path == folder or path.startswith(folder + os.sep))


def _unique_files(paths: list[Path], root: Path) -> tuple[list[Path], list[tuple[str, str]]]:
    """Each real file once, by preference not through a symlink; the repeats skipped."""
    first: dict[str, Path] = {}
    for path in sorted(paths, key=lambda p: p.is_symlink()):  # stable: name order kept
        first.setdefault(os.path.realpath(path), path)
    kept = [p for p in paths if first[os.path.realpath(p)] == p]
    repeats = [
        (relative_name(p, root), f"same file as {relative_name(first[os.path.realpath(p)], root)}")
        for p in paths
        if first[os.path.realpath(p)] != p
    ]
    return kept, repeats


def _alias_repeats(
    aliases: list[tuple[Path, Path]], files: list[Path], root: Path
) -> list[tuple[str, str]]:
    """The files a symlinked folder would have repeated, each as skipped."""
    return [
        (
            relative_name(alias / path.relative_to(folder), root),
            f"same file as {relative_name(path, root)}",
        )
        for alias, folder in aliases
        for path in files
        if folder in path.parents
    ]


def _is_audio(path: Path) -> bool:
    return path.suffix.lower() in AUDIO_EXTENSIONS


def _is_apple_double(path: Path) -> bool:
    """``path`` is the ``._NAME`` file macOS writes beside a file it copies to a disk that
    cannot hold its Finder data (a USB stick, a network share, a zip's ``__MACOSX``): a
    header of its own, never audio, whatever the name after ``._`` says."""
    if not path.name.startswith("._") or not path.is_file():  # never opens a FIFO
        return False
    try:
        with open(path, "rb") as file:
            return file.read(4) == APPLE_DOUBLE_MAGIC
    except OSError:
        return False  # decoding it says why


def _undecoded(paths: list[Path]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for path in paths:
        if path.suffix.lower() in UNDECODED_EXTENSIONS:
            counts[path.suffix.lower()] = counts.get(path.suffix.lower(), 0) + 1
    return counts


def _link_problem(path: Path) -> str:
    try:
        path.stat()
    except OSError as exc:
        return "symlink loop" if exc.errno == errno.ELOOP else "broken link"
    return "not found"


def relative_name(path: Path, root: Path) -> str:
    """``path`` as named under ``root`` (``piano/a.wav``); for a single file, its name."""
    try:
        return path.relative_to(root).as_posix() if root.is_dir() else path.name
    except ValueError:
        return str(path)


# --- labels -------------------------------------------------------------------------------


def make_labeler(root: Path, spec: str | None):
    """``relative path -> label``: the first folder level (also when labels are off, for the
    per-folder split), or a CSV manifest of ``file,label`` rows. A file the labels do not
    cover raises ``AudioReadError`` (it is skipped and counted like an unreadable file)."""
    if spec is None:
        return label_of
    if spec == "folders":
        return _folder_label
    mapping = read_label_manifest(Path(spec), root)

    def from_manifest(rel: str) -> str:
        if composed(rel) not in mapping:
            raise AudioReadError(f"{rel}: no label in {spec}")
        return mapping[composed(rel)]

    return from_manifest


def _folder_label(rel: str) -> str:
    label = label_of(rel)
    if not label:
        raise AudioReadError(f"{rel}: not inside a label folder (data.labels=folders)")
    problem = label_problem(label)
    if problem:
        raise UserError(f"folder {label!r} {problem}: rename the folder (data.labels=folders)")
    return label


def composed(text: str) -> str:
    """``text`` as names and labels are compared: composed (NFC). A folder copied from a Mac
    keeps its names decomposed (``e`` and a combining accent), while a keyboard or a CSV
    types them composed: the same ``café`` on screen, two strings."""
    return unicodedata.normalize("NFC", text)


def distinct_file_names(names: Sequence[str]) -> list[str]:
    """``names`` as file names that stay apart on a disk that ignores case (macOS, Windows)
    or composes names: each as it is, but one whose spelling (``composed``, casefolded) an
    earlier one took, which takes the first free suffix ``_2``, ``_3``, ... A run trained
    before ``run_dir.require_distinct_file_names`` may hold labels ``Piano`` and ``piano``:
    their clips overwrote each other."""

    def key(name: str) -> str:
        return composed(name).casefold()

    taken = {key(name) for name in names}  # a later name never takes a real one's spelling
    seen: set[str] = set()
    distinct = []
    for name in names:
        if key(name) in seen:
            name = next(f"{name}_{n}" for n in count(2) if key(f"{name}_{n}") not in taken)
            taken.add(key(name))
        seen.add(key(name))
        distinct.append(name)
    return distinct


def label_problem(label: str) -> str:
    """Why ``label`` cannot name a label (``generate --label`` splits at commas, takes
    ``all`` for every label and names files after labels), or ``""``."""
    if label == "all":
        return "is 'all', which --label takes for every label"
    bad = sorted({c for c in label if c in ",/\\" or unicodedata.category(c) == "Cc"})
    if bad:
        return f"holds {', '.join(map(repr, bad))}, which --label or a file name cannot"
    return ""


def read_label_manifest(path: Path, root: Path) -> dict[str, str]:
    """CSV rows ``file,label`` (a header row ``file,label`` is allowed); files relative to
    the data folder ``root`` (or ``manifest_file``'s other spellings of a file under it). A
    file given two labels is an error; repeating a row is harmless."""
    return {file: label for file, (label, _) in read_label_rows(path, root).items()}


def manifest_file(typed: str, root: Path | None) -> str:
    """A manifest row's file as named under the data folder ``root``: as typed where it
    names a file there (``piano/a.wav``); an absolute path, or one relative to the working
    folder (``lab/piano/a.wav``), of a file under ``root``, made relative to it; else as
    typed (composed: ``composed``)."""
    path = Path(typed)
    if root is None or not root.is_dir() or (not path.is_absolute() and (root / path).exists()):
        return composed(path.as_posix())
    for inside, folder in ((_absolute(path), _absolute(root)), (path.resolve(), root.resolve())):
        if inside.is_relative_to(folder) and inside != folder:  # links kept, then followed
            return composed(inside.relative_to(folder).as_posix())
    return composed(path.as_posix())


def _absolute(path: Path) -> Path:
    """``path`` from the root of the file system, ``..`` taken away, links kept."""
    return Path(composed(os.path.normpath(os.path.abspath(path))))


def read_label_rows(path: Path, root: Path | None = None) -> dict[str, tuple[str, int]]:
    """``file -> (label, line number)`` of the manifest ``path`` (see read_label_manifest);
    each file as named under ``root`` (``manifest_file``) where it is given."""
    text = read_user_text(path, "data.labels: label file").removeprefix("\ufeff")  # Excel's BOM
    found: dict[str, tuple[str, int]] = {}
    for number, row in _csv_rows(path, text):
        if not row or row[0].strip().lower() == "file":
            continue
        if len(row) < 2 or not row[1].strip():
            raise UserError(
                f"{path}:{number}: expected file,label, got {','.join(row)!r}{_separator_hint(row)}"
            )
        file, label = manifest_file(row[0].strip(), root), row[1].strip()
        if problem := label_problem(label):
            raise UserError(f"{path}:{number}: the label {label!r} {problem}")
        first, line = found.setdefault(file, (label, number))
        if first != label:
            raise UserError(
                f"{path}: lines {line} and {number} both label {file}, as {first!r} and "
                f"{label!r}; keep the row with the right label"
            )
    if not found:
        raise UserError(f"data.labels: {path} holds no file,label rows")
    return found


def _csv_rows(path: Path, text: str) -> Iterator[tuple[int, list[str]]]:
    """(the line a row starts on, the row) of the CSV ``text``; a row the csv module
    cannot read (a field that opens a double quote and never closes it runs on through
    the rest of the file, past the module's field limit of 131,072 characters) is a
    one-line ``UserError`` naming the line, where it was a traceback from ``_csv``."""
    reader = csv.reader(text.splitlines())
    start = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise UserError(
                f"{path}:{start}: not a CSV row of file,label ({exc}); a field that opens a "
                'double quote must close it ("piano/a b.wav",piano)'
            ) from None
        yield start, row
        start = reader.line_num + 1


def _separator_hint(row: list[str]) -> str:
    """For a row of one column split by another character (a spreadsheet's ``;`` where
    the decimal mark is a comma, or a tab): what separates the columns instead; for one
    column holding a comma, the double quote that opened it and never closed."""
    if len(row) == 1 and "," in row[0]:
        return "; a double quote opens it and never closes"
    mark = next((c for c in ";\t" if len(row) == 1 and c in row[0]), None)
    return f"; separate file and label with a comma, not {mark!r}" if mark else ""


def report_unmatched_rows(spec: str | None, found: Sequence[str], root: Path, quiet: bool) -> None:
    """Warn about manifest rows naming no audio file under ``root`` (a typo there would
    otherwise lose the label unnoticed; not an error: one manifest may cover more files
    than this folder, e.g. the held-out folder ``evaluate`` reads). With ``quiet``, only
    their count."""
    if spec in (None, "folders"):
        return
    names = {composed(name) for name in found}
    rows = read_label_rows(Path(spec), root).items()
    unmatched = [(line, file) for file, (_, line) in rows if file not in names]
    example = min(names, default="piano/a.wav")
    for line, file in [] if quiet else unmatched[:UNMATCHED_SHOWN]:
        elsewhere = f" (name files relative to {root}, e.g. {example})"
        warn(
            f"{spec}:{line}: {file} is not an audio file under {root}; "
            f"its label is unused{elsewhere if _named_elsewhere(file) else ''}"
        )
    if len(unmatched) > 1 or (quiet and unmatched):
        warn(f"{len(unmatched)} of {len(rows)} rows of {spec} name no audio file under {root}")


def _named_elsewhere(file: str) -> bool:
    """Whether a manifest row's ``file`` that is under no data folder names a file by a
    path from elsewhere (absolute, climbing with ``..``, or one from the working folder)."""
    path = Path(file)
    return path.is_absolute() or ".." in path.parts or path.exists()


def label_positions(known: Sequence[str], names: Sequence[str]) -> list[int]:
    """The index of each of ``names`` among a model's labels ``known`` (compared composed:
    ``composed``); a one-line error naming the first label the run does not know."""
    keys = [composed(label) for label in known]
    unknown = [name for name in names if composed(name) not in keys]
    if unknown:
        listed = ", ".join(known) or "none (it was trained without labels)"
        raise UserError(f"unknown label {unknown[0]!r}; this run knows: {listed}")
    return [keys.index(composed(name)) for name in names]


def label_of(relative: str) -> str:
    """``piano/bach/x.ogg`` → ``piano``; a file at the top of the data folder → ``""``."""
    parts = Path(relative).parts
    return parts[0] if len(parts) > 1 else ""


# --- what was left out --------------------------------------------------------------------


def report_skipped(skipped: list[tuple[str, str]], total: int, quiet: bool) -> None:
    """Each skipped file (unless ``quiet``), then their count (always: files left out of
    training are never silent)."""
    if not skipped:
        return
    for name, reason in [] if quiet else skipped:
        say(f"skipped {name}: {reason}")
    first = f" (first: {skipped[0][0]}: {skipped[0][1]}; without --quiet each is named)"
    counted = f"skipped {len(skipped)} of {total} audio files{first if quiet else ''}"
    say(counted)


def report_undecoded(undecoded: dict[str, int], apple_double: int = 0) -> None:
    """The files left unread that are not skipped audio: audio of another format, and the
    macOS ``._`` files (one line each, never one per file)."""
    if undecoded:
        print(f"ignored {_undecoded_files(undecoded)}", file=sys.stderr)
    if apple_double:
        print(
            f"ignored {apple_double} macOS metadata file{'s' if apple_double > 1 else ''} "
            "(._NAME beside a file copied from a Mac; not audio)",
            file=sys.stderr,
        )


def undecoded_hint(undecoded: dict[str, int]) -> str:
    return f"; it holds {_undecoded_files(undecoded)}" if undecoded else ""


def _undecoded_files(undecoded: dict[str, int]) -> str:
    """``10 files with unsupported extensions (.aac, .m4a): convert them to flac or wav``."""
    kinds = ", ".join(sorted(undecoded))
    return (
        f"{sum(undecoded.values())} files with unsupported extensions ({kinds}): "
        "convert them to flac or wav"
    )
