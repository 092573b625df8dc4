"""The report's long-range structure distance (``audio.structure``: chroma repetition,
onset-rate variation, loudness autocorrelation; real-music SDs from real music) of composed
pieces with and without the labels' shortest notes, over more pieces than the report's
three a genre: one piece of 30 s a label per seed, real excerpts of 30 s from the run's
training music (6 a label). Each piece's WAV is kept in OUT.

    python structure.py RUN DATA OUT --seeds 1 2 3 4 5 6

RUN's composer must store its labels' shortest notes (trained since 2026-12-05);
``--shortest-note 0`` composes as before."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import soundfile as sf

from wavenet_music.audio.structure import (
    distance_by_label,
    structure_distance,
    structure_statistics,
)
from wavenet_music.composer.compose import compose
from wavenet_music.composer.config import PieceConfig
from wavenet_music.report.clips import real_excerpts, run_labels
from wavenet_music.wavenet.checkpoint import load_model

REAL_PER_LABEL = 6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run", type=Path)
    parser.add_argument("data", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5, 6])
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    _, config = load_model(args.run)
    rate, labels = config.data.sample_rate, run_labels(args.run, args.data, config)
    length = round(args.seconds * rate)
    windows: dict[str, list] = {"real": []}
    tags: dict[str, list] = {"real": []}
    for label in labels:
        for row in real_excerpts(args.run, args.data, label, REAL_PER_LABEL, length, config, 0):
            windows["real"].append(structure_statistics([row.audio], rate))
            tags["real"].append(label)
    for kind, shortest in (("before", 0.0), ("shortest", None)):
        windows[kind], tags[kind] = [], []
        for seed in args.seeds:
            options = PieceConfig(
                seconds=args.seconds, label="all", seed=seed, shortest_note=shortest
            )
            piece = compose(args.run, options)
            for label, audio in zip(labels, piece.audio, strict=True):
                sf.write(args.out / f"{kind}-{label}-{seed}.wav", audio, rate)
                windows[kind].append(structure_statistics([audio], rate))
                tags[kind].append(label)
            print(kind, seed, flush=True)
    pooled = {k: [w for clip in windows[k] for w in clip] for k in windows}
    result = {
        "pooled": {
            k: structure_distance(pooled[k], pooled["real"]) for k in ("before", "shortest")
        },
        "by_label": distance_by_label(windows, tags),
    }
    (args.out / "structure.json").write_text(json.dumps(result, indent=1))
    for k in ("before", "shortest"):
        print(k, {n: round(v, 3) for n, v in result["pooled"][k].items()})
    for label, kinds in result["by_label"].items():
        print(label, {k: round(v["mean"], 3) for k, v in kinds.items()})
    print("windows", {k: len(v) for k, v in pooled.items()})


if __name__ == "__main__":
    main()
