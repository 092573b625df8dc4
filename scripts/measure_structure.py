"""Long-range structure of composed pieces, plain WaveNet clips and real music.

python scripts/measure_structure.py runs/x --data music/ [--plain-run runs/plain] --out out/
    [--seeds 3] [--first-seed 0] [--resynthesis]

Composes one piece per label (and the plain clips) per seed into --out/seed_N, pools the
20-s windows of all seeds, and prints the statistics, the distances to real music and a
bootstrap over clips (a clip's windows are drawn together): how often composed is closer
to real than plain, on the mean distance and on each statistic, and the distances label by
label (pooled over labels, a kind that errs both ways in different labels can look close;
JSON; the statistics of every window, by clip, go to --out/windows.json, each clip's label
to --out/labels.json). ``--resynthesis`` adds the run's WaveNet steered by the real
excerpts' own features: how much of real music's structure the WaveNet renders when the
features are right, the ceiling for composed pieces.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from wavenet_music.audio.structure import (
    STATISTICS,
    distance_by_label,
    structure_distance,
    structure_statistics,
    summarise,
)
from wavenet_music.config import Config
from wavenet_music.report.clips import real_excerpts, run_labels
from wavenet_music.report.composition import composition_section
from wavenet_music.wavenet.checkpoint import load_model
from wavenet_music.wavenet.model import WaveNet
from wavenet_music.wavenet.resynthesis import resynthesize

BOOTSTRAP = 2000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="run with a trained composer")
    parser.add_argument("--data", type=Path, required=True, help="the run's data folder")
    parser.add_argument("--plain-run", type=Path, help="a WaveNet run without local conditioning")
    parser.add_argument("--out", type=Path, required=True, help="folder for the audio")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of every clip")
    parser.add_argument("--real", type=int, default=2, help="real excerpts per label and seed")
    parser.add_argument("--seeds", type=int, default=1, help="pieces per label (one per seed)")
    parser.add_argument(
        "--first-seed", type=int, default=0, help="seed of the first piece (to split a run)"
    )
    parser.add_argument(
        "--temperature", type=float, help="composer temperature (default: the calibrated one)"
    )
    parser.add_argument(
        "--resynthesis", action="store_true", help="add the WaveNet steered by real features"
    )
    parser.add_argument("--top-k", type=int, help="composer: sample among the k likeliest")
    parser.add_argument(
        "--hold-penalty", type=float, help="composer hold penalty (default: the calibrated one)"
    )
    args = parser.parse_args(argv)
    by_clip: dict[str, list[list[dict]]] = defaultdict(list)  # kind → clips → windows
    labels: dict[str, list[str]] = defaultdict(list)  # kind → the label of each clip
    wavenet = load_model(args.run) if args.resynthesis else None
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        section = composition_section(
            args.run,
            args.out / f"seed_{seed}",
            args.seconds,
            seed,
            data_root=args.data,
            plain_run=args.plain_run,
            real_per_label=args.real,
            temperature=args.temperature,
            top_k=args.top_k,
            hold_penalty=args.hold_penalty,
        )
        for kind, clips in section["clip_windows"].items():
            by_clip[kind] += clips
            labels[kind] += section["clip_labels"][kind]
        if args.resynthesis:
            again, again_labels = resynthesized(args, seed, *wavenet)
            by_clip["resynthesized"] += again
            labels["resynthesized"] += again_labels
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "windows.json").write_text(json.dumps(by_clip))
    (args.out / "labels.json").write_text(json.dumps(labels))
    windows = {kind: [w for clip in clips for w in clip] for kind, clips in by_clip.items()}
    real = windows.pop("real")
    result = {
        "temperature": section["temperature"],
        "hold_penalty": section["hold_penalty"],
        "windows": {kind: len(rows) for kind, rows in {**windows, "real": real}.items()},
        "statistics": {kind: summarise(rows) for kind, rows in {**windows, "real": real}.items()},
        "distance": {kind: structure_distance(rows, real) for kind, rows in windows.items()},
        "distance_by_label": distance_by_label(by_clip, labels),
    }
    if "plain" in windows:
        result["composed_closer_in_bootstrap"] = {
            name: bootstrap(by_clip, name) for name in ("mean", *STATISTICS)
        }
    print(json.dumps(result, indent=1))
    return 0


def resynthesized(
    args: argparse.Namespace, seed: int, model: WaveNet, config: Config
) -> tuple[list[list[dict]], list[str]]:
    """Statistics, per clip, of the real excerpts of ``seed`` (as composition_section
    draws them) re-rendered by the run's WaveNet from their own features, and each
    clip's label."""
    length = round(args.seconds * config.data.sample_rate)
    labels, excerpts = [], []
    for label in run_labels(args.run, args.data, config):
        for row in real_excerpts(args.run, args.data, label, args.real, length, config, seed):
            labels.append(label)
            excerpts.append(row.audio)
    names = labels if config.model.global_labels else None
    audio = resynthesize(model, config, excerpts, names, seed=seed)
    return [structure_statistics([clip], config.data.sample_rate) for clip in audio], labels


def bootstrap(by_clip: dict[str, list[list[dict]]], statistic: str) -> float:
    """Share of resamplings (clips drawn with replacement, every kind, each with all its
    windows) in which the distance of composed to real is below that of plain on
    ``statistic`` ("mean": the mean distance)."""
    rng = np.random.default_rng(0)

    def draw(clips: list[list[dict]]) -> list[dict]:
        return [w for i in rng.integers(0, len(clips), len(clips)) for w in clips[i]]

    wins = 0
    for _ in range(BOOTSTRAP):
        reference = draw(by_clip["real"])
        composed = structure_distance(draw(by_clip["composed"]), reference)[statistic]
        plain = structure_distance(draw(by_clip["plain"]), reference)[statistic]
        wins += composed < plain
    return wins / BOOTSTRAP


if __name__ == "__main__":
    raise SystemExit(main())
