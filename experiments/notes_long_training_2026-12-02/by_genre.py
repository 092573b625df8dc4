"""The structure statistics of `scripts/measure_structure.py` outputs, genre by genre.

    python by_genre.py OUT_DIR [OUT_DIR ...]

``windows.json`` keeps each kind's clips in the order ``report.composition`` makes them:
per seed, one composed and one plain clip per label in the run's label order, and
``--real`` (2) real excerpts per label, label after label. So clip k of composed or plain
is label ``k % 4``, real excerpt k is label ``(k % 8) // 2``. Printed per genre: each
statistic's mean for composed, plain and real, and the distance to real (in real-music
SDs of that genre) of composed and plain, as the pooled summary computes it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from wavenet_music.audio.structure import STATISTICS, structure_distance, summarise  # noqa: E402

LABELS = ("ambient", "classical", "guitar", "piano")  # the demo run's labels, sorted
REAL_PER_LABEL = 2


def main(folders: list[str]) -> None:
    clips: dict[str, list[list[dict]]] = {}
    for folder in folders:
        for kind, rows in json.loads((Path(folder) / "windows.json").read_text()).items():
            clips.setdefault(kind, []).extend(rows)
    per = {"real": len(LABELS) * REAL_PER_LABEL}
    names = [*STATISTICS, "harmonic_repetition"]
    print("| genre | clips | " + " | ".join(names) + " | distance to real (SDs) |")
    print("|---|---|" + "---:|" * (len(names) + 1))
    for g, label in enumerate(LABELS):
        windows = {}
        for kind, rows in clips.items():
            size = per.get(kind, len(LABELS))
            step = size // len(LABELS)
            mine = [clip for k, clip in enumerate(rows) if (k % size) // step == g]
            windows[kind] = [w for clip in mine for w in clip]
        for kind in ("composed", "plain", "real"):
            means = summarise(windows[kind])
            cells = " | ".join(f"{means[n][0]:.3f}" for n in names)
            far = (
                "—"
                if kind == "real"
                else f"{structure_distance(windows[kind], windows['real'])['mean']:.2f}"
            )
            print(f"| {label} | {kind} | {cells} | {far} |")


if __name__ == "__main__":
    main(sys.argv[1:])
