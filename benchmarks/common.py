"""Helpers shared by the benchmarks: machine description, markdown tables, JSON output.

The benchmarks run as scripts (``python benchmarks/bench_generate.py``), so this module is
imported as ``common`` from the script's own folder.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import torch

from wavenet_music.wavenet import kernels


def cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo (the platform's guess elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cpu_ticks() -> tuple[int, int] | None:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat; None elsewhere."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields[:8]) - idle, sum(fields[:8])


def busy_cores(seconds: float = 1.0) -> float | None:
    """Cores' worth of CPU that other processes use now (averaged over ``seconds``)."""
    before = _cpu_ticks()
    time.sleep(seconds)
    after = _cpu_ticks()
    if before is None or after is None or after[1] == before[1]:
        return None
    return (after[0] - before[0]) / (after[1] - before[1]) * (os.cpu_count() or 1)


def machine_info() -> dict[str, Any]:
    """What the numbers depend on, including how busy other processes kept the machine."""
    busy = busy_cores()
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "vector_extensions": vector_extensions(),
        "emulated": os.environ.get("WAVENET_MUSIC_CPU") or None,
        "torch_capability": torch.backends.cpu.get_cpu_capability(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "busy_cores_at_start": None if busy is None else round(busy, 2),
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
    }


# The vector extensions the numbers depend on, as /proc/cpuinfo names them.
VECTOR_EXTENSIONS = (
    "avx2",
    "fma",
    "avx512f",
    "avx512bw",
    "avx512vl",
    "avx512_bf16",
    "avx512_vnni",
    "avx_vnni",
    "amx_tile",
    "amx_bf16",
    "amx_int8",
)


def vector_extensions(emulated: bool = True) -> str:
    """The CPU's vector extensions (``emulated``: as the compiled step and torch see them
    under ``--cpu avx2``), space-separated; "none" without AVX2."""
    flags = kernels.cpu_features() if emulated else frozenset(kernels.cpu_flags().split())
    return " ".join(f for f in VECTOR_EXTENSIONS if f in flags) or "none"


def cpu_line(threads: int) -> str:
    """The line above every table: CPU model, vector extensions, torch's kernels, threads
    and how busy the machine is (load averages over 1, 5 and 15 minutes)."""
    emulated = os.environ.get("WAVENET_MUSIC_CPU") == "avx2"
    vectors = vector_extensions()
    if emulated:
        vectors = f"{vectors}, emulated AVX2-only (the CPU has: {vector_extensions(False)})"
    load = " ".join(f"{value:.1f}" for value in os.getloadavg())
    return (
        f"cpu: {cpu_model()} ({os.cpu_count()} CPUs): {vectors}; torch kernels "
        f"{torch.backends.cpu.get_cpu_capability()}; {threads} thread"
        f"{'' if threads == 1 else 's'}; load {load} (1/5/15 min)"
    )


# --cpu avx2: everything that picks a vector path, held to AVX2 (set before torch starts).
AVX2_ENVIRONMENT = {
    "WAVENET_MUSIC_CPU": "avx2",  # the compiled step: -march=x86-64-v3
    "ATEN_CPU_CAPABILITY": "avx2",  # torch's own kernels
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",  # its sgemm
    "ONEDNN_MAX_CPU_ISA": "AVX2",  # its convolutions
}


def run_as_cpu(cpu: str) -> None:
    """For ``--cpu avx2``: run this script again, held to AVX2 (torch reads its variables
    once, at start); returns at once when that is done or ``cpu`` is ``native``."""
    if cpu == "native" or all(os.environ.get(k) == v for k, v in AVX2_ENVIRONMENT.items()):
        return
    os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **AVX2_ENVIRONMENT})


def machine_lines(info: dict[str, Any]) -> list[str]:
    """``machine: ...`` and ``date: ...`` lines for the top of a report."""
    busy = info["busy_cores_at_start"]
    busy_text = "" if busy is None else f", {busy:.1f} cores busy with other work at start"
    return [
        f"machine: {info['cpu']}, {info['cores']} CPUs, torch {info['torch']} "
        f"(default {info['torch_threads']} threads), python {info['python']}{busy_text}",
        f"date: {info['date']}",
    ]


T = TypeVar("T")


def interleaved(cases: Sequence[T], repeats: int) -> Iterator[T]:
    """Every case ``repeats`` times, alternating, the order reversed every other repeat:
    a slow minute on the machine slows every case, not the one that ran then, and none
    always runs first. Time each case as it comes and keep its best run."""
    for repeat in range(repeats):
        yield from cases if repeat % 2 == 0 else cases[::-1]


def spread_warnings(rates: dict[str, list[float]], limit: float = 1.5) -> list[str]:
    """A line for every measurement whose runs disagree by more than ``limit`` times:
    the machine was busy, and only the best run is a fair number."""
    lines = []
    for name, values in rates.items():
        spread = max(values) / min(values)
        if spread > limit:
            lines.append(f"warning: runs of {name} varied {spread:.1f}× (busy machine?)")
    return lines


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]], text: int = 1) -> str:
    """A GitHub-markdown table with padded columns: the first ``text`` columns aligned left,
    the others (numbers) right."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        padded = [
            str(c).ljust(w) if i < text else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "| " + " | ".join(padded) + " |"

    rule = ["-" * w if i < text else "-" * (w - 1) + ":" for i, w in enumerate(widths)]
    return "\n".join([line(headers), line(rule), *(line(r) for r in rows)])


def write_json(path: Path, payload: dict[str, Any]) -> None:
    Path(path).write_text(json.dumps(payload, indent=1) + "\n")
    print(f"wrote {path}")


def format_rate(value: float) -> str:
    """Whole numbers with thousands separators from 100 up, 3 significant figures below."""
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def format_ratio(value: float | None) -> str:
    """``12.3×`` style; an em dash when there is nothing to compare with."""
    if value is None:
        return "—"
    return f"{value:,.0f}×" if value >= 10 else f"{value:.2f}×"


# --- limits of the machine, measured in the same run as what they bound ---------------------


def _status_mb(key: str) -> float | None:
    """A ``VmRSS``/``VmHWM`` line of /proc/self/status in MB; None where there is none."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1e3  # kB
    except OSError:
        pass
    return None


def peak_rss_mb() -> float:
    """The process's peak resident memory (since ``reset_peak_rss``), in MB."""
    peak = _status_mb("VmHWM")
    if peak is not None:
        return peak
    scale = 1e6 if sys.platform == "darwin" else 1e3  # ru_maxrss: kB on Linux, bytes on macOS
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


def reset_peak_rss() -> float:
    """Start counting the peak afresh (Linux: VmHWM := VmRSS) and return the RSS now, MB, so
    that ``peak_rss_mb() - reset_peak_rss()`` is what the code in between added at most."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
    now = _status_mb("VmRSS")
    return peak_rss_mb() if now is None else now


def sgemm_flops(threads: int, size: int = 2048, repeats: int = 3) -> float:
    """Best float32 FLOP/s of a ``size``² matrix product on ``threads`` threads."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)  # warm-up
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        best = max(best, 2 * size**3 / (time.perf_counter() - start))
    torch.set_num_threads(before)
    return best


def read_bytes_per_second(nbytes: int, repeats: int = 5) -> float:
    """Best rate of reading an ``nbytes`` float32 buffer once (a sum) on one thread: how fast
    a batch-1 step can stream weights of that size from wherever they fit."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    buffer = torch.randn(max(1, nbytes // 4))
    buffer.sum()  # warm-up: touched once, as generation's weights are
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        buffer.sum()
        best = max(best, buffer.numel() * 4 / (time.perf_counter() - start))
    torch.set_num_threads(before)
    return best


# --- the peer: r9y9's wavenet_vocoder, in the issue's configuration -------------------------

PEER_PACKAGE = "wavenet_vocoder==0.1.1"
PEER_CONFIG = {  # the configuration of the peer = our `reference` preset
    "out_channels": 256,
    "layers": 55,
    "stacks": 5,
    "residual_channels": 64,
    "gate_channels": 128,
    "skip_out_channels": 1024,
    "kernel_size": 2,
    "cin_channels": -1,
    "gin_channels": -1,
}


@contextlib.contextmanager
def peer_folder() -> Iterator[Path]:
    """A throwaway folder with the peer pip-installed (without dependencies), on sys.path."""
    folder = Path(tempfile.mkdtemp(prefix="wavenet-peer-"))
    try:
        command = [sys.executable, "-m", "pip", "install", "-q", "--no-deps"]
        subprocess.run([*command, "--target", str(folder), PEER_PACKAGE], check=True)
        sys.path.insert(0, str(folder))
        yield folder
    finally:
        if str(folder) in sys.path:
            sys.path.remove(str(folder))
        shutil.rmtree(folder, ignore_errors=True)
