"""How loud `render` plays a line, two lines and three, at three velocities.

    python render_levels.py RUN   (RUN: a demo run; writes MIDI and WAVs here)

A C-major scale twice, 0.5-s notes every 0.6 s from 0.5 s; 2 voices add the octave below,
3 a third above. Prints the RMS over every note's 0.05-0.45 s and over the 0.4 s of rest
before the first note (the model's hiss), per label."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from wavenet_music.notes.midi import Note, write_midi

SCALE = [60, 62, 64, 65, 67, 69, 71, 72] * 2


def notes(voices: int, velocity: int) -> list[Note]:
    out = []
    for i, pitch in enumerate(SCALE):
        t = 0.5 + 0.6 * i
        for extra in [0, -12, 4][:voices]:
            out.append(Note(t, t + 0.5, pitch + extra, velocity))
    return out


def dbfs(x: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(x**2)) + 1e-12))


def main(run: str) -> None:
    for label in ["piano", "guitar"]:
        for voices in (1, 2, 3):
            for velocity in (50, 90, 120):
                midi = Path(f"m{voices}_{velocity}.mid")
                write_midi(midi, notes(voices, velocity))
                out = Path(f"r_{label}_{voices}_{velocity}.wav")
                command = [sys.executable, "-m", "wavenet_music.cli", "render", run, str(midi)]
                command += ["--out", str(out)]
                command += ["--label", label, "--seed", "3", "--quiet"]
                subprocess.run(command, check=True, capture_output=True)
                audio, rate = sf.read(out.with_name(f"{out.stem}-{label}.wav"))
                spans = [(0.55 + 0.6 * i, 0.95 + 0.6 * i) for i in range(len(SCALE))]
                played = np.concatenate([audio[int(rate * a) : int(rate * b)] for a, b in spans])
                rest = audio[: int(rate * 0.4)]
                print(
                    f"{label:7s} voices {voices} velocity {velocity:3d}: notes "
                    f"{dbfs(played):6.1f} dBFS, rest before {dbfs(rest):6.1f} dBFS",
                    flush=True,
                )


if __name__ == "__main__":
    main(sys.argv[1])
