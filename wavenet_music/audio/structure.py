"""Long-range structure of music over 10-30 s windows: pure numpy, no torch.

Three statistics per window, each a plain number:

- ``chroma_repetition``: chroma self-similarity at lags beyond 1 s. Chroma vectors (12
  pitch classes, 128 ms frames) are centred on the window's mean and compared by cosine;
  for every lag from ``min_lag`` to half the window, the similarity is averaged over the
  frame pairs; the statistic is the largest of these lag averages. A pattern that repeats
  every P seconds scores near 1 (at lag P); noise, whose centred chroma is random, near 0.
- ``onset_rate_cv``: onsets (peaks of the positive spectral flux) counted per 2-s
  sub-window; the coefficient of variation (std / mean) of those counts. A steady pulse
  reads near 0; bursts and gaps read high; NaN without onsets.
- ``loudness_autocorrelation``: the autocorrelation of the loudness contour (RMS in dB,
  100 ms frames, mean removed) averaged over lags 1-5 s: loudness that persists for
  seconds (phrases, sections) gives positive values, a memoryless level near 0.

One diagnostic beside them, not part of the distance: ``harmonic_repetition``, the chroma
repetition of unit-length chroma frames. The chroma in ``chroma_repetition`` keeps its
loudness, so a decaying held note or a loudness swell reads as repetition too; with the
loudness divided out only a recurring pitch-class mix does.

``structure_distance`` says how far a set of clips is from real music on these: the
difference of the means in units of the real windows' standard deviation, per statistic
and averaged; ``distance_by_label`` says it label by label.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .spectral import chroma_power, power_spectrogram, power_to_db, rms_envelope

STATISTICS = ("chroma_repetition", "onset_rate_cv", "loudness_autocorrelation")
DIAGNOSTICS = ("harmonic_repetition",)  # reported, not part of the distance
CHROMA_FFT, CHROMA_HOP = 4096, 2048  # 256 ms windows, 128 ms frames at 16 kHz
FLUX_FFT, FLUX_HOP = 1024, 256


def chroma(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """(frames, 12) power per pitch class (C = 0), from FFT bins between 55 Hz and 5 kHz,
    each assigned to the nearest equal-tempered pitch (A4 = 440 Hz): ``chroma_power``
    over 256 ms windows, 128 ms apart (at 16 kHz)."""
    return chroma_power(audio, sample_rate, CHROMA_FFT, CHROMA_HOP)  # (T, 12)


def lag_similarity(vectors: np.ndarray, min_lag: int, max_lag: int) -> np.ndarray:
    """Mean cosine similarity of mean-centred vectors (T, D) ``lag`` frames apart, for
    lag = min_lag .. max_lag (fewer if T is short). Returns (lags,)."""
    centred = vectors - vectors.mean(axis=0)
    norms = np.linalg.norm(centred, axis=1, keepdims=True)
    unit = centred / np.maximum(norms, 1e-12)  # (T, D)
    lags = range(min_lag, min(max_lag, len(unit) - 1) + 1)
    return np.array([np.mean(np.sum(unit[lag:] * unit[:-lag], axis=1)) for lag in lags])


def repetition(vectors: np.ndarray, frames_per_second: float, min_lag_s: float = 1.0) -> float:
    """The largest ``lag_similarity`` of frames (T, D) at lags from ``min_lag_s`` to half
    the sequence; NaN for a sequence too short to have such lags."""
    first = int(np.ceil(min_lag_s * frames_per_second))
    profile = lag_similarity(vectors, first, len(vectors) // 2)
    return float(profile.max()) if profile.size else float("nan")


def chroma_repetition(audio: np.ndarray, sample_rate: int, min_lag_s: float = 1.0) -> float:
    """``repetition`` of the clip's compressed chroma (see the module docstring)."""
    frames = np.log1p(chroma(audio, sample_rate) / 1e-6)  # (T, 12), compressive
    return repetition(frames, sample_rate / CHROMA_HOP, min_lag_s)


def harmonic_repetition(audio: np.ndarray, sample_rate: int, min_lag_s: float = 1.0) -> float:
    """``chroma_repetition`` with every chroma frame scaled to unit length first: the
    repetition of the pitch-class mix alone. ``chroma_repetition`` also counts loudness
    (a decaying held note reads as repeated); this one does not. A diagnostic reported
    beside the three statistics, not one of them."""
    frames = np.log1p(chroma(audio, sample_rate) / 1e-6)  # (T, 12)
    unit = frames / np.maximum(np.linalg.norm(frames, axis=1, keepdims=True), 1e-9)
    return repetition(unit, sample_rate / CHROMA_HOP, min_lag_s)


def onset_times(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Onset times in seconds: local maxima of the positive spectral flux (log power)
    above its median plus 1.5 times its mean absolute deviation, at least 50 ms apart."""
    logp = np.log(power_spectrogram(audio, FLUX_FFT, FLUX_HOP) + 1e-10)  # (T, K)
    flux = np.maximum(np.diff(logp, axis=0), 0.0).mean(axis=1)  # (T - 1,)
    if flux.size < 3:
        return np.zeros(0)
    threshold = np.median(flux) + 1.5 * np.mean(np.abs(flux - np.median(flux)))
    peak = (flux[1:-1] > flux[:-2]) & (flux[1:-1] >= flux[2:]) & (flux[1:-1] > threshold)
    frames = np.flatnonzero(peak) + 1
    gap = int(np.ceil(0.05 * sample_rate / FLUX_HOP))
    kept: list[int] = []
    for f in frames:
        if not kept or f - kept[-1] >= gap:
            kept.append(int(f))
    return (np.array(kept) + 1) * FLUX_HOP / sample_rate


def onset_rate_cv(audio: np.ndarray, sample_rate: int, sub_window_s: float = 2.0) -> float:
    """std / mean of the onsets counted in consecutive ``sub_window_s`` sub-windows."""
    return count_cv(onset_times(audio, sample_rate), len(audio) / sample_rate, sub_window_s)


def count_cv(times: np.ndarray, seconds: float, sub_window_s: float = 2.0) -> float:
    """std / mean of the ``times`` (seconds, from 0) counted in the whole ``sub_window_s``
    sub-windows of ``seconds``; NaN with fewer than two sub-windows or no times."""
    windows = int(seconds // sub_window_s)
    if windows < 2:
        return float("nan")
    counts = np.histogram(times, bins=windows, range=(0, windows * sub_window_s))[0]
    return float(counts.std() / counts.mean()) if counts.mean() > 0 else float("nan")


def loudness_autocorrelation(
    audio: np.ndarray, sample_rate: int, lags_s: tuple[float, float] = (1.0, 5.0)
) -> float:
    """Autocorrelation of the loudness contour (100 ms RMS in dB, mean removed) averaged
    over lags ``lags_s``; NaN for a flat contour or a clip shorter than the longest lag."""
    frame = sample_rate // 10
    contour = power_to_db(rms_envelope(audio, frame)[: len(audio) // frame] ** 2)  # (T,)
    centred = contour - contour.mean()
    energy = np.sum(centred**2)
    lo, hi = round(lags_s[0] * 10), round(lags_s[1] * 10)
    if energy <= 1e-9 or len(centred) <= hi:
        return float("nan")
    return float(
        np.mean([np.sum(centred[lag:] * centred[:-lag]) / energy for lag in range(lo, hi + 1)])
    )


def window_statistics(audio: np.ndarray, sample_rate: int) -> dict[str, float]:
    """The three statistics of one window (see the module docstring) and the
    diagnostics."""
    x = np.asarray(audio, dtype=np.float64)
    return {
        "chroma_repetition": chroma_repetition(x, sample_rate),
        "harmonic_repetition": harmonic_repetition(x, sample_rate),
        "onset_rate_cv": onset_rate_cv(x, sample_rate),
        "loudness_autocorrelation": loudness_autocorrelation(x, sample_rate),
    }


def structure_statistics(
    clips: Sequence[np.ndarray],
    sample_rate: int,
    window_s: float = 20.0,
    min_window_s: float = 10.0,
) -> list[dict[str, float]]:
    """Statistics of every ``window_s`` window of every clip (consecutive, no overlap); a
    clip or remainder shorter than ``window_s`` but at least ``min_window_s`` is a window
    of its own."""
    size, least = int(window_s * sample_rate), int(min_window_s * sample_rate)
    rows = []
    for clip in clips:
        for start in range(0, len(clip), size):
            window = clip[start : start + size]
            if len(window) >= least:
                rows.append(window_statistics(window, sample_rate))
    return rows


def summarise(rows: list[dict[str, float]]) -> dict[str, tuple[float, float]]:
    """(mean, std) per statistic and diagnostic over windows, NaNs left out."""
    out = {}
    for name in STATISTICS + DIAGNOSTICS:
        values = np.array([r.get(name, np.nan) for r in rows], dtype=np.float64)
        values = values[np.isfinite(values)]
        out[name] = (float(values.mean()), float(values.std())) if values.size else (np.nan, np.nan)
    return out


def structure_distance(
    rows: list[dict[str, float]], real: list[dict[str, float]]
) -> dict[str, float]:
    """|mean(clips) - mean(real)| / std(real) per statistic, and their ``mean``: how many
    real-music standard deviations the clips sit from real music (0 = indistinguishable
    on average)."""
    ours, theirs = summarise(rows), summarise(real)
    distance = {
        name: abs(ours[name][0] - theirs[name][0]) / max(theirs[name][1], 1e-6)
        for name in STATISTICS
    }
    finite = [v for v in distance.values() if np.isfinite(v)]
    distance["mean"] = float(np.mean(finite)) if finite else float("nan")
    return distance


def distance_by_label(
    clip_windows: dict[str, list[list[dict[str, float]]]], clip_labels: dict[str, list[str]]
) -> dict[str, dict[str, dict[str, float]]]:
    """``structure_distance`` label by label: {label: {kind: distance}} for every kind
    but "real", each label's clips against the real clips of the same label (labels
    without real windows left out). ``clip_windows[kind]`` holds each clip's windows,
    ``clip_labels[kind]`` each clip's label. Pooled over labels, a kind can sit near real
    music while erring both ways in different labels; this shows it."""

    def of(kind: str, label: str) -> list[dict[str, float]]:
        pairs = zip(clip_windows[kind], clip_labels[kind], strict=True)
        return [w for clip, lab in pairs if lab == label for w in clip]

    out: dict[str, dict[str, dict[str, float]]] = {}
    for label in dict.fromkeys(clip_labels.get("real", [])):
        real = of("real", label)
        if real:
            out[label] = {
                kind: structure_distance(of(kind, label), real)
                for kind in clip_windows
                if kind != "real" and of(kind, label)
            }
    return out
