"""A CUDA GPU against this machine's CPU, in the same run: training steps and generation.

    python benchmarks/bench_cuda.py [--presets reference tiny] [--jobs train generate]
                                    [--train-steps 8] [--samples 400] [--streams 1 16 256]
                                    [--json OUT]

Training rows: loss samples per second of the trainer's step (forward, bits-per-sample loss,
backward, gradient clip, Adam) on random classes in each preset's window and batch: CUDA
float32, CUDA bf16 autocast, and the baseline, the CPU in float32 on all its threads. Best
of ``--train-steps`` steps after two warm-up steps; CUDA steps end with a synchronize.

Generation rows: samples per second, summed over the streams, of ``generate`` on the GPU
(the eager incremental step, and the same step replayed as a CUDA graph: ``engine="graph"``,
what ``--device cuda`` runs) and of the compiled CPU step (one thread for one stream, as
``generate_audio`` runs it; all threads for more), for ``--streams`` streams at once.
Each rate is the difference of two calls, 100 and 100 + ``--samples`` samples long, so
that the start (the queues filled by a forward pass over the receptive field, the graph's
capture) is not in it; best of two. Weights are random (seed 0).

Without a CUDA device it says so and exits 0 (CI machines have none).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
from arguments import Parser, json_out, one_line_errors, preset_name, whole_number
from common import (
    cpu_line,
    format_rate,
    format_ratio,
    machine_info,
    machine_lines,
    markdown_table,
    write_json,
)

from wavenet_music.config import Config, load_preset
from wavenet_music.wavenet.evaluate import loss_bits
from wavenet_music.wavenet.generate import generate
from wavenet_music.wavenet.model import WaveNet

ALL_THREADS = torch.get_num_threads()
SHORT = 100  # samples of the first call of a generation rate's pair
JOBS = ["train", "generate"]


@dataclass(frozen=True)
class Row:
    config: str
    job: str  # "train" or "generate"
    where: str  # what ran it: "cuda bf16", "cpu compiled", ...
    streams: int  # batch for training, streams for generation
    samples_per_second: float
    ratio_vs_cpu: float | None


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def best_seconds(run: Callable[[], None], device: torch.device, repeats: int) -> float:
    """The shortest of ``repeats`` timed calls of ``run`` (each ended by a synchronize)."""
    times = []
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        run()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return min(times)


# --- training ---------------------------------------------------------------------------------


def train_rate(config: Config, device: torch.device, precision: str, steps: int) -> float:
    """Loss samples per second of one training step, best of ``steps`` after two warm-ups."""
    torch.manual_seed(0)
    b, s = config.train.batch_size, config.data.sample_size
    q, rf = config.model.quantization_channels, config.model.receptive_field
    inputs = torch.randint(0, q, (b, rf - 1 + s), device=device)  # (B, RF - 1 + S)
    targets = torch.randint(0, q, (b, s), device=device)  # (B, S)
    model = WaveNet(config.model).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.train.learning_rate)
    bf16 = precision == "bf16"

    def step() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            logits = model(inputs)  # (B, Q, S)
        loss = loss_bits(logits.float(), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.train.grad_clip or 1e9)
        optimizer.step()

    best_seconds(step, device, 2)  # warm-up: allocations, cuDNN's choice of algorithms
    return b * s / best_seconds(step, device, steps)


def train_rows(name: str, config: Config, steps: int) -> list[Row]:
    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    torch.set_num_threads(ALL_THREADS)
    baseline = train_rate(config, cpu, "float32", max(2, steps // 4))
    rows = [Row(name, "train", f"cpu float32 ({ALL_THREADS} threads)", config.train.batch_size,
                baseline, 1.0)]  # fmt: skip
    for precision in ("float32", "bf16"):
        rate = train_rate(config, cuda, precision, steps)
        rows.append(
            Row(name, "train", f"cuda {precision}", config.train.batch_size, rate, rate / baseline)
        )
    return rows


# --- generation -------------------------------------------------------------------------------


def generate_rate(model: WaveNet, num: int, samples: int, engine: str) -> float:
    """Samples per second summed over ``num`` streams, the start left out (two calls)."""
    device = next(model.parameters()).device

    def call(length: int) -> Callable[[], None]:
        def run() -> None:
            generator = torch.Generator(device=device).manual_seed(0)
            generate(model, length, num, generator=generator, engine=engine)

        return run

    short = best_seconds(call(SHORT), device, 2)
    long = best_seconds(call(SHORT + samples), device, 2)
    return samples * num / max(long - short, 1e-9)


def generate_rows(name: str, config: Config, streams: list[int], samples: int) -> list[Row]:
    torch.manual_seed(0)
    model = WaveNet(config.model).eval()
    rows = []
    for num in streams:
        torch.set_num_threads(1 if num == 1 else ALL_THREADS)
        baseline = generate_rate(model, num, samples, "compiled")
        threads = torch.get_num_threads()
        rows.append(Row(name, "generate", f"cpu compiled ({threads} thr.)", num, baseline, 1.0))
        model.to("cuda")
        for engine in ("eager", "graph"):
            gpu = generate_rate(model, num, samples, engine)
            rows.append(Row(name, "generate", f"cuda {engine}", num, gpu, gpu / baseline))
        model.to("cpu")
    torch.set_num_threads(ALL_THREADS)
    return rows


# --- the report -------------------------------------------------------------------------------


def table(rows: list[Row]) -> str:
    headers = ["config", "job", "where", "batch / streams", "samples/s", "× cpu"]
    cells = [
        [r.config, r.job, r.where, str(r.streams), format_rate(r.samples_per_second),
         format_ratio(r.ratio_vs_cpu)]
        for r in rows
    ]  # fmt: skip
    return markdown_table(headers, cells, text=3)


def gpu_line() -> str:
    p = torch.cuda.get_device_properties(0)
    return (
        f"gpu: {p.name}, {p.total_memory / 2**30:.0f} GiB, {p.multi_processor_count} SMs; "
        f"torch {torch.__version__}, CUDA {torch.version.cuda}"
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = Parser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", type=preset_name, default=["reference", "tiny"])
    parser.add_argument("--jobs", nargs="+", choices=["train", "generate"], default=JOBS)
    parser.add_argument("--train-steps", type=whole_number(), default=8, help="timed steps")
    parser.add_argument("--samples", type=whole_number(), default=400, help="samples timed")
    parser.add_argument("--streams", type=whole_number(), nargs="+", default=[1, 16, 256])
    parser.add_argument("--json", type=json_out, default=None, help="also write results here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)  # bad flags are refused with or without a GPU
    if not torch.cuda.is_available():
        print("bench_cuda: no CUDA device here; nothing to measure")
        return
    info = machine_info()
    rows = []
    for name in args.presets:
        config = load_preset(name)
        if "train" in args.jobs:
            rows += train_rows(name, config, args.train_steps)
        if "generate" in args.jobs:
            rows += generate_rows(name, config, args.streams, args.samples)
        print(f"{name}: done", flush=True)
    print("\n".join(machine_lines(info)))
    print(gpu_line())
    print(cpu_line(ALL_THREADS))
    print(table(rows))
    if args.json is not None:
        payload = {"machine": info, "gpu": gpu_line(), "rows": [asdict(r) for r in rows]}
        write_json(args.json, payload)


if __name__ == "__main__":
    one_line_errors(main)
