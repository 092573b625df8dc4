"""The table of the README from probe.py's lines: python summary.py probe.jsonl"""

import json
import sys
from collections import defaultdict
from pathlib import Path

HEADER = (
    "| genre | rest scale | seeds | flatness | rest frames: flatness / dBFS "
    "| under notes: flatness / dBFS | note F1 | shape dB | level dB | falls (left) |"
)


def mean(lines: list[dict], key: str) -> float:
    return sum(d[key] for d in lines) / len(lines)


def main() -> None:
    rows = defaultdict(list)
    for line in Path(sys.argv[1]).read_text().splitlines():
        d = json.loads(line)
        rows[(d["label"], d["rest_scale"])].append(d)
    print(HEADER)
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (label, scale), ds in sorted(rows.items(), key=lambda kv: (kv[0][0], -kv[0][1])):
        falls = "+".join(str(d["falls"]) for d in ds)
        left = "+".join(str(d["left_as_noise"]) for d in ds)
        print(
            f"| {label} | {scale:g} | {len(ds)} | {mean(ds, 'flatness'):.3f} | "
            f"{mean(ds, 'rest_flatness'):.3f} / {mean(ds, 'rest_level_db'):.1f} | "
            f"{mean(ds, 'note_flatness'):.3f} / {mean(ds, 'note_level_db'):.1f} | "
            f"{mean(ds, 'note_f1'):.2f} | {mean(ds, 'shape_db'):.1f} | "
            f"{mean(ds, 'level_db'):+.1f} | {falls} ({left}) |"
        )


if __name__ == "__main__":
    main()
