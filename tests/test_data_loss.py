"""Nothing the tool writes is lost or replaced by accident: devices and FIFOs are refused,
a full disk keeps the previous file, one process per run, a damaged or hidden checkpoint
is set aside or found, resume keeps to its run, and a damaged cache is rebuilt."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from wavenet_music.cli import main
from wavenet_music.config import UserError, apply_overrides
from wavenet_music.runs import read_metrics, run_lock
from wavenet_music.wavenet import checkpoint as ckpt
from wavenet_music.wavenet.train import train

from .conftest import finish, small_config, wait_for

ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1"}
TINY = {  # a model of a few thousand weights: checkpoints of ~0.4 MB, steps in milliseconds
    "model.dilations": [1, 2, 4, 8, 16, 32],
    "model.residual_channels": 16,
    "model.dilation_channels": 16,
    "model.skip_channels": 32,
    "data.sample_size": 300,
    "train.batch_size": 2,
    "train.checkpoint_every": 1,
    "train.keep_checkpoints": 5,
}


def tiny_config(cache: Path, **overrides):
    return small_config(str(cache), **{**TINY, "train.steps": 2, **overrides})


@pytest.fixture(scope="module")
def tiny_run(music_root, tmp_path_factory) -> Path:
    """A run of two steps with a checkpoint at each (step_1, step_2); tests copy it."""
    base = tmp_path_factory.mktemp("tiny")
    train(music_root / "piano", base / "run", tiny_config(base / "cache"), quiet=True)
    return base / "run"


@pytest.fixture
def run(tiny_run, tmp_path) -> Path:
    """A copy of ``tiny_run`` this test may damage."""
    return Path(shutil.copytree(tiny_run, tmp_path / "run"))


@pytest.fixture
def small_disk(tmp_path):
    """A real 1 MiB file system (tmpfs), to fill up: ``fill(keep)`` leaves ``keep`` bytes."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill up (needs root): {done.stderr!r}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "--lazy", str(mount)], check=True)  # a file may be open


def fill(disk: Path, keep: int) -> None:
    """Leave about ``keep`` bytes free on ``disk``."""
    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    (disk / "filler").write_bytes(b"\0" * max(0, free - keep))


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("wavenet-music")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def generate_args(run: Path, out: Path, seconds: float = 0.02) -> list[str]:
    return ["generate", str(run), "--seconds", str(seconds), "--quiet", "--out", str(out)]


# --- 1. special files and folders are never replaced ------------------------------------------


def test_generate_refuses_to_replace_a_device_a_fifo_or_a_folder(run, tmp_path, capsys):
    """A device node (like /dev/null, made here so that a regression cannot replace the
    machine's own), a FIFO and a folder stay what they are: one line, exit 2."""
    device, fifo, folder = tmp_path / "null", tmp_path / "fifo", tmp_path / "folder"
    try:
        os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("making a device node needs root")
    os.mkfifo(fifo)
    folder.mkdir()
    for target, is_kind in ((device, stat.S_ISCHR), (fifo, stat.S_ISFIFO), (folder, stat.S_ISDIR)):
        assert main(generate_args(run, target)) == 2
        assert "cannot write" in one_line_error(capsys)
        assert is_kind(os.lstat(target).st_mode), target
    assert list(folder.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo", "folder", "null", "run"]


def test_an_output_through_a_dangling_link_makes_no_folder_it_names(run, tmp_path, capsys):
    """``--out`` a link to a file in a folder that does not exist: one line; the folder was
    made (the tester's link into /nonexistent made that folder under /)."""
    link = tmp_path / "link.wav"
    link.symlink_to(tmp_path / "nowhere" / "deeper" / "x.wav")
    assert main(generate_args(run, link)) == 2
    assert "a link to" in one_line_error(capsys) and not (tmp_path / "nowhere").exists()


# --- 2. a damaged newest checkpoint is set aside, and the retrained one saved -----------------


def test_resume_over_a_damaged_newest_checkpoint_saves_the_retrained_one(
    music_root, tiny_run, run, capsys
):
    newest = ckpt.checkpoint_dirs(run)[-1]
    data = bytearray((newest / "model.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (newest / "model.safetensors").write_bytes(bytes(data))
    train(
        music_root / "piano", run, tiny_config(tiny_run.parent / "cache"), resume=True, quiet=True
    )
    assert "trying an older checkpoint" in capsys.readouterr().err  # fell back to step 1
    loaded = ckpt.load(run)  # the retrained step 2, with no fallback any more
    assert loaded.step == 2 and "warning" not in capsys.readouterr().err
    assert (run / "checkpoints" / ".damaged_step_00000002").is_dir()  # kept for a look


def test_a_run_whose_every_checkpoint_is_damaged_says_how_to_go_on(music_root, tiny_run, run):
    """Resume names the way out, and it works: the checkpoints moved aside, the run trains
    again from step 0 (not "pass --resume", which sent the user in a circle)."""
    for folder in ckpt.checkpoint_dirs(run):
        (folder / "model.safetensors").write_bytes(b"cut short")
    config = tiny_config(tiny_run.parent / "cache")
    with pytest.raises(UserError) as exc:
        train(music_root / "piano", run, config, resume=True, quiet=True)
    assert "\n" not in str(exc.value)
    assert f"move {run / 'checkpoints'} aside to train it again from step 0" in str(exc.value)
    (run / "checkpoints").rename(run.parent / "damaged")
    assert train(music_root / "piano", run, config, quiet=True).step == config.train.steps


def test_a_run_shared_without_its_optimizer_state_plays_and_fine_tunes(
    music_root, tiny_run, run, tmp_path, capsys
):
    """``state.safetensors`` (Adam's moments: twice the weights) left out of a shared run:
    what only plays or scores the weights reads them (every command refused it, with the
    advice to train again); resume cannot go on without it and names --init-from, which
    starts from the weights."""
    for folder in ckpt.checkpoint_dirs(run):
        (folder / ckpt.STATE_FILE).unlink()
    model, _ = ckpt.load_model(run)
    whole, _ = ckpt.load_model(tiny_run)
    for mine, theirs in zip(model.state_dict().values(), whole.state_dict().values(), strict=True):
        assert torch.equal(mine, theirs)
    assert main(generate_args(run, tmp_path / "a.wav")) == 0
    assert "checkpoint" not in capsys.readouterr().err  # no fallback, no damage said
    config = tiny_config(tiny_run.parent / "cache")
    with pytest.raises(UserError) as exc:
        train(music_root / "piano", run, config, resume=True, quiet=True)
    assert "\n" not in str(exc.value) and f"--init-from {run}" in str(exc.value)
    tuned = train(music_root / "piano", tmp_path / "tuned", config, quiet=True, init_from=run)
    assert tuned.step == config.train.steps


@pytest.mark.parametrize("fine_tuned", [False, True], ids=["new", "init-from"])
def test_ctrl_c_after_decoding_before_the_first_step_leaves_no_run(
    music_root, tiny_run, tmp_path, monkeypatch, fine_tuned
):
    """The corpus decoded and config.yaml and data.json written, Ctrl-C while the model is
    built: no half run (a folder that ``--resume`` would call empty) is left behind."""
    from wavenet_music.wavenet import train as train_module

    def stopped(*args, **kwargs):
        assert (tmp_path / "new" / "data.json").is_file()  # the run was prepared
        raise KeyboardInterrupt

    monkeypatch.setattr(train_module.Trainer, "__init__", stopped)
    source = {"init_from": tiny_run} if fine_tuned else {}
    with pytest.raises(KeyboardInterrupt):
        train(music_root / "piano", tmp_path / "new", tiny_config(tmp_path), quiet=True, **source)
    assert not (tmp_path / "new").exists()


def test_a_runs_checkpoints_folder_named_as_the_run_names_the_run(run, capsys):
    """It said "holds no checkpoint; train first (... --run RUN/checkpoints)"."""
    assert main(["evaluate", str(run / "checkpoints"), "--data", str(run)]) == 2
    line = one_line_error(capsys)
    assert f"{run / 'checkpoints'} is a run's checkpoints folder: name the run, {run}" in line


# --- 3. one process per run --------------------------------------------------------------------


def _step(path: Path) -> int:
    return int(path.name.removeprefix("step_"))


def test_a_second_training_of_a_run_is_refused_and_a_crash_frees_the_run(
    music_root, run, tmp_path, capsys
):
    command = [sys.executable, "-m", "wavenet_music.cli", "train", str(music_root / "piano")]
    first = subprocess.Popen(
        [*command, "--run", str(run), "--resume", "--steps", "100000", "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=ONE_THREAD,
    )
    try:
        wait_for(lambda: any(_step(p) > 2 for p in ckpt.checkpoint_dirs(run)), first)
        second = [*command[3:], "--run", str(run), "--resume", "--steps", "3", "--quiet"]
        assert main(second) == 2
        line = one_line_error(capsys)
        assert f"is in use by another process (pid {first.pid})" in line
    finally:
        first.send_signal(signal.SIGKILL)
        finish(first)
    step = ckpt.load(run).step
    assert main([*second[:-3], "--steps", str(step + 1), "--quiet"]) == 0  # the lock died with it
    assert ckpt.load(run).step == step + 1


def test_a_report_into_a_run_in_use_is_refused_and_one_elsewhere_is_not(run, tmp_path, capsys):
    """The report writes RUN/report: only with the run's lock (a training holds it). One
    written outside the run only reads it, and goes ahead."""
    report = ["report", str(run), "--clips", "1", "--seconds", "0.05"]
    with run_lock(run):
        assert main(report) == 2
        line = one_line_error(capsys)
        assert f"run {run} is in use by another process (pid {os.getpid()})" in line, line
        assert "--out" in line and not (run / "report").exists()
        assert main([*report, "--out", str(tmp_path / "elsewhere")]) == 0
    assert (tmp_path / "elsewhere" / "index.html").is_file()


# --- 4. and disk full: a full disk keeps the previous file and says why ----------------------


@pytest.fixture(scope="module")
def local_run(music_root, tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("local")
    config = tiny_config(base / "cache", **{"model.local_channels": 8, "model.hop_length": 64})
    train(music_root / "piano", base / "run", config, quiet=True)
    return base / "run"


def test_features_onto_a_full_disk_keep_the_previous_file(
    local_run, music_root, small_disk, capsys
):
    out = small_disk / "f.npy"
    np.save(out, np.arange(10.0))
    fill(small_disk, keep=16 * 1024)  # the features of a 30 s recording are ~240 KB
    recording = sorted((music_root / "piano").glob("*.flac"))[0]
    assert main(["features", str(local_run), str(recording), "--out", str(out)]) == 2
    line = one_line_error(capsys)
    assert "No space left on device" in line and "None" not in line
    assert np.array_equal(np.load(out), np.arange(10.0))
    assert sorted(p.name for p in small_disk.iterdir()) == ["f.npy", "filler"]


def test_features_shorter_than_the_asked_seconds_say_so_and_set_the_length(
    local_run, tmp_path, capsys
):
    """The features set the length of the clip (documented in test_conditioning); asked
    for longer, the shorter clip is named with both lengths, never silently."""
    np.save(tmp_path / "short.npy", np.zeros((10, 8), np.float32))  # 10 frames of 64 samples
    out = tmp_path / "a.wav"
    argv = ["generate", str(local_run), "--features", str(tmp_path / "short.npy")]
    assert main([*argv, "--seconds", "1", "--out", str(out), "--quiet"]) == 0
    said = capsys.readouterr().err.splitlines()  # (a barely trained model may also clip)
    lines = [line for line in said if "warning" in line and "full scale" not in line]
    assert len(lines) == 1 and f"--features {tmp_path / 'short.npy'}" in lines[0], lines
    assert "0.04 s, shorter than --seconds 1" in lines[0], lines[0]
    assert sf.info(out).frames == 640


def test_a_wav_onto_a_full_disk_keeps_the_previous_file(run, small_disk, capsys):
    out = small_disk / "old.wav"
    out.write_bytes(b"the previous take")
    fill(small_disk, keep=8 * 1024)
    assert main(generate_args(run, out, seconds=0.5)) == 2  # 16 KB of WAV
    assert "No space left on device" in one_line_error(capsys)
    assert out.read_bytes() == b"the previous take"
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler", "old.wav"]


def test_a_checkpoint_onto_a_full_disk_keeps_the_previous_one(music_root, tiny_run, small_disk):
    run = Path(shutil.copytree(tiny_run, small_disk / "run"))
    shutil.rmtree(run / "tensorboard")
    shutil.rmtree(ckpt.checkpoint_dirs(run)[0])  # room for one checkpoint of ~0.4 MB only
    fill(small_disk, keep=64 * 1024)  # room for the logs, none for a checkpoint
    longer = tiny_config(tiny_run.parent / "cache", **{"train.steps": 3})
    with pytest.raises(UserError, match=r"No space left on device.*previous checkpoint is intact"):
        train(music_root / "piano", run, longer, resume=True, quiet=True)
    assert ckpt.load(run).step == 2
    assert not [p for p in (run / "checkpoints").iterdir() if p.name.startswith(".")]


def test_a_cache_deleted_while_training_saves_the_steps_and_says_how_to_go_on(
    music_root, tmp_path, monkeypatch
):
    """A cache cleaner (or a user freeing disk) deleting the decoded cache mid-run ended the
    run without a checkpoint; the model was fine, only data it had not opened yet was gone."""
    from wavenet_music.wavenet import train as train_module

    cache = tmp_path / "cache"
    config = tiny_config(cache, **{"train.steps": 4, "train.checkpoint_every": 100})
    run_session = train_module.Trainer.run

    def after_a_cleaner(trainer):
        shutil.rmtree(cache)  # the files are decoded, none is opened yet
        return run_session(trainer)

    monkeypatch.setattr(train_module.Trainer, "run", after_a_cleaner)
    with pytest.raises(UserError) as caught:
        train(music_root / "piano", tmp_path / "run", config, quiet=True)
    message = str(caught.value)
    assert "decoded training data is gone (its cache deleted?); step 0 saved" in message
    assert message.endswith(f"--run {tmp_path / 'run'} --resume decodes it again")
    assert ckpt.load(tmp_path / "run").step == 0
    monkeypatch.setattr(train_module.Trainer, "run", run_session)
    assert train(music_root / "piano", tmp_path / "run", config, resume=True, quiet=True).step == 4


def test_a_resume_after_a_kill_logs_each_step_once(music_root, tmp_path):
    """Killed after logging steps its last checkpoint does not hold, a run logged them
    again on resume: metrics.jsonl and TensorBoard held those steps twice."""
    config = tiny_config(tmp_path / "cache", **{"train.steps": 3, "train.log_every": 1})
    run = tmp_path / "run"
    train(music_root / "piano", run, config, quiet=True)
    shutil.rmtree(ckpt.checkpoint_dirs(run)[-1])  # killed after step 3 was logged, unsaved
    with (run / "metrics.jsonl").open("a") as log:
        log.write('{"step": 3, "train_bi')  # and cut short mid-line
    longer = dataclasses.replace(config, train=dataclasses.replace(config.train, steps=4))
    train(music_root / "piano", run, longer, resume=True, quiet=True)
    assert [r["step"] for r in read_metrics(run) if "train_bits" in r] == [1, 2, 3, 4]
    assert "train_bi\n" not in (run / "metrics.jsonl").read_text()
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    assert [e.step for e in events.Scalars("bits_per_sample/train")] == [1, 2, 3, 4]


def test_a_resumed_sessions_event_file_is_read_after_the_earlier_ones(tmp_path):
    """Event files opened in one second sort by a counter ("10" before "9"): a resume
    waits for the next second, so that its purge comes after what it hides."""
    import time

    from wavenet_music.wavenet.board import after_earlier_sessions

    second = int(time.time()) + 1  # an earlier session's file, opened "next second"
    (tmp_path / f"events.out.tfevents.{second}.host.name.42.9").write_bytes(b"")
    (tmp_path / "events.out.tfevents.notes.txt").write_bytes(b"")  # not an event file's name
    after_earlier_sessions(tmp_path)
    assert int(time.time()) > second


# --- 5. a crash inside the composer's final save hides nothing ---------------------------------


class Crash(BaseException):
    """The process dies here: nothing after it runs, no handler cleans up."""


def _composer_checkpoint(marker: str):
    from wavenet_music.composer.checkpoint import ComposerCheckpoint
    from wavenet_music.composer.config import ComposerConfig
    from wavenet_music.composer.model import Composer
    from wavenet_music.composer.tokens import Codebook

    config = ComposerConfig(codebook_size=4, frames_per_token=1, layers=1, heads=2, width=8)
    codebook = Codebook(np.zeros((4, 3), np.float32), np.zeros(3), np.ones(3), 1)
    weights = Composer(config, 4, 0, 16).state_dict()
    rng = {"rng.torch": torch.get_rng_state()}
    return ComposerCheckpoint(config, 10, weights, codebook, (), 16, rng, {"marker": marker})


def test_a_crash_between_the_renames_of_the_final_composer_save_is_recovered(tmp_path, monkeypatch):
    from wavenet_music.composer.checkpoint import composer_dirs, load_composer, save_composer

    save_composer(tmp_path, _composer_checkpoint("periodic"))
    real_replace = os.replace

    def crash_at_the_second_rename(src, dst):
        if Path(src).name.startswith(".tmp_") and not Path(dst).exists():
            raise Crash
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crash_at_the_second_rename)
    with pytest.raises(Crash):
        save_composer(tmp_path, _composer_checkpoint("final"), replace=True)
    monkeypatch.undo()
    assert composer_dirs(tmp_path) == []  # hidden in .stale_* and .tmp_*
    assert load_composer(tmp_path).meta["marker"] == "final"  # the reader finds it
    ckpt.recover_interrupted(tmp_path / "composer")  # what a training does, under the lock
    assert [p.name for p in (tmp_path / "composer").iterdir()] == ["step_00000010"]
    assert load_composer(tmp_path).meta["marker"] == "final"


# --- 6. resume keeps to its run ----------------------------------------------------------------


def test_resume_refuses_another_data_folder_or_another_config(music_root, tiny_run, run, capsys):
    data = (run / "data.json").read_text()
    config = tiny_config(tiny_run.parent / "cache", **{"train.steps": 3})
    with pytest.raises(UserError, match=r"trained on .*piano.*not .*guitar"):
        train(music_root / "guitar", run, config, resume=True, quiet=True)
    wider = apply_overrides(config, {"model.residual_channels": 24, "train.batch_size": 3})
    with pytest.raises(UserError, match=r"model.residual_channels, train.batch_size"):
        train(music_root / "piano", run, wider, resume=True, quiet=True)
    piano = str(music_root / "piano")
    assert main(["train", piano, "--run", str(run), "--resume", "--preset", "tiny"]) == 2
    assert "model.dilations" in one_line_error(capsys)  # the preset was asked: refused
    assert (run / "data.json").read_text() == data and ckpt.load(run).step == 2


def test_resume_goes_on_from_a_data_folder_that_moved(music_root, tmp_path, capsys):
    """A data folder renamed, or on a drive mounted elsewhere: the recorded one is gone and
    the new one was refused ("resume it with the same data folder"), a dead end. The
    recorded split vouches for the new one: a moved folder that changed is still refused."""
    old, new = tmp_path / "music", tmp_path / "moved"
    shutil.copytree(music_root / "piano", old)
    run = tmp_path / "run"
    train(old, run, tiny_config(tmp_path / "cache"), quiet=True)
    old.rename(new)
    result = train(new, run, tiny_config(tmp_path / "cache", **{"train.steps": 3}), resume=True)
    assert result.step == 3 and ckpt.load(run).step == 3
    assert json.loads((run / "data.json").read_text())["root"] == str(new.resolve())
    assert f"note: {run} was trained on {old.resolve()}, which is gone" in capsys.readouterr().err
    shutil.copytree(new, old)  # the folder it records is back: another is refused again
    with pytest.raises(UserError, match=r"trained on .*moved, not .*music; resume it with"):
        train(old, run, tiny_config(tmp_path / "cache", **{"train.steps": 4}), resume=True)
    shutil.rmtree(new)
    recording = next(old.glob("*.flac"))
    audio, rate = sf.read(recording)
    sf.write(recording, audio[: len(audio) // 2], rate)  # the moved folder is not the same
    with pytest.raises(UserError, match=r"changed since .* 1 file changed") as error:
        train(old, run, tiny_config(tmp_path / "cache", **{"train.steps": 4}), resume=True)
    assert str(error.value).startswith(f"{old} changed since")  # it named the gone one, moved


# --- 7. metadata is verified too ---------------------------------------------------------------


def _edit_meta(folder: Path, old: str, new: str, drop_hash: bool = False) -> None:
    meta = json.loads((folder / "meta.json").read_text())
    if drop_hash:  # a checkpoint written before meta.json was hashed
        meta.pop("meta_sha256", None)
    text = json.dumps(meta, indent=1)
    assert old in text
    (folder / "meta.json").write_text(text.replace(old, new))


def test_an_edited_sample_rate_is_caught_and_the_previous_checkpoint_loads(run, capsys):
    _edit_meta(ckpt.checkpoint_dirs(run)[-1], '"sample_rate": 16000', '"sample_rate": 44100')
    loaded = ckpt.load(run)
    assert loaded.step == 1 and loaded.config.data.sample_rate == 16000
    assert "meta.json" in capsys.readouterr().err


def test_metadata_that_does_not_fit_the_weights_falls_back(run, capsys):
    """Checkpoints written before meta.json was hashed still load; one whose config does
    not fit its weights is passed over for the previous one."""
    first, newest = ckpt.checkpoint_dirs(run)
    _edit_meta(first, '"step": 1', '"step": 1', drop_hash=True)
    _edit_meta(newest, '"residual_channels": 16', '"residual_channels": 24', drop_hash=True)
    _, config = ckpt.load_model(run)
    assert config.model.residual_channels == 16 and ckpt.load(run).step == 1
    assert "does not fit its config" in capsys.readouterr().err


# --- Ctrl-C before the first sample ------------------------------------------------------------

SLOW_LOAD = """
import sys, time
from wavenet_music import cli
from wavenet_music.wavenet import checkpoint
real = checkpoint.load_model
def slow(*args, **kwargs):
    print("loading", file=sys.stderr, flush=True)
    time.sleep(3600)  # until the test's Ctrl-C, however late a busy machine sends it
    return real(*args, **kwargs)
checkpoint.load_model = slow
raise SystemExit(cli.main(sys.argv[1:]))
"""


def _hear_ctrl_c() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # a shell's background job ignores it


def test_ctrl_c_before_the_first_sample_is_one_line_and_keeps_the_old_file(run, tmp_path):
    out = tmp_path / "take.wav"
    out.write_bytes(b"the previous take")
    process = subprocess.Popen(
        [sys.executable, "-c", SLOW_LOAD, *generate_args(run, out, seconds=60)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ONE_THREAD,
        preexec_fn=_hear_ctrl_c,
    )
    assert process.stderr.readline() == "loading\n"
    process.send_signal(signal.SIGINT)
    _, err = finish(process)
    assert process.returncode == 130 and "Traceback" not in err, err
    assert err.strip().count("\n") == 0 and "interrupted" in err and str(out) not in err
    assert out.read_bytes() == b"the previous take"


# --- a damaged cache is rebuilt ------------------------------------------------------------------


def test_a_damaged_audio_cache_file_is_rebuilt_and_reported(music_root, tmp_path, capsys):
    from wavenet_music.wavenet.data import prepare_corpus

    config = tiny_config(tmp_path / "cache").data
    first = prepare_corpus(music_root / "piano", config, 256, 100, quiet=True)
    (cache,) = {s.cache for s in first.train}
    whole = cache.read_bytes()
    cache.write_bytes(whole[: len(whole) // 2])  # cut short by a crash or a full disk
    again = prepare_corpus(music_root / "piano", config, 256, 100, quiet=True)
    assert again.summary() == first.summary() and cache.read_bytes() == whole
    assert f"cache file {cache} is damaged" in capsys.readouterr().err
