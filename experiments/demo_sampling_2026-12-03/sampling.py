"""How the WaveNet's sampling temperature moves the demo check's figures.

For a trained demo run: per seed, one composed piece and one plain clip per genre (as the
report makes them, seed k), at each temperature; per clip its flatness (whole clip and
last 10 s) and its log-mel distance to the genre's real excerpts; written as JSON lines.

    python experiments/demo_sampling_2026-12-03/sampling.py RUN DATA OUT.jsonl \
        --temperatures 1 0.95 0.9 --seeds 0 1 2 3 4 5
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from wavenet_music.audio.spectral import mean_log_mel_distance, spectral_flatness
from wavenet_music.composer.compose import compose
from wavenet_music.composer.config import PieceConfig
from wavenet_music.config import GenerateConfig
from wavenet_music.report.clips import power, real_excerpts, run_labels, white_noise
from wavenet_music.wavenet.checkpoint import load_model
from wavenet_music.wavenet.to_audio import generate_audio


def prune_tail(floor: float) -> None:
    """Every draw from p' = max(p - floor, 0) renormalised (LPCNet, Valin & Skoglund 2019,
    section 3.6), patched into both steps' ``sample``: the first runs (f1, f2), before the
    package had floors, and plain clips with a floor."""
    from wavenet_music.wavenet.compiled import CompiledWaveNet
    from wavenet_music.wavenet.incremental import IncrementalWaveNet

    for cls in (CompiledWaveNet, IncrementalWaveNet):
        original = cls.sample

        def pruned(self, logits, temperature, generator, original=original):
            if temperature == 0:
                return original(self, logits, temperature, generator)
            p = torch.softmax(logits.double() / temperature, dim=1)
            kept = (p - floor).clamp_(min=0)
            return original(self, kept.log().float(), 1.0, generator)

        cls.sample = pruned


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run", type=Path)
    parser.add_argument("data", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--temperatures", type=float, nargs="+", default=[1.0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--floor", type=float, default=0.0, help="while notes sound")
    parser.add_argument(
        "--everywhere", action="store_true", help="the floor on every draw, plain clips too"
    )
    parser.add_argument("--kinds", nargs="+", default=["composed", "plain"])
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.everywhere:
        prune_tail(args.floor)
    model, config = load_model(args.run)
    rate = config.data.sample_rate
    labels = run_labels(args.run, args.data, config)
    length = round(args.seconds * rate)
    real = {
        name: [r.audio for r in real_excerpts(args.run, args.data, name, 3, length, config, 0)]
        for name in labels
    }
    noise = {
        name: white_noise(length, np.sqrt(power(np.concatenate(real[name]))), 0) for name in labels
    }
    with args.out.open("a") as out:
        for name in labels:
            row = {
                "label": name,
                "kind": "noise",
                "flatness": spectral_flatness(noise[name]),
                "distance_db": mean_log_mel_distance([noise[name]], real[name], rate),
            }
            out.write(json.dumps(row) + "\n")
        for t in args.temperatures:
            for seed in args.seeds:
                floor = 0.0 if args.everywhere else args.floor
                clips_of = {}
                if "composed" in args.kinds:
                    clips_of["composed"] = compose(
                        args.run,
                        PieceConfig(
                            seconds=args.seconds,
                            label="all",
                            seed=seed,
                            wavenet_temperature=t,
                            wavenet_floor=floor,
                        ),
                    ).audio
                if "plain" in args.kinds:
                    clips_of["plain"] = generate_audio(
                        model,
                        config,
                        GenerateConfig(
                            seconds=args.seconds, seed=seed, label="all", temperature=t, floor=floor
                        ),
                        progress=False,
                    )
                for kind, clips in clips_of.items():
                    for name, clip in zip(labels, clips, strict=True):
                        tail = clip[-10 * rate :]
                        row = {
                            "temperature": t,
                            "floor": args.floor,
                            "seed": seed,
                            "label": name,
                            "kind": kind,
                            "flatness": spectral_flatness(clip),
                            "tail_flatness": spectral_flatness(tail),
                            "distance_db": mean_log_mel_distance([clip], real[name], rate),
                            "rms_db": float(10 * np.log10(power(clip) + 1e-12)),
                        }
                        out.write(json.dumps(row) + "\n")
                        out.flush()
                        print(row, flush=True)


if __name__ == "__main__":
    main()
