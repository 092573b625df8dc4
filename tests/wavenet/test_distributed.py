"""Data-parallel training under torchrun (gloo, 2 CPU processes) is single-process training
on the same global batch: the same losses and weights, one checkpoint per save, a run
directory that evaluate and generate load, and processes that stop together. Rank 0
alone speaks for the run (one summary, each warning once), its advice names the torchrun
launch, and settings that do not fit the processes are refused before decoding."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file

from wavenet_music.audio.io import load_audio, write_wav
from wavenet_music.config import UserError, load_preset
from wavenet_music.runs import read_metrics
from wavenet_music.runtime import console
from wavenet_music.runtime.console import alike, mark_own, rank_zero_speaks
from wavenet_music.wavenet import checkpoint as ckpt
from wavenet_music.wavenet.data import prepare_corpus
from wavenet_music.wavenet.distributed import (
    Distributed,
    from_env,
    process_device,
    process_group,
    rank_zero_first,
    share,
    sum_all,
    train_command,
)
from wavenet_music.wavenet.evaluate import evaluate
from wavenet_music.wavenet.generate import generate
from wavenet_music.wavenet.train import train
from wavenet_music.wavenet.windows import WindowSampler, WindowSource

from ..conftest import HANG_GUARD_S, finish, wait_for

WORLD = 2
# The tiny preset on short windows; the schedule is fixed so that 6 and 9 steps agree.
FLAGS = {
    "--preset": "tiny",
    "--sample-size": "300",
    "--batch-size": "4",  # the global batch: 2 windows per process
    "--log-every": "1",
    "--validate-every": "3",
    "--validation-windows": "4",
    "--checkpoint-every": "3",
    "--keep-checkpoints": "5",
    "--decay-steps": "9",
    "--audio-every": "100000",
    "--device": "cpu",  # gloo on CPUs, also on a machine with one GPU (auto: a GPU each)
}
# Sums over 2 processes run in another order than in one: measured differences are ~1e-6
# bits and ~1e-7 relative in the weights after 9 steps (100× margin).
BITS_TOLERANCE = 1e-4
WEIGHTS_TOLERANCE = 1e-4
# A hang guard for launches that end before the first step (seconds each, here): far below
# the 30 minutes a process waited for a peer that had ended, or failed, alone.
START_S = 300


@pytest.fixture(scope="module")
def guitar(music_root):
    return music_root / "guitar"


@pytest.fixture(scope="module")
def piano(music_root):
    return music_root / "piano"


def flag_list(cache: Path, steps: int) -> list[str]:
    flags = {**FLAGS, "--cache-dir": str(cache), "--steps": str(steps)}
    return [item for pair in flags.items() for item in pair]


def torchrun(data: Path, run: Path, flags: list[str], *extra: str) -> list[str]:
    """The launch command; ``--`` keeps torchrun's parser off ``--run`` (which it would
    take for an abbreviation of its own ``--run-path``)."""
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        str(WORLD),
        "-m",
        "--",
        "wavenet_music.cli",
        "train",
        str(data),
        "--run",
        str(run),
        *flags,
        "--quiet",
        *extra,
    ]


def resume_line(data: Path, run: Path) -> str:
    """The run's advice to go on: the launch it needs, not a single process's, on the data
    folder the run recorded."""
    launch = f"torchrun --nproc_per_node {WORLD} -m wavenet_music.cli -- train"
    return f"{launch} {data.resolve()} --run {run} --resume --steps 1000000"


def run_torchrun(command: list[str]) -> list[dict]:
    """Run to the end; the JSON summary lines (rank 0's alone)."""
    return summaries_of(launch(command))


def launch(command: list[str], exit_code: int = 0) -> subprocess.CompletedProcess:
    done = subprocess.run(command, capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert done.returncode == exit_code, done.stderr[-3000:]
    return done


def summaries_of(out: str | subprocess.CompletedProcess) -> list[dict]:
    text = out if isinstance(out, str) else out.stdout
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def single_process(data: Path, run: Path, cache: Path, steps: int):
    from wavenet_music.cli import build_parser, config_from_args

    args = build_parser().parse_args(
        ["train", str(data), "--run", str(run), *flag_list(cache, steps)]
    )
    return train(data, run, config_from_args(args)[0], quiet=True)


def bits_by_step(run: Path, key: str) -> dict[int, float]:
    rows = [r for r in read_metrics(run) if key in r]
    assert len({r["step"] for r in rows}) == len(rows), f"{key} logged twice for a step"
    return {r["step"]: r[key] for r in rows}


def checkpoint_names(run: Path) -> list[str]:
    folder = run / ckpt.CHECKPOINTS
    return sorted(p.name for p in folder.iterdir())  # hidden temporary folders too


def test_torchrun_trains_like_one_process_and_resumes(piano, tmp_path):
    cache = tmp_path / "cache"
    single_process(piano, tmp_path / "single", cache, 9)
    run = tmp_path / "ddp"
    summaries = run_torchrun(torchrun(piano, run, flag_list(cache, 6)))
    assert [s["step"] for s in summaries] == [6]  # rank 0's summary alone
    assert checkpoint_names(run) == ["step_00000003", "step_00000006"]

    summaries = run_torchrun(torchrun(piano, run, ["--steps", "9"], "--resume"))
    assert checkpoint_names(run) == ["step_00000003", "step_00000006", "step_00000009"]
    assert [s["step"] for s in summaries] == [9]

    for key in ("train_bits", "validation_bits"):
        expected, got = bits_by_step(tmp_path / "single", key), bits_by_step(run, key)
        assert sorted(got) == sorted(expected)
        assert got == pytest.approx(expected, abs=BITS_TOLERANCE), key
    step = "checkpoints/step_00000009/model.safetensors"
    a, b = load_file(tmp_path / "single" / step), load_file(run / step)
    for name in a:
        difference = torch.linalg.norm(a[name] - b[name]) / (torch.linalg.norm(a[name]) + 1e-3)
        assert difference <= WEIGHTS_TOLERANCE, (name, difference.item())
    assert_usable(run, piano, tmp_path / "excerpt.wav")


def assert_usable(run: Path, data: Path, excerpt: Path) -> None:
    """generate and evaluate load the run (evaluated on a second of its music)."""
    model, config = ckpt.load_model(run)
    clip = generate(model, 50, generator=torch.Generator().manual_seed(0))
    assert clip.shape == (1, 50)
    rate = config.data.sample_rate
    write_wav(excerpt, load_audio(sorted(data.glob("*.flac"))[0], rate)[:rate], rate)
    assert 6.0 < evaluate(model, config, excerpt, quiet=True).bits_per_sample < 8.5


def signal_rank_one_after_a_step(
    piano: Path, run: Path, cache: Path, signum: int
) -> tuple[int, str, str]:
    """A 2-process torchrun run whose rank 1 gets ``signum`` once a step is logged:
    (torchrun's exit code, stdout, stderr)."""
    command = torchrun(piano, run, flag_list(cache, 1_000_000))
    launcher = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(
            lambda: (run / "metrics.jsonl").exists() and bits_by_step(run, "train_bits"), launcher
        )
        os.kill(worker_of_rank(launcher.pid, 1), signum)
        out, err = finish(launcher)
    finally:
        launcher.kill()
    return launcher.returncode, out, err


def test_a_signal_to_one_process_stops_them_all_with_a_checkpoint(piano, tmp_path):
    run = tmp_path / "ddp"
    code, out, err = signal_rank_one_after_a_step(piano, run, tmp_path / "cache", signal.SIGTERM)
    assert code == 0, err[-3000:]  # rank 1 too: both stopped after one step
    [summary] = summaries_of(out)  # rank 0's alone (each process printed its own)
    assert summary["interrupted"]
    step = ckpt.load(run).step
    assert step == summary["step"] == max(bits_by_step(run, "train_bits"))
    assert not [name for name in checkpoint_names(run) if name.startswith(".")]
    advice = f"resume with: {resume_line(piano, run)}"
    assert err.count("resume with:") == 1 and advice in err, err[-3000:]


def test_a_process_killed_outright_is_not_said_to_have_left_a_message(piano, tmp_path):
    """A process killed by SIGKILL (the out-of-memory killer's way) prints nothing, and the
    other said "its message is above" of a message that was not there. Now its one line
    says the process may have left none, and torchrun's report after it names the SIGKILL."""
    run = tmp_path / "ddp"
    code, _, err = signal_rank_one_after_a_step(piano, run, tmp_path / "cache", signal.SIGKILL)
    assert code == 1, err[-3000:]  # torchrun's code for a failed process
    [line] = [line for line in err.splitlines() if line.startswith("wavenet-music train")]
    assert line.startswith("wavenet-music train: error: another process of this run stopped")
    assert "its message, if it left one, is above" in line, line
    assert "SIGKILL" in err.split(line, 1)[1], err[-3000:]  # torchrun's report, below


def raced_resume(piano: Path, run: Path, signs: Path, steps: int, timeout: float) -> tuple:
    """A 2-process ``--resume`` of ``run`` to ``steps`` under resume_race.py (rank 1 lists the
    checkpoints before rank 0 puts back a hidden one): (exit code, stdout, stderr)."""
    signs.mkdir()
    command = torchrun(piano, run, ["--steps", str(steps)], "--resume")
    at = command.index("wavenet_music.cli")
    command[at - 2 : at + 1] = ["--", str(Path(__file__).with_name("resume_race.py"))]
    return launch_guarded(command, timeout, RACE_DIR=str(signs))


def launch_guarded(command: list[str], timeout: float, **env: str) -> tuple:
    """(exit code, stdout, stderr) of a launch; past ``timeout``, a hang: the launcher and
    its workers are killed (a worker left waiting would outlive a killed torchrun)."""
    launcher = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
        start_new_session=True,  # its own process group: the workers are killed with it
    )
    try:
        out, err = launcher.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(launcher.pid, signal.SIGKILL)
        out, err = launcher.communicate()
        pytest.fail(f"still running after {timeout} s, a hang: {err[-3000:]}")
    return launcher.returncode, out, err


def the_one_line(err: str) -> str:
    """The one line a failed launch said (rank 0's): no other process's, and no traceback
    but torchrun's report of the failed processes."""
    lines = [line for line in err.splitlines() if line.startswith("wavenet-music train")]
    assert len(lines) == 1, err[-3000:]
    assert err.count("Traceback (most recent call last)") == 1, err[-3000:]
    assert "ChildFailedError" in err, err[-3000:]  # the one traceback is torchrun's
    return lines[0]


def test_rank_zero_failing_to_read_the_data_ends_every_process_with_one_line(piano, tmp_path):
    """Rank 0 decodes the data while the others wait for it: where it failed (here no audio
    at all), rank 1 left the wait only because rank 0's end broke it, and said that another
    process of the run had stopped, perhaps killed for memory. Now the processes share the
    failure: rank 0's line, and no other."""
    data, run = tmp_path / "empty", tmp_path / "ddp"
    data.mkdir()
    code, _, err = launch_guarded(torchrun(data, run, flag_list(tmp_path / "cache", 2)), START_S)
    assert code == 1, err[-3000:]  # torchrun's code for a failure
    line = the_one_line(err)
    assert line.startswith("wavenet-music train: error: no audio files"), line
    assert line.endswith(f"found under {data}"), line
    assert not run.exists()  # made by this command, removed with its lock


def test_a_resume_on_changed_data_is_refused_once_by_every_process(piano, guitar, tmp_path):
    """Every process finds the data folder changed since the run recorded its split: each
    said so, rank 1 with its rank, the same line twice. Now rank 0 says it for all."""
    data, run, cache = tmp_path / "data", tmp_path / "ddp", tmp_path / "cache"
    data.mkdir()
    shutil.copy(sorted(piano.glob("*.flac"))[0], data)
    single_process(data, run, cache, 3)
    shutil.copy(sorted(guitar.glob("*.flac"))[0], data / "extra.flac")
    command = torchrun(data, run, ["--steps", "6"], "--resume")
    code, _, err = launch_guarded(command, START_S)
    assert code == 1, err[-3000:]
    line, changed = the_one_line(err), f"{data.resolve()} changed since {run}"
    assert line.startswith(f"wavenet-music train: error: {changed}"), line
    assert "1 file added (extra.flac)" in line, line
    assert checkpoint_names(run) == ["step_00000003"]


def test_a_resume_with_nothing_to_do_ends_every_process(piano, tmp_path):
    """Each process decided by itself whether a resume had anything to do, on the checkpoint
    it had chosen: rank 0, which put back a step a crash had hid, found the budget spent and
    ended (exit 0, so torchrun ended no one), while rank 1, which had listed the folder
    before, chose an older step and waited for rank 0 to meet it: 30 minutes, the process
    group's timeout. Now the processes decide it on rank 0's choice, together."""
    cache, run = tmp_path / "cache", tmp_path / "ddp"
    single_process(piano, run, cache, 6)  # checkpoints at steps 3 and 6
    folder = run / ckpt.CHECKPOINTS
    shutil.copytree(folder / "step_00000006", folder / ".stale_step_00000006_1")
    (folder / "step_00000006").rename(folder / ".tmp_step_00000006_1")  # hidden by a crash
    code, out, err = raced_resume(piano, run, tmp_path / "signs", 6, START_S)
    assert code == 0, err[-3000:]
    assert [s["step"] for s in summaries_of(out)] == [6]
    assert err.count("already at step 6 (>= --steps 6); nothing to do") == 1, err[-3000:]
    assert checkpoint_names(run) == ["step_00000003", "step_00000006"]
    assert "Traceback" not in err, err[-3000:]


def test_a_resume_goes_on_from_rank_zeros_checkpoint_in_every_process(piano, tmp_path):
    """Each process chose the checkpoint to resume by itself while rank 0 alone put back one
    a crash had hidden and set aside a damaged one: a process that listed the folder before
    and read it after (the interleaving resume_race.py forces) went on from an older step
    than rank 0, out of step with it (and failed at the end). Now every process loads rank
    0's choice; the damaged checkpoint is set aside once, and said once."""
    cache, run = tmp_path / "cache", tmp_path / "ddp"
    single_process(piano, run, cache, 9)  # checkpoints at steps 3, 6 and 9
    folder = run / ckpt.CHECKPOINTS
    shutil.copytree(folder / "step_00000006", folder / ".stale_step_00000006_1")
    (folder / "step_00000006").rename(folder / ".tmp_step_00000006_1")  # hidden by a crash
    weights = folder / "step_00000009" / ckpt.MODEL_FILE
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(data)
    signs = tmp_path / "signs"
    code, out, err = raced_resume(piano, run, signs, 12, HANG_GUARD_S)
    restored = [(signs / f"restored_{rank}").read_text() for rank in range(WORLD)]
    assert restored == ["6", "6"], err[-3000:]
    assert code == 0, err[-3000:]
    assert [s["step"] for s in summaries_of(out)] == [12]
    assert checkpoint_names(run) == [
        ".damaged_step_00000009",  # once: a second would be .damaged_step_00000009_PID
        *(f"step_{step:08d}" for step in (3, 6, 9, 12)),
    ]
    assert err.count("step_00000009 is damaged") == 1, err[-3000:]
    assert err.count("warning: set aside the damaged") == 1, err[-3000:]


def test_settings_that_do_not_fit_the_processes_are_refused_before_decoding(piano, tmp_path):
    """A global batch that does not split over the processes was refused only after the
    audio had been decoded, and by every process (the same line twice)."""
    cache, run = tmp_path / "cache", tmp_path / "ddp"
    flags = [*flag_list(cache, 2), "--batch-size", "3"]
    done = launch(torchrun(piano, run, flags), exit_code=1)  # torchrun's code for a failure
    line = (
        "wavenet-music train: error: train.batch_size is the global batch; expected a "
        f"multiple of the {WORLD} processes, got 3"
    )
    assert not cache.exists()  # nothing decoded
    assert not run.exists()
    assert done.stderr.count(line) == 1, done.stderr[-3000:]
    assert "(rank 1 of" not in done.stderr  # the same error: rank 0 says it for both


def test_a_time_cap_is_said_once_with_the_torchrun_line_to_go_on(piano, tmp_path):
    """Each process printed the summary and the warnings (a skipped file: two lines), and
    the advice after a time cap named the single-process command."""
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(sorted(piano.glob("*.flac"))[0], data)
    (data / "broken.wav").write_text("not audio")
    run = tmp_path / "ddp"
    flags = [*flag_list(tmp_path / "cache", 1_000_000), "--minutes", "0.02"]
    done = launch(torchrun(data, run, flags))
    [summary] = summaries_of(done)
    assert summary["step"] == ckpt.load(run).step < 1_000_000
    assert done.stderr.count("skipped 1 of 2 audio files") == 1, done.stderr[-3000:]
    advice = f"continue with: {resume_line(data, run)}"
    assert done.stderr.count("under-trained:") == 1 and advice in done.stderr


def worker_of_rank(launcher: int, rank: int) -> int:
    """The training process of ``rank`` among the launcher's children (Linux /proc)."""
    proc = Path("/proc")
    if not proc.is_dir():
        pytest.skip("finding torchrun's workers needs /proc")
    for status in proc.glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines())
            if int(fields["PPid"]) != launcher:
                continue
            env = (status.parent / "environ").read_bytes().split(b"\0")
        except (OSError, KeyError, ValueError):
            continue
        if f"RANK={rank}".encode() in env:
            return int(status.parent.name)
    raise AssertionError(f"no worker of rank {rank} under process {launcher}")


# --- the pieces, in-process -------------------------------------------------------------------


def test_rank_shares_make_up_the_global_batch(piano, tmp_path):
    config = load_preset("tiny")
    corpus = prepare_corpus(piano, config.data, 256, 1024, quiet=True)

    def sampler() -> WindowSampler:
        return WindowSampler(WindowSource(corpus.train, 1024, 300, 128), seed=3)

    whole = sampler().next_batch(4)
    shares = [sampler().next_batch(4, rank, WORLD) for rank in range(WORLD)]
    assert torch.equal(torch.cat([s.inputs for s in shares]), whole.inputs)
    assert torch.equal(torch.cat([s.targets for s in shares]), whole.targets)


def test_the_global_batch_must_split_evenly():
    assert share(Distributed(1, 4, 1), 8) == 2
    with pytest.raises(UserError, match="global batch; expected a multiple of the 4 processes"):
        share(Distributed(0, 4, 0), 6)


def test_rank_comes_from_torchruns_environment():
    assert not from_env({}).enabled
    where = {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}
    ctx = from_env({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", **where})
    assert (ctx.rank, ctx.world_size, ctx.local_rank, ctx.is_main) == (3, 4, 1, False)
    assert ctx.local_world_size == 4  # one machine, where LOCAL_WORLD_SIZE is not said
    two_nodes = {"RANK": "3", "WORLD_SIZE": "4", "LOCAL_WORLD_SIZE": "2", **where}
    assert from_env(two_nodes).local_world_size == 2
    with pytest.raises(UserError, match="LOCAL_WORLD_SIZE <= WORLD_SIZE, got 8 and 4"):
        from_env({**two_nodes, "LOCAL_WORLD_SIZE": "8"})
    with pytest.raises(UserError, match="RANK"):
        from_env({"WORLD_SIZE": "2"})
    with pytest.raises(UserError, match="MASTER_ADDR and MASTER_PORT not: launch with torchrun"):
        from_env({"RANK": "0", "WORLD_SIZE": "2"})  # a traceback from torch before


def test_advice_names_the_launch_the_run_needs():
    words = "DATA --run runs/x --resume"
    cli = "-m wavenet_music.cli -- train"
    assert train_command(*words.split(), ctx=Distributed()) == f"wavenet-music train {words}"
    on_one_machine = train_command(*words.split(), ctx=Distributed(1, 4, 1, 4))
    assert on_one_machine == f"torchrun --nproc_per_node 4 {cli} {words}"
    on_two = train_command(*words.split(), ctx=Distributed(5, 8, 1, 4))
    assert on_two == f"torchrun --nnodes 2 --nproc_per_node 4 {cli} {words}"


def test_too_few_gpus_are_refused_alike_by_every_process(monkeypatch):
    """It was rank 1's alone (LOCAL_RANK 1 without a GPU) while rank 0 waited for it: now
    every process refuses, so rank 0 says it for them all."""
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    refused = f"--nproc_per_node {WORLD} needs a GPU for each process but only 1 are visible"
    for rank in range(WORLD):
        with pytest.raises(UserError, match=refused):
            process_device(Distributed(rank, WORLD, rank, WORLD), torch.device("cuda"))


def test_rank_zero_alone_speaks_and_other_ranks_say_only_their_own_errors(capsys, monkeypatch):
    waits: list[float] = []  # a rank > 0 gives rank 0 time to say an error they share
    monkeypatch.setattr(console, "time", SimpleNamespace(sleep=waits.append))
    second = {"RANK": "1", "WORLD_SIZE": "2"}
    with rank_zero_speaks(second) as say_error:
        print('{"step": 3}')
        print("warning: something", file=sys.stderr)
        say_error("train", "error: every process's", UserError("alike"))
        say_error("train", "error: a shared decision", mark_own(alike(UserError("shared"))))
        say_error("train", "error: this one's", mark_own(UserError("own")))
    assert capsys.readouterr() == ("", "wavenet-music train (rank 1 of 2): error: this one's\n")
    assert waits == [console.RANK_ZERO_GRACE_S] * 2  # not for its own error
    for env in ({"RANK": "0", "WORLD_SIZE": "2"}, {}):
        with rank_zero_speaks(env) as say_error:
            print('{"step": 3}')
            say_error("train", "error: every process's", UserError("alike"))
        assert capsys.readouterr() == (
            '{"step": 3}\n',
            "wavenet-music train: error: every process's\n",
        )


# A step's timeout short enough for a test, and rank 0's work alone longer than it.
SHORT_STEP_TIMEOUT_S, RANK_ZERO_WORK_S = 2, 6


def _wait_for_rank_zero(rank: int, port: int, out: Path) -> None:
    """One of 2 gloo processes: rank 0 works alone for longer than a step may wait, then
    both take a step together; each writes what it got."""
    os.environ |= {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}
    ctx = Distributed(rank, 2, rank, 2)
    with process_group(ctx, torch.device("cpu"), timedelta(seconds=SHORT_STEP_TIMEOUT_S)):
        work = (lambda: time.sleep(RANK_ZERO_WORK_S) or 10) if ctx.is_main else (lambda: rank)
        got = rank_zero_first(ctx, work)
        total = sum_all(ctx, [float(got)])
    (out / f"rank{rank}.json").write_text(json.dumps([got, total]))


def test_the_others_wait_for_rank_zero_s_first_decoding_past_a_step_s_timeout(tmp_path):
    """Rank 0 decodes and transcribes the corpus once for all while the others wait: they
    waited in a collective of the run's group, whose 30-minute timeout ended them when a
    first decoding of a large corpus took longer. Here with a 2-s step timeout."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    torch.multiprocessing.spawn(_wait_for_rank_zero, args=(port, tmp_path), nprocs=2)
    got = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    assert got == [[10, [11.0]], [1, [11.0]]]


ALLOCATION_FAILED = "DefaultCPUAllocator: can't allocate memory: you tried to allocate 9 GB"


def _train_failing_in_model_setup(rank: int, port: int, data: Path, out: Path) -> None:
    """One of 2 gloo processes training where building the model fails in both, as an
    allocation too large for the machine does (raised here: allocating it would take the
    machine's memory); each writes its exit code and what it printed on stderr."""
    import contextlib
    import io

    from wavenet_music.cli import main
    from wavenet_music.wavenet import train as training

    def too_large(*_args, **_kwargs):
        raise RuntimeError(ALLOCATION_FAILED)

    training.WaveNet = too_large
    os.environ |= {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RANK": str(rank)}
    os.environ |= {"WORLD_SIZE": "2", "LOCAL_RANK": str(rank), "LOCAL_WORLD_SIZE": "2"}
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["train", str(data), "--run", str(out / "run"), *flag_list(out / "cache", 2)])
    (out / f"rank{rank}.json").write_text(json.dumps([code, err.getvalue()]))


def test_a_failure_in_every_process_s_model_setup_is_said_once(piano, tmp_path):
    """Building the model failed in both processes: rank 0 said it, and rank 1 said it again
    with its rank. Now the processes share the failure: rank 0's line alone."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    args = (port, piano, tmp_path)
    torch.multiprocessing.spawn(_train_failing_in_model_setup, args=args, nprocs=2)
    (code0, err0), (code1, err1) = (
        json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)
    )
    lines = [line for line in err0.splitlines() if "error" in line]
    assert code0 != 0 and len(lines) == 1 and "error: out of memory" in lines[0], err0
    assert code1 != 0 and "error" not in err1, err1


def test_a_process_waiting_for_peers_that_never_come_ends_on_sigterm(piano, tmp_path):
    """Inside init_process_group no Python handler runs: SIGTERM and Ctrl-C were ignored
    for as long as it waited (torchrun's SIGTERM to a worker whose peer failed early too)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "WORLD_SIZE": "2", "RANK": "0", "LOCAL_RANK": "0"}
    env |= {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}
    run = tmp_path / "alone"
    command = [sys.executable, "-m", "wavenet_music.cli", "train", str(piano), "--run", str(run)]
    process = subprocess.Popen(
        [*command, *flag_list(tmp_path / "cache", 2)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    wait_for(lambda: (run / ".lock").exists(), process)  # locked: on its way to the peers
    time.sleep(2)  # inside init_process_group, waiting
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)  # a hang guard only: it ends at once
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail("still waiting for its peers 30 s after SIGTERM")
    assert process.returncode == -signal.SIGTERM


@pytest.mark.skipif(torch.cuda.device_count() < WORLD, reason=f"needs {WORLD} CUDA devices")
def test_torchrun_on_gpus_uses_nccl_and_writes_one_checkpoint(piano, tmp_path):
    run = tmp_path / "ddp"
    flags = [*flag_list(tmp_path / "cache", 3), "--device", "cuda", "--precision", "bf16"]
    summaries = run_torchrun(torchrun(piano, run, flags))
    assert [s["step"] for s in summaries] == [3]  # rank 0's alone
    assert checkpoint_names(run) == ["step_00000003"]


def test_a_peer_on_this_machine_that_ended_is_told_from_one_alive():
    """torchrun stops the survivors with SIGTERM once one worker ends; where that came
    before gloo's failure, the survivor said "interrupted" (1 run in 8 beside another job).
    It now looks at its peers on this machine: one ended (reaped, or a zombie) means the
    run lost it."""
    from wavenet_music.wavenet.distributed import _ended, local_peer_gone

    here = socket.gethostname()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    reaped = subprocess.Popen([sys.executable, "-c", "pass"])
    reaped.wait()
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        wait_for(lambda: _ended(zombie.pid), alive)  # exited, not reaped
        me = (here, os.getpid())
        assert not local_peer_gone([me, (here, alive.pid)])
        assert local_peer_gone([me, (here, alive.pid), (here, reaped.pid)])
        assert local_peer_gone([me, (here, zombie.pid)])
        assert not local_peer_gone([me, ("another-machine", reaped.pid), None])  # not looked at
    finally:
        alive.kill()
        alive.wait()
        zombie.wait()


def test_torchruns_stop_during_the_way_out_keeps_the_lost_peer_line(capsys):
    """The survivor raised ``LOST``, then torchrun's SIGTERM came while it destroyed its
    process group, and the interrupt took the line's place: "interrupted" (seen 1 run in
    8 beside another job). The line is ``LOST``'s again; a Ctrl-C that cut short no such
    error, or another one, is still "interrupted"."""
    import argparse

    from wavenet_music.cli import _run
    from wavenet_music.wavenet.distributed import LOST, lost_peer_behind

    def cut_short(error: Exception) -> None:
        try:
            raise error
        finally:
            raise KeyboardInterrupt  # the SIGTERM, raised by its handler on the way out

    said: list[str] = []
    args = argparse.Namespace(func=lambda _: cut_short(UserError(LOST)))
    assert _run(args, lambda line, _: said.append(line)) == 2
    assert said == [f"error: {LOST}"]
    for other in (UserError("no such file"), RuntimeError("gloo")):
        with pytest.raises(KeyboardInterrupt) as caught:
            cut_short(other)
        assert lost_peer_behind(caught.value) is None
    args = argparse.Namespace(func=lambda _: cut_short(UserError("no such file")))
    assert _run(args, lambda line, _: said.append(line)) == 130 and said[-1] == "interrupted"
