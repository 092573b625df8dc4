"""Ambient's rests at basic-pitch's frame threshold 0.3 (the package's), 0.2 and 0.15: how
much of each recording the notes cover, and how tonal its loud rest frames are.

    python thr.py DATA > thr.txt"""

import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from wavenet_music.notes.transcribe import TranscriptionSettings, transcribe_file

FRAME = 0.05
NAMES = ("warzone2100_track17", "warzone2100_track18", "warzone2100_menu_enhanced")


def flatness(x: np.ndarray) -> float:
    power = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2 + 1e-12
    return float(np.exp(np.mean(np.log(power))) / np.mean(power))


for name in NAMES:
    path = Path(sys.argv[1]) / "ambient" / f"{name}.flac"
    audio, rate = sf.read(path, dtype="float32")
    size = int(FRAME * rate)
    frames = audio[: len(audio) // size * size].reshape(-1, size)
    level = 10 * np.log10((frames.astype(np.float64) ** 2).mean(1) + 1e-12)
    flat = np.array([flatness(f) for f in frames])
    loud = level > -40
    for settings in (
        TranscriptionSettings(),
        TranscriptionSettings(frame_threshold=0.2),
        TranscriptionSettings(frame_threshold=0.15, onset_threshold=0.4),
    ):
        start = time.time()
        notes = transcribe_file(path, Path(".cache"), settings)
        sounding = np.zeros(len(frames), dtype=bool)
        for n in notes:
            sounding[int(n.onset / FRAME) : int(np.ceil(n.offset / FRAME))] = True
        rest = ~sounding & loud
        print(
            f"{name[:22]:22} frame {settings.frame_threshold} onset {settings.onset_threshold}: "
            f"{len(notes)} notes, sounding {sounding.mean():.2f}, loud rest frames "
            f"{rest.mean():.2f} (flatness {np.median(flat[rest]) if rest.any() else 0:.3f}), "
            f"under notes flatness {np.median(flat[sounding & loud]):.3f}, median note "
            f"{np.median([n.offset - n.onset for n in notes]):.2f} s"
        )
