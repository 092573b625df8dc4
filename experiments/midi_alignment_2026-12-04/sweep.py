"""Which onset comparison tells the right MIDI from a moved one and from another piece's?
Variants of ``notes.alignment`` (its constants or its centring replaced in place), each on
the demo's 14 pairs: the right MIDI, moved by ±0.1..±2 s, another piece's; and three
random pieces rendered as decaying sines (as in tests/notes/test_alignment.py) with their
own notes, whose lag should be 0 (a long window on a log scale hears a sharp attack early).
One table row each.

    python sweep.py DEMO_DATA
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from measure import RATE, SHIFTS, moved, pairs

from wavenet_music.notes import alignment
from wavenet_music.notes.midi import Note

BROADBAND = {"_centred": lambda rows: rows.sum(axis=1, keepdims=True)}  # all keys as one band
VARIANTS: dict[str, dict[str, object]] = {
    "chosen": {},
    "all keys as one band (broadband flux)": BROADBAND,
    "keys, not centred across bands": {"_centred": lambda rows: rows},
    "no harmonics": {"HARMONICS": ((0, 1.0),)},
    "LOG_GAIN 0.3": {"LOG_GAIN": 0.3},
    "LOG_GAIN 3": {"LOG_GAIN": 3.0},
    "LOG_GAIN 10": {"LOG_GAIN": 10.0},
    "LOG_GAIN 100": {"LOG_GAIN": 100.0},
    "ONSET_SPREAD_S 0.01": {"ONSET_SPREAD_S": 0.01},
    "ONSET_SPREAD_S 0.04": {"ONSET_SPREAD_S": 0.04},
    "N_FFT 1024": {"N_FFT": 1024},
    "N_FFT 4096": {"N_FFT": 4096},
}


def rendered(notes: list[Note], seconds: float = 20.0) -> np.ndarray:
    """Each note a sine at its key, decaying from its onset, cut 50 ms after its offset."""
    audio = np.zeros(int(seconds * RATE))
    for n in notes:
        start, stop = int(n.onset * RATE), min(int((n.offset + 0.05) * RATE), audio.size)
        t = np.arange(stop - start) / RATE
        hz = 440.0 * 2.0 ** ((n.pitch - 69) / 12.0)
        audio[start:stop] += n.velocity / 127 * np.sin(2 * np.pi * hz * t) * np.exp(-3 * t)
    return (0.3 * audio / np.abs(audio).max()).astype(np.float32)


def random_notes(seed: int, seconds: float = 20.0) -> list[Note]:
    rng = np.random.default_rng(seed)
    onsets = np.sort(rng.uniform(0.0, seconds - 1.0, int(3 * seconds)))
    return [
        Note(t, t + rng.uniform(0.2, 0.8), int(rng.integers(48, 85)), int(rng.integers(50, 128)))
        for t in onsets
    ]


def rendered_lags() -> str:
    found = []
    for seed in range(3):
        notes = random_notes(seed)
        found.append(alignment.align(rendered(notes), RATE, notes))
    return (
        f"lag {max(abs(a.lag) for a in found):.2f} s, "
        f"lag 0 / best {min(a.match_at_zero / a.match for a in found):.2f}"
    )


def evaluate(items) -> str:
    right, wrong, share, error = [], [], [], []
    for i, (_, audio, notes) in enumerate(items):
        onsets = alignment.audio_onsets(audio, RATE)
        right.append(alignment.align_onsets(onsets, notes).match)
        for s in SHIFTS:
            a = alignment.align_onsets(onsets, moved(notes, s, len(audio) / RATE))
            share.append(a.match_at_zero / a.match)
            error.append(abs(a.lag - s))
        wrong += [
            alignment.align_onsets(onsets, w).match for j, (_, _, w) in enumerate(items) if j != i
        ]
    return (
        f"{min(right):.3f} / {np.median(right):.3f} | {max(wrong):.3f} | "
        f"{min(right) / max(wrong):.2f} | {max(share):.2f} | {max(error):.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="the demo corpus (piano/, guitar/, ...)")
    args = parser.parse_args()
    items = pairs(args.data)
    for name, patch in VARIANTS.items():
        saved = {key: getattr(alignment, key) for key in patch}
        for key, value in patch.items():
            setattr(alignment, key, value)
        start = time.perf_counter()
        line = f"{evaluate(items)} | {rendered_lags()}"
        print(f"| {name} | {line} | {time.perf_counter() - start:.0f} s |", flush=True)
        for key, value in saved.items():
            setattr(alignment, key, value)


if __name__ == "__main__":
    main()
