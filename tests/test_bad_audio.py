"""A corpus of every kind of bad audio: each file is used correctly or named and skipped."""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from wavenet_music.audio.io import load_audio
from wavenet_music.config import DataConfig, UserError
from wavenet_music.wavenet.data import load_classes, prepare_corpus

RF = 1024


def _tone(rate: int, seconds: float, channels: int = 1, offset: float = 0.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    mono = 0.4 * np.sin(2 * np.pi * 330 * t) + offset
    return np.repeat(mono[:, None], channels, axis=1).astype(np.float32)


def build_bad_corpus(root):
    """(files that must be used, files that must be skipped) relative to ``root``."""
    root.mkdir()
    (root / "empty.wav").write_bytes(b"")
    sf.write(root / "whole.flac", _tone(16000, 1.0), 16000)
    data = (root / "whole.flac").read_bytes()
    (root / "truncated.flac").write_bytes(data[: len(data) // 3])
    (root / "random.ogg").write_bytes(np.random.default_rng(0).bytes(4000))
    (root / "notes.mp3").write_text("these are not sounds\n" * 50)
    (root / "folder.wav").mkdir()
    (root / "sound.xyz").write_bytes(b"RIFF")  # not an audio extension: not even looked at
    (root / "midi.aiff").write_bytes(b"MThd\x00\x00\x00\x06")  # wrong container
    sf.write(root / "silent.wav", np.zeros(16000), 16000)
    sf.write(root / "constant.wav", np.full(16000, 0.3), 16000)  # a DC level, no sound
    sf.write(root / "all_nan.wav", np.full(16000, np.nan), 16000, subtype="FLOAT")
    cancelling = _tone(16000, 1.0, 2) * np.array([1.0, -1.0], dtype=np.float32)
    sf.write(root / "cancelling.wav", cancelling, 16000, subtype="FLOAT")
    # in 16 bits, rounding leaves the mix above digital silence: it was trained on
    sf.write(root / "cancelling_16_bit.wav", cancelling, 16000, subtype="PCM_16")
    sf.write(root / "over_full_scale.wav", 50 * _tone(16000, 1.0), 16000, subtype="FLOAT")
    sf.write(root / "short.wav", _tone(16000, 0.03), 16000)  # 480 samples < RF
    sf.write(root / "eight_channels.wav", _tone(44100, 1.0, 8), 44100)
    sf.write(root / "hi_rate.flac", _tone(192000, 1.0), 192000)
    sf.write(root / "lo_rate.wav", _tone(8000, 1.0), 8000)
    sf.write(root / "one_hertz.wav", _tone(16000, 0.5), 1)  # gigabytes to resample: not read
    nan = _tone(16000, 1.0)
    nan[100:200] = np.nan
    nan[300] = np.inf
    sf.write(root / "nan_inf.wav", nan, 16000, subtype="FLOAT")
    sf.write(root / "clipped_dc.wav", np.clip(_tone(16000, 1.0, offset=0.5) * 2, -1, 1), 16000)
    sf.write(root / "locked.wav", _tone(16000, 1.0), 16000)
    os.chmod(root / "locked.wav", 0)
    sf.write(root / "header_only.wav", np.zeros(0), 16000)
    os.mkfifo(root / "pipe.wav")  # opened, it would wait for a writer forever
    os.symlink("/dev/zero", root / "endless.wav")  # opened, it would never end
    (root / "loop").mkdir()
    os.symlink(root, root / "loop" / "back")
    sf.write(root / "glitched.mp3", _tone(16000, 10.0), 16000, format="MP3")
    data = (root / "glitched.mp3").read_bytes()  # 1 KiB of garbage at 5 s: the decoder
    garbage = bytes(range(256)) * 4  # gives up there, and the first 4.1 s are used
    (root / "glitched.mp3").write_bytes(data[: len(data) // 2] + garbage + data[len(data) // 2 :])
    sf.write(root / "cut.mp3", _tone(16000, 10.0), 16000, format="MP3")
    data = (root / "cut.mp3").read_bytes()  # a download cut off: its header counts 10 s
    (root / "cut.mp3").write_bytes(data[: len(data) // 2])
    used = {
        "glitched.mp3",
        "cut.mp3",
        "over_full_scale.wav",
        "eight_channels.wav",
        "hi_rate.flac",
        "lo_rate.wav",
        "nan_inf.wav",
        "clipped_dc.wav",
        "whole.flac",
    }
    skipped = {"empty.wav", "truncated.flac", "random.ogg", "notes.mp3", "midi.aiff", "short.wav"}
    skipped |= {"one_hertz.wav", "pipe.wav", "endless.wav", "header_only.wav"}
    skipped |= {"silent.wav", "constant.wav", "all_nan.wav"}  # no sound, no finite samples
    skipped |= {"cancelling.wav", "cancelling_16_bit.wav"}  # a mono mix of no sound
    # root reads any file whatever its permissions
    (used if os.geteuid() == 0 else skipped).add("locked.wav")
    return used, skipped


NO_SOUND = "no sound (silence, or one constant level, throughout)"


def test_every_bad_file_is_used_correctly_or_named_and_counted(tmp_path, capsys):
    used, skipped = build_bad_corpus(tmp_path / "bad")
    config = DataConfig(cache_dir=str(tmp_path / "cache"), validation_fraction=0.0)
    corpus = prepare_corpus(tmp_path / "bad", config, 256, RF)
    assert {s.source for s in corpus.train} == used
    reasons = dict(corpus.skipped)
    assert set(reasons) == skipped
    assert "shorter than the receptive field" in reasons["short.wav"]
    assert "stored at 1 Hz, not an audio sample rate" in reasons["one_hertz.wav"]
    assert reasons["header_only.wav"] == "no samples decoded (the file is cut short or empty)"
    assert (
        reasons["pipe.wav"]
        == reasons["endless.wav"]
        == ("not a regular file (a device, FIFO or socket)")
    )
    err = capsys.readouterr().err
    for name in skipped:
        assert f"skipped {name}: " in err
    assert f"skipped {len(skipped)} of {len(used) + len(skipped)} audio files" in err
    lengths = {s.source: s.length for s in corpus.train}
    for name in ("eight_channels.wav", "hi_rate.flac", "lo_rate.wav"):  # resampled to 16 kHz
        assert abs(lengths[name] - 16000) <= 2, name
    # a constant level is silence once its DC offset is removed (it read "digital silence")
    assert reasons["silent.wav"] == reasons["constant.wav"] == NO_SOUND
    assert reasons["cancelling.wav"].startswith(
        "its channels cancel when mixed to mono (the mix is silent: one is the other with "
        "its polarity inverted); invert one channel"
    )
    below = r"its channels cancel .* \(the mix is \d+ dB below them"
    assert re.match(below, reasons["cancelling_16_bit.wav"])
    assert reasons["all_nan.wav"] == "no finite samples (all NaN or infinite)"
    assert "nan_inf.wav: 101 non-finite samples replaced by 0" in err
    for name in ("over_full_scale.wav", "clipped_dc.wav"):
        assert re.search(rf"{name}: [\d.]+% of its samples are clipped at full scale", err), name
    assert "glitched.mp3: decoding failed after 4.1 s of the 10.0 s its header counts" in err
    assert lengths["glitched.mp3"] == 65536  # one block decoded before the garbage
    assert re.search(r"cut\.mp3: decoding ended after [45]\.\d s of the 10\.0 s its header", err)
    assert 4.5 * 16000 < lengths["cut.mp3"] < 5.5 * 16000
    assert "whole.flac:" not in err  # a clean file: no warning
    classes = load_classes(next(s.cache for s in corpus.train if s.source == "whole.flac"))
    assert len(np.unique(classes)) > 100


def test_cleaning_removes_non_finite_samples_and_dc(tmp_path):
    build_bad_corpus(tmp_path / "bad")
    clean = load_audio(tmp_path / "bad" / "nan_inf.wav", 16000)
    assert np.isfinite(clean).all() and np.ptp(clean[100:200]) == 0  # silence, less the DC
    dc = load_audio(tmp_path / "bad" / "clipped_dc.wav", 16000)
    assert abs(float(dc.mean())) < 1e-3 and np.abs(dc).max() <= 1.0


def test_an_all_bad_corpus_is_one_clear_error(tmp_path):
    root = tmp_path / "all_bad"
    root.mkdir()
    (root / "a.wav").write_bytes(b"")
    (root / "b.ogg").write_text("nope")
    sf.write(root / "c.wav", np.zeros(100), 16000)
    config = DataConfig(cache_dir=str(tmp_path / "cache"))
    with pytest.raises(UserError, match=r"none of the 3 audio files .* is usable \(first problem"):
        prepare_corpus(root, config, 256, RF, quiet=True)


def _write_named(folder, name: bytes) -> None:
    """A 1-s tone at the file name ``name`` (bytes: any name Linux allows)."""
    folder.mkdir(parents=True, exist_ok=True)
    tone = io.BytesIO()
    sf.write(tone, _tone(16000, 1.0), 16000, format="WAV")
    (folder / os.fsdecode(name)).write_bytes(tone.getvalue())


def test_files_whose_names_are_not_utf8_train_keep_their_labels_and_report(tmp_path, capsys):
    """Names in Latin-1 (0xE9, 0xFC: not UTF-8), which Python sees with surrogate escapes
    and soundfile cannot encode: a label whose only file is ``caf\xe9.wav``, and a label
    folder ``gr\xfcn`` of two files (split by a hash of their names)."""
    from wavenet_music.cli import main
    from wavenet_music.wavenet.checkpoint import stored_config

    root, run = tmp_path / "music", tmp_path / "run"
    _write_named(root / "piano", b"caf\xe9.wav")
    grun = Path(os.fsdecode(os.fsencode(root) + b"/gr\xfcn"))
    _write_named(grun, b"a\xe9.wav")
    _write_named(grun, b"b.wav")
    flags = ["--preset", "tiny", "--steps", "2", "--labels", "folders", "--quiet"]
    args = ["train", str(root), "--run", str(run), *flags, "--cache-dir", str(tmp_path / "c")]
    assert main(args) == 0, capsys.readouterr().err
    assert stored_config(run).model.global_labels == (grun.name, "piano")
    split = json.loads((run / "data.json").read_text())
    assert split["skipped"] == []
    assert {s[0] for s in split["train"] + split["validation"]} == {
        os.fsdecode(name) for name in (b"piano/caf\xe9.wav", b"gr\xfcn/a\xe9.wav", b"gr\xfcn/b.wav")
    }
    report = ["report", str(run), "--data", str(root), "--clips", "1", "--seconds", "0.1"]
    assert main(report) == 0, capsys.readouterr().err
    assert "piano/caf\\udce9.wav at " in (run / "report" / "index.html").read_text()


def test_a_warning_naming_a_file_with_a_line_break_stays_one_line(tmp_path, capsys):
    """A warning, like an error, names the file: a line break in its name (Linux and macOS
    allow one) made the rest of the warning read like a line of its own."""
    root = tmp_path / "data"
    root.mkdir()
    sf.write(root / "clean.flac", _tone(16000, 1.0), 16000)
    sf.write(root / "take\nwarning: done.wav", np.clip(_tone(16000, 1.0) * 4, -1, 1), 16000)
    config = DataConfig(validation_fraction=0.0, cache_dir=str(tmp_path / "cache"))
    prepare_corpus(root, config, 256, RF, quiet=True)
    lines = capsys.readouterr().err.splitlines()
    clipped = [line for line in lines if "clipped at full scale" in line]
    assert len(clipped) == 1
    assert clipped[0].startswith("warning: ")
    assert "take\\nwarning: done.wav: " in clipped[0]
    assert not any(line.startswith("warning: done.wav") for line in lines)
