"""How much of a gain's effect on the held-out renders is the render's own draw: evaluate's
follow renders (10 s of each held-out file's notes) drawn with render seeds 1-4, at gains
1 and 3, for each run (seed 0 is run.sh's evaluate).

    python render_seeds.py HELD RUN [RUN ...]
"""
import sys
from pathlib import Path

import numpy as np

from wavenet_music.wavenet.checkpoint import load_model
from wavenet_music.wavenet.follow import follow_notes

held = Path(sys.argv[1])
for run in sys.argv[2:]:
    model, config = load_model(Path(run))
    for gain in (1.0, 3.0):
        scores: dict[str, list[float]] = {}
        for seed in (1, 2, 3, 4):
            for f in follow_notes(model, config, held, 10.0, seed, excitation_gain=gain):
                scores.setdefault(f.piece, []).append(f.steered.note_f1)
        for piece, f1 in sorted(scores.items()):
            each = " ".join(f"{v:.2f}" for v in f1)
            print(f"{Path(run).name:22s} gain {gain:.0f} {piece:32s} note F1 mean {np.mean(f1):.2f} "
                  f"({each})", flush=True)
