"""Is the 2-5 kHz the brighter excitation brings partials or hiss? The flatness (Wiener
entropy) of each 1024-sample frame within a band, over the frames whose band is not
silent, for each render folder and the genre's real excerpts of the report.

    python band_flatness.py REPORT FOLDER [FOLDER ...]
"""

from __future__ import annotations

import glob
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from wavenet_music.audio.spectral import power_spectrogram

BANDS = ((100, 2000), (2000, 5000))  # Hz
RATE, N_FFT, HOP = 16000, 1024, 256


def band_flatness(audio: np.ndarray, low: float, high: float) -> float:
    power = power_spectrogram(audio, N_FFT, HOP)  # (frames, K)
    freqs = np.fft.rfftfreq(N_FFT, 1 / RATE)
    band = power[:, (freqs >= low) & (freqs < high)] + 1e-20
    loud = band.mean(axis=1) > 1e-10
    ratio = np.exp(np.log(band[loud]).mean(axis=1)) / band[loud].mean(axis=1)
    return float(ratio.mean()) if loud.any() else float("nan")


def row(name: str, paths: list[str], genre: str) -> str:
    clips = [sf.read(p, dtype="float32")[0][: 20 * RATE] for p in paths]
    cells = [np.mean([band_flatness(c, lo, hi) for c in clips]) for lo, hi in BANDS]
    return f"{name:28s} {genre:9s} " + " ".join(f"{c:.3f}" for c in cells)


def main() -> None:
    report, folders = Path(sys.argv[1]), sys.argv[2:]
    print(f"{'':28s} {'genre':9s} " + " ".join(f"{lo}-{hi} Hz" for lo, hi in BANDS))
    for genre in ("ambient", "classical", "guitar", "piano"):
        print(row("real excerpts", sorted(glob.glob(f"{report}/{genre}-real-*.wav")), genre))
        for folder in folders:
            paths = sorted(glob.glob(f"{folder}/{genre}-composed-*.wav"))
            print(row(Path(folder).name, paths, genre))


if __name__ == "__main__":
    main()
