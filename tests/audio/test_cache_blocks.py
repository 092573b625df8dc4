"""The training cache decoded in blocks holds the bytes of the whole-file path.

``whole_file_npy`` is the path training took before (decode all frames, mix, resample,
remove DC, trim, encode), kept here as the reference: block sizes far below the ones used
in training put many block boundaries across every chunk the streaming path cuts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from wavenet_music.audio import cache_blocks
from wavenet_music.audio.cache_blocks import (
    float64_sum,
    window,
    write_npy_atomically,
    write_training_classes,
)
from wavenet_music.audio.io import (
    CACHE_BLOCK,
    AudioReadError,
    clean,
    damage_notes,
    mix_to_mono,
    mu_law_encode,
    remove_dc,
    resample,
    trim_silence,
)
from wavenet_music.config import DataConfig
from wavenet_music.runs import npy_bytes
from wavenet_music.wavenet.data import cached_classes, load_classes


def whole_file_npy(
    path: Path, sample_rate: int, quantization_channels: int, threshold: float | None
) -> tuple[bytes, list[str]]:
    """The cache file's bytes and the notes, as training made them before it decoded in
    blocks: every frame in memory at once."""
    with open(path, "rb") as file, sf.SoundFile(file) as f:
        frames, rate = f.read(dtype="float32", always_2d=True), f.samplerate  # (T, C)
    if frames.size and not np.isfinite(frames).any():
        raise AudioReadError(f"{path}: no finite samples (all NaN or infinite)")
    mono = clean(mix_to_mono(frames))
    audio = clean(remove_dc(resample(mono, rate, sample_rate)))
    if threshold is not None:
        audio = trim_silence(audio, threshold)
    dtype = np.uint8 if quantization_channels <= 256 else np.uint16
    return npy_bytes(mu_law_encode(audio, quantization_channels).astype(dtype)), damage_notes(
        frames
    )


def damaged_stereo(rate: int, seconds: float, seed: int = 0) -> np.ndarray:
    """(T, 2) float32: quiet ends (for trim), a DC offset, NaN/inf and clipped runs."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(rate * seconds)) / rate
    left = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(t.size) + 0.02
    right = 0.4 * np.sin(2 * np.pi * 331 * t + 1.0) - 0.01
    frames = np.stack([left, right], axis=1).astype(np.float32)
    quiet = int(0.3 * rate)
    frames[:quiet] *= 1e-3
    frames[-quiet:] *= 1e-3
    frames[quiet + 5 : quiet + 40, 0] = np.nan
    frames[quiet + 1000, 1] = np.inf
    frames[quiet + 2000 : quiet + 2100] = -np.inf
    frames[quiet + 3000 : quiet + 4000] = 1.5 * np.array([1, -1], np.float32)  # clipped
    return frames


def blocked_npy(
    path: Path, tmp_path: Path, rate: int, q: int, threshold: float | None, block: int
) -> tuple[bytes, list[str]]:
    target = tmp_path / "cache" / "classes.npy"
    dtype = np.uint8 if q <= 256 else np.uint16
    notes = write_training_classes(path, target, rate, q, dtype, threshold, block=block)
    return target.read_bytes(), notes


@pytest.mark.parametrize("threshold", [None, 0.02])
@pytest.mark.parametrize("block", [1, 97, 2048, 5000, 1 << 16])
def test_at_the_model_rate_the_cache_is_byte_identical(tmp_path, threshold, block):
    path = tmp_path / "damaged.wav"
    sf.write(path, damaged_stereo(16000, 2.5), 16000, subtype="FLOAT")
    expected = whole_file_npy(path, 16000, 256, threshold)
    got = blocked_npy(path, tmp_path, 16000, 256, threshold, block)
    assert got == expected
    assert len(expected[1]) == 2  # non-finite samples and clipping, both said
    if threshold is not None:  # the quiet ends are trimmed
        assert len(got[0]) < len(whole_file_npy(path, 16000, 256, None)[0])


@pytest.mark.parametrize(
    ("name", "subtype", "channels"),
    [
        ("a.flac", "PCM_24", 1),
        ("b.ogg", "VORBIS", 2),
        ("c.mp3", "MPEG_LAYER_III", 2),
        ("d.mp3", "MPEG_LAYER_III", 1),  # read with soundfile's seeks, it had glitches
    ],
)
def test_every_container_decodes_the_same_in_blocks(tmp_path, name, subtype, channels):
    path = tmp_path / name
    frames = np.nan_to_num(damaged_stereo(16000, 2.0, seed=1))[:, :channels].clip(-1, 1)
    sf.write(path, frames, 16000, subtype=subtype)
    for q, threshold in [(256, 0.02), (1024, None)]:  # uint8 and uint16 classes
        expected = whole_file_npy(path, 16000, q, threshold)
        assert blocked_npy(path, tmp_path, 16000, q, threshold, 777) == expected


@pytest.mark.parametrize("native", [44100, 48000, 22050, 8000])
@pytest.mark.parametrize("threshold", [None, 0.02])
def test_resampled_files_are_byte_identical_too(tmp_path, native, threshold):
    # soxr's ResampleStream gives, to the bit, the samples soxr.resample gives for the
    # whole file, so the cache is unchanged (CACHE_VERSION stays)
    path = tmp_path / "native.wav"
    sf.write(path, damaged_stereo(native, 3.0, seed=2), native, subtype="FLOAT")
    expected = whole_file_npy(path, 16000, 256, threshold)
    for block in (333, 4096):
        assert blocked_npy(path, tmp_path, 16000, 256, threshold, block) == expected


def test_the_float64_sum_is_numpys_to_the_bit():
    rng = np.random.default_rng(3)
    for _ in range(50):
        audio = (rng.standard_normal(int(rng.integers(1, 100_000))) * 0.3 + 0.1).astype(np.float32)
        cuts = np.sort(rng.integers(0, audio.size, int(rng.integers(0, 40))))
        total, count = float64_sum(np.split(audio, cuts))
        assert count == audio.size
        assert np.float64(total) / count == audio.mean(dtype=np.float64)


def test_window_keeps_the_range_and_reads_no_further():
    read = []

    def blocks():
        for start in range(0, 100, 10):
            read.append(start)
            yield np.arange(start, start + 10)

    np.testing.assert_array_equal(np.concatenate(list(window(blocks(), 15, 42))), range(15, 42))
    assert read == [0, 10, 20, 30, 40]
    assert list(window(blocks(), 0, 0)) == []


def test_no_finite_sample_is_an_error_and_writes_nothing(tmp_path):
    path = tmp_path / "nan.wav"
    sf.write(path, np.full((5000, 2), np.nan, np.float32), 16000, subtype="FLOAT")
    target = tmp_path / "cache" / "c.npy"
    with pytest.raises(AudioReadError, match="no finite samples"):
        write_training_classes(path, target, 16000, 256, np.uint8, block=64)
    assert not target.exists() and not any(target.parent.glob("*"))


def test_an_empty_file_caches_no_classes(tmp_path):
    path = tmp_path / "empty.wav"
    sf.write(path, np.zeros((0, 2), np.float32), 44100)
    assert blocked_npy(path, tmp_path, 16000, 256, 0.1, 64) == whole_file_npy(path, 16000, 256, 0.1)


@pytest.mark.parametrize("stop", [KeyboardInterrupt, AudioReadError])
def test_an_interrupted_write_leaves_the_previous_file_and_no_temporary(tmp_path, stop):
    target = tmp_path / "c.npy"
    target.write_bytes(b"the previous cache")

    def pieces():
        yield np.zeros(10, np.uint8)
        raise stop("cut")

    with pytest.raises(stop):
        write_npy_atomically(target, pieces(), 20, np.uint8)
    assert target.read_bytes() == b"the previous cache" and list(tmp_path.iterdir()) == [target]
    write_npy_atomically(target, iter([np.arange(3), np.arange(4)]), 7, np.uint8)
    np.testing.assert_array_equal(np.load(target), [0, 1, 2, 0, 1, 2, 3])


def test_a_file_that_shrinks_while_decoded_is_an_error(tmp_path, monkeypatch):
    path = tmp_path / "a.wav"
    sf.write(path, damaged_stereo(16000, 1.0), 16000, subtype="FLOAT")
    passes = []
    original = cache_blocks.frame_blocks

    def shrinking(path: Path, block: int, damage=None):
        passes.append(block)
        blocks = original(path, block, damage)
        return blocks if len(passes) == 1 else (b[: block // 2] for b in blocks)

    monkeypatch.setattr(cache_blocks, "frame_blocks", shrinking)
    target = tmp_path / "c.npy"
    with pytest.raises(AudioReadError, match="changed while it was decoded"):
        write_training_classes(path, target, 16000, 256, np.uint8, block=512)
    assert list(tmp_path.iterdir()) == [path]


def test_training_never_decodes_more_than_a_block_at_once(tmp_path, monkeypatch):
    # the whole-file path read every frame in one call (5x the file's size in memory)
    path = tmp_path / "long.flac"
    sf.write(path, np.nan_to_num(damaged_stereo(16000, 10.0)).clip(-1, 1), 16000)
    asked = []
    read = sf.SoundFile.read

    def recording_read(self, frames=-1, *args, **kwargs):
        asked.append(frames)
        return read(self, frames, *args, **kwargs)

    monkeypatch.setattr(sf.SoundFile, "read", recording_read)
    config = DataConfig(cache_dir=str(tmp_path / "cache"))
    cache = cached_classes(path, config, 256)
    assert len(load_classes(cache)) == 160_000
    assert len(asked) > 2 and all(0 < n <= CACHE_BLOCK for n in asked)
