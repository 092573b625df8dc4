"""The noise guard's cost: generation in one pass against generation in half-second spans,
each judged (``wavenet/noise_guard.py``), in the same run.

    python benchmarks/bench_noise_guard.py [--presets tiny,demo] [--seconds 2] [--repeats 3]

A guard that never finds a fall (its bound set above any flatness) still rebuilds each
stream's state from the receptive field before every span and judges every span: that is
its cost on music that never falls into noise, which this measures (a fall costs at most
its redraws, a second of audio per try, on top). Random weights, the preset's local
conditioning absent (what plain generation runs), compiled engine where it builds; one
thread, batch 1 and 8 streams, interleaved runs, best of ``--repeats``. Both ways draw
the same samples (checked).
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import torch

from wavenet_music.config import load_preset
from wavenet_music.wavenet.generate import generate
from wavenet_music.wavenet.model import WaveNet
from wavenet_music.wavenet.noise_guard import NEVER_NOISE, NoiseGuard

RATE = 16000


def model_of(preset: str) -> WaveNet:
    """The preset's WaveNet without local conditioning (plain generation), random weights."""
    config = load_preset(preset).model
    config = dataclasses.replace(config, local_channels=None, excitation=False, global_labels=())
    torch.manual_seed(0)
    return WaveNet(config).eval()


def timed(model: WaveNet, samples: int, streams: int, guard: NoiseGuard | None) -> tuple:
    """(seconds, classes) of one generation."""
    start = time.perf_counter()
    classes = generate(
        model, samples, streams, generator=torch.Generator().manual_seed(0), guard=guard
    )
    return time.perf_counter() - start, classes


def measure(preset: str, streams: int, seconds: float, repeats: int) -> list[str]:
    model = model_of(preset)
    samples = round(seconds * RATE)
    guard = NoiseGuard.of(NEVER_NOISE, RATE, model.config.quantization_channels, None)
    best = {"one pass": float("inf"), "guarded": float("inf")}
    timed(model, 256, streams, None)  # builds the compiled step
    same = True
    for _ in range(repeats):  # interleaved: a slow minute slows both
        plain_s, plain = timed(model, samples, streams, None)
        guarded_s, guarded = timed(model, samples, streams, guard)
        best["one pass"] = min(best["one pass"], plain_s)
        best["guarded"] = min(best["guarded"], guarded_s)
        same &= torch.equal(plain, guarded)
    rates = {k: streams * samples / v for k, v in best.items()}
    return [
        preset,
        str(streams),
        f"{rates['one pass']:,.0f}",
        f"{rates['guarded']:,.0f}",
        f"{rates['guarded'] / rates['one pass']:.2f}",
        "yes" if same else "NO",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="tiny,demo")
    parser.add_argument("--seconds", type=float, default=2.0, help="audio per stream")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from common import cpu_line, markdown_table

    torch.set_num_threads(1)
    print(cpu_line(1), flush=True)
    rows = [
        measure(preset, streams, args.seconds, args.repeats)
        for preset in args.presets.split(",")
        for streams in (1, 8)
    ]
    headers = [
        "preset",
        "streams",
        "one pass (samples/s)",
        "guarded (samples/s)",
        "guarded / one pass",
        "same samples",
    ]
    print(f"{args.seconds:g} s a stream, best of {args.repeats}, interleaved")
    print(markdown_table(headers, rows))


if __name__ == "__main__":
    main()
