"""A training run from its first file to its last: what a signal at any point of a session
keeps, what ``--run`` may name, what a resume with nothing to do does, and that the run's
lock never outlives the command."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from wavenet_music.cli import main
from wavenet_music.runs import read_metrics
from wavenet_music.wavenet import checkpoint as ckpt

from ..conftest import TINY_MODEL_FLAGS, finish

# validation on 64 windows (seconds on 2 cores)
TINY_FLAGS = ["--preset", "tiny", *TINY_MODEL_FLAGS, "--validation-windows", "64", "--quiet"]

# The validation of step SLOW_STEP lasts until a stop is asked (or, before stops covered
# the final validation, until the signal's default action or KeyboardInterrupt ends the
# process), then scores the windows as usual; it says so on stderr first.
SLOW_VALIDATION = """
import os, sys, time
from wavenet_music import cli
from wavenet_music.wavenet.train import Trainer
real = Trainer.validate
def slow(self, *args, **kwargs):
    if self.step != int(os.environ["SLOW_STEP"]):
        return real(self, *args, **kwargs)
    print(f"validating step {self.step}", file=sys.stderr, flush=True)
    for _ in range(72000):  # one hour, however late a busy machine sends the signal
        stop = getattr(self, "stop", None)
        if stop is not None and stop.requested:
            break
        time.sleep(0.05)
    return real(self, *args, **kwargs)
Trainer.validate = slow
raise SystemExit(cli.main(sys.argv[1:]))
"""


@pytest.fixture
def piano(music_root) -> Path:
    return music_root / "piano"


def _hear_ctrl_c() -> None:
    """A shell's background job ignores SIGINT, and children inherit that: undo it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def train_args(data: Path, run: Path, cache: Path, steps: int) -> list[str]:
    run_flags = ["--run", str(run), "--steps", str(steps), "--cache-dir", str(cache)]
    return ["train", str(data), *run_flags, *TINY_FLAGS]


def resume_args(data: Path, run: Path, steps: int) -> list[str]:
    return ["train", str(data), "--run", str(run), "--resume", "--steps", str(steps), "--quiet"]


def slow_training(data: Path, run: Path, cache: Path, steps: int, slow: int) -> subprocess.Popen:
    """``train`` whose validation of step ``slow`` waits for a signal."""
    return subprocess.Popen(
        [sys.executable, "-c", SLOW_VALIDATION, *train_args(data, run, cache, steps)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1", "SLOW_STEP": str(slow)},
        preexec_fn=_hear_ctrl_c,
    )


def signal_when_validating(process: subprocess.Popen, step: int, signum: int) -> tuple:
    """Send ``signum`` once the process validates ``step``: (stdout, stderr) at its end."""
    for line in process.stderr:  # stops at the line: the process says nothing more until then
        if line.strip() == f"validating step {step}":
            break
    else:
        pytest.fail(f"never validated step {step}: exit {process.wait()}")
    process.send_signal(signum)
    out, err = finish(process)
    return out, err


# --- D1: a signal during the final (or the first) validation still saves ----------------------


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_signal_during_the_final_validation_saves_the_last_step(piano, tmp_path, signum):
    run, cache = tmp_path / "run", tmp_path / "cache"
    process = slow_training(piano, run, cache, steps=3, slow=3)
    out, err = signal_when_validating(process, 3, signum)
    assert process.returncode == 0, err
    assert json.loads(out)["interrupted"] is True and "Traceback" not in err
    saved = ckpt.checkpoint_dirs(run)
    assert [ckpt.step_of(p) for p in saved] == [3], err
    assert f"stopped at step 3; checkpoint {saved[-1]}; resume with:" in err
    assert "--resume" in err
    records = read_metrics(run)
    assert [r["step"] for r in records if "validation_bits" in r] == [0]  # the cut one: none
    assert main(resume_args(piano, run, steps=4)) == 0
    assert ckpt.load(run).step == 4


def test_a_signal_during_the_first_validation_says_how_to_resume(piano, tmp_path):
    run, cache = tmp_path / "run", tmp_path / "cache"
    process = slow_training(piano, run, cache, steps=3, slow=0)
    out, err = signal_when_validating(process, 0, signal.SIGTERM)
    assert process.returncode == 0, err
    assert json.loads(out)["interrupted"] is True
    assert "stopped at step 0; checkpoint" in err and "--resume" in err
    assert not [r for r in read_metrics(run) if "validation_bits" in r]
    said = re.search(r"resume with: wavenet-music (.*)$", err, re.MULTILINE)
    assert said is not None, err
    command = said[1].split()  # the data folder the run recorded, not a placeholder
    assert command == [*resume_args(piano.resolve(), run, steps=3)[:-1]]  # and its budget
    assert main([*command, "--quiet"]) == 0  # the command it said works as said
    assert ckpt.load(run).step == 3
    assert [r["step"] for r in read_metrics(run) if "validation_bits" in r] == [0, 3]


def test_ctrl_c_during_the_composers_final_validation_saves_its_last_step(
    music_root, tmp_path, monkeypatch, capsys
):
    """The composer shares the session (``runtime.training``): a Ctrl-C while it scores
    its held-out music after the last step skips the calibration and saves that step."""
    from wavenet_music.composer.checkpoint import composer_dirs
    from wavenet_music.composer.config import ComposerConfig
    from wavenet_music.composer.train import ComposerTrainer, train_composer
    from wavenet_music.wavenet.train import train

    from ..conftest import small_config

    local = {"model.dilations": [1, 2, 4, 8, 16], "model.local_channels": 16}
    config = small_config(str(tmp_path / "cache"), **{**local, "train.steps": 2})
    train(music_root / "piano", tmp_path / "run", config, quiet=True)
    real = ComposerTrainer.validate

    def ctrl_c_while_scoring(self):
        if self.step == 3:
            os.kill(os.getpid(), signal.SIGINT)  # lands while it scores
        return real(self)

    monkeypatch.setattr(ComposerTrainer, "validate", ctrl_c_while_scoring)
    options = ComposerConfig(
        codebook_size=8, kmeans_iterations=5, layers=1, heads=2, width=8,
        context_seconds=1.0, batch_size=2, steps=3, validate_every=100,
        checkpoint_every=100, calibration_seconds=3.0, calibration_streams=1,
    )  # fmt: skip
    try:
        result = train_composer(tmp_path / "run", None, options, quiet=True)
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C during the final validation ended training without a checkpoint")
    assert result.interrupted and result.calibration is None
    assert [ckpt.step_of(p) for p in composer_dirs(tmp_path / "run")] == [3]
    assert "stopped at step 3; checkpoint" in capsys.readouterr().err


# --- D2: --run is a new path, an empty folder or a run of ours -------------------------------


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("wavenet-music")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_a_folder_of_other_files_is_refused_and_left_as_it_was(piano, tmp_path, capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "config.yaml").write_text("my precious config\n")
    (folder / "data.json").write_text('{"mine": 1}\n')
    (folder / "metrics.jsonl").write_text("my log\n")
    before = contents(folder)
    assert main(train_args(piano, folder, tmp_path / "cache", steps=1)) == 2
    line = one_line_error(capsys)
    assert f"--run {folder} is a folder of other files" in line, line
    assert "choose a new --run" in line and "--resume" in line
    assert contents(folder) == before  # no lock left behind either


def test_an_empty_folder_or_one_holding_only_a_lock_is_trained_into(piano, tmp_path):
    for name, files in (("empty", []), ("locked", [".lock"])):
        run = tmp_path / name
        run.mkdir()
        for file in files:
            (run / file).write_text("12345\n")  # a lock a killed training left
        assert main(train_args(piano, run, tmp_path / "cache", steps=1)) == 0
        assert ckpt.load(run).step == 1 and not (run / ".lock").exists()


def test_a_run_that_saved_no_checkpoint_starts_again_with_fresh_records(piano, tmp_path, capsys):
    run, cache = tmp_path / "run", tmp_path / "cache"
    assert main(train_args(piano, run, cache, steps=2)) == 0
    shutil.rmtree(run / "checkpoints")  # as if it had failed before its first checkpoint
    old_events = {p.name for p in (run / "tensorboard").iterdir()}
    capsys.readouterr()
    assert main(train_args(piano, run, cache, steps=1)) == 0
    assert f"note: {run} saved no checkpoint; training it again from step 0" in (
        capsys.readouterr().err
    )
    steps = [(r["step"], sorted(r)) for r in read_metrics(run)]
    assert [step for step, _ in steps] == [0, 1, 1], steps  # validations 0, 1 and step 1
    assert not old_events & {p.name for p in (run / "tensorboard").iterdir()}
    assert ckpt.load(run).step == 1


# --- D13.5: a resume with its budget spent does nothing -------------------------------------


def test_a_resume_whose_steps_are_done_says_so_and_changes_nothing(piano, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(train_args(piano, run, tmp_path / "cache", steps=2)) == 0
    metrics = (run / "metrics.jsonl").read_bytes()
    saved = {p: p.stat().st_mtime_ns for p in (run / "checkpoints").rglob("*")}
    scored = [r for r in read_metrics(run) if "validation_bits" in r][-1]
    for steps in (2, 1):
        capsys.readouterr()
        assert main(resume_args(piano, run, steps)) == 0
        out, err = capsys.readouterr()
        assert err.strip() == (
            f"{run} is already at step 2 (>= --steps {steps}); nothing to do; raise --steps "
            "to train on"
        )
        # its summary says the run's last validation (it read null)
        summary = json.loads(out.strip().splitlines()[-1])
        assert summary["step"] == scored["step"] == summary["validation_step"] == 2
        assert summary["validation_bits"] == scored["validation_bits"]
    assert (run / "metrics.jsonl").read_bytes() == metrics
    assert {p: p.stat().st_mtime_ns for p in (run / "checkpoints").rglob("*")} == saved
    assert not (run / ".lock").exists()


# --- D13.6: a run in its first training is being trained, not untrained ----------------------


HOLD_LOCK = """
import sys, time
from wavenet_music.runs import run_lock
with run_lock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(3600)  # until the test ends it
"""


def test_generate_on_a_run_in_its_first_training_says_it_is_being_trained(tmp_path, capsys):
    run, out = tmp_path / "run", str(tmp_path / "a.wav")
    holder = subprocess.Popen(  # a first training under way, before its first checkpoint
        [sys.executable, "-c", HOLD_LOCK, str(run)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline() == "held\n"
        assert main(["generate", str(run), "--seconds", "0.01", "--out", out]) == 2
        line = one_line_error(capsys)
    finally:
        holder.kill()
        finish(holder)
    assert f"{run} is being trained (pid {holder.pid}) and has no checkpoint yet" in line
    assert "wait for its first checkpoint" in line
    run.mkdir(exist_ok=True)  # a killed holder leaves its lock file: nobody holds it
    assert main(["generate", str(run), "--out", out]) == 2
    assert "holds no checkpoint; train first" in one_line_error(capsys)


# --- D14: the lock never outlives the command ------------------------------------------------


def test_a_failed_resume_into_an_existing_folder_leaves_no_lock(piano, tmp_path, capsys):
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine\n")
    assert main(["train", str(piano), "--run", str(folder), "--resume", "--steps", "1"]) == 2
    assert "holds no checkpoint" in one_line_error(capsys)
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]


SLOW_DECODING = """
import sys, time
from wavenet_music import cli
from wavenet_music.wavenet import train
def slow(*args, **kwargs):
    print("decoding", file=sys.stderr, flush=True)
    time.sleep(3600)  # until the test's signal, however late a busy machine sends it
train.process_corpus = slow
raise SystemExit(cli.main(sys.argv[1:]))
"""


def test_sigterm_while_decoding_is_one_line_and_leaves_no_run(piano, tmp_path):
    run = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, "-c", SLOW_DECODING, *train_args(piano, run, tmp_path / "c", 1)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert process.stderr.readline() == "decoding\n"
    process.send_signal(signal.SIGTERM)
    _, err = finish(process)
    assert process.returncode == 130 and err.strip() == "wavenet-music train: interrupted", err
    assert not run.exists()


def test_a_run_inside_its_data_folder_never_trains_on_its_own_clips(piano, tmp_path, capsys):
    """``--run`` inside the data folder: the clips ``generate`` writes there are not data,
    so a resume finds the folder as recorded (it was refused as changed, or trained on them)."""
    data = tmp_path / "music"
    shutil.copytree(piano, data)
    run = data / "run"
    assert main(["train", str(data), "--run", str(run), *TINY_FLAGS, "--steps", "1"]) == 0
    out = run / "clips" / "x.wav"
    assert main(["generate", str(run), "--seconds", "0.05", "--quiet", "--out", str(out)]) == 0
    capsys.readouterr()
    code = main(["train", str(data), "--run", str(run), "--resume", "--steps", "2", "--quiet"])
    assert code == 0, capsys.readouterr().err
    record = json.loads((run / "data.json").read_text())
    assert not [row for row in record["train"] + record["validation"] if row[0].startswith("run")]


# --- the run's record and its checkpoints agree (hostile test C, 2026-12-04) ----------------


def test_a_hand_edited_config_is_refused_on_resume_and_left_as_edited(piano, tmp_path, capsys):
    """config.yaml is the run's record: resuming ignored an edit, trained with the old
    value and wrote the file over it."""
    run = tmp_path / "run"
    assert main(train_args(piano, run, tmp_path / "cache", steps=2)) == 0
    edited = (
        (run / "config.yaml").read_text().replace("learning_rate: 0.002", "learning_rate: 5e-4")
    )
    (run / "config.yaml").write_text(edited)
    capsys.readouterr()
    assert main(resume_args(piano, run, steps=3)) == 2
    line = one_line_error(capsys)
    assert f"{run / 'config.yaml'} differs from the checkpoint" in line
    assert "train.learning_rate (train.learning_rate: 0.0005 in the file, 0.002 in" in line
    assert (run / "config.yaml").read_text() == edited and ckpt.load(run).step == 2


def test_a_config_edited_until_it_no_longer_reads_is_refused_and_left_as_is(
    piano, tmp_path, capsys
):
    run = tmp_path / "run"
    assert main(train_args(piano, run, tmp_path / "cache", steps=2)) == 0
    broken = (run / "config.yaml").read_text() + "model: [\n# my note on this run\n"
    (run / "config.yaml").write_text(broken)
    capsys.readouterr()
    assert main(resume_args(piano, run, steps=3)) == 2
    line = one_line_error(capsys)
    assert str(run / "config.yaml") in line and "put it back as it was, or delete it" in line
    assert (run / "config.yaml").read_text() == broken and ckpt.load(run).step == 2
    (run / "config.yaml").unlink()  # the way out it names
    assert main(resume_args(piano, run, steps=3)) == 0 and ckpt.load(run).step == 3


def test_a_checkpoint_copied_in_from_another_run_is_never_resumed(piano, tmp_path, capsys):
    run, other = tmp_path / "run", tmp_path / "other"
    assert main(train_args(piano, run, tmp_path / "cache", steps=2)) == 0
    assert (
        main([*train_args(piano, other, tmp_path / "cache", steps=5), "--filter-width", "3"]) == 0
    )
    theirs = other / "checkpoints" / "step_00000005"
    # renamed on the way in: its step is not its name's; the run's own step 2 goes on
    shutil.copytree(theirs, run / "checkpoints" / "step_00000009")
    capsys.readouterr()
    assert main(resume_args(piano, run, steps=3)) == 0
    assert "step_00000009 holds step 5, not the step its name says" in capsys.readouterr().err
    assert ckpt.load(run).step == 3 and ckpt.load(run).config.model.filter_width == 2
    # under its own name, newer than the run's: another run's settings, refused
    shutil.copytree(theirs, run / "checkpoints" / "step_00000005")
    assert main(resume_args(piano, run, steps=6)) == 2
    line = one_line_error(capsys)
    assert "differs from the checkpoint" in line and "model.filter_width" in line
    assert "model.filter_width: 2 in the file, 3 in the checkpoint" in line


def test_a_warm_up_longer_than_the_run_is_said(piano, tmp_path, capsys):
    """The learning rate would never reach its setting: the model hardly trains (said
    unless --quiet, as the split and the progress are)."""

    def args(name: str, warmup: str) -> list[str]:
        flags = train_args(piano, tmp_path / name, tmp_path / "cache", steps=2)
        return [*(a for a in flags if a != "--quiet"), "--warmup-steps", warmup]

    assert main(args("run", "2")) == 0
    assert "train.warmup_steps (2) is not below train.steps (2)" in capsys.readouterr().err
    assert main(args("ok", "1")) == 0
    assert "warmup_steps" not in capsys.readouterr().err


def test_settings_that_do_not_fit_together_are_refused_before_a_file_is_written(
    piano, tmp_path, capsys
):
    """Before: refused after the run folder held their config.yaml and data.json."""
    run = tmp_path / "run"
    flags = ["--preset", "notes", "--silence-threshold", "0.01", "--steps", "1", "--quiet"]
    assert main(["train", str(piano), "--run", str(run), *flags]) == 2
    assert "data.silence_threshold: trimming silence" in one_line_error(capsys)
    assert not run.exists()
