"""Where jobs run: training goes to a GPU where there is one; generation stays on the CPU
(its compiled step beats a GPU's one-kernel-at-a-time step: benchmarks/bench_cuda.py) unless
a GPU is asked for. A machine without CUDA stands in for one with it: ``cuda`` is reported
present, so anything that really used it would fail."""

from __future__ import annotations

import pytest
import torch

from wavenet_music.cli import main
from wavenet_music.config import UserError
from wavenet_music.runtime.device import (
    cgroup_room,
    generation_device,
    meminfo_available,
    on_generation_device,
    resolve_device,
)
from wavenet_music.wavenet.train import train

from ..conftest import small_config


@pytest.fixture
def cuda_reported(monkeypatch):
    """torch says CUDA is available (it is not: using it raises)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)


def test_auto_trains_on_the_gpu_and_generates_on_the_cpu(cuda_reported):
    assert resolve_device("auto") == torch.device("cuda")
    assert generation_device("auto") == torch.device("cpu")
    assert generation_device("cpu") == torch.device("cpu")
    assert generation_device("cuda:1") == torch.device("cuda", 1)  # asked for: the GPU


def test_a_gpu_asked_for_where_there_is_none_is_one_line(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(UserError, match="CUDA is not available"):
        generation_device("cuda")
    assert generation_device("auto") == torch.device("cpu")


def test_a_model_on_the_cpu_is_generated_from_as_it_is():
    model = torch.nn.Linear(2, 2)
    assert on_generation_device(model) is model


def test_generate_runs_on_the_cpu_where_a_gpu_is_present(music_root, tmp_path, monkeypatch):
    config = small_config(str(tmp_path / "cache"), **{"train.steps": 2, "train.device": "cpu"})
    train(music_root / "piano", tmp_path / "run", config, quiet=True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    out = tmp_path / "clip.wav"
    argv = ["generate", str(tmp_path / "run"), "--seconds", "0.02", "--out", str(out)]
    assert main([*argv, "--quiet"]) == 0
    assert out.stat().st_size > 0


@pytest.mark.parametrize("name", ["mps", "xpu", "meta", "cpu:1", "tpu", " cpu", "cuda:x"])
def test_a_device_this_package_does_not_run_on_is_one_line(name):
    """torch knows mps, xpu and meta; they failed deep inside torch (generate, evaluate)."""
    with pytest.raises(UserError, match="expected auto, cpu, cuda or cuda:N"):
        generation_device(name)


GIB = 1 << 30
MEMINFO = "MemTotal:       24000000 kB\nMemFree:  1000 kB\nMemAvailable:   22220412 kB\n"


def test_the_room_for_a_job_reads_the_system_and_the_container_s_limit():
    """Inside a container with an 8 GiB limit on a larger machine, /proc/meminfo sees the
    machine: the room is what the limit leaves."""
    assert meminfo_available(MEMINFO) == 22220412 * 1024
    assert meminfo_available("MemTotal: 1 kB\n") is None and meminfo_available(None) is None
    assert cgroup_room(f"{8 * GIB}\n", f"{3 * GIB}\n") == 5 * GIB
    assert cgroup_room(str(8 * GIB), str(9 * GIB)) == 0  # over its limit: no room
    assert cgroup_room("max\n", "123\n") is None  # cgroup v2 without a limit
    assert cgroup_room("9223372036854771712\n", "123\n") is None  # v1 without a limit
    assert cgroup_room(None, None) is None and cgroup_room("oops", "1") is None
