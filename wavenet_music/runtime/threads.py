"""How many threads torch runs on: the CPUs this process may use, less those other work keeps
busy.

torch starts one OpenMP thread per core, and every parallel operation waits for all of its
threads. A core that another process keeps busy runs our thread only now and then, so every
operation waits for it. Measured on a 2-core Zen 4 with other work on the machine: training
``tiny`` ran at 7,300-8,000 samples/s on one thread against 1,700-2,100 on two, and one
sampling step of 8 streams took 0.2 ms on one thread against 2.7 ms on two.

``training_threads`` and ``generation_threads`` are the rules, pure functions of the CPUs and
of how busy they are; ``for_training`` and ``for_generation`` measure both (0.1 s of
/proc/stat) and set torch's thread count while their block runs. An ``OMP_NUM_THREADS`` in
the environment is the user's choice: it caps the count and nothing is measured.
"""

from __future__ import annotations

import functools
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

ONE_THREAD_UP_TO = 8  # streams; a step of fewer is too short to split (eager: 13× slower on 2)
BUSY_SLACK = 0.25  # cores' worth of other work (daemons, jitter) that does not take a core
WINDOW_S = 0.1  # how long the load is measured


@dataclass(frozen=True)
class ThreadChoice:
    """A thread count and why, as the log lines say it."""

    threads: int
    reason: str

    def __str__(self) -> str:
        return f"{self.threads} thread{'' if self.threads == 1 else 's'} ({self.reason})"


def free_cpus(cpus: int, busy: float) -> int:
    """CPUs left to us when other work keeps ``busy`` cores' worth of ``cpus`` busy: each
    started core of it takes one (beyond ``BUSY_SLACK``), and one is always left."""
    return max(1, cpus - max(0, math.ceil(busy - BUSY_SLACK)))


def training_threads(most: int, cpus: int, busy: float) -> ThreadChoice:
    """Threads for training: at most ``most`` (torch's default: one per core), no more
    than the CPUs other work leaves free."""
    free = free_cpus(cpus, busy)
    return ThreadChoice(min(most, free), _load(cpus, free))


def generation_threads(streams: int, most: int, cpus: int, busy: float) -> ThreadChoice:
    """Threads for generating ``streams`` at once: one up to ``ONE_THREAD_UP_TO`` streams
    (a step is bound by per-operation overhead, which threads only add to), else one per
    ``ONE_THREAD_UP_TO`` streams, at most ``most`` and the free CPUs."""
    streams_text = f"{streams} stream{'' if streams == 1 else 's'}"
    if streams <= ONE_THREAD_UP_TO:
        return ThreadChoice(1, streams_text)
    free = free_cpus(cpus, busy)
    threads = min(most, free, streams // ONE_THREAD_UP_TO)
    return ThreadChoice(threads, f"{streams_text}; {_load(cpus, free)}")


def _load(cpus: int, free: int) -> str:
    if free == cpus:
        return f"{cpus} CPU{'' if cpus == 1 else 's'} free"
    return f"{cpus - free} of {cpus} CPUs busy with other work"


@contextmanager
def for_training(device: torch.device, quiet: bool = False) -> Iterator[ThreadChoice | None]:
    """torch's threads chosen by ``training_threads`` while the block runs (CPU training),
    with one line on stderr when other work costs threads."""
    import torch  # here, not at the top: transcription chooses threads without torch

    if device.type != "cpu":
        yield None
        return
    choice = _measured(training_threads)
    if choice.threads < torch.get_num_threads() and not quiet:
        print(f"training on {choice}; OMP_NUM_THREADS=N to choose", file=sys.stderr)
    with using(choice.threads):
        yield choice


@contextmanager
def for_generation(streams: int, device: torch.device) -> Iterator[ThreadChoice | None]:
    """torch's threads chosen by ``generation_threads`` while the block runs (CPU only)."""
    import torch

    if device.type != "cpu":
        yield None
        return
    if streams <= ONE_THREAD_UP_TO:  # nothing to measure
        choice = generation_threads(streams, torch.get_num_threads(), 1, 0.0)
    else:
        choice = _measured(functools.partial(generation_threads, streams))
    with using(choice.threads):
        yield choice


@contextmanager
def using(threads: int) -> Iterator[None]:
    """torch.set_num_threads(threads) while the block runs; the count before, after it."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _measured(rule: Callable[[int, int, float], ThreadChoice]) -> ThreadChoice:
    """``rule(most, cpus, busy)`` on this machine now; with ``OMP_NUM_THREADS`` set, on its
    count and nothing busy (the user chose)."""
    import torch

    most = torch.get_num_threads()
    if "OMP_NUM_THREADS" in os.environ:
        choice = rule(most, most, 0.0)
        return ThreadChoice(choice.threads, f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}")
    cpus = usable_cpus()
    return rule(most, len(cpus), busy_elsewhere(cpus))


def usable_cpus() -> list[int]:
    """The CPUs this process may run on (its affinity), as many as a cgroup quota allows."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = list(range(os.cpu_count() or 1))
    quota = _cgroup_quota()
    return cpus if quota is None else cpus[: max(1, quota)]


def _cgroup_quota() -> int | None:
    """Whole CPUs of a cgroup-v2 quota (``cpu.max``: "quota period" or "max period")."""
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        return None if quota == "max" else math.ceil(int(quota) / int(period))
    except (OSError, ValueError):
        return None


def busy_elsewhere(cpus: list[int], seconds: float = WINDOW_S) -> float:
    """Cores' worth of ``cpus`` that other processes keep busy, over the next ``seconds``:
    their busy time in /proc/stat less this process's own; 0 where /proc/stat is missing."""
    before, own_before, start = _busy_seconds(cpus), time.process_time(), time.monotonic()
    time.sleep(seconds)
    after, own_after = _busy_seconds(cpus), time.process_time()
    if before is None or after is None:
        return 0.0
    others = (after - before) - (own_after - own_before)
    return max(0.0, others / (time.monotonic() - start))


def _busy_seconds(cpus: list[int]) -> float | None:
    """Busy CPU-seconds since boot of ``cpus`` (user..steal, not idle or iowait)."""
    wanted, total = {f"cpu{c}" for c in cpus}, 0
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            name, *fields = line.split()
            if name in wanted:
                ticks = [int(v) for v in fields[:8]]
                total += sum(ticks) - ticks[3] - ticks[4]
    except (OSError, ValueError):
        return None
    return total / os.sysconf("SC_CLK_TCK")
