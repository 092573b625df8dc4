"""Statistics that say how music-like a clip sounds: pure numpy, no torch.

Conventions: audio is float in [-1, 1], shape (T,); spectra are one-sided power spectra of
Hann-windowed frames (``n_fft`` samples, ``hop`` apart, no padding beyond a clip shorter
than one frame), scaled so that a full-scale sine reads 0 dB in its peak bin:
``P_k = |2 X_k / Σ w|²``. The mel scale is Slaney's (Auditory Toolbox, librosa's default):
linear below 1 kHz, logarithmic above, 1 kHz = 15 mel and 6.4 kHz = 42 mel.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

POWER_FLOOR = 1e-10  # -100 dB: silence reads as this, never as -inf
CLICK_JUMP = 0.5  # of full scale between adjacent samples: a click (click_rate)

_MEL_LINEAR_HZ = 200.0 / 3.0  # Hz per mel below 1 kHz
_MEL_BREAK_HZ = 1000.0
_MEL_BREAK = _MEL_BREAK_HZ / _MEL_LINEAR_HZ  # 15 mel
_MEL_LOG_STEP = np.log(6.4) / 27.0  # log-Hz per mel above 1 kHz


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """Slaney mel: ``f / (200/3)`` below 1 kHz, ``15 + ln(f / 1000) / (ln 6.4 / 27)`` above."""
    f = np.asarray(hz, dtype=np.float64)
    log_part = _MEL_BREAK + np.log(np.maximum(f, _MEL_BREAK_HZ) / _MEL_BREAK_HZ) / _MEL_LOG_STEP
    return np.where(f < _MEL_BREAK_HZ, f / _MEL_LINEAR_HZ, log_part)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    """The inverse of ``hz_to_mel``."""
    m = np.asarray(mel, dtype=np.float64)
    log_part = _MEL_BREAK_HZ * np.exp(_MEL_LOG_STEP * (np.maximum(m, _MEL_BREAK) - _MEL_BREAK))
    return np.where(m < _MEL_BREAK, m * _MEL_LINEAR_HZ, log_part)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    """Triangular filters (n_mels, n_fft // 2 + 1) over the FFT bins.

    Filter ``m`` rises linearly in Hz from centre ``m - 1`` to centre ``m`` and falls to
    centre ``m + 1`` (edges: 0 Hz and Nyquist). Each row sums to 1, so a band reads the
    mean power of its bins: white noise gives a flat log-mel spectrum.
    """
    edges = mel_to_hz(np.linspace(0.0, hz_to_mel(sample_rate / 2), n_mels + 2))  # (M + 2,)
    bins = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)  # (K,)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]  # (M, 1)
    rising = (bins - lower) / (centre - lower)  # (M, K)
    falling = (upper - bins) / (upper - centre)  # (M, K)
    weights = np.maximum(0.0, np.minimum(rising, falling))  # (M, K)
    return weights / np.maximum(weights.sum(axis=1, keepdims=True), 1e-12)


def frames_of(audio: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """The frames (F, n_fft) of ``audio`` as float64, ``hop`` apart, a clip shorter than
    one frame padded with zeros to one: the frames every per-frame figure here reads."""
    x = np.asarray(audio, dtype=np.float64)
    if x.size < n_fft:
        x = np.pad(x, (0, n_fft - x.size))
    return np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop]  # (F, n_fft)


def power_spectrogram(audio: np.ndarray, n_fft: int = 1024, hop: int = 256) -> np.ndarray:
    """Frames (F, n_fft // 2 + 1) of ``|2 X_k / Σ w|²`` (a full-scale sine peaks at 1)."""
    window = np.hanning(n_fft + 1)[:-1]  # periodic Hann
    spectrum = np.fft.rfft(frames_of(audio, n_fft, hop) * window, axis=1)  # (F, K)
    return np.abs(2.0 * spectrum / window.sum()) ** 2


def frame_level_db(audio: np.ndarray, n_fft: int = 1024, hop: int = 256) -> np.ndarray:
    """(F,) each frame's mean square in dB re full scale (``10 log10 mean(x²)``: a
    full-scale square wave reads 0, a full-scale sine -3), floored at -200 dB; the frames
    of ``power_spectrogram``."""
    square = np.square(frames_of(audio, n_fft, hop)).mean(axis=1)  # (F,)
    return 10.0 * np.log10(np.maximum(square, 1e-20))


def power_to_db(power: np.ndarray) -> np.ndarray:
    """``10 log10(max(P, 1e-10))``: decibels, floored at -100 dB."""
    return 10.0 * np.log10(np.maximum(power, POWER_FLOOR))


def mel_power(
    audio: np.ndarray, sample_rate: int, n_fft: int = 1024, hop: int = 256, n_mels: int = 80
) -> np.ndarray:
    """Mel-band power (F, n_mels): the mean power of each band's FFT bins per frame."""
    filters = mel_filterbank(sample_rate, n_fft, n_mels)  # (M, K)
    return power_spectrogram(audio, n_fft, hop) @ filters.T  # (F, M)


def log_mel_spectrogram(
    audio: np.ndarray, sample_rate: int, n_fft: int = 1024, hop: int = 256, n_mels: int = 80
) -> np.ndarray:
    """Log-mel spectrogram (frames, n_mels) in dB re a full-scale sine, floored at -100 dB."""
    return power_to_db(mel_power(audio, sample_rate, n_fft, hop, n_mels))


PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
CHROMA_RANGE_HZ = (55.0, 5000.0)  # A1 to past C8's neighbourhood; lower bins blur pitches


def pitch_class(hz: np.ndarray | float) -> np.ndarray:
    """Nearest equal-tempered pitch class (0 = C, 9 = A) of frequencies, A4 = 440 Hz."""
    semitones_from_a4 = np.rint(12.0 * np.log2(np.asarray(hz, dtype=np.float64) / 440.0))
    return ((semitones_from_a4 + 9) % 12).astype(np.int64)


def chroma_filterbank(sample_rate: int, n_fft: int) -> np.ndarray:
    """0/1 weights (12, n_fft // 2 + 1): each FFT bin inside ``CHROMA_RANGE_HZ`` counts
    for the pitch class nearest its centre frequency."""
    bins = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)  # (K,)
    low, high = CHROMA_RANGE_HZ
    inside = (bins >= low) & (bins <= min(high, sample_rate / 2))  # (K,)
    classes = pitch_class(np.where(inside, bins, 440.0))  # (K,)
    return (np.arange(12)[:, None] == classes[None, :]) & inside[None, :]  # (12, K)


def chroma_power(
    audio: np.ndarray, sample_rate: int, n_fft: int = 1024, hop: int = 256
) -> np.ndarray:
    """Power per pitch class (frames, 12): the summed power of each class's FFT bins."""
    filters = chroma_filterbank(sample_rate, n_fft).astype(np.float64)  # (12, K)
    return power_spectrogram(audio, n_fft, hop) @ filters.T  # (F, 12)


def log_chroma_spectrogram(
    audio: np.ndarray, sample_rate: int, n_fft: int = 1024, hop: int = 256
) -> np.ndarray:
    """Power per pitch class (frames, 12) in dB, floored at -100 dB: a full-scale A4 sine
    reads about 0 dB (plus its window leakage) in class 9 (A)."""
    return power_to_db(chroma_power(audio, sample_rate, n_fft, hop))


def frame_flatness(audio: np.ndarray, n_fft: int = 1024, hop: int = 256) -> np.ndarray:
    """(F,) Wiener entropy of each frame: geometric mean / arithmetic mean of its power
    spectrum, in [0, 1]; NaN for a silent frame (mean power at most -100 dB)."""
    power = power_spectrogram(audio, n_fft, hop)  # (F, K)
    arithmetic = power.mean(axis=1)  # (F,)
    loud = arithmetic > POWER_FLOOR
    geometric = np.exp(np.log(np.maximum(power, POWER_FLOOR)).mean(axis=1))  # (F,)
    return np.where(loud, geometric / np.where(loud, arithmetic, 1.0), np.nan)


def spectral_flatness(audio: np.ndarray, n_fft: int = 1024, hop: int = 256) -> float:
    """Wiener entropy (``frame_flatness``): the mean over the frames that are not silent
    (mean power > -100 dB). Unitless in [0, 1]: a sine → ~0; white noise → e^-γ ≈ 0.56
    (one frame's periodogram bins are exponentially distributed, and E[ln P] = ln E[P] -
    γ); silence → NaN."""
    flatness = frame_flatness(audio, n_fft, hop)  # (F,)
    sounding = np.isfinite(flatness)
    return float(flatness[sounding].mean()) if sounding.any() else float("nan")


def spectral_centroid(
    audio: np.ndarray, sample_rate: int, n_fft: int = 1024, hop: int = 256
) -> float:
    """Centre of mass of the power spectrum in Hz, ``Σ f_k P_k / Σ P_k`` summed over all
    frames (so loud frames weigh more than quiet ones). A sine → its frequency; NaN for
    silence."""
    power = power_spectrogram(audio, n_fft, hop).sum(axis=0)  # (K,)
    total = power.sum()
    if total <= POWER_FLOOR:
        return float("nan")
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)  # (K,)
    return float((freqs * power).sum() / total)


def rms_envelope(audio: np.ndarray, frame: int) -> np.ndarray:
    """Root mean square of consecutive non-overlapping frames: ``sqrt(mean(x²))`` of
    samples ``i·frame .. (i+1)·frame - 1`` (the last frame may be shorter). Shape
    (ceil(T / frame),), same unit as the audio (full scale = 1)."""
    x = np.asarray(audio, dtype=np.float64)
    if x.size == 0:
        return np.zeros(0)
    starts = np.arange(0, x.size, frame)  # (N,)
    sums = np.add.reduceat(x**2, starts)  # (N,)
    counts = np.diff(np.append(starts, x.size))  # (N,)
    return np.sqrt(sums / counts)


def click_rate(audio: np.ndarray, sample_rate: int, jump: float = CLICK_JUMP) -> float:
    """Clicks per second: pairs of adjacent samples more than ``jump`` of full scale apart.
    Recorded music at 16 kHz practically never moves that far in one sample (the demo's
    corpus: 0-0.4 a second); a WaveNet lost in offsets it never learned flips between
    them and crackles (hundreds a second)."""
    x = np.asarray(audio, dtype=np.float64)
    if x.size == 0:
        return 0.0
    return float(np.count_nonzero(np.abs(np.diff(x)) > jump) * sample_rate / x.size)


def average_log_mel(clips: Sequence[np.ndarray], sample_rate: int, n_mels: int = 80) -> np.ndarray:
    """Long-term average spectrum (n_mels,) in dB: mel power averaged over every frame of
    every clip, then in dB. Power is averaged before the log so that silent frames (-100 dB)
    do not dominate the average."""
    if not clips:
        raise ValueError("expected at least one clip, got none")
    frames = np.concatenate([mel_power(c, sample_rate, n_mels=n_mels) for c in clips])  # (F, M)
    return power_to_db(frames.mean(axis=0))


def mean_log_mel_distance(
    clips_a: Sequence[np.ndarray], clips_b: Sequence[np.ndarray], sample_rate: int
) -> float:
    """RMS difference in dB over the mel bands between the long-term average log-mel
    spectra of two sets of clips (``average_log_mel``): ``sqrt(mean_m (A_m - B_m)²)``.
    0 for identical sets; a gain g on one set gives exactly ``|20 log10 g|``."""
    a = average_log_mel(clips_a, sample_rate)  # (M,)
    b = average_log_mel(clips_b, sample_rate)  # (M,)
    return float(np.sqrt(np.mean((a - b) ** 2)))


def shape_and_level(
    clips_a: Sequence[np.ndarray], clips_b: Sequence[np.ndarray], sample_rate: int
) -> tuple[float, float]:
    """``mean_log_mel_distance`` in two parts, dB: (shape, level). With D = A - B the
    difference of the long-term average log-mel spectra (``average_log_mel``), level is
    ``mean_m D_m`` (positive: ``a`` is louder) and shape ``sqrt(mean_m (D_m - level)²)``,
    the distance once the levels are matched: a gain on one set moves the level alone, a
    tilt the shape. shape² + level² = ``mean_log_mel_distance``²."""
    difference = average_log_mel(clips_a, sample_rate) - average_log_mel(clips_b, sample_rate)
    level = float(np.mean(difference))
    return float(np.sqrt(np.mean((difference - level) ** 2))), level


def aligned_log_mel_distance(a: np.ndarray, b: np.ndarray, sample_rate: int) -> float:
    """RMS difference in dB between two clips' log-mel spectrograms frame by frame (over
    the frames both have): how closely ``a`` follows ``b`` in time, not just on average."""
    spectra_a = log_mel_spectrogram(a, sample_rate)  # (Fa, M)
    spectra_b = log_mel_spectrogram(b, sample_rate)  # (Fb, M)
    frames = min(len(spectra_a), len(spectra_b))
    return float(np.sqrt(np.mean((spectra_a[:frames] - spectra_b[:frames]) ** 2)))


def clip_statistics(audio: np.ndarray, sample_rate: int) -> dict[str, float]:
    """The numbers of one clip for the report.

    Returns ``seconds``; ``rms_db`` and ``peak_db`` (dB re full scale); ``centroid_hz``;
    ``flatness`` (0..1); ``loudness_spread_db``: the standard deviation of the 50 ms RMS
    envelope in dB (steady noise ≈ 0-1 dB, music with phrases and rests: several dB);
    ``clicks_per_s`` (``click_rate``).
    """
    x = np.asarray(audio, dtype=np.float64)
    envelope_db = power_to_db(rms_envelope(x, max(1, sample_rate // 20)) ** 2)
    return {
        "seconds": x.size / sample_rate,
        "rms_db": float(power_to_db(np.mean(x**2)) if x.size else -100.0),
        "peak_db": float(power_to_db(np.max(np.abs(x)) ** 2) if x.size else -100.0),
        "centroid_hz": spectral_centroid(x, sample_rate),
        "flatness": spectral_flatness(x),
        "loudness_spread_db": float(np.std(envelope_db)) if x.size else 0.0,
        "clicks_per_s": click_rate(x, sample_rate),
    }
