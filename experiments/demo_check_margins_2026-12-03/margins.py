"""How far a clean clone's demo check sits from its bounds, piece to piece: per clip of a
trained demo run, spectral flatness and the long-term log-mel spectrum against the genre's
real excerpts, levels matched (``audio.spectral.shape_and_level``), as a share of white
noise's; then the check's own figures (three clips pooled, as ``report.check`` does) for
consecutive triples, i.e. for as many simulated reports.

    python experiments/demo_check_margins_2026-12-03/margins.py RUN DATA OUT.jsonl \
        --plain ambient guitar --composed classical --clips 12
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from wavenet_music.audio.spectral import shape_and_level, spectral_flatness
from wavenet_music.composer.compose import compose
from wavenet_music.composer.config import PieceConfig
from wavenet_music.config import GenerateConfig
from wavenet_music.report.clips import power, real_excerpts, white_noise
from wavenet_music.wavenet.checkpoint import load_model
from wavenet_music.wavenet.to_audio import generate_audio

REPORT_CLIPS = 3  # clips per kind and genre in the report, pooled by its check


def plain_clips(run: Path, label: str, clips: int, seconds: float, seed: int) -> list:
    model, config = load_model(run)
    options = GenerateConfig(seconds=seconds, num=clips, label=label, seed=seed)
    return list(generate_audio(model, config, options, progress=False))


def composed_clips(run: Path, label: str, clips: int, seconds: float, seed: int) -> list:
    pieces = []
    for k in range(clips):
        piece = compose(run, PieceConfig(seconds=seconds, label=label, seed=seed + k))
        pieces.append(piece.audio[0])
    return pieces


def figures(clips: list, real: list, noise_shape: float, rate: int) -> dict:
    shape, level = shape_and_level(clips, real, rate)
    return {
        "flatness": float(np.mean([spectral_flatness(c) for c in clips])),
        "shape_share": shape / noise_shape,
        "level_db": level,
        "rms_db": float(np.mean([10 * np.log10(power(c) + 1e-12) for c in clips])),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run", type=Path)
    parser.add_argument("data", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--plain", nargs="*", default=[])
    parser.add_argument("--composed", nargs="*", default=[])
    parser.add_argument("--clips", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=100)
    args = parser.parse_args()
    torch.set_num_threads(1)
    _, config = load_model(args.run)
    rate = config.data.sample_rate
    length = round(args.seconds * rate)
    makers = {"plain": plain_clips, "composed": composed_clips}
    with args.out.open("a") as out:
        for kind, labels in (("plain", args.plain), ("composed", args.composed)):
            for label in labels:
                real = [
                    r.audio for r in real_excerpts(args.run, args.data, label, 3, length, config, 0)
                ]
                noise = white_noise(length, np.sqrt(power(np.concatenate(real))), 0)
                noise_shape, _ = shape_and_level([noise], real, rate)
                clips = makers[kind](args.run, label, args.clips, args.seconds, args.seed)
                rows = [
                    {"clip": k, **figures([c], real, noise_shape, rate)}
                    for k, c in enumerate(clips)
                ]
                triples = [
                    figures(clips[k : k + REPORT_CLIPS], real, noise_shape, rate)
                    for k in range(0, len(clips) - REPORT_CLIPS + 1, REPORT_CLIPS)
                ]
                row = {
                    "kind": kind,
                    "label": label,
                    "noise_shape_db": noise_shape,
                    "noise_flatness": spectral_flatness(noise),
                    "clips": rows,
                    "reports": triples,
                }
                out.write(json.dumps(row) + "\n")
                out.flush()
                shares = [t["shape_share"] for t in triples]
                flat = [t["flatness"] for t in triples]
                print(
                    f"{kind} {label}: per-report shape share {np.round(shares, 2)}, "
                    f"flatness {np.round(flat, 3)}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
