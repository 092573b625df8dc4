"""Long-range structure of composed pieces, plain WaveNet clips and real music.

python scripts/measure_structure.py runs/x --data music/ [--plain-run runs/plain] --out out/
Writes the pieces into --out and prints the statistics and distances to real music (JSON).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from wavenet_music.report.composition import composition_section


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="run with a trained composer")
    parser.add_argument("--data", type=Path, required=True, help="the run's data folder")
    parser.add_argument("--plain-run", type=Path, help="a WaveNet run without local conditioning")
    parser.add_argument("--out", type=Path, required=True, help="folder for the audio")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of every clip")
    parser.add_argument("--real", type=int, default=2, help="real excerpts per label")
    args = parser.parse_args(argv)
    section = composition_section(
        args.run,
        args.out,
        args.seconds,
        data_root=args.data,
        plain_run=args.plain_run,
        real_per_label=args.real,
    )
    print(json.dumps({k: section[k] for k in ("statistics", "distance")}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
