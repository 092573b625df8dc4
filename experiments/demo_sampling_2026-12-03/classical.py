"""Which composed classical pieces play as hiss: per seed, the composed notes' statistics
(count, mean pitch, mean velocity, sounding keys) beside the render's flatness and level.

    python experiments/demo_sampling_2026-12-03/classical.py RUN OUT.jsonl --seeds 0 2 4
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from wavenet_music.audio.spectral import spectral_flatness
from wavenet_music.composer.compose import compose
from wavenet_music.composer.config import PieceConfig
from wavenet_music.report.clips import power


def note_statistics(notes, seconds: float) -> dict:
    pitch = np.array([n.pitch for n in notes], dtype=float)
    velocity = np.array([n.velocity for n in notes], dtype=float)
    sounding = sum(n.offset - n.onset for n in notes) / seconds
    return {
        "notes": len(notes),
        "pitch": pitch.mean(),
        "velocity": velocity.mean(),
        "high_share": float((pitch >= 72).mean()),
        "sounding": sounding,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--label", default="classical")
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with args.out.open("a") as out:
        for seed in args.seeds:
            piece = compose(
                args.run, PieceConfig(seconds=args.seconds, label=args.label, seed=seed)
            )
            clip = piece.audio[0]
            row = {
                "seed": seed,
                "label": args.label,
                "flatness": spectral_flatness(clip),
                "rms_db": float(10 * np.log10(power(clip) + 1e-12)),
                **note_statistics(piece.notes[0], args.seconds),
            }
            out.write(json.dumps(row) + "\n")
            out.flush()
            print(row, flush=True)


if __name__ == "__main__":
    main()
