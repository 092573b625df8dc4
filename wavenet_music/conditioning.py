"""Local-conditioning features: a frame-rate description of audio that can steer WaveNet.

The default feature is a log-mel spectrogram. Frame ``k`` describes the samples
``k * hop .. (k + 1) * hop - 1``: it is computed from an ``n_fft``-sample Hann window
centred on them, so it also hears ``(n_fft - hop) / 2`` samples on either side. Outside
the audio the signal counts as silence. Other features (chroma, CQT, a learned code)
plug in through ``FEATURES``: a function ``(audio, sample_rate, hop, channels, n_fft) ->
(frames, channels)``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .audio_stats import log_mel_spectrogram

SILENCE_DB = -100.0  # what log_mel_spectrogram reads for digital silence


def frame_count(samples: int, hop: int) -> int:
    """Frames that cover ``samples`` samples: ceil(samples / hop)."""
    return -(-samples // hop)


def centred_frames(audio: np.ndarray, hop: int, n_fft: int) -> np.ndarray:
    """Audio padded with silence so that window ``k`` (``n_fft`` long, ``hop`` apart)
    is centred on samples ``k * hop .. (k + 1) * hop - 1``. Returns the padded audio."""
    left = (n_fft - hop) // 2
    frames = frame_count(audio.size, hop)
    right = max(0, (frames - 1) * hop + n_fft - left - audio.size)
    return np.pad(np.asarray(audio, dtype=np.float64), (left, right))


def log_mel_features(
    audio: np.ndarray, sample_rate: int, hop: int, channels: int, n_fft: int
) -> np.ndarray:
    """Log-mel spectrogram in dB (frames, channels), frame-aligned as described above."""
    if audio.size == 0:
        return np.zeros((0, channels), dtype=np.float32)
    padded = centred_frames(audio, hop, n_fft)
    features = log_mel_spectrogram(padded, sample_rate, n_fft, hop, channels)
    return features[: frame_count(audio.size, hop)].astype(np.float32)


FeatureFn = Callable[[np.ndarray, int, int, int, int], np.ndarray]
FEATURES: dict[str, FeatureFn] = {"log_mel": log_mel_features}


def read_frames(features: np.ndarray, start: int, count: int) -> np.ndarray:
    """``features[start : start + count]`` (count, C) with silence outside the audio."""
    out = np.full((count, features.shape[1]), SILENCE_DB, dtype=np.float32)
    lo, hi = max(start, 0), min(start + count, len(features))
    if hi > lo:
        out[lo - start : hi - start] = features[lo:hi]
    return out


def normalisation(features: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation (C,) over all frames of a training set."""
    stacked = np.concatenate([f.astype(np.float64) for f in features], axis=0)  # (N, C)
    return stacked.mean(axis=0).astype(np.float32), np.maximum(stacked.std(axis=0), 1e-3).astype(
        np.float32
    )
