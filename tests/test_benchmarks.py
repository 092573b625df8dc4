"""The benchmarks refuse a bad flag before any work: one line on stderr that names the
flag, exit 2, no traceback (a hostile tester saw tracebacks, ``bench_decode.py --minutes 0``
print a table of zeros and ``bench_cuda.py`` take any flag on a machine without CUDA). The
noise guard's benchmark warms each way up, then alternates them; every benchmark names
the CPU above its table. Ctrl-C ends a benchmark in one line, "interrupted", exit 130 (it
printed a traceback), and a measuring child that fails is named in one line below its own
stderr (a ``CalledProcessError`` traceback, the child's stderr swallowed)."""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from .conftest import HANG_GUARD_S, finish, launch_hearing_ctrl_c, wait_for

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPTS = sorted(p.name for p in BENCHMARKS.glob("bench_*.py"))

# (script, flags, the flag the line must name); "{tmp}" is the test's own folder
BAD_FLAGS = [
    ("bench_composer.py", ["--repeats", "0"], "--repeats"),
    ("bench_composer.py", ["--json", "{tmp}/missing/out.json"], "--json"),
    ("bench_noise_guard.py", ["--seconds", "nan"], "--seconds"),
    ("bench_noise_guard.py", ["--presets", "tiny,nosuch"], "--presets"),
    ("bench_decode.py", ["--minutes", "0"], "--minutes"),  # decoded nothing, printed zeros
    ("bench_transcribe.py", ["--minutes", "inf"], "--minutes"),
    ("bench_notes.py", ["--data", "{tmp}/missing"], "--data"),
    ("bench_notes.py", ["--data", "{tmp}/text"], "--data"),  # a folder of no audio
    ("bench_notes.py", ["--data", "{tmp}/music", "--out", "{tmp}/runs"], "--out"),
    ("bench_generate.py", ["--stream-threads", "0"], "--stream-threads"),
    ("bench_train.py", ["--threads", "-1"], "--threads"),
    ("bench_cuda.py", ["--streams", "1", "0"], "--streams"),  # refused with or without CUDA
]


def run_script(script: str, *flags: str) -> subprocess.CompletedProcess:
    command = [sys.executable, str(BENCHMARKS / script), *flags]
    return subprocess.run(command, capture_output=True, text=True, timeout=HANG_GUARD_S)


@pytest.fixture
def folders(tmp_path: Path) -> Path:
    """``text/`` (no audio), ``music/`` (a WAV) and ``runs/notes-s0/checkpoints`` (a run
    folder that holds no checkpoint) under ``tmp_path``."""
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "notes.txt").write_text("not audio")
    (tmp_path / "music").mkdir()
    sf.write(tmp_path / "music" / "a.wav", np.zeros(1600, dtype=np.float32), 16000)
    (tmp_path / "runs" / "notes-s0" / "checkpoints").mkdir(parents=True)
    return tmp_path


@pytest.mark.parametrize(("script", "flags", "flag"), BAD_FLAGS)
def test_a_bad_flag_is_one_line_naming_it_and_exit_2(script, flags, flag, folders):
    done = run_script(script, *(f.format(tmp=folders) for f in flags))
    lines = done.stderr.splitlines()
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert len(lines) == 1 and flag in lines[0], done.stderr
    assert lines[0].startswith(f"{script}: error: ")
    assert "|" not in done.stdout  # refused before any table


def test_every_benchmark_has_a_bad_flag_case_and_names_the_cpu():
    assert {script for script, _, _ in BAD_FLAGS} == set(SCRIPTS)
    for script in SCRIPTS:
        assert "cpu_line(" in (BENCHMARKS / script).read_text(), script


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is here")
def test_bench_cuda_without_a_gpu_says_so_in_one_line():
    done = run_script("bench_cuda.py")
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.splitlines() == ["bench_cuda: no CUDA device here; nothing to measure"]


@pytest.fixture
def benchmarks_importable(monkeypatch):
    """The benchmarks' folder on sys.path (they import ``common`` and ``arguments`` from
    it, as scripts), its modules forgotten afterwards."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name in {"arguments", "common"} or name.startswith("bench_"):
            del sys.modules[name]


@pytest.mark.parametrize("text", ["0", "-1", "nan", "inf", "-inf", "1e400", "two", ""])
def test_a_number_must_be_finite_and_in_range(text, benchmarks_importable):
    from arguments import positive_number, whole_number

    for parse in (whole_number(), positive_number(), positive_number(at_most=10)):
        with pytest.raises(argparse.ArgumentTypeError, match="expected"):
            parse(text)
    assert whole_number()("3") == 3 and positive_number(at_least=0.5)("0.5") == 0.5


def test_the_noise_guard_benchmark_warms_up_then_alternates(benchmarks_importable, monkeypatch):
    import bench_noise_guard

    calls = []

    def timed(model, samples, streams, guard):
        calls.append(("guarded" if guard is not None else "one pass", samples))
        return 0.1, torch.zeros(streams, samples, dtype=torch.long)

    monkeypatch.setattr(bench_noise_guard, "timed", timed)
    row, rates = bench_noise_guard.measure("tiny", 2, seconds=0.1, repeats=3)
    warm, timed_runs = calls[:2], [way for way, _ in calls[2:]]
    assert sorted(way for way, _ in warm) == ["guarded", "one pass"]
    assert timed_runs == ["one pass", "guarded", "guarded", "one pass", "one pass", "guarded"]
    assert all(len(runs) == 3 for runs in rates.values()) and row[-1] == "yes"


def test_bench_train_times_bf16_by_default_only_where_the_cpu_has_bfloat16(
    benchmarks_importable,
):
    """On an AVX2-only CPU (or held to AVX2) bf16 autocast is emulated: one ``reference``
    step ran for minutes on a Zen 3, so ``make bench`` leaves it out and says why; where
    the CPU has AVX512_BF16 or AMX, all three trainers are timed."""
    from bench_train import DEFAULT_TRAINERS, default_trainers

    zen3 = "fpu sse2 avx avx2 fma"
    for cpu, flags in (("native", zen3), ("avx2", "avx2 avx512f avx512_bf16")):
        trainers, why = default_trainers(cpu, flags)
        assert trainers == ["ours", "textbook"]
        assert "ours-bf16 left out" in why and "--trainers ours-bf16" in why
    for flags in ("avx2 avx512f avx512_bf16", "avx2 avx512f amx_bf16 amx_tile"):
        assert default_trainers("native", flags) == (list(DEFAULT_TRAINERS), "")


def test_every_benchmark_ends_through_one_line_errors():
    """What makes a Ctrl-C or a failed child one line in each of them."""
    for script in SCRIPTS:
        text = (BENCHMARKS / script).read_text()
        assert text.endswith('if __name__ == "__main__":\n    one_line_errors(main)\n'), script


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_ends_a_benchmark_in_one_line_exit_130(tmp_path, monkeypatch, signum):
    """Ctrl-C (or SIGTERM) while bench_decode.py measures: "interrupted", exit 130, its
    measuring child stopped and its temporary folder removed."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # where it writes its recording
    command = [sys.executable, str(BENCHMARKS / "bench_decode.py"), "--minutes", "10"]
    process = launch_hearing_ctrl_c(command)
    wait_for(lambda: any(tmp_path.glob("bench-decode-*/0-16000.npy")), process)  # 1st child done
    process.send_signal(signum)
    _, err = finish(process)
    assert (process.returncode, err) == (130, "bench_decode.py: interrupted\n")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("script", "flags", "status"),
    [("bench_decode.py", ["16000"], 1), ("bench_transcribe.py", [], 2)],
)
def test_a_failed_measuring_child_is_one_line_below_its_stderr(
    benchmarks_importable, tmp_path, monkeypatch, capsys, script, flags, status
):
    """A child that cannot read its recording (an exception in bench_decode.py's, a
    one-line error in bench_transcribe.py's): its stderr, then one line naming its command
    and exit status, exit 1."""
    import importlib

    from arguments import one_line_errors

    monkeypatch.setattr(sys, "argv", [script])
    bench = importlib.import_module(script.removesuffix(".py"))
    missing, out = tmp_path / "missing.wav", tmp_path / "out"
    with pytest.raises(SystemExit) as ended:
        one_line_errors(lambda: bench.measure("whole file", missing, out, *map(int, flags)))
    *child, last = capsys.readouterr().err.splitlines()
    python = Path(sys.executable).name
    command = f"{python} {script} --child 'whole file' {missing} {out} {' '.join(flags)}"
    assert ended.value.code == 1
    assert last == f"{script}: error: {command.strip()} failed with exit status {status}"
    assert child and str(missing) in child[-1] and "CalledProcessError" not in "".join(child)


def test_a_child_that_heard_the_ctrl_c_first_is_an_interruption(benchmarks_importable, capsys):
    """Ctrl-C reaches the whole process group: a measuring child may end of it (130)
    before the benchmark hears it; that is "interrupted", not a failed child."""
    from arguments import one_line_errors

    heard = [sys.executable, "-c", "raise SystemExit(130)"]
    with pytest.raises(SystemExit) as ended:
        one_line_errors(lambda: subprocess.run(heard, check=True))
    assert ended.value.code == 130 and capsys.readouterr().err.endswith(": interrupted\n")
