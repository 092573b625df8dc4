"""Training speed and memory: our WaveNet against the textbook skip layout, in the same run.

    python benchmarks/bench_train.py [--steps 4] [--repeats 3] [--presets tiny reference]
                                     [--json OUT]

One step is what ``Trainer.train_step`` does (forward, ``loss_bits``, backward, gradient
clipping, Adam) in fp32 on torch's default threads, with random classes as inputs and
targets: ``reference`` at batch 1 × 10,000 targets (window receptive field - 1 + 10,000),
``tiny`` at its preset batch and window. Every measurement runs in a fresh subprocess: one
warm-up step, then ``--steps`` timed steps; its peak memory is the growth of the process's
peak RSS (``ru_maxrss``) from just before the model is built, so it holds the weights,
gradients, Adam moments and activations. The two layouts alternate; each row reports its
fastest step of all ``--repeats`` subprocesses (other work on the machine only ever slows a
step down) and the largest peak.

The baseline, ``TextbookWaveNet``, is the layout of ibab/tensorflow-wavenet: every layer
applies its own skip 1×1 convolution over its whole output, and the skip outputs are
cropped to the predicted positions only when they are summed. ``WaveNet`` crops the gated
outputs first and applies all skip convolutions as one matrix product.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from common import (
    format_rate,
    format_ratio,
    machine_info,
    machine_lines,
    markdown_table,
    spread_warnings,
    write_json,
)
from torch import Tensor

from wavenet_music.config import Config, load_preset
from wavenet_music.model import WaveNet
from wavenet_music.train import loss_bits


class TextbookWaveNet(WaveNet):
    """Same weights and function as ``WaveNet``; per-layer skips over the full length."""

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """x (B, T) classes → logits (B, Q, T - receptive_field + 1)."""
        outputs = x.shape[1] - self.receptive_field + 1
        skips = torch.zeros(())
        zs = self.gated_outputs(x, labels)  # (B, D, T_l) per layer
        for block, z in zip(self.blocks, zs, strict=True):
            skips = skips + block.skip(z)[:, :, -outputs:]  # (B, Sk, S)
        return self.head(skips)  # (B, Q, S)


LAYOUTS: dict[str, type[WaveNet]] = {"ours": WaveNet, "textbook": TextbookWaveNet}
LABELS = {"ours": "ours (skips: one matmul, cropped)", "textbook": "textbook (skips per layer)"}


@dataclass(frozen=True)
class Row:
    config: str
    trainer: str
    batch: int
    window: int
    targets: int
    samples_per_second: float  # loss samples (targets) per second
    ratio_vs_textbook: float
    peak_rss_mb: float


# --- one measurement, in its own process ------------------------------------------------------


def random_batch(config: Config) -> tuple[Tensor, Tensor]:
    """Inputs (B, RF - 1 + S) and targets (B, S) of random classes, as the sampler shapes them."""
    b, s = config.train.batch_size, config.data.sample_size
    q, rf = config.model.quantization_channels, config.model.receptive_field
    return torch.randint(0, q, (b, rf - 1 + s)), torch.randint(0, q, (b, s))


def train_step(
    model: WaveNet,
    optimizer: torch.optim.Optimizer,
    batch: tuple[Tensor, Tensor],
    grad_clip: float | None,
) -> float:
    """``Trainer.train_step`` without the sampler, the learning-rate schedule and the step count."""
    model.train()
    loss = loss_bits(model(batch[0]), batch[1])
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip is not None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    return loss.item()


def peak_rss_mb() -> float:
    scale = 2**20 if sys.platform == "darwin" else 2**10  # bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


def measure(preset: str, layout: str, steps: int) -> dict[str, Any]:
    """Loss samples per second of each of ``steps`` steps after a warm-up; peak RSS growth."""
    config = load_preset(preset)
    torch.manual_seed(0)
    batch = random_batch(config)
    before = peak_rss_mb()
    model = LAYOUTS[layout](config.model)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.train.learning_rate)
    train_step(model, optimizer, batch, config.train.grad_clip)  # warm-up
    rates = []
    for _ in range(steps):
        start = time.perf_counter()
        train_step(model, optimizer, batch, config.train.grad_clip)
        rates.append(batch[1].numel() / (time.perf_counter() - start))
    return {"samples_per_second": rates, "peak_rss_mb": peak_rss_mb() - before}


def run_child(preset: str, layout: str, steps: int) -> dict[str, Any]:
    """``measure`` in a fresh interpreter, so that peaks of earlier measurements don't mix."""
    command = [sys.executable, __file__, "--child", preset, layout, "--steps", str(steps)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{preset}/{layout} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.splitlines()[-1])


# --- the comparison ---------------------------------------------------------------------------


def check_same_function(preset: str) -> None:
    """The baseline must compute what ``WaveNet`` computes, or its speed means nothing."""
    config = load_preset(preset)
    ours, textbook = WaveNet(config.model), TextbookWaveNet(config.model)
    textbook.load_state_dict(ours.state_dict())
    x = torch.randint(0, config.model.quantization_channels, (1, ours.receptive_field + 15))
    with torch.no_grad():
        expected, got = ours(x), textbook(x)
    if not torch.allclose(expected, got, rtol=1e-4, atol=1e-4):
        raise RuntimeError(
            f"{preset}: TextbookWaveNet differs from WaveNet by "
            f"{(expected - got).abs().max().item():.3g}"
        )


Results = dict[tuple[str, str], list[dict[str, Any]]]  # (preset, layout) → one per process


def collect(presets: list[str], steps: int, repeats: int) -> Results:
    """Every (preset, layout) measured ``repeats`` times, the layouts alternating."""
    results: Results = {}
    for repeat in range(repeats):
        for preset in presets:
            for layout in list(LAYOUTS)[:: 1 if repeat % 2 == 0 else -1]:
                print(f"{preset} {layout} (repeat {repeat + 1}/{repeats}) ...", file=sys.stderr)
                results.setdefault((preset, layout), []).append(run_child(preset, layout, steps))
    return results


def step_rates(results: Results, preset: str, layout: str) -> list[float]:
    return [rate for run in results[(preset, layout)] for rate in run["samples_per_second"]]


def rows_for(preset: str, results: Results) -> list[Row]:
    config = load_preset(preset)
    b, s = config.train.batch_size, config.data.sample_size
    window = config.model.receptive_field - 1 + s
    best = {k: max(step_rates(results, preset, k)) for k in LAYOUTS}
    peak = {k: max(r["peak_rss_mb"] for r in results[(preset, k)]) for k in LAYOUTS}
    return [
        Row(
            preset,
            layout,
            b,
            window,
            b * s,
            best[layout],
            best[layout] / best["textbook"],
            peak[layout],
        )
        for layout in LAYOUTS
    ]


def table(rows: list[Row]) -> str:
    headers = [
        "config",
        "trainer",
        "batch × window",
        "loss-samples/s",
        "vs textbook",
        "peak RSS MB",
    ]
    cells = [
        [
            r.config,
            LABELS[r.trainer],
            f"{r.batch} × {r.window:,}",
            format_rate(r.samples_per_second),
            format_ratio(r.ratio_vs_textbook),
            f"{r.peak_rss_mb:,.0f}",
        ]
        for r in rows
    ]
    return markdown_table(headers, cells, text=2)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4, help="timed steps after the warm-up")
    parser.add_argument(
        "--repeats", type=int, default=3, help="fresh processes per measurement; best speed kept"
    )
    parser.add_argument(
        "--presets", nargs="+", default=["tiny", "reference"], help="presets to benchmark"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    parser.add_argument("--child", nargs=2, metavar=("PRESET", "LAYOUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.steps < 1 or args.repeats < 1:
        parser.error(f"expected --steps >= 1 and --repeats >= 1, got {args.steps}, {args.repeats}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.child is not None:
        print(json.dumps(measure(*args.child, args.steps)))
        return
    info, start = machine_info(), time.perf_counter()
    for preset in args.presets:
        check_same_function(preset)
    results = collect(args.presets, args.steps, args.repeats)
    rows = [row for preset in args.presets for row in rows_for(preset, results)]
    print("\n".join(machine_lines(info)))
    print(
        f"training step (forward, loss, backward, clip, Adam), fp32, {info['torch_threads']} "
        f"threads, random classes; {args.steps} timed steps after 1 warm-up in each of "
        f"{args.repeats} fresh processes, fastest step kept; peak RSS = growth of ru_maxrss "
        "from just before the model is built\n"
    )
    print(table(rows))
    rates = {f"{p} {k}": step_rates(results, p, k) for p, k in results}
    if warnings := spread_warnings(rates):
        print("\n" + "\n".join(warnings))
    print(f"\n({time.perf_counter() - start:.0f} s)")
    if args.json is not None:
        payload_args = {**vars(args), "json": str(args.json)}
        write_json(
            args.json,
            {
                "machine": info,
                "args": payload_args,
                "rows": [asdict(r) for r in rows],
                "runs": {f"{p}/{k}": v for (p, k), v in results.items()},
            },
        )


if __name__ == "__main__":
    main()
