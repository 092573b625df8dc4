"""The thread counts are pure functions of the CPUs and of how busy other work keeps them."""

from __future__ import annotations

import os

import pytest
import torch

from wavenet_music.runtime import threads
from wavenet_music.runtime.threads import free_cpus, generation_threads, training_threads


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
        with threads.for_training(torch.device("cpu"), quiet=True) as choice:
            assert choice.threads == torch.get_num_threads() == 3
            assert "OMP_NUM_THREADS=3" in str(choice)
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
