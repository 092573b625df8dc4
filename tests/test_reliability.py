"""Runs survive SIGKILL anywhere, Ctrl-C keeps partial audio, failed writes lose nothing."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from wavenet_music.config import UserError
from wavenet_music.runs import OpenArrays, read_metrics
from wavenet_music.wavenet import checkpoint as ckpt
from wavenet_music.wavenet.train import train

from .conftest import HANG_GUARD_S, TINY_MODEL_FLAGS, finish, small_config, wait_for

ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1"}  # a busy 2-core machine: no thread fights
SMALL = [*TINY_MODEL_FLAGS, "--validate-every", "1000"]


def _train_command(data: Path, run: Path, cache: Path, resume: bool, steps: int) -> list[str]:
    """The CLI training command; a resumed run takes its settings from the checkpoint."""
    settings = (
        ["--resume"]
        if resume
        else [
            *SMALL,
            "--checkpoint-every",
            "2",
            "--keep-checkpoints",
            "2",
            "--cache-dir",
            str(cache),
        ]
    )
    return [
        sys.executable,
        "-m",
        "wavenet_music.cli",
        "train",
        str(data),
        "--run",
        str(run),
        "--steps",
        str(steps),
        "--quiet",
        *settings,
    ]


def test_sigkill_at_random_moments_always_leaves_a_resumable_run(music_root, tmp_path):
    run, data = tmp_path / "run", music_root / "piano"
    rng = random.Random(1234)
    steps = []
    for kill in range(10):
        start = ckpt.load(run).step if kill else 0  # before the child can save a newer one
        process = subprocess.Popen(
            _train_command(data, run, tmp_path / "c", resume=kill > 0, steps=100_000),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=ONE_THREAD,
        )
        wait_for(lambda s=start: any(_step(p) > s for p in ckpt.checkpoint_dirs(run)), process)
        time.sleep(rng.uniform(0.0, 0.6))  # land anywhere, checkpoint writes included
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=HANG_GUARD_S)
        loaded = ckpt.load(run)  # the newest complete checkpoint verifies
        assert loaded.step > start  # a checkpoint newer than the resumed one existed
        steps.append(loaded.step)
        # a kill between a new checkpoint's rename and the pruning leaves one extra
        assert len(ckpt.checkpoint_dirs(run)) <= 2 + 1
    assert steps == sorted(steps) and steps[-1] > steps[0]
    final = steps[-1] + 3
    done = subprocess.run(
        _train_command(data, run, tmp_path / "c", resume=True, steps=final),
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
    )
    assert done.returncode == 0, done.stderr
    assert ckpt.load(run).step == final
    assert len(ckpt.checkpoint_dirs(run)) <= 2  # the next save prunes to keep-checkpoints
    assert not list((run / "checkpoints").glob(".tmp*"))  # interrupted writes cleaned up
    assert max(r["step"] for r in read_metrics(run)) == final


def _step(path: Path) -> int:
    return int(path.name.removeprefix("step_"))


def _hear_ctrl_c() -> None:
    """A shell starts background jobs with SIGINT ignored, and children inherit that (then
    Python installs no Ctrl-C handler): give the child the terminal default back."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_during_generation_keeps_a_valid_partial_wav(music_root, tmp_path):
    config = small_config(str(tmp_path / "cache"), **{"train.steps": 2})
    train(music_root / "piano", tmp_path / "run", config, quiet=True)
    out = tmp_path / "long.wav"
    command = [
        sys.executable,
        "-m",
        "wavenet_music.cli",
        "generate",
        str(tmp_path / "run"),
        "--seconds",
        "600",
        "--save-every",
        "0.05",
        "--out",
        str(out),
    ]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_hear_ctrl_c,
    )
    wait_for(out.exists, process)
    time.sleep(0.5)  # Ctrl-C lands while it generates (any moment would do)
    process.send_signal(signal.SIGINT)
    _, err = finish(process)
    assert process.returncode == 130
    assert "interrupted; the audio so far is in" in err and "Traceback" not in err
    info = sf.info(out)
    assert info.samplerate == 16000 and 800 <= info.frames < 600 * 16000
    assert np.isfinite(sf.read(out)[0]).all()


def test_a_failed_checkpoint_write_keeps_the_previous_one(music_root, tmp_path, monkeypatch):
    config = small_config(str(tmp_path / "cache"), **{"train.steps": 2})
    train(music_root / "piano", tmp_path / "run", config, quiet=True)
    before = ckpt.load(tmp_path / "run")

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ckpt, "write_new_file", disk_full)  # test_data_loss: a real full disk
    longer = small_config(str(tmp_path / "cache"), **{"train.steps": 4})
    with pytest.raises(UserError, match=r"No space left on device.*previous checkpoint is intact"):
        train(music_root / "piano", tmp_path / "run", longer, resume=True, quiet=True)
    monkeypatch.undo()
    after = ckpt.load(tmp_path / "run")
    assert after.step == before.step == 2
    assert not list((tmp_path / "run" / "checkpoints").glob(".tmp*"))


def test_a_step_saved_again_is_kept_unless_replaced(tmp_path):
    folder = tmp_path / "composer"

    def write(value: float, replace: bool = False) -> Path:
        model, state = {"w": torch.full((3,), value)}, {"rng": torch.zeros(1)}
        header = {"calibrated": value}
        return ckpt.write_step(folder, 10, model, state, header, 2, "checkpoint", replace)

    write(1.0)
    meta, model, _ = ckpt.read_step(write(2.0), False, "checkpoint")  # a resume with nothing to do
    assert meta["calibrated"] == 1.0 and model["w"].eq(1.0).all()
    meta, model, _ = ckpt.read_step(write(3.0, replace=True), False, "checkpoint")
    assert meta["calibrated"] == 3.0 and model["w"].eq(3.0).all()
    assert [p.name for p in folder.iterdir()] == ["step_00000010"]  # nothing stale left


def test_an_unwritable_output_is_one_line_and_nothing_is_written(music_root, tmp_path, capsys):
    from wavenet_music.cli import main

    config = small_config(str(tmp_path / "cache"), **{"train.steps": 1})
    train(music_root / "piano", tmp_path / "run", config, quiet=True)
    blocker = tmp_path / "file"
    blocker.write_text("keep me")
    code = main(
        [
            "generate",
            str(tmp_path / "run"),
            "--seconds",
            "0.01",
            "--quiet",
            "--out",
            str(blocker / "x.wav"),
        ]
    )
    assert code == 2 and "cannot write" in capsys.readouterr().err
    assert blocker.read_text() == "keep me"


def test_a_checkpoint_of_another_shape_is_refused(music_root, tmp_path, capsys):
    from wavenet_music.cli import main

    config = small_config(str(tmp_path / "cache"), **{"train.steps": 1})
    train(music_root / "piano", tmp_path / "run", config, quiet=True)
    (folder,) = ckpt.checkpoint_dirs(tmp_path / "run")
    meta = json.loads((folder / "meta.json").read_text())
    del meta["meta_sha256"]  # as written before meta.json was hashed: the fit is checked
    meta["config"]["model"]["residual_channels"] = 48
    (folder / "meta.json").write_text(json.dumps(meta))
    code = main(
        [
            "generate",
            str(tmp_path / "run"),
            "--seconds",
            "0.01",
            "--quiet",
            "--out",
            str(tmp_path / "y.wav"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "does not fit its config" in err and "Traceback" not in err
    assert os.path.exists(folder)


# --- the training skeleton both trainers share ---------------------------------------------


def test_a_stop_request_ends_the_loop_after_the_step_and_the_state_round_trips(capsys):
    """``runtime.training.TrainingRun``: Ctrl-C finishes the step under way and ends the
    loop; the optimizer, RNG, step and training time come back from what a checkpoint
    saves; the stop line names the checkpoint and the command to go on."""
    from types import SimpleNamespace

    from wavenet_music.runtime.training import Budget, TrainingRun

    weight = torch.nn.Parameter(torch.ones(3))
    run = TrainingRun(torch.optim.Adam([weight]), Budget(steps=1000, minutes=None), quiet=True)

    def one_step() -> None:
        run.optimizer.zero_grad()
        (weight**2).sum().backward()
        run.optimizer.step()
        run.step += 1
        if run.step == 3:
            os.kill(os.getpid(), signal.SIGINT)  # the step finishes; no more follow

    run.start_session()
    assert run.loop(one_step) is True and run.step == 3 and not run.done()
    tensors, meta = run.training_state({"order": [2, 0, 1]})
    expected = torch.rand(4)
    again = TrainingRun(torch.optim.Adam([torch.nn.Parameter(torch.ones(3))]), run.budget, True)
    saved = SimpleNamespace(step=run.step, tensors=tensors, meta=json.loads(json.dumps(meta)))
    assert again.restore_training_state(saved) == {"order": [2, 0, 1]}
    assert torch.equal(torch.rand(4), expected)  # the RNG continues where it was saved
    assert again.step == 3 and again.elapsed() >= meta["elapsed"]
    moments, before = (r.optimizer.state_dict()["state"][0] for r in (again, run))
    torch.testing.assert_close(moments["exp_avg"], before["exp_avg"], rtol=0, atol=0)
    again.say_stopped(Path("RUN/checkpoints/step_00000003"), "wavenet-music train DATA --resume")
    assert capsys.readouterr().err == (
        "stopped at step 3; checkpoint RUN/checkpoints/step_00000003; resume with: "
        "wavenet-music train DATA --resume --steps 1000\n"  # the budget: a resume needs one
    )
    assert Budget(steps=3, minutes=None).spent(3, 0.0) and Budget(None, 1.0).spent(0, 60.0)
    with pytest.raises(UserError, match="--steps N or --minutes M"):
        Budget(None, None).require()


def _descriptor_limit(soft: int) -> None:
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_corpus_of_more_recordings_than_open_files_allowed_trains(tmp_path):
    """Every recording's cache was memory-mapped and held for the whole run, a file
    descriptor each: 150 recordings under a limit of 100 (macOS allows 256, Linux 1,024)
    ended training at step 10 with "Too many open files". Now at most ``MAX_OPEN_ARRAYS``
    are held at once, and 200 recordings train under a limit of 128."""
    data = tmp_path / "loops"
    data.mkdir()
    t = np.arange(4000) / 16000
    for i in range(200):
        sf.write(data / f"loop{i:03d}.wav", 0.3 * np.sin(2 * np.pi * (200 + 3 * i) * t), 16000)
    command = _train_command(data, tmp_path / "run", tmp_path / "cache", False, 40)
    command += ["--batch-size", "16", "--sample-size", "300"]
    done = subprocess.run(
        command,
        env=ONE_THREAD,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
        preexec_fn=lambda: _descriptor_limit(128),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert read_metrics(tmp_path / "run")[-1]["step"] == 40


def test_open_arrays_hold_at_most_their_limit_and_let_the_least_recent_go(tmp_path):
    paths = []
    for i in range(5):
        paths.append(tmp_path / f"{i}.npy")
        np.save(paths[-1], np.full(10, i, dtype=np.uint8))
    opened: list[int] = []

    def open_(path: Path) -> np.ndarray:
        opened.append(int(path.stem))
        return np.load(path, mmap_mode="r")

    arrays = OpenArrays(open_, limit=2)
    assert [int(arrays[p][0]) for p in (paths[0], paths[1], paths[0], paths[2])] == [0, 1, 0, 2]
    assert opened == [0, 1, 2] and len(arrays) == 2  # 1, the least recent, was let go
    assert int(arrays[paths[0]][3]) == 0 and opened == [0, 1, 2]  # 0 is still held
    assert int(arrays[paths[1]][9]) == 1 and opened == [0, 1, 2, 1]  # opened again
