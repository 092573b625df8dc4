"""Tables of the gate (a note is dropped when its loudest frame is under FLOOR dBFS or more
than RANGE dB under the recording's loudest frame) over measure.py's and mixed.py's rows.

    python analyse.py levels.jsonl mixed.jsonl
"""

from __future__ import annotations

import json
import sys

import numpy as np

from wavenet_music.notes.midi import Note
from wavenet_music.notes.score import score_notes

GENRES = ("ambient", "classical", "guitar", "piano")
FLOORS = (-40, -45, -50, -55, -60, None)
RANGES = (25, 30, 35, 40, 45, 50, None)


def kept(note: dict, row: dict, floor: float | None, range_db: float | None) -> bool:
    if floor is not None and note["peak"] < floor:
        return False
    return range_db is None or note["peak"] >= row["loudest"] - range_db


def f1(row: dict, floor, range_db) -> float:
    reference = [Note(a, b, p, 80) for a, b, p in row["reference"]]
    estimate = [
        Note(n["onset"], n["offset"], n["pitch"], 80)
        for n in row["notes"]
        if kept(n, row, floor, range_db)
    ]
    return score_notes(reference, estimate).note_f1


def demo_table(rows: list[dict]) -> None:
    print(
        "removed demo notes (of",
        {g: sum(len(r["notes"]) for r in rows if r["genre"] == g) for g in GENRES},
        ")",
    )
    print(
        "floor range | "
        + " | ".join(GENRES)
        + " | noise-alone notes kept (white/pink/brown, -60..-100) | at -40/-50 | odd files kept"
    )
    noise = [r for r in rows if r["genre"] == "noise"]
    quiet = [r for r in noise if int(r["name"].split()[1]) <= -60]
    loud = [r for r in noise if int(r["name"].split()[1]) > -60]
    odd = [r for r in rows if r["genre"] == "odd"]
    for floor in FLOORS:
        for range_db in RANGES:
            removed = [
                sum(
                    not kept(n, r, floor, range_db)
                    for r in rows
                    if r["genre"] == g
                    for n in r["notes"]
                )
                for g in GENRES
            ]
            left = [
                sum(kept(n, r, floor, range_db) for r in rs for n in r["notes"])
                for rs in (quiet, loud)
            ]
            odd_left = {
                r["name"]: [n["pitch"] for n in r["notes"] if kept(n, r, floor, range_db)]
                for r in odd
            }
            print(
                f"{floor} {range_db} | "
                + " | ".join(map(str, removed))
                + f" | {left[0]} | {left[1]} | {odd_left}"
            )


def f1_table(rows: list[dict]) -> None:
    scored = [r for r in rows if "reference" in r]
    print("note F1 (mean over files) piano / guitar, and files whose F1 drops")
    for floor, range_db in ((None, None), (-55, 45), (-50, 40), (-45, 35), (-40, 30), (-40, 25)):
        means, drops = [], 0
        for g in ("piano", "guitar"):
            base = [f1(r, None, None) for r in scored if r["genre"] == g]
            gated = [f1(r, floor, range_db) for r in scored if r["genre"] == g]
            means.append(f"{np.mean(gated):.4f}")
            drops += sum(b - a > 1e-9 for a, b in zip(gated, base, strict=True))
        print(f"  floor {floor} range {range_db}: {' / '.join(means)}; files dropping {drops}")


def mixed_table(rows: list[dict]) -> None:
    print(
        "noise added to 8 demo recordings: notes the noise adds (of all), and those the gate removes"
    )
    for floor, range_db in ((-55, 45), (-50, 40)):
        for cond in sorted({r["genre"] for r in rows}):
            rs = [r for r in rows if r["genre"] == cond]
            extra = sum(len(r["extra"]) for r in rs)
            gone = sum(not kept(n, r, floor, range_db) for r in rs for n in r["extra"])
            print(f"  {floor} {range_db} {cond}: {extra} added, {gone} removed by the gate")


def main(levels: str, mixed: str) -> None:
    rows = [json.loads(line) for line in open(levels)]
    demo_table(rows)
    f1_table(rows)
    mixed_table([json.loads(line) for line in open(mixed)])


if __name__ == "__main__":
    main(*sys.argv[1:])
