"""The composer's training step and held-out pass: fused attention against the math path.

    python benchmarks/bench_composer.py [--preset demo] [--steps 3] [--repeats 5]
                                        [--threads N] [--cpu avx2] [--json OUT]

The composer of ``--preset`` (the demo's: 4 blocks of width 128, 4 heads, windows of 8 ×
533 note events, 20.5 s at the demo corpus's 26 events a second, 4 genre labels) on random
event tokens. One training step is what ``ComposerTrainer.train_step`` does (forward,
cross-entropy, backward, gradient clipping, AdamW); one held-out pass scores 4 windows of
the context in inference.

Cases, each in the same process, interleaved (their order reversed every repeat), each
row its fastest of ``--repeats`` (other work only ever slows a step down):

- ``fused``: attention dropout 0, so torch runs its fused (flash) attention kernel on the
  (1, H, T, T) ALiBi mask: the composer since 2026-12-04;
- ``math``: attention dropout 0.1, the composer until then: torch's reference path, which
  builds the (B, H, T, T) attention matrix, its dropout mask and their gradients. Its
  held-out pass is timed with the math kernel forced (what a (H, T, T) mask ran before).

``--cpu avx2`` runs everything as on an AVX2-only CPU (torch's kernels, MKL and oneDNN
held to AVX2). The table starts with a line naming the CPU, its vector extensions,
torch's kernels, the threads and the load.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import replace

import torch
import torch.nn.functional as F
from arguments import Parser, json_out, one_line_errors, preset_name, whole_number
from common import (
    cpu_line,
    format_rate,
    format_ratio,
    interleaved,
    markdown_table,
    run_as_cpu,
    write_json,
)
from torch.nn.attention import SDPBackend, sdpa_kernel

from wavenet_music.composer.config import ComposerConfig
from wavenet_music.composer.model import Composer
from wavenet_music.config import load_preset
from wavenet_music.notes.events import VOCAB_SIZE
from wavenet_music.report.estimate import EVENTS_PER_SECOND

CASES = {"fused": 0.0, "math": 0.1}  # case → attention dropout
LABELS = 4  # the demo's genres
HELD_OUT_WINDOWS = 4


def training_step(config: ComposerConfig, context: int) -> Callable[[], None]:
    torch.manual_seed(0)
    model = Composer(config, VOCAB_SIZE, LABELS, context).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-9)
    tokens = torch.randint(0, VOCAB_SIZE, (config.batch_size, context + 1))  # (B, T + 1)
    labels = torch.randint(0, LABELS, (config.batch_size,))

    def step() -> None:
        logits = model(tokens[:, :-1], labels)  # (B, T, V)
        loss = F.cross_entropy(logits.transpose(1, 2), tokens[:, 1:])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()

    return step


def held_out_pass(config: ComposerConfig, context: int, math: bool) -> Callable[[], None]:
    torch.manual_seed(0)
    model = Composer(config, VOCAB_SIZE, LABELS, context).eval()
    tokens = torch.randint(0, VOCAB_SIZE, (HELD_OUT_WINDOWS, context))  # (W, T)
    labels = torch.arange(HELD_OUT_WINDOWS) % LABELS

    def score() -> None:
        kernel = sdpa_kernel(SDPBackend.MATH) if math else contextlib.nullcontext()
        with torch.no_grad(), kernel:
            model(tokens, labels)

    return score


def fastest(work: Callable[[], None], steps: int) -> float:
    """Seconds of the fastest of ``steps`` calls, after one warm-up."""
    work()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = Parser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", type=preset_name, default="demo", help="whose composer")
    parser.add_argument("--steps", type=whole_number(), default=3, help="timed calls a run")
    parser.add_argument("--repeats", type=whole_number(), default=5, help="runs; best kept")
    parser.add_argument("--threads", type=whole_number(), help="default: torch's")
    parser.add_argument("--cpu", choices=("native", "avx2"), default="native")
    parser.add_argument("--json", type=json_out, help="also write the seconds here")
    args = parser.parse_args()
    run_as_cpu(args.cpu)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    config = load_preset(args.preset, ComposerConfig())
    context = config.context_events(EVENTS_PER_SECOND)
    print(cpu_line(torch.get_num_threads()), flush=True)
    work = {}
    for case, dropout in CASES.items():
        cased = replace(config, attention_dropout=dropout)
        work[(case, "training step")] = training_step(cased, context)
        work[(case, "held-out pass")] = held_out_pass(cased, context, math=case == "math")
    seconds: dict[tuple[str, str], float] = {}
    for key in interleaved(list(work), args.repeats):
        seconds[key] = min(seconds.get(key, float("inf")), fastest(work[key], args.steps))
    rows = []
    for what in ("training step", "held-out pass"):
        tokens = (config.batch_size if what == "training step" else HELD_OUT_WINDOWS) * context
        for case in CASES:
            took = seconds[(case, what)]
            ratio = seconds[("math", what)] / took
            rows.append(
                [what, case, f"{took * 1000:,.0f}", format_rate(tokens / took), format_ratio(ratio)]
            )
    headers = ["", "attention", "ms", "tokens/s", "vs math"]
    print(
        f"composer of preset {args.preset!r}: {config.layers} blocks, width {config.width}, "
        f"{config.heads} heads, windows of {context} events"
    )
    print(markdown_table(headers, rows, text=2))
    if args.json:
        write_json(args.json, {"|".join(k): v for k, v in seconds.items()})


if __name__ == "__main__":
    one_line_errors(main)
