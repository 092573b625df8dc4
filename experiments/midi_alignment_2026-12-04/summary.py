"""The README's table from ``measure.py``'s JSON lines: per case, the figures' range and
what ``alignment_warning`` said (none, "do not match", "shift", or coverage).

    python summary.py alignment.jsonl.gz
"""

from __future__ import annotations

import argparse
import gzip
import json
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from wavenet_music.notes.alignment import MATCH_MIN


def verdict(warning: str | None) -> str:
    if warning is None:
        return "none"
    if "do not match" in warning:
        return "not matching"
    return "moved" if "shift the MIDI" in warning else "coverage"


def row(case: str, rows: list[dict]) -> str:
    match = np.array([r["match"] for r in rows])
    share = np.array([r["match_at_zero"] / max(r["match"], 1e-9) for r in rows])
    error = np.array([abs(r["lag"] - r["expected_lag"]) for r in rows])
    cover = np.array([r["coverage"] for r in rows])
    said = Counter(verdict(r["warning"]) for r in rows)
    matching = np.median(match) >= MATCH_MIN  # lags and shares of no match mean nothing
    shares = f"{share.min():.2f} / {share.max():.2f}" if matching else "-"
    errors = f"{error.max():.2f}" if matching else "-"
    return (
        f"| {case} | {len(rows)} | {match.min():.3f} / {np.median(match):.3f} / "
        f"{match.max():.3f} | {shares} | {errors} | "
        f"{cover.min():.2f} / {cover.max():.2f} | "
        + ", ".join(f"{k} {v}" for k, v in sorted(said.items()))
        + " |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lines", type=Path, help="measure.py's output")
    args = parser.parse_args()
    cases: dict[str, list[dict]] = defaultdict(list)
    with gzip.open(args.lines, "rt") if args.lines.suffix == ".gz" else args.lines.open() as f:
        lines = f.read().splitlines()
    for line in lines:
        r = json.loads(line)
        cases[r["case"]].append(r)
    print(
        "| case | pairs | match min / median / max | lag 0 / best min / max "
        "| lag error max (s) | coverage min / max | warning |"
    )
    print("|---|---:|---|---|---:|---|---|")
    for case, rows in cases.items():
        print(row(case, rows))


if __name__ == "__main__":
    main()
