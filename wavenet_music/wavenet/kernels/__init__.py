"""C++ kernels shipped as source, compiled on first use and cached per user.

``load_step_module()`` returns ``wavenet_step.cpp`` compiled by torch.utils.cpp_extension
(the system C++ compiler driven by ninja, ``-O3 -march=native``; ``$WAVENET_MUSIC_CPU=avx2``
builds for an AVX2-only CPU instead, to measure that code path on a CPU with AVX-512). The
build lands in ``~/.cache/wavenet-music/kernels/<key>`` (``$WAVENET_MUSIC_KERNELS`` to change
it), keyed by the source, torch, Python, the target and the CPU's instruction-set flags, so
later runs load it in milliseconds. A build happens in a private folder that is renamed into
place only when complete: two processes building at once both succeed (the first rename
wins), and an interrupted build leaves nothing that a later run would trust.

A finished build carries ``manifest.json``: the size and sha256 of each compiled module
file, written before the rename. Every load checks it first (size, then sha256: about a
millisecond), because a damaged ``.so`` (truncated, bytes flipped, replaced) kills the
process that loads it (SIGBUS, SIGSEGV, SIGABRT) or fails deep in the loader. A folder whose
manifest is missing (built by an older version) or does not match, or whose module does not
load, gets one warning line, is moved aside to a ``.stale-*`` sibling and removed (a process
that loaded it keeps its copy), and is built again, once; a second failure is a
KernelBuildError, so that generation falls back to the eager step.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import platform
import secrets
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from types import ModuleType

import torch

from ...config import UserError
from ...runs import write_atomically

SOURCE = Path(__file__).with_name("wavenet_step.cpp")
TARGETS = {  # $WAVENET_MUSIC_CPU → what the compiler builds for
    "native": ("-march=native",),  # this CPU: AVX-512 where it has it
    "avx2": ("-march=x86-64-v3", "-mtune=znver3"),  # AVX2 + FMA, no AVX-512 (Zen 3, Haswell)
}
AVX2_ONLY_DROPS = ("avx512", "amx")  # feature-name prefixes an AVX2-only target lacks
# at::parallel_for splits the streams over torch's threads only in code built with OpenMP
# (without it, it runs them all on one). GCC on Linux links the libgomp.so.1 that torch has
# already loaded, so both share one thread pool; elsewhere the step runs on one thread.
OPENMP = ("-fopenmp",) if sys.platform.startswith("linux") else ()
MANIFEST = "manifest.json"  # {"files": {name: {"size": bytes, "sha256": hex}}}
MODULE_PATTERNS = ("*.so", "*.pyd")  # the compiled module files the manifest covers
_lock = threading.Lock()
_loaded: dict[str, ModuleType | KernelBuildError] = {}


class KernelBuildError(RuntimeError):
    """The compiled step could not be built or loaded; the message is one line."""


def kernel_cache() -> Path:
    if folder := os.environ.get("WAVENET_MUSIC_KERNELS"):
        return Path(folder).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "wavenet-music" / "kernels"


def cpu_flags() -> str:
    """The CPU's instruction-set flags (what -march=native compiles for); without
    /proc/cpuinfo, the processor's name and the vector flags torch found."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    found = {"AVX2": "avx2 fma", "AVX512": "avx2 fma avx512f"}
    return f"{platform.processor()} {found.get(torch.backends.cpu.get_cpu_capability(), '')}"


def cpu_target() -> str:
    """``$WAVENET_MUSIC_CPU``: ``native`` (the default) or ``avx2``."""
    target = os.environ.get("WAVENET_MUSIC_CPU") or "native"
    if target not in TARGETS:
        raise KernelBuildError(
            f"WAVENET_MUSIC_CPU: expected one of {', '.join(TARGETS)}, got {target!r}"
        )
    return target


def cpu_features(flags: str | None = None, target: str | None = None) -> frozenset[str]:
    """The instruction-set features the compiled step is built for: the CPU's ``flags``
    (``cpu_flags()``), less AVX-512 and AMX for the ``avx2`` target (``$WAVENET_MUSIC_CPU``)."""
    features = (cpu_flags() if flags is None else flags).split()
    if (target or os.environ.get("WAVENET_MUSIC_CPU")) == "avx2":
        features = [f for f in features if not f.startswith(AVX2_ONLY_DROPS)]
    return frozenset(features)


def compiler_flags(target: str | None = None) -> tuple[str, ...]:
    return ("-O3", *TARGETS[target or cpu_target()], *OPENMP)


def build_key(source: bytes) -> str:
    parts = [source, torch.__version__, sys.version, platform.machine(), cpu_flags()]
    parts += compiler_flags()
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def load_step_module() -> ModuleType:
    """The compiled ``wavenet_step`` module, built on first use; raises KernelBuildError.

    A failure is remembered, so a process tries (and reports) the build once."""
    with _lock:
        if "step" not in _loaded:
            try:
                _loaded["step"] = _build_and_import(SOURCE)
            except KernelBuildError as exc:
                _loaded["step"] = exc
            except Exception as exc:  # any failure (bad headers, unwritable cache) → eager
                _loaded["step"] = KernelBuildError(_one_line(exc))
        result = _loaded["step"]
    if isinstance(result, KernelBuildError):
        raise result
    return result


def forget_loaded() -> None:
    """Drop the remembered module or failure (tests: build again under other conditions)."""
    with _lock:
        _loaded.clear()


def _build_and_import(source: Path) -> ModuleType:
    """The module built from ``source``, from the cache; a cached build that does not load
    is built again once, then a second failure is a KernelBuildError."""
    name = f"wavenet_step_{build_key(source.read_bytes())}"
    if name in sys.modules:
        return sys.modules[name]
    folder = kernel_cache() / name

    def build(into: Path) -> None:
        compile_extension(name, into)

    found = cached_build(folder, build)
    try:
        return import_extension(name, found)
    except (ImportError, OSError) as exc:  # the loader refused it: damage the manifest missed
        discard_damaged(found, f"it does not load: {_one_line(exc)}")
    found = cached_build(folder, build)
    try:
        return import_extension(name, found)
    except (ImportError, OSError) as exc:
        raise KernelBuildError(
            f"the compiled step built in {folder} does not load: {_one_line(exc)}"
        ) from exc


def cached_build(folder: Path, build: Callable[[Path], None]) -> Path:
    """``folder`` if a finished build is there and matches its manifest; else
    ``build(private)`` into a private sibling folder, write its manifest, then rename that
    to ``folder`` (atomic; if another process got there first, its build is used and ours
    is dropped). A damaged ``folder`` is reported in one line and discarded first."""
    if folder.is_dir():
        if (damage := manifest_mismatch(folder)) is None:
            return folder
        discard_damaged(folder, damage)
    folder.parent.mkdir(parents=True, exist_ok=True)
    private = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        build(private)
        write_manifest(private)
        try:
            private.rename(folder)
        except OSError:
            if not folder.is_dir():
                raise
    finally:
        shutil.rmtree(private, ignore_errors=True)
    return folder


def module_files(folder: Path) -> list[Path]:
    """The compiled module files in ``folder`` (what the manifest covers)."""
    return [path for pattern in MODULE_PATTERNS for path in sorted(folder.glob(pattern))]


def write_manifest(folder: Path) -> None:
    """``folder/manifest.json``: the size and sha256 of each module file. Written into the
    private build folder, which the rename publishes whole, so a plain write is enough."""
    files = {
        path.name: {"size": path.stat().st_size, "sha256": _sha256(path)}
        for path in module_files(folder)
    }
    (folder / MANIFEST).write_text(json.dumps({"files": files}, indent=1) + "\n")


def manifest_mismatch(folder: Path) -> str | None:
    """What is wrong with the build in ``folder`` (``"sha256 differs"``, ...), or None when
    each module file has its manifest's size and sha256 and no unlisted one is there."""
    try:
        listed = _read_manifest(folder / MANIFEST)
    except FileNotFoundError:
        return f"no {MANIFEST}: an older version's build, or damaged"
    except (OSError, ValueError) as exc:
        return f"unreadable manifest: {exc}"
    if unlisted := sorted({p.name for p in module_files(folder)} - set(listed)):
        return f"{unlisted[0]} is not in the manifest"
    for name, (size, sha256) in listed.items():
        try:
            found = (folder / name).stat().st_size
        except OSError:
            return f"{name} is missing"
        if found != size:
            return f"{name} has {found} bytes, the manifest says {size}"
        if _sha256(folder / name) != sha256:
            return f"{name}: sha256 differs"
    return None


def _read_manifest(path: Path) -> dict[str, tuple[int, str]]:
    """{file name: (size, sha256)}; raises OSError, or ValueError when it is malformed."""
    try:
        files = json.loads(path.read_text())["files"]
        return {str(n): (int(f["size"]), str(f["sha256"])) for n, f in files.items()}
    except (AttributeError, KeyError, TypeError) as exc:
        raise ValueError("expected {'files': {name: {'size': ..., 'sha256': ...}}}") from exc


def discard_damaged(folder: Path, damage: str) -> None:
    """Warn in one line, then move ``folder`` to a unique ``.stale-*`` sibling and remove
    that: a process loading the old build at the same moment keeps its open files, and when
    another process moved it first there is nothing left to do."""
    print(
        f"warning: compiled kernel in {folder} is damaged ({damage}); building it again",
        file=sys.stderr,
    )
    stale = folder.with_name(f".stale-{folder.name}-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        folder.rename(stale)
    except OSError:
        return
    shutil.rmtree(stale, ignore_errors=True)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def compile_extension(name: str, folder: Path) -> None:
    """Compile ``SOURCE`` as extension ``name`` into ``folder`` (about a minute); the full
    log of a failed build is kept in ``build-error.log`` next to the builds."""
    from torch.utils import cpp_extension

    compiler = os.environ.get("CXX", "c++")  # what torch.utils.cpp_extension runs
    if shutil.which(compiler) is None:
        raise KernelBuildError(
            f"no C++ compiler: {compiler} not found (Debian: apt-get install g++)"
        )
    print(
        "wavenet-music: compiling the C++ generation step (once per machine and torch "
        f"version, about a minute) into {folder.parent}",
        file=sys.stderr,
    )
    with _ninja_on_path(), _quiet_torch_logger(), redirect_stdout(sys.stderr):
        if shutil.which("ninja") is None:
            raise KernelBuildError("ninja not found (pip install ninja)")
        try:
            cpp_extension.load(
                name=name,
                sources=[str(SOURCE)],
                extra_cflags=list(compiler_flags()),
                extra_ldflags=list(OPENMP),
                build_directory=str(folder),
                verbose=False,
                is_python_module=False,  # build (and dlopen); imported from its final place
            )
        except Exception as exc:
            raise KernelBuildError(f"{_one_line(exc)}; {_keep_log(folder, str(exc))}") from exc


def _keep_log(folder: Path, log: str) -> str:
    """Write a failed build's full ``log`` beside the builds; say where, or why not."""
    path = folder.parent / "build-error.log"
    try:
        write_atomically(path, log)
    except UserError as exc:
        return str(exc)
    return f"log: {path}"


def import_extension(name: str, folder: Path) -> ModuleType:
    """Import the module ``name`` compiled into ``folder``; raises ImportError or OSError
    when the loader refuses it."""
    found = sorted(folder.glob(f"{name}*.so")) + sorted(folder.glob(f"{name}*.pyd"))
    if not found:
        raise KernelBuildError(f"no compiled module in {folder}")
    spec = importlib.util.spec_from_file_location(name, found[0])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules[name] = module
    return module


@contextmanager
def _ninja_on_path() -> Iterator[None]:
    """torch runs ``ninja`` from PATH; the ``ninja`` wheel's binary sits next to this Python,
    which is not on PATH when the virtual environment is not activated."""
    before = os.environ.get("PATH", "")
    try:
        import ninja

        os.environ["PATH"] = os.pathsep.join([ninja.BIN_DIR, before])
    except ImportError:
        pass
    try:
        yield
    finally:
        os.environ["PATH"] = before


@contextmanager
def _quiet_torch_logger() -> Iterator[None]:
    """torch logs multi-line compiler warnings; the caller reports one line instead."""
    logger = logging.getLogger("torch.utils.cpp_extension")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


TELLING = ("error", "not found", "no such file", "permission denied")


def _one_line(exc: Exception) -> str:
    """The telling line of a build failure (the compiler's first error), else its first."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()] or [repr(exc)]
    telling = [
        line
        for line in lines[1:]
        if any(word in line.lower() for word in TELLING) and not line.startswith("ninja:")
    ]
    line = (telling or lines)[0]
    return line if len(line) <= 200 else line[:197] + "..."
