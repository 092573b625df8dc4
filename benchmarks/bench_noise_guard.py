"""The noise guard's cost: generation in one pass against generation in half-second spans,
each judged (``wavenet/noise_guard.py``), in the same run.

    python benchmarks/bench_noise_guard.py [--presets tiny,demo] [--seconds 2] [--repeats 3]

A guard that never finds a fall (its bound set above any flatness) still rebuilds each
stream's state from the receptive field before every span and judges every span: that is
its cost on music that never falls into noise, which this measures (a fall costs at most
its redraws, a second of audio per try, on top). Random weights, the preset's local
conditioning absent (what plain generation runs), compiled engine where it builds; one
thread, batch 1 and 8 streams. Each way is warmed up first (a second of audio: the
compiled step built, two spans judged), then the two alternate, the order reversed every
repeat, and each row reports its best of ``--repeats`` runs; runs of a way that differ by
more than 1.5× are named under the table (a busy machine). Both ways draw the same
samples (checked on every run). The table starts with a line naming the CPU, its vector
extensions, torch's kernels, the threads and the load.
"""

from __future__ import annotations

import dataclasses
import time

import torch
from arguments import (
    Parser,
    listed,
    one_line_errors,
    positive_number,
    preset_name,
    whole_number,
)
from common import cpu_line, interleaved, markdown_table, spread_warnings

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


def measure(preset: str, streams: int, seconds: float, repeats: int) -> tuple[list[str], dict]:
    """The table's row for ``streams`` streams of ``preset``, and every run's samples/s by way."""
    model = model_of(preset)
    samples = round(seconds * RATE)
    guards = {
        "one pass": None,
        "guarded": NoiseGuard.of(NEVER_NOISE, RATE, model.config.quantization_channels, None),
    }
    for guard in guards.values():  # warm-up: builds the compiled step, judges up to two spans
        timed(model, min(samples, RATE), streams, guard)
    rates: dict[str, list[float]] = {way: [] for way in guards}
    first, same = None, True
    for way in interleaved(list(guards), repeats):
        took, classes = timed(model, samples, streams, guards[way])
        rates[way].append(streams * samples / took)
        first = classes if first is None else first
        same &= torch.equal(first, classes)
    best = {way: max(runs) for way, runs in rates.items()}
    row = [
        preset,
        str(streams),
        f"{best['one pass']:,.0f}",
        f"{best['guarded']:,.0f}",
        f"{best['guarded'] / best['one pass']:.2f}",
        "yes" if same else "NO",
    ]
    return row, {f"{preset} {streams} stream(s) {way}": runs for way, runs in rates.items()}


def main() -> None:
    parser = Parser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--presets",
        type=listed(preset_name),
        default=["tiny", "demo"],
        help="presets, comma-separated",
    )
    parser.add_argument(
        "--seconds",
        type=positive_number("seconds", at_least=0.01, at_most=600),
        default=2.0,
        help="audio per stream and run",
    )
    parser.add_argument(
        "--repeats", type=whole_number(), default=3, help="timed runs of each way; best kept"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(cpu_line(1), flush=True)
    rows, rates = [], {}
    for preset in args.presets:
        for streams in (1, 8):
            row, runs = measure(preset, streams, args.seconds, args.repeats)
            rows.append(row)
            rates.update(runs)
    headers = [
        "preset",
        "streams",
        "one pass (samples/s)",
        "guarded (samples/s)",
        "guarded / one pass",
        "same samples",
    ]
    print(
        f"{args.seconds:g} s a stream, 1 warm-up run of each way, then best of "
        f"{args.repeats}, interleaved (order reversed every repeat)"
    )
    print(markdown_table(headers, rows))
    if warnings := spread_warnings(rates):
        print("\n" + "\n".join(warnings))


if __name__ == "__main__":
    one_line_errors(main)
