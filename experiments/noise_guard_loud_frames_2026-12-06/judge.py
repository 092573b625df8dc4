"""Every half second (a quarter second apart, freed of infrasound) of the files each glob
names, judged as the noise guard judges it (window RMS over -40 dBFS, spectral flatness of
all its frames over 0.3) and as it would judge only its loud frames (the flatness of the
1024-sample frames whose own RMS is over -40 dBFS). Prints, per glob, how many windows
each rule calls noise, the windows the rules disagree on, and quantiles of each statistic.
Usage: python judge.py GLOB [GLOB ...]"""

import glob
import sys

import numpy as np
import soundfile as sf
import soxr

from wavenet_music.audio.finish import subsonic_filtered
from wavenet_music.audio.spectral import POWER_FLOOR, power_spectrogram
from wavenet_music.wavenet.noise_guard import windows

RATE, LEVEL, BOUND, N_FFT, HOP = 16000, -40.0, 0.3, 1024, 256


def frames(seg):
    """(flatness, level dB) of each frame of ``seg``."""
    power = power_spectrogram(seg, N_FFT, HOP)  # (F, K)
    arithmetic = power.mean(axis=1)
    geometric = np.exp(np.log(np.maximum(power, POWER_FLOOR)).mean(axis=1))
    x = np.pad(seg.astype(np.float64), (0, max(0, N_FFT - len(seg))))
    square = np.lib.stride_tricks.sliding_window_view(x, N_FFT)[::HOP] ** 2
    level = 10 * np.log10(np.maximum(square.mean(axis=1), 1e-20))
    return np.where(arithmetic > POWER_FLOOR, geometric / np.maximum(arithmetic, 1e-30), np.nan), level


def judged(path):
    x, sr = sf.read(path, dtype="float32", always_2d=True)
    x = x.mean(1)
    if sr != RATE:
        x = soxr.resample(x, sr, RATE)
    x = subsonic_filtered(x[None], RATE)[0]
    rows = []
    for a, b in windows(len(x), RATE // 2, RATE // 4):
        seg = x[a:b]
        level = 10 * np.log10(np.mean(seg.astype(np.float64) ** 2) + 1e-20)
        flat, frame_level = frames(seg)
        whole = np.nanmean(flat) if np.isfinite(flat).any() else np.nan
        loud = frame_level > LEVEL
        loud_flat = np.nanmean(flat[loud]) if loud.any() else np.nan
        rows.append((path, a / RATE, level, whole, loud_flat, loud.mean()))
    return rows


for pattern in sys.argv[1:]:
    rows = [r for f in sorted(glob.glob(pattern)) for r in judged(f)]
    if not rows:
        print(pattern, "none")
        continue
    old = np.array([lv > LEVEL and w > BOUND for _, _, lv, w, _, _ in rows])
    new = np.array([lv > LEVEL and lf > BOUND for _, _, lv, _, lf, _ in rows])
    loud_rows = [r for r in rows if r[2] > LEVEL]
    w = np.array([r[3] for r in loud_rows])
    lf = np.array([r[4] for r in loud_rows])
    q = lambda v: " ".join(f"{x:.3f}" for x in np.nanquantile(v, [0.5, 0.99, 1.0]))
    print(
        f"{pattern}: {len(rows)} windows, {len(loud_rows)} over -40 dBFS; noise: as judged "
        f"{old.sum()}, loud frames {new.sum()}; flatness median/p99/max: as judged {q(w)}, "
        f"loud frames {q(lf)}"
    )
    for (path, t, lv, wf, lff, share), o, n in zip(rows, old, new):
        if o != n:
            print(f"    {'noise → music' if o else 'music → noise'}: {path.split('/')[-1]} {t:.2f} s, "
                  f"{lv:.1f} dBFS, flatness {wf:.3f}, loud frames {lff:.3f} ({share:.0%} loud)")
