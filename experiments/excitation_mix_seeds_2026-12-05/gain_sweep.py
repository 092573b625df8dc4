"""Held-out renders' note F1 at gains 1, 1.5, 2, 3 and 4, render seeds 0-2, for each run:
is there one gain that serves every model?

    python gain_sweep.py HELD RUN [RUN ...]
"""
import sys
from pathlib import Path

import numpy as np

from wavenet_music.wavenet.checkpoint import load_model
from wavenet_music.wavenet.follow import follow_notes

held = Path(sys.argv[1])
for run in sys.argv[2:]:
    model, config = load_model(Path(run))
    for gain in (1.0, 1.5, 2.0, 3.0, 4.0):
        scores: dict[str, list[float]] = {}
        for seed in (0, 1, 2):
            for f in follow_notes(model, config, held, 10.0, seed, excitation_gain=gain):
                scores.setdefault(f.piece.split("_")[0], []).append(f.steered.note_f1)
        row = ", ".join(f"{piece} {np.mean(f1):.2f}" for piece, f1 in sorted(scores.items()))
        print(f"{Path(run).name:22s} gain {gain:3.1f}: note F1 {row}", flush=True)
