"""Mean figures per (temperature, floor), kind and genre of ``sampling.py``'s JSON lines,
each beside the same seeds at temperature 1 without a floor (in brackets).

    python paired.py a.jsonl b.jsonl f1.jsonl f2.jsonl
"""

from __future__ import annotations

import collections
import json
import sys
from pathlib import Path

rows = [json.loads(line) for path in sys.argv[1:] for line in Path(path).read_text().splitlines()]
by = collections.defaultdict(dict)
for r in rows:
    if r["kind"] != "noise":
        by[(r["temperature"], r.get("floor", 0.0))][(r["seed"], r["kind"], r["label"])] = r
base = by[(1.0, 0.0)]


def mean(d: dict, keys: list, name: str) -> float:
    return sum(d[k][name] for k in keys) / len(keys)


for (temperature, floor), d in sorted(by.items()):
    print(f"T {temperature} floor {floor} ({len(d)} clips)")
    for kind in ("composed", "plain"):
        cells = []
        for label in ("ambient", "classical", "guitar", "piano"):
            keys = [k for k in d if k[1] == kind and k[2] == label and k in base]
            if keys:
                figures = [
                    f"{mean(d, keys, n):.3f}({mean(base, keys, n):.3f})"
                    if n == "flatness"
                    else f"{mean(d, keys, n):.1f}({mean(base, keys, n):.1f})"
                    for n in ("flatness", "distance_db", "rms_db")
                ]
                cells.append(f"{label[:4]} fl {figures[0]} d {figures[1]} rms {figures[2]}")
        print("  ", kind, " | ".join(cells))
