"""The corpus: the decode cache, the split, skipped files, and resume keeping its split."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from wavenet_music.audio.io import load_audio, mu_law_encode
from wavenet_music.config import UserError
from wavenet_music.wavenet import data
from wavenet_music.wavenet.data import (
    Segment,
    cache_root,
    cached_classes,
    load_classes,
    lopsided_split,
    prepare_corpus,
    require_recorded_split,
    split,
)

from ..conftest import replaced_keeping_its_times
from .conftest import data_config, label_manifest, write_tone


def test_split_is_per_folder_deterministic_and_disjoint(folder, tmp_path):
    config = data_config(tmp_path, validation_fraction=0.3)
    a = prepare_corpus(folder, config, 256, min_samples=100, quiet=True)
    b = prepare_corpus(folder, config, 256, min_samples=100, quiet=True)
    assert a == b
    val_files = {s.source for s in a.validation}
    assert {s.label for s in a.validation} == {"piano", "guitar", "ambient", ""}
    ambient = [s for s in a.train + a.validation if s.label == "ambient"]
    assert len(ambient) == 2 and ambient[0].end == ambient[1].start  # one file: split by time
    whole_train = {s.source for s in a.train if s.label in ("piano", "guitar")}
    assert not whole_train & val_files


def test_one_long_recording_held_out_among_short_clips_is_said():
    """The split holds out whole files by count: a 3-hour recording ranked first among
    nine 2-s clips is held out whole (99.8% of the audio), which a warning names."""
    rate = 16000
    clips = [Segment(f"x/clip{i}.wav", "x", Path(f"c{i}"), 0, 2 * rate) for i in range(9)]
    long = Segment("x/night.flac", "x", Path("long"), 0, 3 * 3600 * rate)
    train, validation = split([*clips, long], 0.1)
    assert [s.source for s in validation] == ["x/night.flac"]  # the hash ranks it first
    assert lopsided_split(train, validation, 0.1, rate) == [
        "folder 'x': 100% of its audio is held out for validation (3.0 h), 18.0 s left to "
        "train on: its held-out file is most of its music; cut that recording into parts, "
        "or give it a folder of its own"
    ]
    even = [dataclasses.replace(c, source=f"y/{i}.wav", label="y") for i, c in enumerate(clips)]
    assert lopsided_split(*split(even, 0.1), 0.1, rate) == []  # one clip of nine: nothing said


def test_cache_decodes_once_and_matches_the_audio(folder, tmp_path):
    config = data_config(tmp_path)
    path = folder / "piano" / "sub" / "piano0.wav"
    cache = cached_classes(path, config, 256)
    mtime = cache.stat().st_mtime_ns
    assert cached_classes(path, config, 256) == cache and cache.stat().st_mtime_ns == mtime
    audio, _ = sf.read(path, dtype="float32")
    np.testing.assert_array_equal(load_classes(cache), mu_law_encode(audio))
    assert load_classes(cache).dtype == np.uint8
    assert isinstance(load_classes(cache), np.memmap)
    write_tone(path, 0.7)  # the file changed: decoded again
    assert cached_classes(path, config, 256) != cache


def test_short_and_broken_files_are_skipped_and_counted(folder, tmp_path, capsys):
    (folder / "piano" / "broken.ogg").write_bytes(b"OggS" + bytes(100))
    corpus = prepare_corpus(folder, data_config(tmp_path), 256, min_samples=6000)
    skipped = dict(corpus.skipped)
    assert "piano/broken.ogg" in skipped and "top.wav" in skipped  # 4000 < 6000 samples
    assert "shorter than the receptive field" in skipped["top.wav"]
    err = capsys.readouterr().err
    assert f"skipped {len(skipped)} of 10 audio files" in err


def test_a_name_holding_a_colon_keeps_its_whole_reason(folder, tmp_path, capsys, monkeypatch):
    """``Track 1: Intro.wav`` was skipped as "Intro.wav: cannot decode ..." (the reason was
    cut at the first ": " of the message, which begins with the name); a file gone between
    discovery and decoding was skipped for its path alone."""
    (folder / "Live: Berlin").mkdir()
    (folder / "Live: Berlin" / "take: 2.ogg").write_bytes(b"OggS" + bytes(100))
    write_tone(folder / "Track 1: Intro.wav", 0.1)
    found = data.discover(folder)
    monkeypatch.setattr(data, "discover", lambda *a: found)
    (folder / "top.wav").unlink()  # removed after discovery, before decoding
    corpus = prepare_corpus(folder, data_config(tmp_path), 256, min_samples=1000)
    skipped = dict(corpus.skipped)
    assert skipped["Live: Berlin/take: 2.ogg"].startswith("cannot decode ("), skipped
    assert skipped["Track 1: Intro.wav"] == "800 samples, shorter than the receptive field (1000)"
    assert skipped["top.wav"] == "No such file or directory"
    err = capsys.readouterr().err
    assert "skipped Track 1: Intro.wav: 800 samples, shorter than" in err


def test_nothing_usable_is_one_clear_error(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match="no audio files"):
        prepare_corpus(empty, data_config(tmp_path), 256, 10)
    with pytest.raises(UserError, match="does not exist"):
        prepare_corpus(tmp_path / "missing", data_config(tmp_path), 256, 10)
    (empty / "x.wav").write_text("hello")
    with pytest.raises(UserError, match="none of the 1 audio files"):
        prepare_corpus(empty, data_config(tmp_path), 256, 10, quiet=True)


def test_a_split_says_what_it_trains_and_validates_on_unless_quiet(folder, tmp_path, capsys):
    config = data_config(tmp_path, validation_fraction=0.3)
    corpus = prepare_corpus(folder, config, 256, 100)
    train_files = len({s.source for s in corpus.train})
    line = f"training on {train_files} files ("
    assert line in capsys.readouterr().err
    prepare_corpus(folder, config, 256, 100, quiet=True)
    assert capsys.readouterr().err == ""


def test_a_validation_fraction_that_leaves_no_training_audio_is_one_line(tmp_path):
    root = tmp_path / "one"
    write_tone(root / "a.wav", 0.14)  # 1,120 samples
    config = data_config(tmp_path, validation_fraction=0.9999)
    with pytest.raises(UserError, match=r"data.validation_fraction=0.9999 leaves no training"):
        prepare_corpus(root, config, 256, 100, quiet=True)


def test_a_silence_threshold_that_trims_a_file_away_is_named(folder, tmp_path):
    config = data_config(tmp_path, silence_threshold=0.5)  # louder than every tone (RMS 0.21)
    with pytest.raises(UserError) as error:
        prepare_corpus(folder, config, 256, 100, quiet=True)
    assert "data.silence_threshold=0.5 trimmed it to 0 samples" in str(error.value)


def _recorded(tmp_path, corpus, root):
    run = tmp_path / "run"
    run.mkdir(exist_ok=True)
    (run / "data.json").write_text(json.dumps({"root": str(root), **corpus.summary()}))
    return run


def test_resume_refuses_a_data_folder_whose_split_changed(folder, tmp_path):
    config = data_config(tmp_path, validation_fraction=0.3)
    corpus = prepare_corpus(folder, config, 256, 100, quiet=True)
    run = _recorded(tmp_path, corpus, folder)
    require_recorded_split(run, prepare_corpus(folder, config, 256, 100, quiet=True), folder)
    for i in range(4, 8):
        write_tone(folder / "piano" / "sub" / f"piano{i}.wav", 1.0, 500 + 10 * i)
    (folder / "top.wav").unlink()
    with pytest.raises(UserError) as error:
        require_recorded_split(run, prepare_corpus(folder, config, 256, 100, quiet=True), folder)
    message = str(error.value)
    assert "\n" not in message and f"--init-from {run}" in message
    assert "4 files added (piano/sub/piano4.wav, piano/sub/piano5.wav, piano/sub/piano6" in message
    assert "1 file removed (top.wav)" in message


def test_a_moved_folder_that_changed_is_named_as_the_user_named_it(folder, tmp_path):
    """Resuming on a moved folder whose split differs: the error named the recorded folder
    (gone, or not the one passed), not the one the user passed."""
    config = data_config(tmp_path, validation_fraction=0.3)
    run = _recorded(tmp_path, prepare_corpus(folder, config, 256, 100, quiet=True), folder)
    moved = folder.rename(tmp_path / "moved")
    (moved / "top.wav").unlink()
    with pytest.raises(UserError) as error:
        require_recorded_split(run, prepare_corpus(moved, config, 256, 100, quiet=True), moved)
    assert str(error.value).startswith(f"{moved} changed since {run} recorded its split")


def test_resume_refuses_a_file_that_changed_label(folder, tmp_path):
    csv = label_manifest(tmp_path, "top.wav,calm", "ambient/long.flac,calm")
    config = data_config(tmp_path, labels=str(csv), validation_fraction=0.0)  # no split to move
    run = _recorded(tmp_path, prepare_corpus(folder, config, 256, 100, quiet=True), folder)
    label_manifest(tmp_path, "top.wav,calm", "ambient/long.flac,loud")
    with pytest.raises(UserError, match=r"1 file changed \(ambient/long.flac\)"):
        require_recorded_split(run, prepare_corpus(folder, config, 256, 100, quiet=True), folder)


def test_train_resume_on_a_grown_folder_is_refused_and_keeps_the_recorded_split(tmp_path):
    from wavenet_music.wavenet.train import train

    from ..conftest import small_config

    root, run = tmp_path / "grow", tmp_path / "run"
    for i in range(4):
        write_tone(root / "x" / f"f{i}.wav", 1.0, 200 + 50 * i, rate=16000)
    tiny = {"model.dilations": [1, 2, 4], "data.sample_size": 300, "train.batch_size": 2}
    config = small_config(str(tmp_path / "cache"), **{**tiny, "train.steps": 1})
    train(root, run, config, quiet=True)
    recorded = (run / "data.json").read_text()
    for i in range(4, 12):
        write_tone(root / "x" / f"f{i}.wav", 1.0, 200 + 50 * i, rate=16000)
    more = small_config(str(tmp_path / "cache"), **{**tiny, "train.steps": 2})
    with pytest.raises(
        UserError, match=r"8 files added \(x/f10.wav, x/f11.wav, x/f4.wav, \.\.\.\)"
    ):
        train(root, run, more, resume=True, quiet=True)
    assert (run / "data.json").read_text() == recorded


def test_a_file_replaced_with_its_old_modification_time_is_decoded_again(folder, tmp_path):
    """Keyed by path, size and mtime alone, the cache served the audio the file held
    before and the run trained on it without a word."""
    config = data_config(tmp_path)
    path = folder / "guitar" / "sub" / "guitar1.wav"
    first = load_classes(cached_classes(path, config, 256)).copy()
    audio, rate = sf.read(path, dtype="float32")
    replaced_keeping_its_times(path, lambda p: sf.write(p, -audio, rate, subtype="PCM_16"))
    again = load_classes(cached_classes(path, config, 256))
    assert not np.array_equal(again, first)
    np.testing.assert_array_equal(again, mu_law_encode(load_audio(path, config.sample_rate)))


def test_resume_refuses_a_file_exported_again_with_other_audio_of_the_same_length(tmp_path, capsys):
    """A mix re-exported with an edit keeps its length: its segments and label are the
    same, so the resume trained on other music than its curves describe, without a word."""
    from wavenet_music.cli import main

    root, run = tmp_path / "music", tmp_path / "run"
    for i in range(4):
        write_tone(root / "x" / f"f{i}.wav", 1.0, 200 + 50 * i)
    flags = ["--preset", "tiny", "--dilations", "[1, 2, 4]", "--sample-size", "300"]
    flags += ["--batch-size", "2", "--cache-dir", str(tmp_path / "cache"), "--quiet"]
    assert main(["train", str(root), "--run", str(run), *flags, "--steps", "1"]) == 0
    resume = ["train", str(root), "--run", str(run), "--resume", "--quiet"]
    assert main([*resume, "--steps", "2"]) == 0  # unchanged: it resumes
    recorded, edited = (run / "data.json").read_text(), root / "x" / "f3.wav"
    stamp = edited.stat().st_mtime_ns
    write_tone(edited, 1.0, 440)  # as long, other samples
    os.utime(edited, ns=(stamp + 10**9, stamp + 10**9))  # exported a second later
    capsys.readouterr()
    assert main([*resume, "--steps", "3"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "1 file changed (x/f3.wav: same length, different audio)" in err[0]
    assert (run / "data.json").read_text() == recorded


def test_what_a_killed_decoder_left_in_the_cache_goes_and_nothing_else(folder, tmp_path):
    """A kill -9 while a cache file was built left its hidden partial file for good."""
    config = data_config(tmp_path)
    prepare_corpus(folder, config, 256, min_samples=100, quiet=True)
    cache = cache_root(config)
    dead = _finished_pid()
    stale = cache / f".piano0-0123.npy.{dead}.0badcafe.tmp"
    stale.write_bytes(b"\x93NUMPY" + bytes(1000))
    live = cache / f".piano1-0123.npy.{os.getpid()}.0badcafe.tmp"  # being written now
    live.write_bytes(b"partial")
    kept = sorted(p.name for p in cache.iterdir() if p not in (stale, live))
    prepare_corpus(folder, config, 256, min_samples=100, quiet=True)
    assert not stale.exists() and live.exists()
    assert sorted(p.name for p in cache.iterdir() if p != live) == kept


def _finished_pid() -> int:
    """The pid of a process that has ended."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid
