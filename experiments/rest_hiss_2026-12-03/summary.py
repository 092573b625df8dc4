"""The tables of README.md from ``where.py``'s rows: per kind of clip, floor placement,
temperature where notes sound and genre, the means over its clips (a share or flatness
that a clip lacks, e.g. no rest frames, is left out of that mean).

    python summary.py ROWS.jsonl [ROWS.jsonl ...]
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict

import numpy as np

COLUMNS = (
    ("flatness", "flatness", "{:.3f}"),
    ("sounding_flatness", "sounding", "{:.3f}"),
    ("rest_share", "rest share", "{:.3f}"),
    ("rest_flatness", "rest", "{:.3f}"),
    ("below_0_share", "0-10 dB share", "{:.2f}"),
    ("below_0_flatness", "0-10 dB", "{:.3f}"),
    ("below_10_flatness", "10-20 dB", "{:.3f}"),
    ("below_20_share", "20-30 dB share", "{:.2f}"),
    ("below_20_flatness", "20-30 dB", "{:.3f}"),
    ("below_30_share", "30+ dB share", "{:.2f}"),
    ("below_30_flatness", "30+ dB", "{:.3f}"),
    ("sounding_db", "level (dB)", "{:.1f}"),
    ("note_f1", "note F1", "{:.2f}"),
    ("frame_pitch_class_f1", "frame pc F1", "{:.2f}"),
)


def mean(rows: list[dict], key: str) -> float | None:
    values = [r[key] for r in rows if r.get(key) is not None]
    return float(np.mean(values)) if values else None


def main() -> None:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for path in sys.argv[1:]:
        with open(path) as rows:
            for line in rows:
                row = json.loads(line)
                key = (row["what"], row["placement"], row.get("sounding_temperature", 1.0))
                groups[(*key, row["label"])].append(row)
    head = ["clips", "floor", "T sounding", "genre", "n"] + [title for _, title, _ in COLUMNS]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * 4 + "---:|" * (len(head) - 4))
    for key in sorted(groups, key=lambda k: tuple(str(x) for x in k)):
        rows = groups[key]
        cells = [str(k) for k in key] + [str(len(rows))]
        for column, _, fmt in COLUMNS:
            value = mean(rows, column)
            cells.append("–" if value is None else fmt.format(value))
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
