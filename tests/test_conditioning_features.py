"""Local-conditioning features: alignment of frames to samples, silence outside."""

from __future__ import annotations

import numpy as np

from wavenet_music.conditioning import (
    SILENCE_DB,
    frame_count,
    log_mel_features,
    normalisation,
    read_frames,
)

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
