"""Means per genre and variant of ``pieces.py``'s JSON lines.

python summary.py pieces.jsonl
"""

import collections
import json
import sys
from pathlib import Path

import numpy as np

FIGURES = (
    "flatness",
    "rms_db",
    "note_f1",
    "frame_pitch_class_f1",
    "notes_per_s",
    "heard_per_s",
    "at_once",
    "median_length",
    "falls",
    "left_as_noise",
)

rows = [json.loads(line) for path in sys.argv[1:] for line in Path(path).read_text().splitlines()]
by = collections.defaultdict(list)
for row in rows:
    by[(row["shortest"], row["label"])].append(row)
for label in sorted({row["label"] for row in rows}):
    for variant in sorted({row["shortest"] for row in rows}):
        kept = by[(variant, label)]
        means = " ".join(f"{k}={np.mean([r[k] for r in kept]):.3f}" for k in FIGURES)
        print(f"{label:9s} {variant:30s} n={len(kept)} {means}")
