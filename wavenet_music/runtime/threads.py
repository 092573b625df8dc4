"""How many threads torch runs on: the CPUs this process may use, less those other work keeps
busy.

torch starts one OpenMP thread per core, and every parallel operation waits for all of its
threads. A core that another process keeps busy runs our thread only now and then, so every
operation waits for it. Measured on a 2-core Zen 4 with other work on the machine: training
``tiny`` ran at 7,300-8,000 samples/s on one thread against 1,700-2,100 on two, and one
sampling step of 8 streams took 0.2 ms on one thread against 2.7 ms on two.

``training_threads`` and ``generation_threads`` are the rules, pure functions of the CPUs and
of how busy they are; ``for_training`` and ``for_generation`` measure both (0.1 s of
/proc/stat) and set torch's thread count while their block runs. Other work that starts or
ends while a model trains moves the count too: ``TrainingThreads.revisit``, called after
every step, looks at the load again every ``REVISIT_S``. Measured on a 2-core Sapphire
Rapids, two demo trainings side by side ran at 1,300-6,800 samples/s each on two threads
and 14,000 each on one (alone: 23,000 on two); a training on two threads beside a busy loop
ran at 7,500-8,000, on one 13,000-14,000. An ``OMP_NUM_THREADS`` in the environment is the
user's choice: it caps the count and nothing is measured.
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
REVISIT_S = 10.0  # training seconds between two looks at the load


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


@dataclass(frozen=True)
class LoadSample:
    """What the load is measured from at one moment: the busy CPU-seconds of ``cpus`` since
    boot (None without /proc/stat), this process's CPU-seconds, the clock."""

    busy: float | None
    own: float
    at: float

    @classmethod
    def now(cls, cpus: list[int]) -> LoadSample:
        return cls(_busy_seconds(cpus), time.process_time(), time.monotonic())


def busy_between(before: LoadSample, after: LoadSample) -> float:
    """Cores' worth that other processes kept busy from ``before`` to ``after``: the CPUs'
    busy time less this process's own (all its threads); 0 where /proc/stat is missing."""
    if before.busy is None or after.busy is None or after.at <= before.at:
        return 0.0
    others = (after.busy - before.busy) - (after.own - before.own)
    return max(0.0, others / (after.at - before.at))


class TrainingThreads:
    """torch's thread count while a CPU training loop runs, kept to the CPUs other work
    leaves free as that work starts and ends.

    ``revisit`` (after every step) looks at the load every ``every_s`` seconds, over the
    time since its last look, and sets the count ``training_threads`` gives; a new count is
    taken only when two looks in a row agree on it, so one burst of other work moves
    nothing. With ``OMP_NUM_THREADS`` set (``adapts`` False) the user's count stands.

    Args:
        most: the most threads (torch's default: one per core).
        cpus: the CPUs this process may use (``usable_cpus``).
        choice: the count the run starts on, already set.
        adapts: whether ``revisit`` may change it.
        every_s: seconds between two looks (``REVISIT_S``).
        look: the load now (``LoadSample.now`` of ``cpus``; a test's samples).
    """

    def __init__(
        self,
        most: int,
        cpus: list[int],
        choice: ThreadChoice,
        adapts: bool = True,
        every_s: float = REVISIT_S,
        look: Callable[[], LoadSample] | None = None,
    ) -> None:
        self.most, self.cpus, self.choice = most, cpus, choice
        self.adapts, self.every_s = adapts, every_s
        self.look = look or functools.partial(LoadSample.now, cpus)
        self.last = self.look()
        self.pending: int | None = None  # a count one look asked for; the next must agree

    @property
    def threads(self) -> int:
        return self.choice.threads

    def revisit(self) -> ThreadChoice | None:
        """The new choice when other work started or ended and two looks agree (torch's
        count is set to it); None while the count stands, and between looks."""
        if not self.adapts or time.monotonic() - self.last.at < self.every_s:
            return None
        now = self.look()
        proposed = training_threads(self.most, len(self.cpus), busy_between(self.last, now))
        self.last = now
        if proposed.threads == self.threads or self.pending != proposed.threads:
            self.pending = None if proposed.threads == self.threads else proposed.threads
            return None
        import torch

        self.pending, self.choice = None, proposed
        torch.set_num_threads(proposed.threads)
        return proposed


@contextmanager
def for_training(device: torch.device, quiet: bool = False) -> Iterator[TrainingThreads | None]:
    """torch's threads chosen by ``training_threads`` while the block runs (CPU training),
    with one line on stderr when other work costs threads; the block's loop calls the
    yielded ``TrainingThreads.revisit`` after each step."""
    import torch  # here, not at the top: transcription chooses threads without torch

    if device.type != "cpu":
        yield None
        return
    most, cpus = torch.get_num_threads(), usable_cpus()
    choice = _measured(training_threads)
    if choice.threads < most and not quiet:
        print(f"training on {choice}; OMP_NUM_THREADS=N to choose", file=sys.stderr)
    with using(choice.threads):
        yield TrainingThreads(most, cpus, choice, adapts="OMP_NUM_THREADS" not in os.environ)


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
    before = LoadSample.now(cpus)
    time.sleep(seconds)
    return busy_between(before, LoadSample.now(cpus))


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
