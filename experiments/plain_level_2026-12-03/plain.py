"""Why plain WaveNet plays louder and brighter than its genre, and whether a small sampling
floor on every draw brings it back.

For a trained demo run: per floor and seed, one plain clip per genre (as the report makes
them, seed k, 4 streams in one batch), the floor applied on every draw (plain clips have
no notes, so the package's own floor never acts on them). Per clip: RMS level, its RMS
second by second (does the level drift?), spectral flatness, and the long-term log-mel
spectrum against the genre's real excerpts in two parts (shape, level; as the demo's
check), with the top 15 of 80 mel bands' excess over the level. JSON lines.

    python experiments/plain_level_2026-12-03/plain.py RUN DATA OUT.jsonl \
        --floors 0 0.0005 0.001 --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from wavenet_music.audio.spectral import (
    average_log_mel,
    click_rate,
    shape_and_level,
    spectral_flatness,
)
from wavenet_music.config import GenerateConfig
from wavenet_music.report.clips import power, real_excerpts, run_labels, white_noise
from wavenet_music.wavenet.checkpoint import load_model
from wavenet_music.wavenet.compiled import CompiledWaveNet
from wavenet_music.wavenet.incremental import IncrementalWaveNet
from wavenet_music.wavenet.to_audio import generate_audio

TOP_BANDS = 15


def floor_everywhere(floor: float) -> None:
    """Every draw of both steps from max(p - floor, 0) renormalised (``incremental.sample``)."""
    for cls in (CompiledWaveNet, IncrementalWaveNet):
        original = cls.sample

        def floored(self, logits, temperature, generator, given=None, original=original):
            if given is None and floor > 0:
                given = torch.full((logits.shape[0],), floor, dtype=torch.float64)
            return original(self, logits, temperature, generator, given)

        cls.sample = floored


def db(x: float) -> float:
    return float(10 * np.log10(x + 1e-12))


def describe(clip: np.ndarray, real: list[np.ndarray], rate: int) -> dict:
    shape, level = shape_and_level([clip], real, rate)
    difference = average_log_mel([clip], rate) - average_log_mel(real, rate)
    seconds = clip[: len(clip) // rate * rate].reshape(-1, rate)
    return {
        "rms_db": db(power(clip)),
        "rms_db_per_s": [round(db(power(s)), 1) for s in seconds],
        "flatness": spectral_flatness(clip),
        "clicks_per_s": click_rate(clip, rate),
        "dc_db": db(power(seconds.mean(axis=1))),  # the offset, second by second
        "shape_db": shape,
        "level_db": level,
        "top_excess_db": float(np.mean(difference[-TOP_BANDS:]) - level),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run", type=Path)
    parser.add_argument("data", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--floors", type=float, nargs="+", default=[0.0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument(
        "--max-jump", type=float, default=0.0, help="GenerateConfig.max_jump; 0 = no limit"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, config = load_model(args.run)
    rate = config.data.sample_rate
    labels = run_labels(args.run, args.data, config)
    length = round(args.seconds * rate)
    real = {
        name: [r.audio for r in real_excerpts(args.run, args.data, name, 3, length, config, 0)]
        for name in labels
    }
    with args.out.open("a") as out:

        def write(row: dict) -> None:
            out.write(json.dumps(row) + "\n")
            out.flush()
            print({k: v for k, v in row.items() if k != "rms_db_per_s"}, flush=True)

        for name in labels:
            level = np.sqrt(power(np.concatenate(real[name])))
            write({"label": name, "kind": "real", **describe(real[name][0], real[name], rate)})
            noise = white_noise(length, level, 0)
            write({"label": name, "kind": "noise", **describe(noise, real[name], rate)})
        current = 0.0
        for floor in args.floors:
            if floor != current:
                floor_everywhere(floor)  # patches stack: apply each floor once, in order
                current = floor
            for seed in args.seeds:
                clips = generate_audio(
                    model,
                    config,
                    GenerateConfig(
                        seconds=args.seconds, seed=seed, label="all", max_jump=args.max_jump
                    ),
                    progress=False,
                )
                for name, clip in zip(labels, clips, strict=True):
                    row = describe(clip, real[name], rate)
                    kind = "plain" if not args.max_jump else f"plain, jumps ≤ {args.max_jump:g}"
                    write({"floor": floor, "seed": seed, "label": name, "kind": kind, **row})


if __name__ == "__main__":
    main()
