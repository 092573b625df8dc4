"""Write pre-emphasised copies of a folder of recordings (float WAV, the MIDI beside each
linked): y[n] = GAIN * (x[n] - COEFFICIENT * x[n - 1]).

    python prep.py SOURCE_DIR OUT_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from wavenet_music.audio.io import load_audio  # noqa: E402

COEFFICIENT = 0.85  # LPCNet's
GAIN = 1.5  # the emphasised audio is about 9 dB quieter; this keeps every peak below 0.9
RATE = 16000


def pre_emphasis(x: np.ndarray, a: float = COEFFICIENT) -> np.ndarray:
    return GAIN * np.concatenate([x[:1], x[1:] - a * x[:-1]])


def main(source: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for path in sorted(source.glob("*.flac")):
        x = load_audio(path, RATE)
        y = pre_emphasis(x)
        sf.write(out / f"{path.stem}.wav", y.astype(np.float32), RATE, subtype="FLOAT")
        midi = path.with_suffix(".mid")
        if midi.exists():
            (out / midi.name).unlink(missing_ok=True)
            (out / midi.name).symlink_to(midi.resolve())
        rms = [20 * np.log10(np.sqrt(np.mean(v**2)) + 1e-12) for v in (x, y)]
        peak = [np.abs(v).max() for v in (x, y)]
        print(
            f"{path.stem}: rms {rms[0]:.1f} -> {rms[1]:.1f} dB, peak {peak[0]:.2f} -> {peak[1]:.2f}"
        )


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
