"""`make demo`: build the 4-genre demo corpus, train ONE model on all genres (a label
per genre folder) and generate clips of every genre.

A second run reuses the corpus and the trained run (it resumes an interrupted training
up to the same time budget) and only generates again.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from wavenet_music.checkpoint import checkpoint_dirs
from wavenet_music.cli import main as cli
from wavenet_music.demo_corpus import build_demo_corpus


def run_cli(*argv: str) -> None:
    print("$ wavenet-music " + " ".join(argv), flush=True)
    code = cli(list(argv))
    if code != 0:
        sys.exit(code)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=15.0, help="training time budget")
    parser.add_argument(
        "--corpus-minutes",
        type=float,
        default=3.0,
        help="minutes of audio per genre in the demo corpus",
    )
    parser.add_argument("--data", type=Path, default=Path("data/demo"), help="corpus folder")
    parser.add_argument("--run", type=Path, default=Path("runs/demo"), help="run directory")
    parser.add_argument("--clips", type=int, default=2, help="clips per genre")
    parser.add_argument("--seconds", type=float, default=4.0, help="length of each clip")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    started = time.monotonic()
    print(f"building the demo corpus in {args.data} ({args.corpus_minutes} min per genre)")
    build_demo_corpus(args.data, minutes=args.corpus_minutes)
    budget = ["--minutes", str(args.minutes)]
    if checkpoint_dirs(args.run):
        run_cli("train", str(args.data), "--run", str(args.run), "--resume", *budget)
    else:
        tiny = ["--preset", "tiny", "--labels", "folders"]
        run_cli("train", str(args.data), "--run", str(args.run), *tiny, *budget)
    report = args.run / "report"
    clips = ["--clips", str(args.clips), "--seconds", str(args.seconds)]
    run_cli("report", str(args.run), "--data", str(args.data), "--out", str(report), *clips)
    metrics = [json.loads(line) for line in (args.run / "metrics.jsonl").read_text().splitlines()]
    validation = [m["validation_bits"] for m in metrics if "validation_bits" in m]
    print(
        f"\nvalidation bits per sample: {validation[0]:.3f} untrained -> "
        f"{validation[-1]:.3f} trained"
    )
    print(f"listening report: {(report / 'index.html').resolve()}")
    print(f"TensorBoard: tensorboard --logdir {args.run / 'tensorboard'}")
    print(f"demo finished in {(time.monotonic() - started) / 60:.1f} min")


if __name__ == "__main__":
    try:
        main()
    except (ValueError, RuntimeError) as exc:  # missing packages, bad arguments: one line
        print(f"demo: error: {exc}", file=sys.stderr)
        sys.exit(2)
