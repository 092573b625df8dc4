"""Fast incremental generation is proven equal to the full forward pass."""

from __future__ import annotations

import pytest
import torch

from wavenet_music.config import ModelConfig, load_preset
from wavenet_music.wavenet import generate as generate_module
from wavenet_music.wavenet.generate import generate, generate_naive, uniform_rows
from wavenet_music.wavenet.incremental import IncrementalWaveNet
from wavenet_music.wavenet.model import WaveNet

CONFIGS = {
    "small": ModelConfig(
        dilations=(1, 2, 4, 8, 16), residual_channels=8, dilation_channels=8, skip_channels=16
    ),
    "width3_nobias": ModelConfig(
        filter_width=3,
        dilations=(1, 3, 9, 1, 3),
        residual_channels=6,
        dilation_channels=10,
        skip_channels=12,
        use_biases=False,
    ),
    "width4": ModelConfig(
        filter_width=4,
        dilations=(1, 2, 5, 1),
        residual_channels=5,
        dilation_channels=7,
        skip_channels=9,
        quantization_channels=32,
    ),
    "tiny": load_preset("tiny").model,
}


def _model(config: ModelConfig, seed: int) -> WaveNet:
    torch.manual_seed(seed)
    model = WaveNet(config).eval()
    with torch.no_grad():  # larger than default init, so every layer matters
        for p in model.parameters():
            p.mul_(2.0)
    return model


def incremental_logits(
    model: WaveNet,
    x: torch.Tensor,
    labels: torch.Tensor | None = None,
    frames: torch.Tensor | None = None,
) -> torch.Tensor:
    """Feed x (B, T ≥ RF) one sample at a time after priming on its first RF samples."""
    rf = model.receptive_field
    fast = IncrementalWaveNet(model)
    state = fast.initial_state(model, x[:, :rf], labels, frames)
    logits = []
    with torch.inference_mode():
        for t in range(rf - 1, x.shape[1]):
            step_logits, state = fast.step(x[:, t], state)
            logits.append(step_logits)
    return torch.stack(logits, dim=2)  # (B, Q, T - RF + 1)


@pytest.mark.parametrize("name", CONFIGS)
def test_incremental_logits_equal_full_forward(name):
    config = CONFIGS[name]
    for seed in (0, 1):
        model = _model(config, seed)
        x = torch.randint(
            0,
            config.quantization_channels,
            (3, config.receptive_field + 300),
            generator=torch.Generator().manual_seed(seed),
        )
        with torch.inference_mode():
            full = model(x)
        torch.testing.assert_close(incremental_logits(model, x), full, rtol=1e-4, atol=1e-4)


def test_reference_incremental_equals_full_forward():
    config = load_preset("reference").model
    model = _model(config, 0)
    x = torch.randint(0, 256, (1, config.receptive_field + 40))
    with torch.inference_mode():
        full = model(x)
    torch.testing.assert_close(incremental_logits(model, x), full, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", ["small", "width3_nobias", "width4"])
def test_same_samples_as_the_naive_generator(name):
    config = CONFIGS[name]
    model = _model(config, 3)
    fast = generate(model, 300, num=2, generator=torch.Generator().manual_seed(5))
    naive = generate_naive(model, 300, num=2, generator=torch.Generator().manual_seed(5))
    assert torch.equal(fast, naive)
    assert len(torch.unique(fast)) > 5  # really sampled, not stuck on one class


def test_priming_continues_the_given_audio():
    config = CONFIGS["small"]
    model = _model(config, 4)
    prime = torch.randint(0, 256, (2, 100))
    fast = generate(model, 200, num=2, generator=torch.Generator().manual_seed(1), prime=prime)
    naive = generate_naive(
        model, 200, num=2, generator=torch.Generator().manual_seed(1), prime=prime
    )
    assert torch.equal(fast, naive)
    unprimed = generate(model, 200, num=2, generator=torch.Generator().manual_seed(1))
    assert not torch.equal(fast, unprimed)


def test_zero_temperature_is_greedy_and_deterministic():
    model = _model(CONFIGS["small"], 2)
    a = generate(model, 100, temperature=0)
    b = generate(model, 100, temperature=0, generator=torch.Generator().manual_seed(9))
    assert torch.equal(a, b)
    assert torch.equal(a, generate_naive(model, 100, temperature=0))


def test_state_is_explicit_and_independent():
    model = _model(CONFIGS["small"], 0)
    fast = IncrementalWaveNet(model)
    history = torch.full((1, model.receptive_field), 128)
    s1 = fast.initial_state(model, history)
    s2 = fast.initial_state(model, history)
    x = torch.tensor([200])
    with torch.inference_mode():
        l1, s1 = fast.step(x, s1)
        l1b, s1 = fast.step(x, s1)
        l2, s2 = fast.step(x, s2)
    assert s1.time == 2 and s2.time == 1
    torch.testing.assert_close(l1, l2)
    assert not torch.allclose(l1, l1b)


def test_uniforms_drawn_ahead_are_those_of_a_call_a_step(monkeypatch):
    """Generation draws its uniform numbers a block of steps at a time: the same numbers,
    in the same order, as a call a step (so the naive generator, which draws a step at a
    time, still draws the same samples), across a partial last block, and the generator
    left exactly where a call a step leaves it; nothing is drawn where nothing is sampled."""
    monkeypatch.setattr(generate_module, "FLOOR_BLOCK", 64)
    cpu = torch.device("cpu")
    ahead_generator = torch.Generator().manual_seed(2)
    ahead = torch.stack(list(uniform_rows(ahead_generator, 3, 300, cpu, drawn=True)))
    each_generator = torch.Generator().manual_seed(2)
    each = torch.stack(
        [torch.rand(3, dtype=torch.float64, generator=each_generator) for _ in range(300)]
    )
    assert ahead.shape == (300, 3) and torch.equal(ahead, each)
    assert torch.equal(
        torch.rand(8, generator=ahead_generator), torch.rand(8, generator=each_generator)
    )
    state = ahead_generator.get_state()
    assert all(u is None for u in uniform_rows(ahead_generator, 3, 300, cpu, drawn=False))
    assert torch.equal(ahead_generator.get_state(), state)
