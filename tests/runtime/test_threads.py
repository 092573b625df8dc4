"""The thread counts are pure functions of the CPUs and of how busy other work keeps them;
training revisits its count as other work starts and ends."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import torch

from wavenet_music.runtime import threads
from wavenet_music.runtime.threads import (
    LoadSample,
    TrainingThreads,
    busy_between,
    free_cpus,
    generation_threads,
    training_threads,
)
from wavenet_music.runtime.training import Budget, TrainingRun


@pytest.mark.parametrize(
    ("cpus", "busy", "free"),
    [(2, 0.0, 2), (2, 0.2, 2), (2, 0.4, 1), (2, 1.0, 1), (2, 5.0, 1), (16, 1.0, 15), (16, 3.5, 12)],
)
def test_a_busy_core_is_not_free(cpus, busy, free):
    assert free_cpus(cpus, busy) == free


def test_training_leaves_busy_cores_alone():
    assert training_threads(2, 2, 0.0).threads == 2
    one = training_threads(2, 2, 1.0)  # the case: 2 cores, another process busy
    assert one.threads == 1 and str(one) == "1 thread (1 of 2 CPUs busy with other work)"
    assert training_threads(8, 16, 1.0).threads == 8  # torch's default stays the most
    assert training_threads(8, 8, 2.0).threads == 6


@pytest.mark.parametrize("streams", [1, 2, 8])
@pytest.mark.parametrize("cpus", [1, 2, 64])
def test_few_streams_generate_on_one_thread(streams, cpus):
    assert generation_threads(streams, cpus, cpus, 0.0).threads == 1


def test_many_streams_take_a_free_cpu_per_8_streams():
    assert generation_threads(64, 2, 2, 0.0).threads == 2
    assert generation_threads(64, 2, 2, 1.0).threads == 1
    assert generation_threads(9, 2, 2, 0.0).threads == 1
    assert generation_threads(64, 32, 32, 0.0).threads == 8
    assert generation_threads(64, 4, 32, 0.0).threads == 4
    assert generation_threads(64, 16, 16, 10.0).threads == 6


def test_the_users_omp_num_threads_is_kept_and_nothing_measured(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    monkeypatch.setattr(threads, "busy_elsewhere", lambda *_: pytest.fail("measured"))
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        with threads.for_training(torch.device("cpu"), quiet=True) as pool:
            assert pool.threads == torch.get_num_threads() == 3 and not pool.adapts
            assert "OMP_NUM_THREADS=3" in str(pool.choice)
        with threads.for_generation(64, torch.device("cpu")) as choice:
            assert choice.threads == torch.get_num_threads() == 3
        with threads.for_generation(4, torch.device("cpu")) as choice:
            assert choice.threads == torch.get_num_threads() == 1
        assert torch.get_num_threads() == 3  # restored after every block
    finally:
        torch.set_num_threads(before)


def test_other_devices_keep_torchs_threads():
    before = torch.get_num_threads()
    with threads.for_generation(64, torch.device("cuda")) as choice:
        assert choice is None and torch.get_num_threads() == before
    with threads.for_training(torch.device("cuda")) as choice:
        assert choice is None and torch.get_num_threads() == before


def test_usable_cpus_are_this_process_s():
    cpus = threads.usable_cpus()
    assert 1 <= len(cpus) <= (os.cpu_count() or 1)
    assert threads.busy_elsewhere(cpus, seconds=0.05) >= 0.0


def _samples(*others: float, own: float = 0.5, every_s: float = 10.0) -> Iterator[LoadSample]:
    """Load samples ``every_s`` apart in which other work keeps ``others[i]`` cores busy
    (and this process ``own``): the busy seconds of /proc/stat as they would add up."""
    busy, spent = 0.0, 0.0
    yield LoadSample(busy, spent, 0.0)
    for i, other in enumerate(others, start=1):
        busy, spent = busy + (other + own) * every_s, spent + own * every_s
        yield LoadSample(busy, spent, i * every_s)


def test_the_load_between_two_samples_is_the_others_cores():
    first, second = list(_samples(1.5))
    assert busy_between(first, second) == pytest.approx(1.5)
    assert busy_between(second, first) == 0.0  # out of order: nothing measured
    assert busy_between(LoadSample(None, 0.0, 0.0), second) == 0.0  # no /proc/stat


def test_training_takes_fewer_threads_once_two_looks_agree_and_more_when_the_work_ends():
    looks = _samples(0.0, 1.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0)
    before = torch.get_num_threads()
    pool = TrainingThreads(2, [0, 1], training_threads(2, 2, 0.0), every_s=0.0, look=looks.__next__)
    try:
        torch.set_num_threads(2)
        changes = [pool.revisit() for _ in range(8)]
        said = [None if c is None else str(c) for c in changes]
        assert said == [
            None,  # nothing else running
            None,  # other work: one look asks for 1 thread...
            "1 thread (1 of 2 CPUs busy with other work)",  # ...the second agrees
            None,
            None,  # it ended: one look...
            None,  # ...a burst of other work: the look before does not count
            None,
            "2 threads (2 CPUs free)",
        ]
        assert torch.get_num_threads() == 2 and pool.threads == 2
    finally:
        torch.set_num_threads(before)


def test_users_threads_are_not_revisited():
    looks = _samples(2.0, 2.0, 2.0)
    pool = TrainingThreads(
        2, [0, 1], training_threads(2, 2, 0.0), adapts=False, every_s=0.0, look=looks.__next__
    )
    assert [pool.revisit() for _ in range(2)] == [None, None] and pool.threads == 2


def test_the_training_loop_drops_a_thread_when_other_work_starts(capsys):
    """TrainingRun.loop revisits the threads after every step and says the change."""
    before = torch.get_num_threads()
    weight = torch.nn.Parameter(torch.zeros(1))
    run = TrainingRun(torch.optim.SGD([weight], lr=0.1), Budget(steps=4, minutes=None), False)
    looks = _samples(1.0, 1.0, 1.0, 1.0)
    run.cpu_threads = TrainingThreads(
        2, [0, 1], training_threads(2, 2, 0.0), every_s=0.0, look=looks.__next__
    )

    def one_step() -> None:
        run.step += 1

    try:
        torch.set_num_threads(2)
        assert run.loop(one_step) is False and run.step == 4
        assert torch.get_num_threads() == 1
        assert "training now on 1 thread (1 of 2 CPUs busy with other work)" in (
            capsys.readouterr().err
        )
    finally:
        torch.set_num_threads(before)


@pytest.mark.skipif(len(threads.usable_cpus()) < 2, reason="one CPU: no thread to give up")
def test_a_real_busy_process_beside_training_takes_a_thread():
    """A process spinning on a core, started after the run chose its threads, is measured
    from /proc/stat and leaves the run one thread fewer (more load elsewhere only adds)."""
    cpus = threads.usable_cpus()
    before = torch.get_num_threads()
    pool = TrainingThreads(
        len(cpus), cpus, training_threads(len(cpus), len(cpus), 0.0), every_s=0.3
    )
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        torch.set_num_threads(len(cpus))
        for _ in range(40):  # two looks must agree: about 0.6 s, 12 s at most
            time.sleep(0.3)
            if pool.revisit() is not None:
                break
        assert pool.threads < len(cpus) and torch.get_num_threads() == pool.threads
    finally:
        busy.kill()
        busy.wait()
        torch.set_num_threads(before)
