"""`make demo`: build the 4-genre demo corpus, train ONE WaveNet on all genres (a label
per genre folder, steered by chromagrams that are withheld from 30% of the windows, so
that it also plays without them), train the composer that writes the chromagrams, and
write the listening report: per genre a composed piece next to plain WaveNet and real
music.

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
from wavenet_music.composer_train import composer_dirs, load_composer
from wavenet_music.config import Config, load_yaml
from wavenet_music.demo_corpus import build_demo_corpus

WAVENET_SHARE = 0.75
WAVENET = [  # the tiny preset, one label per genre folder, steered by 12 pitch classes
    *("--preset", "tiny", "--labels", "folders", "--features", "chroma"),
    *("--local-channels", "12", "--hop-length", "256", "--local-dropout", "0.3"),
]
COMPOSER = [  # a small corpus: check often, and learn from all 12 transpositions of it
    *("--warmup-steps", "30", "--validate-every", "50", "--transpose", "true"),
]


def run_cli(*argv: str) -> None:
    print("$ wavenet-music " + " ".join(argv), flush=True)
    code = cli(list(argv))
    if code != 0:
        sys.exit(code)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--minutes",
        type=float,
        default=13.0,
        help="training time budget: three quarters WaveNet, a quarter the composer",
    )
    parser.add_argument(
        "--corpus-minutes",
        type=float,
        default=8.0,
        help="minutes of audio per genre in the demo corpus",
    )
    parser.add_argument("--data", type=Path, default=Path("data/demo"), help="corpus folder")
    parser.add_argument("--run", type=Path, default=Path("runs/demo"), help="run directory")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each piece")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    started = time.monotonic()
    print(f"building the demo corpus in {args.data} ({args.corpus_minutes} min per genre)")
    build_demo_corpus(args.data, minutes=args.corpus_minutes)
    run, data = str(args.run), str(args.data)
    budget = ["--minutes", f"{args.minutes * WAVENET_SHARE:g}"]
    if checkpoint_dirs(args.run):
        trained = load_yaml(args.run / "config.yaml", Config())
        if trained.train.local_dropout == 0 or trained.data.features != "chroma":
            raise ValueError(
                f"{run} was trained by an older demo (log-mel features or none withheld): "
                "delete it, or pass RUN=runs/other to make"
            )
        run_cli("train", data, "--run", run, "--resume", *budget)
    else:
        run_cli("train", data, "--run", run, *WAVENET, *budget)
    budget = ["--minutes", f"{args.minutes * (1 - WAVENET_SHARE):g}"]
    if composer_dirs(args.run):
        if not load_composer(args.run, weights_only=True).config.transpose:
            raise ValueError(
                f"the composer of {run} was trained by an older demo (no transpositions): "
                f"delete {args.run / 'composer'}, or pass RUN=runs/other to make"
            )
        run_cli("train-composer", run, "--data", data, "--resume", *budget)
    else:
        run_cli("train-composer", run, "--data", data, *COMPOSER, *budget)
    report = args.run / "report"
    pieces = ["--clips", "1", "--seconds", f"{args.seconds:g}"]
    run_cli("report", run, "--data", data, "--out", str(report), *pieces)
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
