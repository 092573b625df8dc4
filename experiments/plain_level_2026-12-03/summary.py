"""Means per (kind, floor, genre) of plain.py's JSON lines; the shape as a share of
white noise's (the demo check's figure).

    python experiments/plain_level_2026-12-03/summary.py base.jsonl base_jump.jsonl
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

FIGURES = (
    ("rms_db", "RMS {:.1f} dB"),
    ("level_db", "level {:+.1f}"),
    ("shape_db", "shape/noise {:.2f}"),
    ("top_excess_db", "top {:+.1f}"),
    ("flatness", "flatness {:.3f}"),
    ("clicks_per_s", "clicks/s {:.1f}"),
    ("dc_db", "offset {:.1f} dB"),
)


def main() -> None:
    for path in sys.argv[1:]:
        rows = [json.loads(line) for line in Path(path).read_text().splitlines()]
        noise = {r["label"]: r["shape_db"] for r in rows if r["kind"] == "noise"}
        groups = defaultdict(list)
        for r in rows:
            if r["kind"] not in ("noise", "real"):
                groups[(r["kind"], r.get("floor", 0.0), r["label"])].append(r)
        print(path)
        for key, group in sorted(groups.items()):
            cells = []
            for name, fmt in FIGURES:
                if name not in group[0]:
                    continue
                mean = sum(r[name] for r in group) / len(group)
                cells.append(fmt.format(mean / noise[key[2]] if name == "shape_db" else mean))
            print(f"  {key[0]}, floor {key[1]:g}, {key[2]} ({len(group)}): " + ", ".join(cells))


if __name__ == "__main__":
    main()
