"""Discovery, the decode cache, the split and the windows."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import soundfile as sf

from wavenet_music.audio.io import mu_law_encode
from wavenet_music.config import DataConfig, UserError
from wavenet_music.wavenet.data import (
    cached_classes,
    load_classes,
    prepare_corpus,
    require_recorded_split,
)
from wavenet_music.wavenet.discovery import find_audio_files, label_of, read_label_rows
from wavenet_music.wavenet.windows import IGNORE, WindowSampler, WindowSource, validation_picks

RATE = 8000


def _write(path, seconds: float, freq: float = 300.0, rate: int = RATE):
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * rate)) / rate
    sf.write(path, 0.3 * np.sin(2 * np.pi * freq * t), rate)
    return path


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "music"
    for genre, count in (("piano", 4), ("guitar", 3)):
        for i in range(count):
            _write(root / genre / "sub" / f"{genre}{i}.wav", 1.0 + i / 10, 200 + 50 * i)
    _write(root / "ambient" / "long.flac", 3.0)
    _write(root / "top.wav", 0.5)
    (root / "notes.txt").write_text("not audio")
    (root / "fake.wav").mkdir()  # a folder named like audio
    return root


def _config(tmp_path, **kw) -> DataConfig:
    return DataConfig(sample_rate=RATE, sample_size=500, cache_dir=str(tmp_path / "cache"), **kw)


def test_discovery_is_recursive_and_audio_only(folder):
    names = [p.relative_to(folder).as_posix() for p in find_audio_files(folder)]
    assert len(names) == 9 and "fake.wav" not in names and "notes.txt" not in names
    assert label_of("piano/sub/piano0.wav") == "piano" and label_of("top.wav") == ""


def test_symlink_loops_are_not_followed(folder):
    os.symlink(folder, folder / "piano" / "loop")
    assert len(find_audio_files(folder)) == 9


def test_split_is_per_folder_deterministic_and_disjoint(folder, tmp_path):
    config = _config(tmp_path, validation_fraction=0.3)
    a = prepare_corpus(folder, config, 256, min_samples=100, quiet=True)
    b = prepare_corpus(folder, config, 256, min_samples=100, quiet=True)
    assert a == b
    val_files = {s.source for s in a.validation}
    assert {s.label for s in a.validation} == {"piano", "guitar", "ambient", ""}
    ambient = [s for s in a.train + a.validation if s.label == "ambient"]
    assert len(ambient) == 2 and ambient[0].end == ambient[1].start  # one file: split by time
    whole_train = {s.source for s in a.train if s.label in ("piano", "guitar")}
    assert not whole_train & val_files


def test_cache_decodes_once_and_matches_the_audio(folder, tmp_path):
    config = _config(tmp_path)
    path = folder / "piano" / "sub" / "piano0.wav"
    cache = cached_classes(path, config, 256)
    mtime = cache.stat().st_mtime_ns
    assert cached_classes(path, config, 256) == cache and cache.stat().st_mtime_ns == mtime
    audio, _ = sf.read(path, dtype="float32")
    np.testing.assert_array_equal(load_classes(cache), mu_law_encode(audio))
    assert load_classes(cache).dtype == np.uint8
    assert isinstance(load_classes(cache), np.memmap)
    _write(path, 0.7)  # the file changed: decoded again
    assert cached_classes(path, config, 256) != cache


def test_short_and_broken_files_are_skipped_and_counted(folder, tmp_path, capsys):
    (folder / "piano" / "broken.ogg").write_bytes(b"OggS" + bytes(100))
    corpus = prepare_corpus(folder, _config(tmp_path), 256, min_samples=6000)
    skipped = dict(corpus.skipped)
    assert "piano/broken.ogg" in skipped and "top.wav" in skipped  # 4000 < 6000 samples
    assert "shorter than the receptive field" in skipped["top.wav"]
    err = capsys.readouterr().err
    assert f"skipped {len(skipped)} of 10 audio files" in err


def test_nothing_usable_is_one_clear_error(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match="no audio files"):
        prepare_corpus(empty, _config(tmp_path), 256, 10)
    with pytest.raises(UserError, match="does not exist"):
        prepare_corpus(tmp_path / "missing", _config(tmp_path), 256, 10)
    (empty / "x.wav").write_text("hello")
    with pytest.raises(UserError, match="none of the 1 audio files"):
        prepare_corpus(empty, _config(tmp_path), 256, 10, quiet=True)


def _manifest(tmp_path, *rows: str):
    path = tmp_path / "labels.csv"
    path.write_text("file,label\n" + "".join(f"{row}\n" for row in rows))
    return path


def test_a_file_labelled_twice_differently_is_one_line_naming_both_rows(folder, tmp_path):
    csv = _manifest(tmp_path, "top.wav,calm", "ambient/long.flac,calm", "./top.wav,loud")
    with pytest.raises(UserError) as error:
        prepare_corpus(folder, _config(tmp_path, labels=str(csv)), 256, 100, quiet=True)
    message = str(error.value)
    assert "\n" not in message and str(csv) in message and "top.wav" in message
    for part in ("lines 2 and 4", "'calm'", "'loud'"):
        assert part in message, message


def test_a_repeated_row_is_harmless_and_a_row_without_its_file_is_named(folder, tmp_path, capsys):
    rows = ["top.wav,calm", "top.wav,calm", "ambient/long.flac,calm", "ambient/lnog.flac,calm"]
    csv = _manifest(tmp_path, *rows)
    corpus = prepare_corpus(folder, _config(tmp_path, labels=str(csv)), 256, 100)
    labels = {s.source: s.label for s in corpus.train + corpus.validation}
    assert labels == {"top.wav": "calm", "ambient/long.flac": "calm"}
    err = capsys.readouterr().err
    assert f"{csv}:5: ambient/lnog.flac is not an audio file under {folder}" in err, err


def test_windows_have_a_full_receptive_field_and_mask_the_end(folder, tmp_path):
    corpus = prepare_corpus(
        folder, _config(tmp_path, validation_fraction=0.0), 256, 100, quiet=True
    )
    rf = 64
    source = WindowSource(corpus.train, rf, 500, 128)
    segment = source.segments[0]
    classes = source.classes(segment)
    inputs, targets, *_ = source.window(segment, 0, 500)
    assert inputs.shape == (rf - 1 + 500,) and targets.shape == (500,)
    assert (inputs[:rf] == 128).all()  # before the file: silence
    np.testing.assert_array_equal(targets, classes[:500])
    np.testing.assert_array_equal(inputs[rf:], classes[: 500 - 1])  # input t predicts t + 1
    inputs, targets, *_ = source.window(segment, segment.end - 100, 500)
    assert (targets[100:] == IGNORE).all() and (targets[:100] != IGNORE).all()


def test_sampler_is_reproducible_and_resumable(folder, tmp_path):
    corpus = prepare_corpus(folder, _config(tmp_path), 256, 100, quiet=True)
    source = WindowSource(corpus.train, 64, 500, 128)
    a, b = WindowSampler(source, 3), WindowSampler(source, 3)
    a.next_batch(4)
    state = a.state()
    expected = a.next_batch(4)
    b.set_state(state)
    got = b.next_batch(4)
    assert np.array_equal(expected.inputs, got.inputs)
    assert expected.inputs.shape == (4, 63 + 500) and expected.targets.shape == (4, 500)


def test_validation_picks_spread_and_stay_inside(folder, tmp_path):
    corpus = prepare_corpus(
        folder, _config(tmp_path, validation_fraction=0.3), 256, 100, quiet=True
    )
    picks = validation_picks(corpus.validation, 6, 500)
    assert len({i for i, _ in picks}) >= 3
    for index, start in picks:
        segment = corpus.validation[index]
        assert segment.start <= start < segment.end


def test_a_label_file_that_is_not_utf8_or_is_a_folder_is_one_line(tmp_path):
    binary = tmp_path / "labels.csv"
    binary.write_bytes(b"file,label\npiano/a.wav,\xff\xfe\n")
    with pytest.raises(UserError, match=r"label file .*labels\.csv is not UTF-8"):
        read_label_rows(binary)
    with pytest.raises(UserError, match="is a folder"):
        read_label_rows(tmp_path)


# --- what discovery finds, skips and says ------------------------------------------------


def _sources(corpus) -> list[str]:
    return sorted(s.source for s in corpus.train + corpus.validation if s.start == 0)


def test_a_symlinked_folder_or_file_is_read_once_and_named_as_a_repeat(folder, tmp_path, capsys):
    os.symlink("piano", folder / "zz_alias")  # a sibling alias: not a label, not a second copy
    os.symlink(folder / "guitar" / "sub" / "guitar0.wav", folder / "a_link.wav")
    config = _config(tmp_path, labels="folders", validation_fraction=0.3)
    corpus = prepare_corpus(folder, config, 256, 100)
    assert len(_sources(corpus)) == len(set(_sources(corpus))) == 8  # top.wav: no label folder
    assert {s.label for s in corpus.train + corpus.validation} == {"piano", "guitar", "ambient"}
    skipped = dict(corpus.skipped)
    assert skipped["zz_alias/sub/piano1.wav"] == "same file as piano/sub/piano1.wav"
    assert skipped["a_link.wav"] == "same file as guitar/sub/guitar0.wav"
    err = capsys.readouterr().err
    assert "skipped zz_alias/sub/piano0.wav: same file as piano/sub/piano0.wav" in err
    assert "skipped 6 of 14 audio files" in err  # 4 alias files, the link, top.wav


def test_undecoded_audio_and_broken_links_are_counted(folder, tmp_path, capsys):
    for name in ("a.m4a", "b.m4a", "c.aac"):
        (folder / "piano" / name).write_bytes(b"\x00" * 100)
    os.symlink("nonexistent.wav", folder / "dangling.wav")
    os.symlink("selfloop.wav", folder / "selfloop.wav")
    corpus = prepare_corpus(folder, _config(tmp_path), 256, 100)
    skipped = dict(corpus.skipped)
    assert skipped == {"dangling.wav": "broken link", "selfloop.wav": "symlink loop"}
    err = capsys.readouterr().err
    assert "ignored 3 files with unsupported extensions (.aac, .m4a): convert" in err
    assert "skipped 2 of 11 audio files" in err
    (folder / "x").mkdir()
    (folder / "x" / "only.m4a").write_bytes(b"")
    with pytest.raises(UserError, match=r"no audio files .* holds 1 files with unsupported"):
        prepare_corpus(folder / "x", _config(tmp_path), 256, 100)


def test_a_split_says_what_it_trains_and_validates_on_unless_quiet(folder, tmp_path, capsys):
    config = _config(tmp_path, validation_fraction=0.3)
    corpus = prepare_corpus(folder, config, 256, 100)
    train_files = len({s.source for s in corpus.train})
    line = f"training on {train_files} files ("
    assert line in capsys.readouterr().err
    prepare_corpus(folder, config, 256, 100, quiet=True)
    assert capsys.readouterr().err == ""


def test_quiet_still_counts_skipped_files_and_unlabelled_rows(folder, tmp_path, capsys):
    (folder / "piano" / "broken.ogg").write_bytes(b"OggS" + bytes(100))
    csv = _manifest(tmp_path, "top.wav,calm", "piano/sub/piano0.wav,calm", "gone.wav,calm")
    prepare_corpus(folder, _config(tmp_path, labels=str(csv)), 256, 100, quiet=True)
    err = capsys.readouterr().err
    assert "skipped 8 of 10 audio files (first: " in err and "without --quiet" in err
    assert "skipped piano/broken.ogg" not in err  # one by one only when not quiet
    assert f"1 of 3 rows of {csv} name no audio file" in err


def test_a_validation_fraction_that_leaves_no_training_audio_is_one_line(tmp_path):
    root = tmp_path / "one"
    _write(root / "a.wav", 0.14)  # 1,120 samples
    config = _config(tmp_path, validation_fraction=0.9999)
    with pytest.raises(UserError, match=r"data.validation_fraction=0.9999 leaves no training"):
        prepare_corpus(root, config, 256, 100, quiet=True)


def test_a_silence_threshold_that_trims_a_file_away_is_named(folder, tmp_path):
    config = _config(tmp_path, silence_threshold=0.5)  # louder than every tone (RMS 0.21)
    with pytest.raises(UserError) as error:
        prepare_corpus(folder, config, 256, 100, quiet=True)
    assert "data.silence_threshold=0.5 trimmed it to 0 samples" in str(error.value)


def test_a_label_file_with_a_byte_order_mark_reads_its_header(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("file,label\npiano/a.wav,calm\n", encoding="utf-8-sig")
    assert read_label_rows(path) == {"piano/a.wav": ("calm", 2)}


def test_the_run_folder_inside_the_data_folder_is_not_data(folder):
    _write(folder / "run" / "report" / "clip.wav", 0.5)
    assert len(find_audio_files(folder, exclude=folder / "run")) == 9
    assert len(find_audio_files(folder)) == 10


# --- resume keeps its split --------------------------------------------------------------


def _recorded(tmp_path, corpus, root):
    run = tmp_path / "run"
    run.mkdir(exist_ok=True)
    (run / "data.json").write_text(json.dumps({"root": str(root), **corpus.summary()}))
    return run


def test_resume_refuses_a_data_folder_whose_split_changed(folder, tmp_path):
    config = _config(tmp_path, validation_fraction=0.3)
    corpus = prepare_corpus(folder, config, 256, 100, quiet=True)
    run = _recorded(tmp_path, corpus, folder)
    require_recorded_split(run, prepare_corpus(folder, config, 256, 100, quiet=True))
    for i in range(4, 8):
        _write(folder / "piano" / "sub" / f"piano{i}.wav", 1.0, 500 + 10 * i)
    (folder / "top.wav").unlink()
    with pytest.raises(UserError) as error:
        require_recorded_split(run, prepare_corpus(folder, config, 256, 100, quiet=True))
    message = str(error.value)
    assert "\n" not in message and f"--init-from {run}" in message
    assert "4 files added (piano/sub/piano4.wav, piano/sub/piano5.wav, piano/sub/piano6" in message
    assert "1 file removed (top.wav)" in message


def test_resume_refuses_a_file_that_changed_label(folder, tmp_path):
    csv = _manifest(tmp_path, "top.wav,calm", "ambient/long.flac,calm")
    config = _config(tmp_path, labels=str(csv), validation_fraction=0.0)  # no split to move
    run = _recorded(tmp_path, prepare_corpus(folder, config, 256, 100, quiet=True), folder)
    _manifest(tmp_path, "top.wav,calm", "ambient/long.flac,loud")
    with pytest.raises(UserError, match=r"1 file changed \(ambient/long.flac\)"):
        require_recorded_split(run, prepare_corpus(folder, config, 256, 100, quiet=True))


def test_train_resume_on_a_grown_folder_is_refused_and_keeps_the_recorded_split(tmp_path):
    from wavenet_music.wavenet.train import train

    from ..conftest import small_config

    root, run = tmp_path / "grow", tmp_path / "run"
    for i in range(4):
        _write(root / "x" / f"f{i}.wav", 1.0, 200 + 50 * i, rate=16000)
    tiny = {"model.dilations": [1, 2, 4], "data.sample_size": 300, "train.batch_size": 2}
    config = small_config(str(tmp_path / "cache"), **{**tiny, "train.steps": 1})
    train(root, run, config, quiet=True)
    recorded = (run / "data.json").read_text()
    for i in range(4, 12):
        _write(root / "x" / f"f{i}.wav", 1.0, 200 + 50 * i, rate=16000)
    more = small_config(str(tmp_path / "cache"), **{**tiny, "train.steps": 2})
    with pytest.raises(
        UserError, match=r"8 files added \(x/f10.wav, x/f11.wav, x/f4.wav, \.\.\.\)"
    ):
        train(root, run, more, resume=True, quiet=True)
    assert (run / "data.json").read_text() == recorded


@pytest.mark.parametrize("label", ["rock/pop", "jazz, bebop", "all", "a\tb"])
def test_a_label_generate_cannot_name_is_refused_where_it_is_written(folder, tmp_path, label):
    """A label with a comma (``--label`` splits there), a path separator (clips are named
    after labels: generate raised from pathlib), a control character, or ``all``."""
    csv = tmp_path / "labels.csv"
    with csv.open("w", newline="") as f:
        f.write("file,label\n")
        f.write(f'top.wav,"{label}"\n')
    with pytest.raises(UserError, match=r"labels.csv:2: the label .* (holds|is 'all')"):
        prepare_corpus(folder, _config(tmp_path, labels=str(csv)), 256, 100, quiet=True)


def test_a_folder_named_all_is_refused_as_a_label(folder, tmp_path):
    (folder / "ambient").rename(folder / "all")
    with pytest.raises(UserError, match=r"folder 'all' is 'all'.*rename the folder"):
        prepare_corpus(folder, _config(tmp_path, labels="folders"), 256, 100, quiet=True)
