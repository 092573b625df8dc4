"""Build the four-genre demo corpus from installed packages (nothing is downloaded).

python scripts/build_demo_corpus.py --out data/demo --minutes 15
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

# Run from a checkout without installing the package first.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from wavenet_music.demo_corpus import GENRES, build_demo_corpus, summary_table


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=Path("data/demo"), help="corpus folder (default: data/demo)"
    )
    parser.add_argument(
        "--minutes", type=float, default=15.0, help="minutes of audio per genre (default: 15)"
    )
    parser.add_argument(
        "--sample-rate", type=int, default=16000, help="output sample rate in Hz (default: 16000)"
    )
    parser.add_argument(
        "--genres",
        nargs="+",
        choices=GENRES,
        default=list(GENRES),
        help=f"genres to build (default: all of {' '.join(GENRES)})",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    try:
        summary = build_demo_corpus(args.out, args.minutes, args.sample_rate, tuple(args.genres))
    except (ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(summary_table(summary))
    for genre in summary.genres:
        if genre.seconds < 60 * args.minutes - 1:
            print(f"note: {genre.genre} ran out of sources at {genre.seconds / 60:.2f} minutes")
    if summary.cached:
        print(f"corpus up to date in {summary.out}")
    else:
        print(f"built {summary.out} in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
