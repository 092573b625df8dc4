"""Local-conditioning features: a frame-rate description of audio that can steer WaveNet.

The default feature is a log-mel spectrogram. Frame ``k`` describes the samples
``k * hop .. (k + 1) * hop - 1``: it is computed from an ``n_fft``-sample Hann window
centred on them, so it also hears ``(n_fft - hop) / 2`` samples on either side. Outside
the audio the signal counts as silence. ``chroma`` (12 pitch classes in dB) is the second
kind; others (CQT, a learned code) plug in through ``FEATURES``: a function
``(audio, sample_rate, hop, channels, n_fft) -> (frames, channels)``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..config import Config, UserError
from ..runs import OpenArrays, cached, npy_bytes
from .io import mu_law_decode, padded_slice
from .spectral import (
    chroma_filterbank,
    log_chroma_spectrogram,
    log_mel_spectrogram,
    mel_filterbank,
)

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


def chroma_features(
    audio: np.ndarray, sample_rate: int, hop: int, channels: int, n_fft: int
) -> np.ndarray:
    """Power per pitch class in dB (frames, 12), frame-aligned like ``log_mel_features``:
    harmony and loudness without timbre. ``channels`` must be 12."""
    if audio.size == 0:
        return np.zeros((0, channels), dtype=np.float32)
    padded = centred_frames(audio, hop, n_fft)
    features = log_chroma_spectrogram(padded, sample_rate, n_fft, hop)
    return features[: frame_count(audio.size, hop)].astype(np.float32)


FeatureFn = Callable[[np.ndarray, int, int, int, int], np.ndarray]
FEATURES: dict[str, FeatureFn] = {"log_mel": log_mel_features, "chroma": chroma_features}
FIXED_CHANNELS = {"chroma": 12}  # features whose channel count is not a setting
MAX_N_FFT = 65536  # the largest analysis window suggested


def empty_channels(kind: str, sample_rate: int, channels: int, n_fft: int) -> int:
    """Channels of ``kind`` features that no FFT bin of an ``n_fft`` window reaches: they
    read silence whatever plays (80 mel bands from 9 bins leave 66 so)."""
    if kind == "log_mel":
        weights = mel_filterbank(sample_rate, n_fft, channels)  # (M, K)
    elif kind == "chroma":
        weights = chroma_filterbank(sample_rate, n_fft)  # (12, K)
    else:
        return 0
    return int(np.count_nonzero(~weights.any(axis=1)))


def check_resolution(kind: str, sample_rate: int, channels: int, n_fft: int) -> None:
    """A one-line ``UserError`` naming ``data.n_fft`` when ``empty_channels`` leaves any
    channel unreached, with the smallest power of two that reaches them all."""
    empty = empty_channels(kind, sample_rate, channels, n_fft)
    if not empty:
        return
    size = 1 << max(n_fft - 1, 1).bit_length()
    while size < MAX_N_FFT and empty_channels(kind, sample_rate, channels, size):
        size *= 2
    fewer = "" if kind in FIXED_CHANNELS else ", or fewer --local-channels"
    raise UserError(
        f"data.n_fft: a window of {n_fft} samples has {n_fft // 2 + 1} frequency bins, too "
        f"few for {channels} {kind} channels ({empty} would always read silence); train "
        f"with --n-fft {size} or more{fewer}"
    )


def read_frames(features: np.ndarray, start: int, count: int) -> np.ndarray:
    """``features[start : start + count]`` (count, C) with silence outside the audio."""
    return padded_slice(features, start, count, SILENCE_DB, np.float32)


def normalisation(features: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation (C,) over all frames of a training set."""
    stacked = np.concatenate([f.astype(np.float64) for f in features], axis=0)  # (N, C)
    return stacked.mean(axis=0).astype(np.float32), np.maximum(stacked.std(axis=0), 1e-3).astype(
        np.float32
    )


class FeatureStore:
    """Local-conditioning features of cached files: computed once from the cached mu-law
    classes (so training and generation see the same quantised audio), stored next to them
    as float16 ``.npy`` and memory-mapped. (Notes: ``notes.features.NoteStore``.)"""

    silence = SILENCE_DB  # the features of silence, outside the audio
    normalised = True  # by the training set's mean and deviation (``normalisation``)

    def __init__(
        self, kind: str, sample_rate: int, hop: int, channels: int, n_fft: int, classes: int
    ) -> None:
        if kind not in FEATURES:
            raise UserError(f"data.features: expected one of {sorted(FEATURES)}, got {kind!r}")
        if FIXED_CHANNELS.get(kind, channels) != channels:
            raise UserError(
                f"model.local_channels: {kind} features have {FIXED_CHANNELS[kind]} channels, "
                f"got {channels}; train with --local-channels {FIXED_CHANNELS[kind]}"
            )
        check_resolution(kind, sample_rate, channels, n_fft)
        self.function = FEATURES[kind]
        self.settings = (kind, sample_rate, hop, channels, n_fft, classes)
        self.hop, self.channels = hop, channels
        self._key = hashlib.sha1(json.dumps(self.settings).encode()).hexdigest()[:12]
        self._arrays = OpenArrays(self._opened)

    def of_classes(self, classes: np.ndarray) -> np.ndarray:
        """Features (K, channels) of mu-law classes (T,)."""
        _, rate, hop, channels, n_fft, q = self.settings
        return self.function(mu_law_decode(np.asarray(classes), q), rate, hop, channels, n_fft)

    def features(self, cache: Path) -> np.ndarray:
        """The features of the cached classes ``cache`` (a ``.npy`` of classes), computed
        once into a cache file beside it (a damaged one is computed again)."""
        return self._arrays[cache]

    def _opened(self, cache: Path) -> np.ndarray:
        path = cache.with_name(f"{cache.stem}.features-{self._key}.npy")

        def compute() -> bytes:
            classes = np.load(cache, mmap_mode="r")
            return npy_bytes(self.of_classes(classes).astype(np.float16))

        return cached(path, self._check, compute)

    def _check(self, path: Path) -> np.ndarray:
        values = np.load(path, mmap_mode="r")
        if values.ndim != 2 or values.shape[1] != self.channels or values.dtype != np.float16:
            raise ValueError(f"expected (frames, {self.channels}) float16, got {values.shape}")
        return values

    def frames(self, cache: Path, first_sample: int, samples: int) -> np.ndarray:
        """Frames (channels, K + 2) for ``WaveNet.forward`` over the ``samples`` samples
        from ``first_sample`` (a frame boundary): one context frame on each side."""
        assert first_sample % self.hop == 0, "windows with local conditioning start a frame"
        count = frame_count(samples, self.hop) + 2
        return read_frames(self.features(cache), first_sample // self.hop - 1, count).T


def feature_store(config: Config) -> FeatureStore | None:
    """The run's feature store, or None without local conditioning."""
    m, d = config.model, config.data
    if m.local_channels is None:
        return None
    return FeatureStore(
        d.features, d.sample_rate, m.hop_length, m.local_channels, d.n_fft, m.quantization_channels
    )
