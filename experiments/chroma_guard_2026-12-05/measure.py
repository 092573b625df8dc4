"""Compose with a chroma run, every label, seeds 0..N-1; per piece: the spectral flatness
of the finished audio, the share of its half seconds that read as noise (the guard's own
judge), the redraws and the seconds until the first chunk and to the end.

    python measure.py RUN OUT.jsonl --seeds 0 1 2 3 4 5 --seconds 15 [--redraw-noise 0]

Run from a folder without a wavenet_music/ (PYTHONPATH picks the code measured)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from wavenet_music.audio.finish import for_listening
from wavenet_music.audio.spectral import spectral_flatness
from wavenet_music.composer.compose import compose
from wavenet_music.composer.config import PieceConfig
from wavenet_music.wavenet.noise_guard import NOISE_FLATNESS, NOISE_LEVEL_DB, noise_like


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4, 5])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--redraw-noise", type=float, default=None)
    args = parser.parse_args()
    with args.out.open("a") as out:
        for seed in args.seeds:
            options = PieceConfig(seconds=args.seconds, label="all", seed=seed, chunk_seconds=2.0)
            if args.redraw_noise is not None:
                options = PieceConfig(
                    seconds=args.seconds,
                    label="all",
                    seed=seed,
                    chunk_seconds=2.0,
                    wavenet_redraw_noise=args.redraw_noise,
                )
            start, first = time.perf_counter(), []

            def on_chunk(audio: np.ndarray, first: list = first, start: float = start) -> None:
                if not first:
                    first.append(time.perf_counter() - start)

            piece = compose(args.run, options, on_chunk=on_chunk)
            total = time.perf_counter() - start
            rate = piece.sample_rate
            redraws = getattr(piece, "redraws", [])
            for index, (tag, audio) in enumerate(zip(piece.tags, piece.audio, strict=True)):
                heard = for_listening(audio, rate)
                halves = heard[: len(heard) // (rate // 2) * (rate // 2)].reshape(-1, rate // 2)
                noisy = noise_like(halves, rate, NOISE_FLATNESS, NOISE_LEVEL_DB)
                row = {
                    "seed": seed,
                    "label": tag,
                    "flatness": float(spectral_flatness(heard)),
                    "noise_share": float(noisy.mean()),
                    "falls": sum(r.stream == index for r in redraws),
                    "left_as_noise": sum(r.stream == index and not r.resolved for r in redraws),
                    "first_chunk_s": first[0] if first else None,
                    "total_s": total,
                }
                out.write(json.dumps(row) + "\n")
                print(row, flush=True)


if __name__ == "__main__":
    main()
