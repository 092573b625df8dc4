"""Pool the windows of several `scripts/measure_structure.py` runs (split with --first-seed)
and print the same summary as one run over all their seeds.

    python pool.py OUT_DIR [OUT_DIR ...]
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

from measure_structure import bootstrap  # noqa: E402

from wavenet_music.audio.structure import STATISTICS, structure_distance, summarise  # noqa: E402


def main(folders: list[str]) -> None:
    by_clip: dict[str, list[list[dict]]] = defaultdict(list)
    for folder in folders:
        for kind, clips in json.loads((Path(folder) / "windows.json").read_text()).items():
            by_clip[kind] += clips
    windows = {kind: [w for clip in clips for w in clip] for kind, clips in by_clip.items()}
    real = windows.pop("real")
    result = {
        "clips": {kind: len(clips) for kind, clips in by_clip.items()},
        "windows": {kind: len(rows) for kind, rows in {**windows, "real": real}.items()},
        "statistics": {kind: summarise(rows) for kind, rows in {**windows, "real": real}.items()},
        "distance": {kind: structure_distance(rows, real) for kind, rows in windows.items()},
        "composed_closer_in_bootstrap": {
            name: bootstrap(by_clip, name) for name in ("mean", *STATISTICS)
        },
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
