"""Shared fixtures (a small real-music corpus built once per test session, a trained piano
model), and what makes the suite's outcome the same on a slow or busy machine as on a fast
one: one torch thread, the hang guard every wall-clock limit uses, no Hypothesis deadline.
The report names the CPU the tests ran on, and how busy it was."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, settings

from wavenet_music.config import Config, apply_overrides

# Every wall-clock limit in the tests is a hang guard, never a speed assertion: the suite
# runs ~10× slower on a busy 2-core AVX2 machine than on an idle Zen 4, and a test must
# pass on both. Half of CI's 90 minutes: a single wait longer than that cannot be a slow
# machine that would still finish in time, so it is a hang, and the test that hung fails
# with its name instead of CI killing the whole job. Waits on a child process also stop
# as soon as the child exits.
HANG_GUARD_S = 45 * 60

# One torch thread in the tests and in every process they start (unless OMP_NUM_THREADS
# says otherwise). The models here are too small to gain much from a second thread, and
# on a busy machine two OpenMP threads wait on each other at every operation: 30 steps of
# test_calibration's composer took 92-102 s on two threads and 19-20 s on one, on a
# 2-core Zen 4 that other test runs were using. It also makes the numbers the tests
# measure the same on any number of cores (float sums in one order).
TEST_THREADS = int(os.environ.setdefault("OMP_NUM_THREADS", "1"))
torch.set_num_threads(TEST_THREADS)

# Hypothesis fails an example that takes over 200 ms, and slow data generation, by default:
# speed assertions.
settings.register_profile(
    "any-machine", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("any-machine")

# The CPU features that decide torch's kernels, as /proc/cpuinfo names them.
VECTOR_FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile")

# Per-genre minutes of the corpus the tests learn from. Built from Debian/PyPI packages,
# cached between sessions under .pytest_cache (the builder skips an up-to-date corpus).
TEST_CORPUS_MINUTES = 0.5
# a model of a few thousand weights for the command line (training in seconds on 2 cores)
TINY_MODEL_FLAGS = [
    "--dilations",
    "[1, 2, 4, 8, 16, 32]",
    "--residual-channels",
    "16",
    "--dilation-channels",
    "16",
    "--skip-channels",
    "32",
    "--sample-size",
    "300",
    "--batch-size",
    "2",
]


@pytest.fixture(scope="session")
def music_root() -> Path:
    """Real music in four genre folders (piano, guitar, classical, ambient) at 16 kHz."""
    from wavenet_music.demo_corpus import build_demo_corpus

    root = Path(
        os.environ.get(
            "WAVENET_TEST_CORPUS", Path(__file__).parent.parent / ".pytest_cache" / "music"
        )
    )
    with held_lock(root.with_name(f".{root.name}.lock")):  # one builder among the workers
        build_demo_corpus(root, minutes=TEST_CORPUS_MINUTES)
    return root


def replaced_keeping_its_times(path: Path, write: Callable[[Path], None]) -> None:
    """``path`` rewritten in place by ``write`` with its old modification time, as ``cp -p``,
    ``rsync -t`` or a restore from a backup leave it: the same size, inode and mtime."""
    before = path.stat()
    time.sleep(0.05)  # past the file system's clock tick, so that the change time moves
    write(path)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (
        before.st_size,
        before.st_mtime_ns,
        before.st_ino,
    )


@contextmanager
def held_lock(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` (created) while the block runs: with ``make test``'s
    parallel workers, the first builds what they share and the others wait, then reuse it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as file:
        fcntl.flock(file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(file, fcntl.LOCK_UN)


@pytest.fixture
def cache_dir(tmp_path: Path) -> str:
    return str(tmp_path / "cache")


def small_config(cache_dir: str, **overrides) -> Config:
    """A model small enough to train in seconds on 2 cores."""
    base = {
        "model.dilations": [1, 2, 4, 8, 16, 32, 64, 128],
        "model.residual_channels": 32,
        "model.dilation_channels": 32,
        "model.skip_channels": 64,
        "data.sample_size": 1000,
        "data.cache_dir": cache_dir,
        "train.batch_size": 4,
        "train.learning_rate": 0.003,
        "train.warmup_steps": 20,
        "train.validate_every": 1000,
        "train.checkpoint_every": 1000,
        "train.validation_windows": 8,
    }
    base.update(overrides)
    return apply_overrides(Config(), base)


def tiny_notes_config(cache_dir: str, **overrides) -> Config:
    """The ``notes`` preset shrunk to train 3 steps in a second (tests of the plumbing)."""
    from wavenet_music.config import load_preset

    base = {
        "model.dilations": [1, 2, 4, 8, 16],
        "model.residual_channels": 8,
        "model.dilation_channels": 8,
        "model.skip_channels": 16,
        "model.hop_length": 64,
        "data.cache_dir": cache_dir,
        "data.sample_size": 256,
        "train.batch_size": 2,
        "train.steps": 3,
        "train.validate_every": 1000,
    }
    base.update(overrides)
    return apply_overrides(load_preset("notes"), base)


@pytest.fixture(scope="session")
def piano_run(music_root, tmp_path_factory):
    """A small model trained for 300 steps (seconds) on real piano music: (run, result)."""
    from wavenet_music.wavenet.train import train

    base = tmp_path_factory.mktemp("piano")
    config = small_config(str(base / "cache"), **{"train.steps": 300, "train.validate_every": 100})
    return base / "run", train(music_root / "piano", base / "run", config, quiet=True)


# --- waiting on a child process, under the hang guard -----------------------------------------


def launch_hearing_ctrl_c(command: list[str]) -> subprocess.Popen:
    """``command`` started with its output piped, as text, and SIGINT heard as from a
    terminal (a shell's background job ignores it, and children inherit that)."""
    return subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def wait_for(predicate: Callable[[], bool], process: subprocess.Popen) -> None:
    """Poll until ``predicate()`` holds; fail at once if ``process`` exits first, and
    after ``HANG_GUARD_S`` (killing it) if neither happens."""
    deadline = time.monotonic() + HANG_GUARD_S
    while not predicate():
        if process.poll() is not None:
            pytest.fail(f"exited with {process.returncode} first: {_stderr_tail(process)}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"nothing after {HANG_GUARD_S} s, a hang: {_stderr_tail(process)}")
        time.sleep(0.05)


def finish(process: subprocess.Popen) -> tuple:
    """``process.communicate()`` under the hang guard: (stdout, stderr)."""
    try:
        return process.communicate(timeout=HANG_GUARD_S)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail(f"still running after {HANG_GUARD_S} s, a hang: {_stderr_tail(process)}")


def _stderr_tail(process: subprocess.Popen) -> str:
    """The end of an ended (or killed) process's stderr, when it was piped."""
    try:  # a killed launcher's workers may still hold the pipe open
        _, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        return "stderr still open"
    if isinstance(err, bytes):
        err = err.decode(errors="replace")
    return f"stderr ends: {err[-3000:]}" if err else "no stderr"


# --- the machine, in the report -------------------------------------------------------------


def describe_cpu() -> str:
    """``AMD EPYC 7B13 (2 CPUs): avx2; torch kernels AVX2, 1 thread(s)``: test times
    differ ~10× between machines, so a timing says little without them."""
    model, flags = "", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = (part.strip() for part in line.partition(":"))
            if key == "model name" and not model:
                model = value
            elif key == "flags" and not flags:
                flags = set(value.split())
    except OSError:  # not Linux
        pass
    vector = " ".join(f for f in VECTOR_FLAGS if f in flags) or "no AVX2"
    return (
        f"{model or 'unknown CPU'} ({os.cpu_count()} CPUs): {vector}; "
        f"torch kernels {torch.backends.cpu.get_cpu_capability()}, "
        f"{torch.get_num_threads()} thread(s)"
    )


def describe_load() -> str:
    """The 1-minute load average: other work on the machine slows every test."""
    return f"load average {os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else ""


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [f"cpu: {describe_cpu()}", f"at start: {describe_load()}"]


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    """The machine again at the end, where a slow run's durations are read (shown under
    ``-q`` too, which hides the header)."""
    terminalreporter.write_sep("=", "machine")
    terminalreporter.write_line(f"cpu: {describe_cpu()}")
    terminalreporter.write_line(f"at the end: {describe_load()}")
