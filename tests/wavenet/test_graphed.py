"""The CUDA-graph engine (``graphed.py``) draws what the eager generator draws.

Its step keeps the clock on the device; on a CPU the same clocked step runs uncaptured, so
these tests prove its arithmetic (every index it derives from the time: queue slots,
local-conditioning frames, the notes heard, the rows of uniform numbers, floors and
temperatures) on any machine. The tests marked ``cuda`` prove the capture itself: the
replayed graph draws what the eager step draws on the same GPU. They skip without CUDA.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from wavenet_music.config import UserError
from wavenet_music.notes.excitation import CHANNELS as HEARD
from wavenet_music.wavenet import compiled, graphed
from wavenet_music.wavenet import generate as generate_module
from wavenet_music.wavenet.generate import generate
from wavenet_music.wavenet.graphed import GraphedWaveNet

from .test_compiled import LABELS, ZEN4, _model
from .test_generate import CONFIGS

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
LENGTH = 120


def _everything(model, device: str = "cpu") -> dict:
    """Generation arguments that use every index the clocked step derives from the time:
    labels, local frames, notes heard, per-sample temperatures, floors, a jump limit."""
    g = torch.Generator().manual_seed(2)
    config = model.config
    temperatures = torch.full((3, LENGTH), 1.5)
    temperatures[1, 40:] = 0.7
    floors = torch.zeros(3, LENGTH, dtype=torch.float64)
    floors[:, 60:] = 0.002
    return {
        "labels": torch.tensor([0, 2, 1]),
        "features": torch.randn(
            3, config.local_channels, LENGTH // config.hop_length + 2, generator=g
        ),
        "excitation": torch.randn(3, HEARD, LENGTH, generator=g),
        "silence": 0.0,
        "temperatures": temperatures,
        "floors": floors,
        "max_jump": 0.3,
        "generator": torch.Generator(device=device).manual_seed(9),
    }


def _conditioned(seed: int = 4):
    config = dataclasses.replace(
        CONFIGS["width3_nobias"],
        global_labels=LABELS,
        excitation=True,
        local_channels=4,
        hop_length=8,
    )
    return _model(config, seed)


@pytest.fixture
def graphed_on_cpu(monkeypatch):
    """``generate(engine="graph")`` runs the graphed engine's loop on a CPU model,
    uncaptured (a CPU has no graphs), its tables refilled every 7 steps (so a run crosses
    several blocks and ends in a part of one); other engines as they are."""
    monkeypatch.setattr(graphed, "ROWS_AT_A_TIME", 7)
    original = generate_module.generation_step

    def step(model, engine, precision):
        return GraphedWaveNet(model) if engine == "graph" else original(model, engine, precision)

    monkeypatch.setattr(generate_module, "generation_step", step)


def test_the_clocked_step_draws_what_the_eager_step_draws(graphed_on_cpu):
    model = _conditioned()
    eager = generate(model, LENGTH, 3, engine="eager", **_everything(model))
    clocked = generate(model, LENGTH, 3, engine="graph", **_everything(model))
    assert torch.equal(clocked, eager)
    assert len(torch.unique(eager)) > 10  # a real draw, not a constant


@pytest.mark.parametrize("name", ["small", "width4", "tiny"])
def test_the_clocked_queues_match_for_every_filter_width(graphed_on_cpu, name):
    """Widths 2, 3 and 4 read 1, 2 and 3 past taps a layer from ring buffers of other sizes."""
    model = _model(CONFIGS[name], 1)
    runs = [
        generate(model, LENGTH, 2, generator=torch.Generator().manual_seed(5), engine=engine)
        for engine in ("eager", "graph")
    ]
    assert torch.equal(runs[0], runs[1])


def test_the_clocked_step_takes_the_likeliest_class_at_temperature_zero(graphed_on_cpu):
    model = _model(CONFIGS["small"], 3)
    eager = generate(model, LENGTH, 2, temperature=0.0, engine="eager")
    assert torch.equal(generate(model, LENGTH, 2, temperature=0.0, engine="graph"), eager)


def test_the_clocked_draw_reports_a_nan_logit_once_at_the_end(graphed_on_cpu):
    model = _model(CONFIGS["small"], 3)
    with torch.no_grad():
        model.head[3].bias[5] = float("nan")
    with pytest.raises(RuntimeError, match="NaN or infinity"):
        generate(model, 20, 2, engine="eager")
    steps = []
    with pytest.raises(RuntimeError, match="NaN or infinity"):
        generate(model, 20, 2, engine="graph", on_step=lambda c: steps.append(c.shape[1]))
    assert steps == list(range(1, 21))  # every sample reported, the fault after the last


def test_a_gpu_model_generates_with_graphs_unless_asked_otherwise():
    kind = "a float32 model on cuda"
    choice = compiled.choose_engine("auto", "float32", kind, ZEN4, "x86_64")
    assert choice.engine == "graph" and "CUDA graph" in str(choice)
    assert compiled.choose_engine("eager", "float32", kind, ZEN4, "x86_64").engine == "eager"
    assert compiled.choose_engine("graph", "float32", kind, ZEN4, "x86_64").engine == "graph"
    cpu = compiled.CPU_FLOAT32
    assert compiled.choose_engine("auto", "float32", cpu, ZEN4, "x86_64").engine == "compiled"
    with pytest.raises(
        UserError, match="engine graph: replays CUDA graphs, needs a model on a GPU"
    ):
        compiled.choose_engine("graph", "float32", cpu, ZEN4, "x86_64")
    with pytest.raises(UserError, match="precision int8: needs the compiled engine"):
        compiled.choose_engine("graph", "int8", kind, ZEN4, "x86_64")


def test_engine_graph_on_a_cpu_model_is_one_line():
    model = _model(CONFIGS["small"])
    with pytest.raises(UserError, match=r"engine graph: .* a float32 model on cpu"):
        generate(model, 10, 1, engine="graph")


# --- on a GPU: the captured graph ----------------------------------------------------------


@cuda
def test_the_replayed_graph_draws_what_the_eager_step_draws_on_the_gpu(monkeypatch):
    """Long enough to cross the tables' blocks (set to 50 steps) many times after the
    capture; every conditioning and rule at once."""
    monkeypatch.setattr(graphed, "ROWS_AT_A_TIME", 50)
    model = _conditioned().to("cuda")
    eager = generate(model, LENGTH, 3, engine="eager", **_everything(model, "cuda"))
    replays = []
    original = torch.cuda.CUDAGraph.replay
    monkeypatch.setattr(torch.cuda.CUDAGraph, "replay", lambda g: (replays.append(1), original(g)))
    replayed = generate(model, LENGTH, 3, **_everything(model, "cuda"))
    assert len(replays) == LENGTH - graphed.UNCAPTURED_STEPS  # the graph ran every later step
    assert torch.equal(replayed.cpu(), eager.cpu())
    assert len(torch.unique(eager)) > 10


@cuda
def test_the_graph_matches_the_eager_step_for_many_streams_on_the_gpu():
    model = _model(CONFIGS["tiny"], 2).to("cuda")
    runs = [
        generate(model, 300, 64, generator=torch.Generator("cuda").manual_seed(1), engine=e)
        for e in ("eager", "graph")
    ]
    assert torch.equal(runs[0], runs[1])


@cuda
def test_a_generator_on_another_device_than_the_model_is_refused():
    model = _model(CONFIGS["small"])
    with pytest.raises(ValueError, match="a random generator on cuda for a model on cpu"):
        generate(model, 10, 1, generator=torch.Generator("cuda"))
