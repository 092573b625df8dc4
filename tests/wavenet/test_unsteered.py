"""Local-conditioning dropout: one model that is steered by features and also generates
without them (absent frames, NaN), e.g. plain clips beside composed ones."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from wavenet_music.cli import main
from wavenet_music.wavenet.data import prepare_corpus
from wavenet_music.wavenet.generate import generate, generate_naive
from wavenet_music.wavenet.train import train
from wavenet_music.wavenet.windows import WindowSampler, window_source

from ..conftest import small_config
from .test_conditioning import _frames, _local
from .test_generate import CONFIGS, incremental_logits


def test_absent_frames_use_the_learned_vector_and_leave_other_streams_alone():
    model = _local(CONFIGS["small"], 8)
    rf = model.receptive_field
    x = torch.randint(0, 256, (2, rf + 60))
    frames = _frames(model, 2, x.shape[1])
    frames[0] = torch.nan  # stream 0 unsteered, stream 1 steered
    with torch.inference_mode():
        base = model(x, None, frames)
        alone = model(x[1:], None, frames[1:])
        model.upsample.absent.add_(1.0)
        moved_absent = model(x, None, frames)
        model.upsample.absent.sub_(1.0)
        model.upsample.feature_mean.add_(1.0)
        moved_mean = model(x, None, frames)
    assert torch.isfinite(base).all()
    torch.testing.assert_close(base[1:], alone, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(moved_absent[0], base[0])  # stream 0 hears `absent` ...
    assert torch.equal(moved_absent[1], base[1])  # ... stream 1 does not
    assert torch.equal(moved_mean[0], base[0])  # and stream 0 hears no feature value
    assert not torch.allclose(moved_mean[1], base[1])


def test_absent_is_in_the_graph_of_every_batch():
    """DDP reduces every parameter's gradient each step: `absent` must get one (zero) even
    from a batch without withheld windows."""
    model = _local(CONFIGS["small"], 8).train()
    x = torch.randint(0, 256, (2, model.receptive_field + 20))
    model(x, None, _frames(model, 2, x.shape[1])).sum().backward()
    assert model.upsample.absent.grad is not None
    assert torch.count_nonzero(model.upsample.absent.grad) == 0


def test_fast_generation_is_exact_with_unsteered_streams():
    model = _local(CONFIGS["width3_nobias"], 5, labels=True)
    rf = model.receptive_field
    x = torch.randint(0, 256, (2, rf + 200))
    frames = _frames(model, 2, x.shape[1])
    frames[1] = torch.nan
    labels = torch.tensor([0, 1])
    with torch.inference_mode():
        full = model(x, labels, frames)
    torch.testing.assert_close(incremental_logits(model, x, labels, frames), full)
    features = torch.randn(2, 5, 40) * 3  # 200 samples
    features[0] = torch.nan
    kwargs = {"features": features, "labels": labels}
    fast = generate(model, 200, 2, generator=torch.Generator().manual_seed(3), **kwargs)
    naive = generate_naive(model, 200, 2, generator=torch.Generator().manual_seed(3), **kwargs)
    assert torch.equal(fast, naive)


def _sampler(music_root, tmp_path, withhold: float) -> WindowSampler:
    config = small_config(
        str(tmp_path / "cache"), **{"model.local_channels": 8, "model.hop_length": 64}
    )
    corpus = prepare_corpus(music_root / "piano", config.data, 256, 1000, quiet=True)
    return WindowSampler(window_source(config, corpus.train), 7, withhold)


def test_the_sampler_withholds_that_share_of_windows(music_root, tmp_path):
    sampler = _sampler(music_root, tmp_path, 0.3)
    absent = present = 0
    for _ in range(60):
        frames = sampler.next_batch(8).frames  # (8, F, K + 2)
        missing = torch.isnan(frames).flatten(1)
        assert torch.equal(missing.all(1), missing.any(1))  # a window is withheld whole
        absent += int(missing.all(1).sum())
        present += int((~missing.any(1)).sum())
    assert absent + present == 480
    assert 0.22 < absent / 480 < 0.38  # binomial(480, 0.3): ± 3.8 standard deviations
    plain, zero = _sampler(music_root, tmp_path, 0.0), _sampler(music_root, tmp_path, 0.0)
    assert torch.equal(plain.next_batch(4).inputs, zero.next_batch(4).inputs)
    assert not torch.isnan(plain.next_batch(4).frames).any()


@pytest.fixture(scope="module")
def dropout_run(music_root, tmp_path_factory):
    base = tmp_path_factory.mktemp("unsteered")
    config = small_config(
        str(base / "cache"),
        **{
            "train.steps": 120,
            "train.validate_every": 60,
            "train.local_dropout": 0.5,
            "model.local_channels": 8,
            "model.hop_length": 64,
        },
    )
    return base / "run", train(music_root / "piano", base / "run", config, quiet=True)


def test_training_lowers_the_unsteered_loss_too(dropout_run):
    _, result = dropout_run
    steps = [step for step, _ in result.unsteered_bits]
    assert steps == [step for step, _ in result.validation_bits] == [0, 60, 120]
    unsteered = [bits for _, bits in result.unsteered_bits]
    steered = [bits for _, bits in result.validation_bits]
    assert unsteered[-1] < unsteered[0] - 1.0  # learned from real piano, without features
    assert steered[-1] < steered[0] - 1.0


def test_a_dropout_run_generates_without_features(dropout_run, tmp_path):
    run, _ = dropout_run
    out = tmp_path / "plain.wav"
    argv = ["generate", str(run), "--seconds", "0.1", "--out", str(out), "--quiet"]
    assert main(argv) == 0
    audio, rate = sf.read(out)
    assert rate == 16000 and len(audio) == 1600 and np.abs(audio).max() > 0


def test_runs_without_dropout_or_features_say_what_to_do(music_root, tmp_path, capsys):
    config = small_config(
        str(tmp_path / "cache"),
        **{"train.steps": 1, "model.local_channels": 8, "model.hop_length": 64},
    )
    train(music_root / "piano", tmp_path / "run", config, quiet=True)
    argv = ["generate", str(tmp_path / "run"), "--out", str(tmp_path / "x.wav"), "--quiet"]
    assert main(argv) == 2
    assert "--local-dropout also generates without" in capsys.readouterr().err
    data = str(music_root / "piano")
    argv = ["train", data, "--run", str(tmp_path / "r2"), "--steps", "1", "--local-dropout", "0.2"]
    assert main(argv) == 2
    assert "train.local_dropout withholds local features" in capsys.readouterr().err
