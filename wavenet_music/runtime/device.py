"""Where a job runs: the device a setting names (training and scoring go to the GPU where
there is one; sample-by-sample generation stays on the CPU unless asked), and the device a
model is on."""

from __future__ import annotations

import copy
from typing import TypeVar

import torch

from ..config.checks import UserError

Module = TypeVar("Module", bound=torch.nn.Module)


def resolve_device(name: str) -> torch.device:
    """The device ``name`` (auto, cpu, cuda, cuda:N) means here; a one-line error for any
    other (torch knows mps, xpu, meta ...: this package runs on CPUs and CUDA GPUs) or one
    this machine does not have."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    expected = f"device {name!r}: expected auto, cpu, cuda or cuda:N"
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UserError(expected) from None
    if device.type not in ("cpu", "cuda") or (device.type == "cpu" and device.index):
        raise UserError(expected)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"device {name}: CUDA is not available here; use cpu or auto")
    count = torch.cuda.device_count() if device.type == "cuda" else 0
    if count and (device.index or 0) >= count:
        raise UserError(f"device {name}: this machine has CUDA devices 0-{count - 1}")
    return device


def generation_device(name: str) -> torch.device:
    """The device ``name`` means for sample-by-sample generation: ``auto`` is the CPU even
    where a GPU is present. Generation is one small step per sample; on a GPU it runs as a
    CUDA graph (``wavenet/graphed.py``), about 10 kernels a layer, each a few microseconds,
    whatever the model's width, while the compiled CPU step's time grows with the width:
    on an H200 beside 16 Xeon cores, models of the demo's size (``tiny``) drew 25× and 6×
    more samples a second on the CPU at 1 and 16 streams (1.05× more on the GPU at 256),
    ``reference`` 1.23×, 1.02× and 2.6× more on the GPU at 1, 16 and 256 streams
    (benchmarks/bench_cuda.py, 2026-12-04). ``cuda`` or ``cuda:N`` asks for the GPU
    (``compose`` drives the step itself, so there it runs the eager step)."""
    return torch.device("cpu") if name == "auto" else resolve_device(name)


def model_device(model: torch.nn.Module) -> torch.device:
    """The device of ``model``'s parameters."""
    return next(model.parameters()).device


def on_generation_device(model: Module) -> Module:
    """``model`` itself where it is on the CPU, else a copy of it on the CPU (where
    ``generation_device("auto")`` generates), for the samples a job that runs on a GPU
    draws along the way: training's audio snippets, evaluate's renders of notes."""
    if model_device(model).type == "cpu":
        return model
    return copy.deepcopy(model).to("cpu")


def free_memory(device: torch.device) -> int | None:
    """Bytes free for a new job on ``device``: a GPU's free memory, or on a CPU the least of
    what Linux reports as available (``MemAvailable``: free memory and caches it can drop)
    and the room left under this container's memory limit (cgroup v2 or v1), which
    ``/proc/meminfo`` does not see; None where neither is known (another system)."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    rooms = [meminfo_available(_read("/proc/meminfo"))]
    for limit, usage in CGROUP_MEMORY:
        rooms.append(cgroup_room(_read(limit), _read(usage)))
    known = [room for room in rooms if room is not None]
    return min(known) if known else None


# (limit, usage) files of this process's memory cgroup: v2, then v1
CGROUP_MEMORY = (
    ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
    ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
)


def meminfo_available(text: str | None) -> int | None:
    """Bytes of ``MemAvailable`` in the text of ``/proc/meminfo`` (None: not there)."""
    for line in (text or "").splitlines():
        fields = line.split()
        if fields[:1] == ["MemAvailable:"] and len(fields) > 1 and fields[1].isdigit():
            return int(fields[1]) * 1024
    return None


def cgroup_room(limit: str | None, usage: str | None) -> int | None:
    """Bytes left under a memory cgroup's ``limit`` at its ``usage`` (the files' texts);
    None without a limit ("max", or v1's "unlimited" near 2**63) or where unreadable."""
    if limit is None or usage is None:
        return None
    limit, usage = limit.strip(), usage.strip()
    if not (limit.isdigit() and usage.isdigit()) or int(limit) >= 1 << 62:
        return None
    return max(0, int(limit) - int(usage))


def _read(path: str) -> str | None:
    try:
        with open(path) as file:
            return file.read()
    except OSError:
        return None


def in_binary_units(n: int) -> str:
    """``n`` bytes as a person reads them: ``1.5 GiB``."""
    units = ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
    power = min(len(units) - 1, max(0, (n.bit_length() - 1) // 10))
    return f"{n / 1024**power:.1f} {units[power]}"
