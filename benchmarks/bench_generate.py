"""Generation speed: eager, compiled (float32, bf16, int8) and a peer, in the same run.

    python benchmarks/bench_generate.py [--repeats 3] [--seconds 1.5] [--presets tiny reference]
                                        [--num 64] [--stream-threads N] [--peer] [--cpu avx2]
                                        [--no-memory] [--json OUT]

Batch-1 rows run on one thread, as ``generate_audio`` does for a few streams: the plain
generator (``generate_naive``, a full forward pass over the receptive field per sample), the
eager incremental generator (``engine="eager"``: PyTorch ops over explicit queues) and the
compiled step (``engine="compiled"``) with float32, bf16 and int8 weights; with ``--peer``
also r9y9's ``wavenet_vocoder==0.1.1`` (pip-installed into a throwaway folder) in the
issue's configuration (``reference`` only: 55 layers, 64/128/1024 channels, width 2),
timed by its ``incremental_forward`` after ``make_generation_fast_()``. The many-stream
rows generate ``--num`` clips at once on ``--stream-threads`` threads (default: what
``generate_audio`` would choose now: one per 8 streams, at most torch's default and the
CPUs other work leaves free). ``--cpu avx2`` runs everything as on an AVX2-only CPU (the
compiled step built for AVX2, torch's kernels, MKL and oneDNN held to AVX2). Each table
starts with a line naming the CPU, its vector extensions, torch's kernels, the threads and
the load.
Every generator gets about ``--seconds`` per run; runs alternate between generators (the
order reversed every other repeat) and each row reports its best run (its best chunk of 4
for many streams). Our
rates count the samples after the first: the startup (the queues filled by one forward
pass, the first sample) has its own column. Weights are random (seed 0).

Limits, measured in the same run: a batch-1 step must read every weight once, so its
limit is the rate of streaming a buffer of the weights' size on one thread (float32, bf16
or int8 bytes), divided by those bytes; many streams are bound by compute, so their limit
is the float32 sgemm rate (a 2048² torch.mm on the same threads) over 2 × the
multiply-adds per sample. Peak memory is measured in a fresh process per row (200
samples, 20 steps for many streams): its peak RSS from just before the model is built, less
the RSS then (so: weights, rearranged weights, queues, activations, the compiled module).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from itertools import pairwise
from pathlib import Path
from typing import Any

import common
import numpy as np
import torch
from arguments import Parser, json_out, one_line_errors, positive_number, preset_name, whole_number
from common import (
    PEER_CONFIG,
    PEER_PACKAGE,
    cpu_line,
    format_rate,
    format_ratio,
    interleaved,
    machine_info,
    machine_lines,
    markdown_table,
    peak_rss_mb,
    read_bytes_per_second,
    reset_peak_rss,
    run_as_cpu,
    sgemm_flops,
    spread_warnings,
    write_json,
)
from torch import Tensor

from wavenet_music.config import load_preset
from wavenet_music.runtime import threads
from wavenet_music.wavenet.compiled import engine_choice
from wavenet_music.wavenet.generate import generate, generate_naive
from wavenet_music.wavenet.model import WaveNet, macs_per_sample, parameter_count

MAX_LENGTH = 200_000  # samples per timed call of ours; the time budget stops it long before
ALL_THREADS = torch.get_num_threads()  # torch's default, before batch 1 sets one
CHUNKS_PER_RUN = 4  # many-stream rows: chunks of about seconds / 4 each
PRECISIONS = ("float32", "bf16", "int8")
WEIGHT_BYTES = {"float32": 4, "bf16": 2, "int8": 1}
NAIVE, EAGER, PEER = "naive (full forward per sample)", "eager (queues)", "peer r9y9 0.1.1"


def compiled(precision: str) -> str:
    return f"compiled {precision}"


@dataclass(frozen=True)
class Row:
    config: str
    generator: str
    batch: int
    threads: int
    samples_per_second: float
    ratio_vs_peer: float | None
    ratio_vs_eager: float | None
    limit_samples_per_second: float | None
    peak_mb: float | None
    startup_seconds: float | None  # ours: queues filled + first sample
    run_rates: tuple[float, ...]  # every run's (chunk's) samples/s; the best is reported


@dataclass
class Candidate:
    """One generator to time: ``timed(seconds)`` → (rates, startup) of one run."""

    generator: str
    timed: Callable[[float], tuple[list[float], float | None]]
    limit: Callable[[], float] | None = None  # samples/s bound, measured next to each run
    rates: list[float] = field(default_factory=list)
    startups: list[float] = field(default_factory=list)
    limits: list[float] = field(default_factory=list)


# --- timing ---------------------------------------------------------------------------------


class _BudgetSpent(Exception):
    """Raised from ``on_step`` to end a timed ``generate`` call."""


def run_ours(
    model: WaveNet, num: int, seconds: float, engine: str, precision: str = "float32"
) -> tuple[float, list[tuple[float, int]]]:
    """One ``generate`` call stopped ``seconds`` after its first callback: (startup, stamps),
    a stamp (time, samples so far) at every callback (every sample, or every run of
    samples one compiled call draws)."""
    stamps: list[tuple[float, int]] = []

    def on_step(classes: Tensor) -> None:
        stamps.append((time.perf_counter(), classes.shape[1]))
        if stamps[-1][0] - stamps[0][0] >= seconds:
            raise _BudgetSpent

    start = time.perf_counter()
    with contextlib.suppress(_BudgetSpent):
        generate(
            model,
            MAX_LENGTH,
            num,
            generator=torch.Generator().manual_seed(0),
            on_step=on_step,
            engine=engine,
            precision=precision,
        )
    return stamps[0][0] - start, stamps


def chunk_rates(stamps: list[tuple[float, int]], chunks: int, num: int) -> list[float]:
    """Samples per second, summed over ``num`` streams, in ``chunks`` equal runs of stamps.

    Counts the samples after the first stamp, so the startup is never part of a rate."""
    bounds = [round(i * (len(stamps) - 1) / chunks) for i in range(chunks + 1)]
    return [
        (stamps[b][1] - stamps[a][1]) * num / (stamps[b][0] - stamps[a][0])
        for a, b in pairwise(bounds)
        if b > a
    ]


def ours(model: WaveNet, num: int, engine: str, precision: str = "float32", chunks: int = 1):
    def timed(seconds: float) -> tuple[list[float], float]:
        startup, stamps = run_ours(model, num, seconds, engine, precision)
        return chunk_rates(stamps, chunks, num), startup

    return timed


def naive(model: WaveNet, seconds: float):
    """The plain generator, timed over the samples it makes in about ``seconds``."""
    start = time.perf_counter()
    generate_naive(model, 2, 1)  # warm-up and rate estimate
    length = max(3, min(10_000, round(seconds * 2 / (time.perf_counter() - start))))

    def timed(_: float) -> tuple[list[float], None]:
        start = time.perf_counter()
        generate_naive(model, length, 1, generator=torch.Generator().manual_seed(0))
        return [length / (time.perf_counter() - start)], None

    return timed


def interleave(candidates: list[Candidate], repeats: int, seconds: float) -> None:
    """Runs every candidate ``repeats`` times, alternating, the order reversed every other
    repeat; each run's limit is measured just before it."""
    for c in interleaved(candidates, repeats):
        if c.limit is not None:
            c.limits.append(c.limit())
        rates, startup = c.timed(seconds)
        c.rates.extend(rates)
        if startup is not None:
            c.startups.append(startup)


# --- the peer -------------------------------------------------------------------------------


def peer_model():
    """The peer in the issue's configuration, random weights (seed 0), ready to generate."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its weight_norm is deprecated in torch 2.x
        from wavenet_vocoder import WaveNet as PeerWaveNet

        torch.manual_seed(0)
        model = PeerWaveNet(**PEER_CONFIG).eval()
        model.make_generation_fast_()
    return model


def run_peer(model, samples: int) -> float:
    np.random.seed(0)  # it samples with np.random.choice
    start = time.perf_counter()
    with torch.no_grad():
        model.incremental_forward(T=samples)
    return samples / (time.perf_counter() - start)


def peer(model, seconds: float):
    rate = run_peer(model, 20)  # warm-up and rate estimate

    def timed(_: float) -> tuple[list[float], None]:
        return [run_peer(model, max(20, round(seconds * rate)))], None

    return timed


# --- rows -----------------------------------------------------------------------------------


def batch_one(name: str, model: WaveNet, args: argparse.Namespace, peer_net) -> list[Candidate]:
    """Batch-1 candidates on one thread, timed interleaved."""
    torch.set_num_threads(1)
    weights = parameter_count(model)

    def limit(precision: str) -> Callable[[], float]:
        size = weights * WEIGHT_BYTES[precision]
        return lambda: read_bytes_per_second(size) / size

    candidates = [
        Candidate(NAIVE, naive(model, args.seconds)),
        Candidate(EAGER, ours(model, 1, "eager"), limit("float32")),
        *(Candidate(compiled(p), ours(model, 1, "compiled", p), limit(p)) for p in PRECISIONS),
    ]
    if peer_net is not None:
        candidates.append(Candidate(PEER, peer(peer_net, args.seconds), limit("float32")))
    for c in candidates[1:]:
        c.timed(min(args.seconds, 0.3))  # warm-up (builds or loads the compiled step)
    interleave(candidates, args.repeats, args.seconds)
    return candidates


def many_streams(model: WaveNet, args: argparse.Namespace) -> list[Candidate]:
    """``args.num`` streams on all threads; each run is split into chunks (multi-threaded
    steps suffer most from other work on the machine, and short chunks find quiet moments)."""
    torch.set_num_threads(args.stream_threads)
    macs = macs_per_sample(model.config)

    def limit() -> float:
        return sgemm_flops(args.stream_threads) / (2 * macs)

    candidates = [
        Candidate(EAGER, ours(model, args.num, "eager", chunks=CHUNKS_PER_RUN), limit),
        *(
            Candidate(compiled(p), ours(model, args.num, "compiled", p, CHUNKS_PER_RUN), limit)
            for p in PRECISIONS
        ),
    ]
    interleave(candidates, args.repeats, args.seconds)
    return candidates


def rows_of(name: str, batch: int, threads: int, candidates: list[Candidate]) -> list[Row]:
    best = {c.generator: max(c.rates) for c in candidates}

    def ratio(rate: float, base: str) -> float | None:
        return rate / best[base] if base in best else None

    return [
        Row(
            config=name,
            generator=c.generator,
            batch=batch,
            threads=threads,
            samples_per_second=best[c.generator],
            ratio_vs_peer=ratio(best[c.generator], PEER),
            ratio_vs_eager=ratio(best[c.generator], EAGER),
            limit_samples_per_second=max(c.limits) if c.limits else None,
            peak_mb=None,
            startup_seconds=min(c.startups) if c.startups else None,
            run_rates=tuple(c.rates),
        )
        for c in candidates
    ]


def bench_preset(name: str, args: argparse.Namespace, peer_net) -> list[Row]:
    config = load_preset(name)
    torch.manual_seed(0)
    model = WaveNet(config.model).eval()
    print(f"{name}: receptive field {config.model.receptive_field}, batch 1 ...", file=sys.stderr)
    rows = rows_of(name, 1, 1, batch_one(name, model, args, peer_net))
    if args.num > 1:
        print(f"{name}: {args.num} streams ...", file=sys.stderr)
        rows += rows_of(name, args.num, args.stream_threads, many_streams(model, args))
    return rows


# --- peak memory, one fresh process per row ------------------------------------------------


def probe(spec: dict[str, Any]) -> None:
    """Child process: build the row's generator, generate, print the peak RSS growth."""
    torch.set_num_threads(spec["threads"])
    before = reset_peak_rss()
    if spec["generator"] == PEER:
        run_peer(peer_model(), 200)
    else:
        torch.manual_seed(0)
        model = WaveNet(load_preset(spec["config"]).model).eval()
        batch = spec["batch"]
        if spec["generator"] == NAIVE:
            generate_naive(model, 20, batch)
        else:
            engine, precision = generator_options(spec["generator"])
            generate(model, 200 if batch == 1 else 20, batch, engine=engine, precision=precision)
    print(json.dumps({"peak_mb": peak_rss_mb() - before}))


def generator_options(generator: str) -> tuple[str, str]:
    if generator == EAGER:
        return "eager", "float32"
    return "compiled", generator.removeprefix("compiled ")


def with_peak_memory(row: Row, peer_folder: Path | None) -> Row:
    spec = {k: getattr(row, k) for k in ("config", "generator", "batch", "threads")}
    command = [sys.executable, __file__, "--probe", json.dumps(spec)]
    if peer_folder is not None:
        command += ["--peer-folder", str(peer_folder)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        print(f"memory of {row.generator}: {done.stderr.strip()[-300:]}", file=sys.stderr)
        return row
    peak = json.loads(done.stdout.strip().splitlines()[-1])["peak_mb"]
    return replace(row, peak_mb=peak)


# --- report ---------------------------------------------------------------------------------


def table(rows: list[Row]) -> str:
    headers = [
        "config",
        "generator",
        "batch",
        "threads",
        "samples/s",
        "vs peer",
        "vs eager",
        "limit",
        "of limit",
        "peak MB",
        "startup s",
    ]
    cells = [
        [
            r.config,
            r.generator,
            str(r.batch),
            str(r.threads),
            format_rate(r.samples_per_second),
            format_ratio(r.ratio_vs_peer),
            format_ratio(r.ratio_vs_eager),
            "—" if r.limit_samples_per_second is None else format_rate(r.limit_samples_per_second),
            "—"
            if r.limit_samples_per_second is None
            else f"{r.samples_per_second / r.limit_samples_per_second:.0%}",
            "—" if r.peak_mb is None else f"{r.peak_mb:,.0f}",
            "—" if r.startup_seconds is None else f"{r.startup_seconds:.3g}",
        ]
        for r in rows
    ]
    return markdown_table(headers, cells, text=2)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = Parser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repeats", type=whole_number(), default=3, help="runs per measurement; best kept"
    )
    parser.add_argument(
        "--seconds",
        type=positive_number("seconds", at_most=3600),
        default=1.5,
        help="time budget of each run (the naive one makes at least 3 samples)",
    )
    parser.add_argument(
        "--presets",
        nargs="+",
        type=preset_name,
        default=["tiny", "reference"],
        help="presets to benchmark",
    )
    parser.add_argument(
        "--num",
        type=whole_number(0),
        default=64,
        help="streams of the many-stream rows; 0 or 1: none",
    )
    parser.add_argument(
        "--stream-threads",
        type=whole_number(),
        default=None,
        help="threads of the many-stream rows (and of their sgemm limit); default: as "
        "generate_audio would choose them now (free CPUs, one per 8 streams)",
    )
    parser.add_argument(
        "--cpu",
        choices=["native", "avx2"],
        default="native",
        help="avx2: run as on an AVX2-only CPU (compiled step, torch, MKL, oneDNN)",
    )
    parser.add_argument(
        "--peer",
        action="store_true",
        help=f"also time {PEER_PACKAGE} (pip-installed into a throwaway folder) on reference",
    )
    parser.add_argument(
        "--no-memory", action="store_true", help="skip the peak-memory column (no subprocesses)"
    )
    parser.add_argument("--json", type=json_out, default=None, help="also write results here")
    parser.add_argument("--probe", default=None, help=argparse.SUPPRESS)  # child: one row
    parser.add_argument("--peer-folder", default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def measure(args: argparse.Namespace, peer_folder: Path | None) -> list[Row]:
    peer_net = peer_model() if peer_folder is not None else None
    rows = []
    for name in args.presets:
        rows += bench_preset(name, args, peer_net if name == "reference" else None)
    if not args.no_memory:
        print("peak memory, one process per row ...", file=sys.stderr)
        rows = [with_peak_memory(r, peer_folder if r.generator == PEER else None) for r in rows]
    return rows


def report(rows: list[Row], info: dict[str, Any], args: argparse.Namespace) -> None:
    print("\n".join(machine_lines(info)))
    print(
        f"generation, random weights, temperature 1; batch 1 on 1 thread, best of "
        f"{args.repeats} runs of ~{args.seconds:g} s; {args.num} streams on {args.stream_threads} "
        f"thread(s), best of {CHUNKS_PER_RUN * args.repeats} chunks; runs interleaved; "
        "limit = weight-read rate (batch 1) or sgemm rate (many streams), measured in this "
        "run; peak MB = RSS growth of a fresh process; engine auto here: "
        f"{info['engine_auto']}"
    )
    groups = [(1, 1)] + ([(args.num, args.stream_threads)] if args.num > 1 else [])
    for batch, count in groups:  # each table under its own machine line
        print(f"\n{cpu_line(count)}\n{table([r for r in rows if r.batch == batch])}")
    rates = {f"{r.config} {r.generator} batch {r.batch}": list(r.run_rates) for r in rows}
    if warnings_ := spread_warnings(rates):
        print("\n" + "\n".join(warnings_))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    run_as_cpu(args.cpu)
    if args.probe is not None:
        if args.peer_folder is not None:
            sys.path.insert(0, args.peer_folder)
        return probe(json.loads(args.probe))
    info = machine_info()
    if args.stream_threads is None:
        cpus = threads.usable_cpus()
        busy = threads.busy_elsewhere(cpus, seconds=1.0)
        choice = threads.generation_threads(args.num, ALL_THREADS, len(cpus), busy)
        args.stream_threads = choice.threads
        print(f"{args.num} streams on {choice}", file=sys.stderr)
    tiny = WaveNet(load_preset("tiny").model)
    info["engine_auto"] = str(engine_choice(tiny))
    start = time.perf_counter()
    with common.peer_folder() if args.peer else contextlib.nullcontext() as folder:
        rows = measure(args, folder)
    report(rows, info, args)
    print(f"\n({time.perf_counter() - start:.0f} s)")
    if args.json is not None:
        payload = {"machine": info, "args": {**vars(args), "json": str(args.json)}}
        write_json(args.json, {**payload, "rows": [asdict(r) for r in rows]})


if __name__ == "__main__":
    one_line_errors(main)
