"""Means per label and sampling of ``pieces.py``'s rows: python summary.py OUT.jsonl"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

FIELDS = ("polyphony", "flatness", "rms_db", "note_f1", "frame_pitch_class_f1")


def main() -> None:
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for line in Path(sys.argv[1]).read_text().splitlines():
        row = json.loads(line)
        groups[row["label"], f"{row['sampling']} {row.get('floor', 0.002):g}"].append(row)
    print(f"{'label':10s} {'sampling':14s} pieces " + " ".join(f"{f:>20s}" for f in FIELDS))
    for (label, sampling), rows in sorted(groups.items()):
        means = (f"{np.mean([r[f] for r in rows]):20.3f}" for f in FIELDS)
        print(f"{label:10s} {sampling:14s} {len(rows):6d} " + " ".join(means))
    chance = np.mean([r["chance_frame_pitch_class_f1"] for rs in groups.values() for r in rs])
    print(f"chance frame pitch-class F1 (notes transposed), all pieces: {chance:.3f}")


if __name__ == "__main__":
    main()
