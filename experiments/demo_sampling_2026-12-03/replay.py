"""Composed notes against the recordings' own: held-out excerpts of a genre re-rendered
from their transcriptions (as training heard them), their notes' statistics and the
render's flatness, to set beside ``classical.py``'s composed pieces.

    python experiments/demo_sampling_2026-12-03/replay.py RUN DATA OUT.jsonl --label classical
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from classical import note_statistics

from wavenet_music.audio.spectral import spectral_flatness
from wavenet_music.notes.score import transcribe_audio
from wavenet_music.report.clips import power, real_excerpts
from wavenet_music.wavenet.checkpoint import load_model
from wavenet_music.wavenet.resynthesis import resynthesize


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run", type=Path)
    parser.add_argument("data", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--label", default="classical")
    parser.add_argument("--clips", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, config = load_model(args.run)
    rate = config.data.sample_rate
    length = round(args.seconds * rate)
    rows = real_excerpts(
        args.run, args.data, args.label, args.clips, length, config, 0, "validation"
    )
    rows = rows or real_excerpts(args.run, args.data, args.label, args.clips, length, config, 0)
    excerpts = [r.audio for r in rows]
    renders = resynthesize(model, config, excerpts, [args.label] * len(excerpts), seed=0)
    with args.out.open("a") as out:
        for i, (real, render) in enumerate(zip(excerpts, renders, strict=True)):
            notes = transcribe_audio(np.asarray(real), rate)
            for kind, clip in (("real", real), ("replayed", render)):
                row = {
                    "clip": i,
                    "label": args.label,
                    "kind": kind,
                    "flatness": spectral_flatness(clip),
                    "rms_db": float(10 * np.log10(power(clip) + 1e-12)),
                    **note_statistics(notes, args.seconds),
                }
                out.write(json.dumps(row) + "\n")
                print(row, flush=True)


if __name__ == "__main__":
    main()
