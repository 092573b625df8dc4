"""Training speed and memory: ours in float32 and bf16, the textbook layout and a peer.

    python benchmarks/bench_train.py [--steps 4] [--repeats 3] [--presets tiny reference]
                                     [--trainers ours ours-bf16 textbook] [--peer]
                                     [--threads N] [--cpu avx2] [--json OUT]

One step is what ``Trainer.train_step`` does (forward, ``loss_bits``, backward, gradient
clipping, Adam) on ``--threads`` threads (default: as ``train`` chooses them now: torch's
default, less the CPUs other work keeps busy), with random classes as inputs and targets:
``reference`` at batch 1 × 10,000 targets (window receptive field - 1 + 10,000), ``tiny``
at its preset batch and window. ``ours-bf16`` runs the forward under bf16 autocast with
float32 weights, gradients, optimizer and loss (``train.precision=bf16``); by default only
on a CPU with bfloat16 arithmetic (AVX512_BF16 or AMX; not with ``--cpu avx2``): elsewhere
autocast emulates it and one ``reference`` step runs for minutes (name it in
``--trainers`` to time it anyway).

Every measurement runs in a fresh subprocess: one warm-up step, then ``--steps`` timed
steps; its peak memory is the growth of the process's peak RSS from just before the model
is built, so it holds the weights, gradients, Adam moments and activations. The trainers
alternate (their order reversed every repeat); each row reports its fastest step of all
``--repeats`` subprocesses (other work on the machine only ever slows a step down) and the
largest peak.

Baselines: ``textbook`` is the layout of ibab/tensorflow-wavenet (every layer applies its
own skip 1×1 convolution over its whole output; the skip outputs are cropped to the
predicted positions only when summed), same weights and function as ours. With ``--peer``,
r9y9's ``wavenet_vocoder==0.1.1`` is pip-installed into a throwaway folder and timed on
``reference`` in the issue's configuration (one-hot input of receptive field + 10,000
samples, built outside the timed step; cross-entropy on the last 10,000 outputs; its
defaults otherwise: weight normalisation, dropout 0.05).

``--cpu avx2`` runs everything as on an AVX2-only CPU (torch's kernels, MKL and oneDNN held
to AVX2). The table starts with a line naming the CPU, its vector extensions, torch's
kernels, the threads and the load.

"of sgemm bound" is the float32 rate over the rate at which the step's multiply-adds
(3 × the forward's: forward, input and weight gradients) would run at the machine's sgemm
speed, measured in the same run (a 2048² ``torch.mm``); above 100% means the convolution
kernels beat that matrix product.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from arguments import Parser, json_out, one_line_errors, preset_name, whole_number
from common import (
    PEER_CONFIG,
    PEER_PACKAGE,
    cpu_line,
    format_rate,
    format_ratio,
    machine_info,
    machine_lines,
    markdown_table,
    peak_rss_mb,
    peer_folder,
    reset_peak_rss,
    run_as_cpu,
    sgemm_flops,
    spread_warnings,
    write_json,
)
from torch import Tensor, nn

from wavenet_music.config import Config, ModelConfig, load_preset
from wavenet_music.runtime import threads
from wavenet_music.runtime.training import emulated_bf16_note
from wavenet_music.wavenet.evaluate import loss_bits
from wavenet_music.wavenet.kernels import cpu_flags
from wavenet_music.wavenet.model import WaveNet


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


@dataclass(frozen=True)
class Contender:
    label: str
    precision: str  # float32 or bf16 (autocast)


CONTENDERS = {
    "ours": Contender("ours", "float32"),
    "ours-bf16": Contender("ours, bf16 autocast", "bf16"),
    "textbook": Contender("textbook (skips per layer)", "float32"),
    "peer": Contender(f"peer r9y9 {PEER_PACKAGE.split('==')[1]}", "float32"),
}
PEER_PRESET = "reference"  # the preset whose model is the peer's configuration


@dataclass(frozen=True)
class Row:
    config: str
    trainer: str
    precision: str
    batch: int
    window: int
    targets: int
    samples_per_second: float  # loss samples (targets) per second
    ratio_vs_peer: float | None
    ratio_vs_textbook: float | None
    of_sgemm_bound: float | None  # float32 rows
    peak_rss_mb: float


# --- one measurement, in its own process ------------------------------------------------------


LossFn = Callable[[], Tensor]


def random_batch(config: Config) -> tuple[Tensor, Tensor]:
    """Inputs (B, RF - 1 + S) and targets (B, S) of random classes, as the sampler shapes them."""
    b, s = config.train.batch_size, config.data.sample_size
    q, rf = config.model.quantization_channels, config.model.receptive_field
    return torch.randint(0, q, (b, rf - 1 + s)), torch.randint(0, q, (b, s))


def ours(config: Config, contender: str) -> tuple[nn.Module, LossFn]:
    """Our model (or the textbook layout) and its loss, as ``Trainer.train_step`` computes it."""
    inputs, targets = random_batch(config)
    model = (TextbookWaveNet if contender == "textbook" else WaveNet)(config.model)
    bf16 = CONTENDERS[contender].precision == "bf16"

    def loss() -> Tensor:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model(inputs)  # (B, Q, S)
        return loss_bits(logits.float(), targets)

    return model, loss


def peer(config: Config) -> tuple[nn.Module, LossFn]:
    """The peer, trained on its last ``sample_size`` outputs of a receptive field + that."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its weight_norm is deprecated in torch 2.x
        from wavenet_vocoder import WaveNet as PeerWaveNet

        model = PeerWaveNet(**PEER_CONFIG, scalar_input=False)
    b, s, q = config.train.batch_size, config.data.sample_size, PEER_CONFIG["out_channels"]
    classes = torch.randint(0, q, (b, model.receptive_field + s))
    inputs = F.one_hot(classes, q).transpose(1, 2).float()  # (B, Q, T)
    targets = torch.randint(0, q, (b, s))
    return model, lambda: loss_bits(model(inputs)[:, :, -s:], targets)


def train_step(
    model: nn.Module, optimizer: torch.optim.Optimizer, loss_fn: LossFn, grad_clip: float | None
) -> float:
    """``Trainer.train_step`` without the sampler, the learning-rate schedule and the step count."""
    model.train()
    loss = loss_fn()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip is not None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    return loss.item()


def measure(preset: str, contender: str, steps: int) -> dict[str, Any]:
    """Loss samples per second of each of ``steps`` steps after a warm-up; peak RSS growth."""
    config = load_preset(preset)
    torch.manual_seed(0)
    before = reset_peak_rss()
    model, loss_fn = peer(config) if contender == "peer" else ours(config, contender)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.train.learning_rate)
    train_step(model, optimizer, loss_fn, config.train.grad_clip)  # warm-up
    targets = config.train.batch_size * config.data.sample_size
    rates = []
    for _ in range(steps):
        start = time.perf_counter()
        train_step(model, optimizer, loss_fn, config.train.grad_clip)
        rates.append(targets / (time.perf_counter() - start))
    return {"samples_per_second": rates, "peak_rss_mb": peak_rss_mb() - before}


def run_child(
    preset: str, contender: str, steps: int, peer_path: Path | None, count: int
) -> dict[str, Any]:
    """``measure`` on ``count`` threads in a fresh interpreter, so that peaks of earlier
    measurements don't mix."""
    command = [sys.executable, __file__, "--child", preset, contender, "--steps", str(steps)]
    command += ["--threads", str(count)]
    if peer_path is not None:
        command += ["--peer-path", str(peer_path)]
    done = subprocess.run(command, capture_output=True, text=True)
    done.check_returncode()  # its stderr, then one line naming it (one_line_errors)
    return json.loads(done.stdout.splitlines()[-1])


# --- the comparison ---------------------------------------------------------------------------


def check_same_function(preset: str) -> None:
    """The baseline must compute what ``WaveNet`` computes, or its speed means nothing."""
    config = load_preset(preset)
    ours_, textbook = WaveNet(config.model), TextbookWaveNet(config.model)
    textbook.load_state_dict(ours_.state_dict())
    x = torch.randint(0, config.model.quantization_channels, (1, ours_.receptive_field + 15))
    with torch.no_grad():
        expected, got = ours_(x), textbook(x)
    if not torch.allclose(expected, got, rtol=1e-4, atol=1e-4):
        raise RuntimeError(
            f"{preset}: TextbookWaveNet differs from WaveNet by "
            f"{(expected - got).abs().max().item():.3g}"
        )


def train_macs_per_target(config: Config) -> float:
    """Multiply-adds of one training step per loss sample: 3 × the forward's (the forward,
    the input gradients and the weight gradients)."""
    m, s = config.model, config.data.sample_size
    return 3 * forward_macs(m, m.receptive_field - 1 + s, s) / s


def forward_macs(m: ModelConfig, window: int, targets: int) -> int:
    """The forward's multiply-adds on a window: every layer on its (shrinking) length; skips
    and head on the targets only."""
    k, q, r, d, sk = (
        m.filter_width,
        m.quantization_channels,
        m.residual_channels,
        m.dilation_channels,
        m.skip_channels,
    )
    length = window - (k - 1)
    macs = length * k * q * r  # the initial causal convolution
    for dilation in m.dilations:
        length -= (k - 1) * dilation
        macs += length * (k * r * 2 * d + d * r)  # filter/gate taps, residual 1×1
    return macs + targets * (m.layers * d * sk + sk * sk + sk * q)  # skips, head


Results = dict[tuple[str, str], list[dict[str, Any]]]  # (preset, contender) → one per process


def contenders_for(preset: str, names: list[str]) -> list[str]:
    return [n for n in names if n != "peer" or preset == PEER_PRESET]


def collect(
    presets: list[str], names: list[str], steps: int, repeats: int, peer_path, count: int
) -> Results:
    """Every (preset, contender) measured ``repeats`` times on ``count`` threads, the
    contenders alternating."""
    results: Results = {}
    for repeat in range(repeats):
        for preset in presets:
            order = contenders_for(preset, names)[:: 1 if repeat % 2 == 0 else -1]
            for name in order:
                print(f"{preset} {name} (repeat {repeat + 1}/{repeats}) ...", file=sys.stderr)
                peer = peer_path if name == "peer" else None
                run = run_child(preset, name, steps, peer, count)
                results.setdefault((preset, name), []).append(run)
    return results


def step_rates(results: Results, preset: str, name: str) -> list[float]:
    return [rate for run in results[(preset, name)] for rate in run["samples_per_second"]]


def rows_for(preset: str, names: list[str], results: Results, sgemm: float) -> list[Row]:
    config = load_preset(preset)
    b, s = config.train.batch_size, config.data.sample_size
    names = contenders_for(preset, names)
    best = {n: max(step_rates(results, preset, n)) for n in names}
    bound = sgemm / (2 * train_macs_per_target(config))  # loss samples per second

    def ratio(name: str, baseline: str) -> float | None:
        return best[name] / best[baseline] if baseline in best and name != baseline else None

    return [
        Row(
            preset,
            name,
            CONTENDERS[name].precision,
            b,
            config.model.receptive_field - 1 + s,
            b * s,
            best[name],
            ratio(name, "peer"),
            ratio(name, "textbook"),
            best[name] / bound if CONTENDERS[name].precision == "float32" else None,
            max(r["peak_rss_mb"] for r in results[(preset, name)]),
        )
        for name in names
    ]


def table(rows: list[Row]) -> str:
    headers = [
        "config",
        "trainer",
        "batch × window",
        "loss-samples/s",
        "vs peer",
        "vs textbook",
        "of sgemm bound",
        "peak RSS MB",
    ]
    cells = [
        [
            r.config,
            CONTENDERS[r.trainer].label,
            f"{r.batch} × {r.window:,}",
            format_rate(r.samples_per_second),
            format_ratio(r.ratio_vs_peer),
            format_ratio(r.ratio_vs_textbook),
            "—" if r.of_sgemm_bound is None else f"{r.of_sgemm_bound:.0%}",
            f"{r.peak_rss_mb:,.0f}",
        ]
        for r in rows
    ]
    return markdown_table(headers, cells, text=2)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = Parser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--steps", type=whole_number(), default=4, help="timed steps after the warm-up"
    )
    parser.add_argument(
        "--repeats",
        type=whole_number(),
        default=3,
        help="fresh processes per measurement; best speed kept",
    )
    parser.add_argument(
        "--presets",
        nargs="+",
        type=preset_name,
        default=["tiny", "reference"],
        help="presets to benchmark",
    )
    parser.add_argument(
        "--trainers",
        nargs="+",
        default=None,
        choices=[n for n in CONTENDERS if n != "peer"],
        help="which of ours (float32), ours-bf16 and textbook to time; default: all three, "
        "ours-bf16 only where the CPU has bfloat16 arithmetic (emulated, a step takes minutes)",
    )
    parser.add_argument(
        "--peer",
        action="store_true",
        help=f"also time {PEER_PACKAGE} (pip-installed into a throwaway folder) on reference",
    )
    parser.add_argument(
        "--threads",
        type=whole_number(),
        default=None,
        help="threads of every step; default: as train chooses them now (free CPUs)",
    )
    parser.add_argument(
        "--cpu",
        choices=["native", "avx2"],
        default="native",
        help="avx2: run as on an AVX2-only CPU (torch's kernels, MKL, oneDNN)",
    )
    parser.add_argument("--json", type=json_out, default=None, help="also write results here")
    parser.add_argument("--child", nargs=2, metavar=("PRESET", "TRAINER"), help=argparse.SUPPRESS)
    parser.add_argument("--peer-path", default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def report(args: argparse.Namespace, names: list[str], peer_path: Path | None) -> None:
    info, start = machine_info(), time.perf_counter()
    for preset in args.presets:
        check_same_function(preset)
    results = collect(args.presets, names, args.steps, args.repeats, peer_path, args.threads)
    sgemm = sgemm_flops(args.threads)
    rows = [row for p in args.presets for row in rows_for(p, names, results, sgemm)]
    print("\n".join(machine_lines(info)))
    print(
        f"training step (forward, loss, backward, clip, Adam), {args.threads} thread(s), "
        f"random classes; {args.steps} timed steps after 1 warm-up in each of {args.repeats} "
        f"fresh processes, fastest step kept; peak RSS = growth from just before the model is "
        f"built; sgemm {sgemm / 1e9:.0f} GFLOP/s\n"
    )
    print(f"{cpu_line(args.threads)}\n{table(rows)}")
    rates = {f"{p} {n}": step_rates(results, p, n) for p, n in results}
    if warnings_ := spread_warnings(rates):
        print("\n" + "\n".join(warnings_))
    print(f"\n({time.perf_counter() - start:.0f} s)")
    if args.json is not None:
        payload = {
            "machine": info,
            "args": {**vars(args), "json": str(args.json)},
            "sgemm_flops": sgemm,
            "rows": [asdict(r) for r in rows],
            "runs": {f"{p}/{n}": v for (p, n), v in results.items()},
        }
        write_json(args.json, payload)


DEFAULT_TRAINERS = ("ours", "ours-bf16", "textbook")


def default_trainers(cpu: str, flags: str) -> tuple[list[str], str]:
    """The trainers timed when none are named, and why bf16 is left out ("" where it is
    not): on a CPU without bfloat16 arithmetic (``flags`` lack it, or ``--cpu avx2`` holds
    torch to AVX2) autocast emulates it, and one ``reference`` step ran for minutes on a
    Zen 3 (2026-12-07), timing nothing a user would run."""
    why = emulated_bf16_note("bf16", torch.device("cpu"), "" if cpu == "avx2" else flags)
    if not why:
        return list(DEFAULT_TRAINERS), ""
    kept = [n for n in DEFAULT_TRAINERS if CONTENDERS[n].precision != "bf16"]
    return kept, f"ours-bf16 left out: {why} (--trainers ours-bf16 times it anyway)"


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    run_as_cpu(args.cpu)
    if args.child is not None:
        if args.peer_path is not None:
            sys.path.insert(0, args.peer_path)
        torch.set_num_threads(args.threads)
        print(json.dumps(measure(*args.child, args.steps)))
        return
    if args.threads is None:
        cpus = threads.usable_cpus()
        busy = threads.busy_elsewhere(cpus, seconds=1.0)
        choice = threads.training_threads(torch.get_num_threads(), len(cpus), busy)
        args.threads = choice.threads
        print(f"training steps on {choice}", file=sys.stderr)
    if args.trainers is None:
        args.trainers, why = default_trainers(args.cpu, cpu_flags())
        if why:
            print(why, file=sys.stderr)
    if not args.peer:
        report(args, args.trainers, None)
        return
    names = [*args.trainers, "peer"]
    with peer_folder() as folder:
        report(args, names, folder)


if __name__ == "__main__":
    one_line_errors(main)
