"""The network never looks ahead, and sees exactly its receptive field."""

from __future__ import annotations

import pytest
import torch

from wavenet_music.config import ModelConfig, load_preset
from wavenet_music.wavenet.model import WaveNet

CONFIGS = {
    "small": ModelConfig(
        dilations=(1, 2, 4, 8), residual_channels=8, dilation_channels=8, skip_channels=16
    ),
    "width3": ModelConfig(
        filter_width=3,
        dilations=(1, 3, 9, 1, 3, 9),
        residual_channels=6,
        dilation_channels=10,
        skip_channels=12,
        use_biases=False,
    ),
    "q64": ModelConfig(
        dilations=(1, 2, 1, 2),
        residual_channels=4,
        dilation_channels=4,
        skip_channels=8,
        quantization_channels=64,
    ),
}


def _model(config: ModelConfig, seed: int = 0) -> WaveNet:
    torch.manual_seed(seed)
    return WaveNet(config).double().eval()


@pytest.mark.parametrize("name", CONFIGS)
def test_output_length_and_alignment(name):
    config = CONFIGS[name]
    model = _model(config)
    rf = config.receptive_field
    x = torch.randint(0, config.quantization_channels, (2, rf + 37))
    logits = model(x)
    assert logits.shape == (2, config.quantization_channels, 38)
    # prediction j uses exactly x[j : j + rf]: recomputing it from that slice alone agrees
    for j in (0, 17, 37):
        alone = model(x[:, j : j + rf])
        torch.testing.assert_close(alone[:, :, 0], logits[:, :, j])


@pytest.mark.parametrize("name", CONFIGS)
def test_changing_the_future_never_changes_the_past(name):
    config = CONFIGS[name]
    model = _model(config)
    rf = config.receptive_field
    x = torch.randint(0, config.quantization_channels, (1, rf + 60))
    base = model(x)
    for t in (rf - 1, rf + 10, rf + 59):  # change input sample t
        changed = x.clone()
        changed[0, t] = (changed[0, t] + 7) % config.quantization_channels
        out = model(changed)
        first_seeing_t = t - rf + 1  # output j sees x[j .. j+rf-1]
        torch.testing.assert_close(
            out[:, :, :first_seeing_t], base[:, :, :first_seeing_t], rtol=0, atol=0
        )
        assert not torch.allclose(out[:, :, first_seeing_t], base[:, :, first_seeing_t])


def measured_receptive_field(model: WaveNet, length: int) -> int:
    """Inputs that the last output's gradient reaches (one-hot → float input).

    In float64: the farthest inputs reach the output along a single path through every
    layer, whose gradient underflows float32 in a 55-layer network."""
    q = model.config.quantization_channels
    x = torch.randint(0, q, (1, length))
    one_hot = torch.nn.functional.one_hot(x, q).transpose(1, 2).double().requires_grad_(True)
    h = model.causal(one_hot)
    zs = []
    for block in model.blocks:
        h, z = block(h)
        zs.append(z[:, :, -1:])
    skips = sum(block.skip(z) for block, z in zip(model.blocks, zs, strict=True))
    model.head(skips).sum().backward()
    reached = one_hot.grad.abs().sum(dim=1)[0] > 0  # (T,)
    return int(reached.sum())


@pytest.mark.parametrize("name", CONFIGS)
def test_receptive_field_from_gradient_matches_formula(name):
    config = CONFIGS[name]
    model = _model(config)
    assert measured_receptive_field(model, config.receptive_field + 50) == config.receptive_field


def test_reference_receptive_field_is_10237():
    config = load_preset("reference").model
    assert measured_receptive_field(_model(config), config.receptive_field + 100) == 10_237


def test_stacked_skip_matrix_equals_sum_of_skip_convolutions():
    config = CONFIGS["small"]
    model = _model(config)
    x = torch.randint(0, 256, (2, config.receptive_field + 20))
    outputs = 21
    zs = model.gated_outputs(x)
    per_layer = sum(b.skip(z[:, :, -outputs:]) for b, z in zip(model.blocks, zs, strict=True))
    torch.testing.assert_close(model.head(per_layer), model(x))


def test_too_short_input_is_refused():
    model = _model(CONFIGS["small"])
    with pytest.raises(ValueError, match="shorter than the receptive field"):
        model(torch.zeros(1, 5, dtype=torch.long))
