"""Generation speed: the incremental generator against the plain one, in the same run.

    python benchmarks/bench_generate.py [--repeats 3] [--seconds 1.5]
                                        [--presets tiny reference] [--num 64] [--json OUT]

Batch-1 rows run on one thread, as ``generate_audio`` does for a few streams (per-op
overhead dominates at batch 1). The incremental generator (``generate``) and the plain one
(``generate_naive``, a full forward pass over the receptive field per sample) alternate,
each run gets about ``--seconds``, and each row reports its best of ``--repeats`` runs.
The incremental rate counts the samples after the first: the startup (filling the queues
with one forward pass over the receptive field, then the first sample) has its own column.
The many-stream row generates ``--num`` clips at once on all threads in one call of
``--repeats`` budgets (its startup is paid once), splits the steps into 4 chunks per budget
and reports the best chunk, summed over streams; its ratio is against the batch-1 plain
generator. Weights are random (seed 0).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from dataclasses import asdict, dataclass
from itertools import pairwise
from pathlib import Path

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

from wavenet_music.config import load_preset
from wavenet_music.generate import generate, generate_naive
from wavenet_music.model import WaveNet

MAX_LENGTH = 200_000  # samples per fast call; the time budget stops it long before
ALL_THREADS = torch.get_num_threads()  # torch's default, before batch 1 sets one
CHUNKS_PER_RUN = 4  # many-stream rows: chunks of about seconds / 4 each
NAIVE, FAST = "naive (full forward per sample)", "incremental (queues)"


@dataclass(frozen=True)
class Row:
    config: str
    generator: str
    batch: int
    threads: int
    samples_per_second: float
    ratio_vs_naive: float
    startup_seconds: float | None  # incremental only: queues filled + first sample
    samples_timed: int  # per run (per chunk for many streams)
    run_rates: tuple[float, ...]  # every run's samples/s; the best is reported


@dataclass(frozen=True)
class FastRun:
    startup: float  # seconds from the call to the first sample
    stamps: list[float]  # perf_counter() after every sample


class _BudgetSpent(Exception):
    """Raised from ``on_step`` to end a timed ``generate`` call."""


def run_fast(model: WaveNet, num: int, seconds: float) -> FastRun:
    """One ``generate`` call, stopped once ``seconds`` have passed since its first sample."""
    stamps: list[float] = []

    def on_step(_: Tensor) -> None:
        stamps.append(time.perf_counter())
        if stamps[-1] - stamps[0] >= seconds:
            raise _BudgetSpent

    start = time.perf_counter()
    with contextlib.suppress(_BudgetSpent):
        generate(
            model, MAX_LENGTH, num, generator=torch.Generator().manual_seed(0), on_step=on_step
        )
    return FastRun(stamps[0] - start, stamps)


def chunk_rates(stamps: list[float], chunks: int, num: int) -> list[float]:
    """Samples per second, summed over ``num`` streams, in ``chunks`` equal runs of steps.

    Counts the steps after the first stamp, so the startup is never part of a rate."""
    bounds = [round(i * (len(stamps) - 1) / chunks) for i in range(chunks + 1)]
    return [(b - a) * num / (stamps[b] - stamps[a]) for a, b in pairwise(bounds) if b > a]


def run_naive(model: WaveNet, length: int) -> float:
    """Samples per second of one ``generate_naive`` call of ``length`` samples."""
    start = time.perf_counter()
    generate_naive(model, length, 1, generator=torch.Generator().manual_seed(0))
    return length / (time.perf_counter() - start)


def naive_length(model: WaveNet, seconds: float) -> int:
    """Samples the plain generator makes in about ``seconds`` (at least 3); warms it up."""
    rate = run_naive(model, 2)
    return max(3, min(10_000, round(seconds * rate)))


def batch_one_rows(name: str, model: WaveNet, repeats: int, seconds: float) -> list[Row]:
    """Fast and plain generator at batch 1 on one thread, interleaved, best of ``repeats``."""
    torch.set_num_threads(1)
    run_fast(model, 1, min(seconds, 0.3))  # warm-up
    length = naive_length(model, seconds)
    fast: list[FastRun] = []
    naive: list[float] = []
    for repeat in range(repeats):
        runs = [
            lambda: fast.append(run_fast(model, 1, seconds)),
            lambda: naive.append(run_naive(model, length)),
        ]
        for run in runs[:: 1 if repeat % 2 == 0 else -1]:
            run()
    fast_rates = tuple(chunk_rates(f.stamps, 1, 1)[0] for f in fast)
    best = fast[fast_rates.index(max(fast_rates))]
    rate, naive_rate, timed = max(fast_rates), max(naive), len(best.stamps) - 1
    startup = min(f.startup for f in fast)
    return [
        Row(name, NAIVE, 1, 1, naive_rate, 1.0, None, length, tuple(naive)),
        Row(name, FAST, 1, 1, rate, rate / naive_rate, startup, timed, fast_rates),
    ]


def many_stream_row(name: str, model: WaveNet, args: argparse.Namespace, naive_rate: float) -> Row:
    """``args.num`` streams at once on all threads: one call of ``args.repeats`` budgets,
    best of ``CHUNKS_PER_RUN * args.repeats`` chunks (multi-threaded steps suffer most from
    other work on the machine, and short chunks find the quiet moments)."""
    torch.set_num_threads(ALL_THREADS)
    run = run_fast(model, args.num, args.seconds * args.repeats)
    chunks = CHUNKS_PER_RUN * args.repeats
    rates = tuple(chunk_rates(run.stamps, chunks, args.num))
    rate = max(rates)
    timed = (len(run.stamps) - 1) // chunks
    ratio = rate / naive_rate
    return Row(name, FAST, args.num, ALL_THREADS, rate, ratio, run.startup, timed, rates)


def bench_preset(name: str, args: argparse.Namespace) -> list[Row]:
    config = load_preset(name)
    torch.manual_seed(0)
    model = WaveNet(config.model).eval()
    print(f"{name}: receptive field {config.model.receptive_field}, batch 1 ...", file=sys.stderr)
    rows = batch_one_rows(name, model, args.repeats, args.seconds)
    if args.num > 1:
        print(f"{name}: {args.num} streams ...", file=sys.stderr)
        rows.append(many_stream_row(name, model, args, rows[0].samples_per_second))
    return rows


def table(rows: list[Row]) -> str:
    headers = [
        "config",
        "generator",
        "batch",
        "threads",
        "samples/s",
        "vs naive",
        "startup s",
        "samples timed",
    ]
    cells = [
        [
            r.config,
            r.generator,
            str(r.batch),
            str(r.threads),
            format_rate(r.samples_per_second),
            format_ratio(r.ratio_vs_naive),
            "—" if r.startup_seconds is None else f"{r.startup_seconds:.3g}",
            f"{r.samples_timed:,}",
        ]
        for r in rows
    ]
    return markdown_table(headers, cells, text=2)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement; best kept")
    parser.add_argument(
        "--seconds",
        type=float,
        default=1.5,
        help="time budget of each run (the naive one makes at least 3 samples)",
    )
    parser.add_argument(
        "--presets", nargs="+", default=["tiny", "reference"], help="presets to benchmark"
    )
    parser.add_argument(
        "--num",
        type=int,
        default=64,
        help="streams of the many-stream row; 1 or less leaves it out",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.seconds <= 0:
        parser.error(
            f"expected --repeats >= 1 and --seconds > 0, got {args.repeats}, {args.seconds}"
        )
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    info = machine_info()
    start = time.perf_counter()
    rows = [row for name in args.presets for row in bench_preset(name, args)]
    print("\n".join(machine_lines(info)))
    print(
        f"generation, random weights, temperature 1; batch 1 on 1 thread, best of "
        f"{args.repeats} runs of ~{args.seconds:g} s; {args.num} streams on {ALL_THREADS} "
        f"threads, best of {CHUNKS_PER_RUN * args.repeats} chunks of one call; incremental "
        "rates exclude the startup column\n"
    )
    print(table(rows))
    rates = {f"{r.config} {r.generator} batch {r.batch}": list(r.run_rates) for r in rows}
    if warnings := spread_warnings(rates):
        print("\n" + "\n".join(warnings))
    print(f"\n({time.perf_counter() - start:.0f} s)")
    if args.json is not None:
        write_json(
            args.json,
            {
                "machine": info,
                "args": {**vars(args), "json": str(args.json)},
                "rows": [asdict(r) for r in rows],
            },
        )


if __name__ == "__main__":
    main()
