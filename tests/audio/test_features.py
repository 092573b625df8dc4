"""Local-conditioning features: alignment of frames to samples, silence outside."""

from __future__ import annotations

import numpy as np
import pytest

from wavenet_music.audio.features import (
    SILENCE_DB,
    FeatureStore,
    chroma_features,
    empty_channels,
    frame_count,
    log_mel_features,
    normalisation,
    read_frames,
)
from wavenet_music.audio.spectral import pitch_class
from wavenet_music.config import UserError

RATE, HOP, FFT, BANDS = 16000, 256, 1024, 80


def test_frame_k_describes_samples_k_hop_onwards():
    audio = np.zeros(RATE, dtype=np.float32)
    burst = slice(40 * HOP, 41 * HOP)  # exactly frame 40's samples
    audio[burst] = 0.5 * np.sin(2 * np.pi * 1000 * np.arange(HOP) / RATE)
    features = log_mel_features(audio, RATE, HOP, BANDS, FFT)
    assert features.shape == (frame_count(RATE, HOP), BANDS) == (63, 80)
    loudness = features.max(axis=1)  # (frames,)
    assert int(np.argmax(loudness)) == 40
    # the window reaches (n_fft - hop) / 2 = 384 samples (1.5 frames) to either side
    heard = np.flatnonzero(loudness > SILENCE_DB + 1)
    assert heard.min() == 40 - 2 and heard.max() == 40 + 2


def test_a_tone_lands_in_its_band_and_silence_is_the_floor():
    t = np.arange(RATE) / RATE
    low = log_mel_features(0.5 * np.sin(2 * np.pi * 300 * t), RATE, HOP, BANDS, FFT)
    high = log_mel_features(0.5 * np.sin(2 * np.pi * 3000 * t), RATE, HOP, BANDS, FFT)
    assert np.argmax(low[30]) < np.argmax(high[30])
    silent = log_mel_features(np.zeros(1000), RATE, HOP, BANDS, FFT)
    assert np.all(silent == SILENCE_DB) and silent.shape == (4, BANDS)


def test_read_frames_pads_with_silence():
    features = np.arange(12, dtype=np.float32).reshape(6, 2)
    window = read_frames(features, -2, 4)
    assert window[:2].tolist() == [[SILENCE_DB] * 2] * 2
    np.testing.assert_array_equal(window[2:], features[:2])
    assert read_frames(features, 5, 3)[1:].tolist() == [[SILENCE_DB] * 2] * 2


def test_normalisation_statistics():
    rng = np.random.default_rng(0)
    parts = [rng.normal(3.0, 2.0, (500, 4)), rng.normal(3.0, 2.0, (700, 4))]
    mean, std = normalisation(parts)
    np.testing.assert_allclose(mean, 3.0, atol=0.2)
    np.testing.assert_allclose(std, 2.0, atol=0.2)


def _tone(hz: float, seconds: float = 1.0) -> np.ndarray:
    return 0.3 * np.sin(2 * np.pi * hz * np.arange(int(seconds * RATE)) / RATE)


def test_pitch_class_of_known_frequencies():
    # C4 261.63, E4 329.63, A4 440, A3 220, B5 987.77: C=0 ... B=11, independent of octave
    hz = np.array([261.63, 329.63, 440.0, 220.0, 987.77, 449.0, 455.0])
    assert pitch_class(hz).tolist() == [0, 4, 9, 9, 11, 9, 10]  # 455 Hz is nearer A#4 (466)


def test_chroma_of_a_chord_peaks_at_its_notes_and_silence_is_the_floor():
    # C major triad C4 E4 G4 (higher notes: low bins are too coarse at n_fft 1024, 15.6 Hz)
    chord = _tone(523.25) + _tone(659.26) + _tone(783.99)  # C5 E5 G5
    chroma = chroma_features(chord, RATE, HOP, 12, FFT)  # (frames, 12)
    assert chroma.shape == (frame_count(RATE, HOP), 12)
    middle = chroma[20]
    assert set(np.argsort(middle)[-3:].tolist()) == {0, 4, 7}
    assert middle[[0, 4, 7]].min() > middle[[1, 3, 6, 8, 10]].max() + 15  # dB apart
    octave_up = chroma_features(_tone(1046.5), RATE, HOP, 12, FFT)[20]
    assert int(np.argmax(octave_up)) == 0  # C6 is still C
    silent = chroma_features(np.zeros(1000), RATE, HOP, 12, FFT)
    assert np.all(silent == SILENCE_DB) and silent.shape == (4, 12)


def test_chroma_is_frame_aligned_like_log_mel():
    audio = np.zeros(RATE)
    audio[40 * HOP : 41 * HOP] = _tone(880.0)[:HOP]
    loudness = chroma_features(audio, RATE, HOP, 12, FFT).max(axis=1)
    assert int(np.argmax(loudness)) == 40
    heard = np.flatnonzero(loudness > SILENCE_DB + 1)
    assert heard.min() == 40 - 2 and heard.max() == 40 + 2


def test_a_window_too_short_for_its_bands_is_one_line_naming_the_size_that_works():
    with pytest.raises(UserError) as caught:
        FeatureStore("log_mel", RATE, 16, BANDS, 16, 256)
    assert str(caught.value) == (
        "data.n_fft: a window of 16 samples has 9 frequency bins, too few for 80 log_mel "
        "channels (66 would always read silence); train with --n-fft 256 or more, or fewer "
        "--local-channels"
    )
    silent = log_mel_features(np.random.default_rng(0).standard_normal(RATE), RATE, 16, 80, 16)
    assert (silent.std(axis=0) == 0).sum() == 66  # what the check saves a run from
    assert empty_channels("log_mel", RATE, BANDS, 256) == 0  # the size it names works
    with pytest.raises(UserError, match=r"--n-fft 128 or more$"):  # chroma's 12 are fixed
        FeatureStore("chroma", RATE, 16, 12, 16, 256)


def test_chroma_needs_twelve_channels():
    with pytest.raises(UserError, match=r"local_channels.*12"):
        FeatureStore("chroma", RATE, HOP, 80, FFT, 256)
    with pytest.raises(UserError, match=r"expected one of .*chroma.*cqt"):
        FeatureStore("cqt", RATE, HOP, 80, FFT, 256)
