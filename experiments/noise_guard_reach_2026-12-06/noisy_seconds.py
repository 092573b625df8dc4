"""Seconds of noise in finished WAVs, as a listener meets them: the union of every 0.5-s
window (0.125 s apart) louder than -40 dBFS and spectrally flatter than 0.4 (the guard's
own judge, ``noise_like``), per file, with where.

    python noisy_seconds.py WAV...
"""

import sys

import numpy as np
import soundfile as sf

from wavenet_music.wavenet.noise_guard import NOISE_FLATNESS, NOISE_LEVEL_DB, noise_like


def noisy_mask(audio: np.ndarray, rate: int) -> np.ndarray:
    """(T,) bool: the samples inside a window that reads as noise."""
    width, hop = rate // 2, rate // 8
    starts = list(range(0, len(audio) - width + 1, hop))
    rows = np.stack([audio[start : start + width] for start in starts])
    mask = np.zeros(len(audio), dtype=bool)
    for start, noisy in zip(
        starts, noise_like(rows, rate, NOISE_FLATNESS, NOISE_LEVEL_DB), strict=True
    ):
        mask[start : start + width] |= noisy
    return mask


def main() -> None:
    noisy_total = seconds_total = 0.0
    for path in sys.argv[1:]:
        audio, rate = sf.read(path, dtype="float32")
        mask = noisy_mask(audio, rate)
        edges = np.diff(np.r_[0, mask.astype(int), 0])
        where = zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True)
        noisy_total += mask.sum() / rate
        seconds_total += len(audio) / rate
        print(
            f"{path}: {mask.sum() / rate:.2f} s noisy",
            [f"{a / rate:.1f}-{b / rate:.1f}" for a, b in where],
        )
    print(f"total {noisy_total:.2f} s noisy of {seconds_total:.0f} s")


if __name__ == "__main__":
    main()
