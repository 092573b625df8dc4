"""C++ kernels shipped as source, compiled on first use and cached per user.

``load_step_module()`` returns ``wavenet_step.cpp`` compiled by torch.utils.cpp_extension
(the system C++ compiler driven by ninja, ``-O3 -march=native``; ``$WAVENET_MUSIC_CPU=avx2``
builds for an AVX2-only CPU instead, to measure that code path on a CPU with AVX-512). The
build lands in ``~/.cache/wavenet-music/kernels/<key>`` (``$WAVENET_MUSIC_KERNELS`` to change
it), keyed by the source, torch, Python, the target and the CPU's instruction-set flags, so
later runs load it in milliseconds. A build happens in a private folder that is renamed into
place only when complete: two processes building at once both succeed (the first rename
wins), and an interrupted build leaves nothing that a later run would trust.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import platform
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from types import ModuleType

import torch

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
    name = f"wavenet_step_{build_key(source.read_bytes())}"
    if name in sys.modules:
        return sys.modules[name]
    folder = cached_build(kernel_cache() / name, lambda into: compile_extension(name, into))
    return import_extension(name, folder)


def cached_build(folder: Path, build: Callable[[Path], None]) -> Path:
    """``folder`` if a finished build is there; else ``build(private)`` into a private sibling
    folder, then rename that to ``folder`` (atomic; if another process got there first, its
    build is used and ours is dropped)."""
    if folder.is_dir():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    private = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        build(private)
        try:
            private.rename(folder)
        except OSError:
            if not folder.is_dir():
                raise
    finally:
        shutil.rmtree(private, ignore_errors=True)
    return folder


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
            (folder.parent / "build-error.log").write_text(str(exc))
            raise KernelBuildError(
                f"{_one_line(exc)}; log: {folder.parent / 'build-error.log'}"
            ) from exc


def import_extension(name: str, folder: Path) -> ModuleType:
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
