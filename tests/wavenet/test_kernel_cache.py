"""A damaged build in the kernel cache is found by its manifest, reported and built again.

Loading a damaged ``.so`` can kill the process (SIGBUS when truncated), so each load runs
in a subprocess. The good build is the one every other test loads (the shared cache's,
built there if it is not yet: half a minute to a minute), copied into a cache of this
module's own; every case copies that build and damages the copy, and the rebuild it
triggers copies the good build back instead of compiling again (``compile_extension``
replaced in the subprocess), so the cache logic is what runs, not the compiler.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Callable
from pathlib import Path

import pytest

from wavenet_music.wavenet import kernels

from ..conftest import HANG_GUARD_S

# Load the step (with argv[1]: "compiling" copies that good build), then generate with the
# compiled and the eager step: same samples. KernelBuildError: its line, exit status 3.
SCRIPT = """
import shutil, sys
from pathlib import Path
import torch
from wavenet_music.wavenet import kernels
from wavenet_music.config import ModelConfig
from wavenet_music.wavenet.generate import generate
from wavenet_music.wavenet.model import WaveNet

def copy_build(name, into):
    print("copying the good build", file=sys.stderr)
    for path in Path(sys.argv[1]).iterdir():
        if path.name != "manifest.json":
            shutil.copy2(path, into)

if len(sys.argv) > 1:
    kernels.compile_extension = copy_build
try:
    module = kernels.load_step_module()
except kernels.KernelBuildError as exc:
    print(f"KernelBuildError: {exc}")
    raise SystemExit(3)
torch.manual_seed(0)
config = ModelConfig(dilations=(1, 2, 4), residual_channels=4, dilation_channels=4, skip_channels=8)
model = WaveNet(config).eval()
with torch.no_grad():
    for p in model.parameters():
        p.mul_(2.0)
runs = [
    generate(model, 200, 2, generator=torch.Generator().manual_seed(5), engine=engine)
    for engine in ("compiled", "eager")
]
print(module.__name__, "same samples:", torch.equal(*runs), len(torch.unique(runs[0])) > 5)
"""


def _load(cache: Path, good: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "WAVENET_MUSIC_KERNELS": str(cache), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, *([str(good)] if good else [])],
        env=env,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
    )


@pytest.fixture(scope="module")
def good_build(tmp_path_factory) -> Path:
    """A folder of this module's own holding a real, complete build of the step: a copy of
    the shared cache's, after a process loaded it there (and built it, if it had to) and
    generated with it the samples the eager step draws."""
    shared = kernels.kernel_cache()
    done = _load(shared)
    if done.returncode != 0:
        if shutil.which(os.environ.get("CXX", "c++")) is None:
            pytest.skip(f"no C++ compiler to build the compiled step: {done.stdout}")
        if not (Path(sysconfig.get_paths()["include"]) / "Python.h").exists():
            pytest.skip(f"no Python headers (Debian: python3-dev): {done.stdout}")
    assert done.returncode == 0 and "same samples: True True" in done.stdout, done.stderr
    name = done.stdout.split()[0]  # the module that loaded: wavenet_step_<build key>
    folder = tmp_path_factory.mktemp("kernels") / name
    shutil.copytree(shared / name, folder)
    assert kernels.manifest_mismatch(folder) is None
    return folder


def _truncate(folder: Path) -> None:
    (so,) = folder.glob("*.so")
    so.write_bytes(so.read_bytes()[: so.stat().st_size // 2])


def _flip(folder: Path) -> None:
    (so,) = folder.glob("*.so")
    data = bytearray(so.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 4096] = bytes(b ^ 0xFF for b in data[middle : middle + 4096])
    so.write_bytes(bytes(data))


def _no_manifest(folder: Path) -> None:
    (folder / kernels.MANIFEST).unlink()


def _junk_in_manifest(folder: Path) -> None:
    """Junk that its manifest vouches for: the manifest cannot see it, the loader can."""
    (so,) = folder.glob("*.so")
    so.write_bytes(b"not an ELF file\n" * 64)
    kernels.write_manifest(folder)


DAMAGES: dict[str, tuple[Callable[[Path], None], str]] = {  # damage, what the warning says
    "truncated": (_truncate, "bytes, the manifest says"),
    "bytes flipped": (_flip, "sha256 differs"),
    "no manifest": (_no_manifest, "no manifest.json"),
    "junk the manifest matches": (_junk_in_manifest, "it does not load"),
}


def _cache_with(good_build: Path, tmp_path: Path, damage: Callable[[Path], None]) -> Path:
    folder = tmp_path / "k" / good_build.name
    shutil.copytree(good_build, folder)
    damage(folder)
    return folder


@pytest.mark.parametrize("case", list(DAMAGES))
def test_a_damaged_build_is_reported_and_built_again(case, good_build, tmp_path):
    """Before the manifest: a truncated build died of SIGBUS, flipped bytes of SIGABRT, and
    junk failed every load with an ImportError; now one warning line and a rebuild."""
    damage, reason = DAMAGES[case]
    folder = _cache_with(good_build, tmp_path, damage)
    done = _load(folder.parent, good_build)
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-2000:]}"
    assert f"{folder.name} same samples: True True" in done.stdout, done.stderr
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "Traceback" not in done.stderr, done.stderr
    assert warnings[0].startswith(f"warning: compiled kernel in {folder} is damaged (")
    assert reason in warnings[0] and warnings[0].endswith("); building it again")
    assert done.stderr.count("copying the good build") == 1
    assert kernels.manifest_mismatch(folder) is None  # the rebuild carries its manifest
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]  # no .stale-* left


def test_an_intact_build_is_loaded_without_a_word(good_build, tmp_path):
    folder = _cache_with(good_build, tmp_path, lambda folder: None)
    done = _load(folder.parent, good_build)
    assert done.returncode == 0 and "same samples: True True" in done.stdout, done.stderr
    assert done.stderr == ""


def test_a_rebuild_that_does_not_load_either_is_one_line(good_build, tmp_path):
    """The junk comes back from the rebuild too: a KernelBuildError in one line, which
    ``generate`` turns into the eager step (test_fast_generate)."""
    folder = _cache_with(good_build, tmp_path, _junk_in_manifest)
    bad = tmp_path / "bad build"
    shutil.copytree(folder, bad)
    done = _load(folder.parent, bad)
    assert done.returncode == 3, done.stderr
    assert done.stdout.startswith(f"KernelBuildError: the compiled step built in {folder} ")
    assert "does not load" in done.stdout and len(done.stdout.splitlines()) == 1


# --- the manifest in process, on stand-in builds ------------------------------------------------


def _fake_build(into: Path) -> None:
    (into / "step.so").write_bytes(b"\x7fELF" + bytes(range(256)) * 16)
    (into / "build.ninja").write_text("rules\n")


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda f: (f / "step.so").write_bytes(b"\x7fELF"), "step.so has 4 bytes, the manifest"),
        (lambda f: (f / "step.so").unlink(), "step.so is missing"),
        (lambda f: (f / "other.so").write_bytes(b""), "other.so is not in the manifest"),
        (lambda f: (f / kernels.MANIFEST).write_text("{"), "unreadable manifest"),
        (lambda f: (f / kernels.MANIFEST).write_text("[]"), "unreadable manifest"),
        (lambda f: (f / kernels.MANIFEST).unlink(), "no manifest.json"),
    ],
)
def test_cached_build_checks_its_manifest(damage, reason, tmp_path, capsys):
    folder, calls = tmp_path / "step_abc", []

    def build(into: Path) -> None:
        calls.append(into)
        _fake_build(into)

    assert kernels.cached_build(folder, build) == folder and len(calls) == 1
    manifest = json.loads((folder / kernels.MANIFEST).read_text())
    assert list(manifest["files"]) == ["step.so"]  # the module files only
    assert kernels.cached_build(folder, build) == folder and len(calls) == 1
    assert capsys.readouterr().err == ""
    damage(folder)
    assert reason in kernels.manifest_mismatch(folder)
    assert kernels.cached_build(folder, build) == folder and len(calls) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"warning: compiled kernel in {folder} is damaged ({reason}")
    assert kernels.manifest_mismatch(folder) is None
    assert [p.name for p in tmp_path.iterdir()] == ["step_abc"]


def test_a_sha256_mismatch_is_named(tmp_path):
    folder = tmp_path / "step_abc"
    kernels.cached_build(folder, _fake_build)
    data = bytearray((folder / "step.so").read_bytes())
    data[100] ^= 1
    (folder / "step.so").write_bytes(bytes(data))
    assert kernels.manifest_mismatch(folder) == "step.so: sha256 differs"


def test_build_error_log_is_written_atomically(tmp_path):
    """A failed compile keeps its full log beside the builds; when even that cannot be
    written, the error says so instead of hiding the compiler's message."""
    assert kernels._keep_log(tmp_path / "step_x", "line 1\nline 2") == (
        f"log: {tmp_path / 'build-error.log'}"
    )
    assert (tmp_path / "build-error.log").read_text() == "line 1\nline 2"
    (tmp_path / "dir" / "build-error.log").mkdir(parents=True)
    said = kernels._keep_log(tmp_path / "dir" / "step_x", "log")
    assert said.startswith(f"cannot write {tmp_path / 'dir' / 'build-error.log'}")
