"""Means over seeds of pieces.jsonl, per label and way of playing the rests."""

import json
import re
import sys
from collections import defaultdict

import numpy as np

rows = [json.loads(line) for line in open(sys.argv[1])]
groups = defaultdict(list)
for r in rows:
    groups[(r["label"], r["rests"])].append(r)
print("label      rests     n  RMS dB  vs genre (shape) dB  notes dB  rests dB  rest frame dB  sounding  flatness  note F1  frame pc F1  heard/s  falls")
for (label, rests), rs in sorted(groups.items()):
    parsed = [re.findall(r"(-?[\d.]+|nan)", r["levels"]) for r in rs]
    sounding, notes, rest, _, median = (np.nanmean([float(p[i]) for p in parsed]) for i in range(5))
    mean = {k: np.mean([r[k] for r in rs]) for k in ("rms_db", "level_db", "shape_db", "flatness", "note_f1", "frame_pitch_class_f1", "heard_per_s", "falls")}
    print(
        f"{label:10} {rests:8} {len(rs):2}  {mean['rms_db']:6.1f}  {mean['level_db']:+6.1f} ({mean['shape_db']:4.1f})         {notes:8.1f}  {rest:8.1f}  {median:13.1f}  {sounding:8.2f}"
        f"  {mean['flatness']:8.3f}  {mean['note_f1']:7.2f}  {mean['frame_pitch_class_f1']:11.2f}  {mean['heard_per_s']:7.1f}  {mean['falls']:5.2f}"
    )
