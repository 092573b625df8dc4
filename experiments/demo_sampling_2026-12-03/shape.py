"""A report folder's kinds of clips against its real excerpts, label by label: the plain
log-mel distance and its shape (levels matched), each as a share of white noise's, and
the level difference in dB (``audio.spectral.shape_and_level``).

    python shape.py REPORT_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from wavenet_music.audio.spectral import average_log_mel

RATE = 16000


def spectrum(paths: list[Path]) -> np.ndarray:
    return average_log_mel([sf.read(p, dtype="float32")[0] for p in paths], RATE)


def main() -> None:
    folder = Path(sys.argv[1])
    for label in ("ambient", "classical", "guitar", "piano"):
        real = sorted(folder.glob(f"{label}-real-*.wav"))
        if not real:
            continue
        reference = spectrum(real)
        noise = spectrum([folder / f"{label}-white-noise.wav"]) - reference
        cells = []
        for kind in ("composed", "plain", "generated"):
            clips = sorted(folder.glob(f"{label}-{kind}-*.wav"))
            if clips:
                d = spectrum(clips) - reference
                rms = np.sqrt(np.mean(d**2)) / np.sqrt(np.mean(noise**2))
                cells.append(
                    f"{kind} rms {rms:.2f} shape {np.std(d) / np.std(noise):.2f} "
                    f"level {np.mean(d):+5.1f}"
                )
        print(f"{label:9s}", " | ".join(cells))


if __name__ == "__main__":
    main()
