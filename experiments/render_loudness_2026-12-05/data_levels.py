"""How loud the demo corpus's piano and guitar recordings play by how many notes sound
and how hard: 50-ms frames of each recording against its score (the MIDI beside it).

    python data_levels.py DATA   (DATA: a demo corpus, e.g. data/demo)

A frame counts the notes sounding in it (onset to offset) and their loudest velocity;
prints the mean power over the frames of each (count, velocity band)."""

import sys
from pathlib import Path

import numpy as np

from wavenet_music.audio.io import load_audio
from wavenet_music.notes.midi import read_score

RATE, HOP = 16_000, 800  # 50-ms frames
BANDS = ((40, 70), (70, 100), (100, 128))


def main(data: Path) -> None:
    for label in ["piano", "guitar"]:
        powers: dict = {}
        for score in sorted((data / label).glob("*.mid")):
            audio = load_audio(score.with_suffix(".flac"), RATE)
            frames = len(audio) // HOP
            power = np.mean(audio[: frames * HOP].reshape(frames, HOP) ** 2, axis=1)
            count, velocity = np.zeros(frames), np.zeros(frames)
            for note in read_score(score)[0]:
                lo, hi = int(note.onset * RATE / HOP), int(note.offset * RATE / HOP)
                count[lo:hi] += 1
                velocity[lo:hi] = np.maximum(velocity[lo:hi], note.velocity)
            for c in (1, 2, 3, 4):
                for band in BANDS:
                    chosen = (count == c) & (velocity >= band[0]) & (velocity < band[1])
                    powers.setdefault((c, band), []).append(power[chosen])
        for (c, band), parts in sorted(powers.items()):
            p = np.concatenate(parts)
            if p.size > 20:
                print(f"{label:6s} {c} notes, velocity {band}: {10 * np.log10(p.mean()):6.1f} dBFS"
                      f" ({p.size} frames)")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
