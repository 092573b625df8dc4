"""The composer's temperature calibration, with a composer trained on a noisy cycle:
lower temperatures repeat more, the chosen one repeats most like the music, music that
repeats more gets a colder temperature, music that never repeats keeps 1."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from wavenet_music.composer import Composer
from wavenet_music.composer_calibration import (
    Calibration,
    calibrate_temperature,
    label_balanced_mean,
    real_repetition,
)
from wavenet_music.composer_config import ComposerConfig
from wavenet_music.composer_data import Stream
from wavenet_music.tokens import Codebook

VOCAB, PERIOD, KEEP = 16, 8, 0.75  # a cycle of 8 tokens, each kept with probability 0.75
RATE = 4.0  # tokens per second: lags beyond 1 s are 4 tokens and more


def cyclic(rng: np.random.Generator, length: int, keep: float) -> np.ndarray:
    """The cycle 0..PERIOD-1 from a random phase, each token replaced by a random one of
    the vocabulary with probability ``1 - keep``."""
    x = (np.arange(length) + rng.integers(PERIOD)) % PERIOD
    replaced = rng.random(length) > keep
    x[replaced] = rng.integers(0, VOCAB, replaced.sum())
    return x


def codebook() -> Codebook:
    centroids = np.random.default_rng(0).normal(size=(VOCAB, 6)).astype(np.float32)
    return Codebook(centroids, np.zeros(6, np.float32), np.ones(6, np.float32), 1)


@pytest.fixture(scope="module")
def learned() -> Composer:
    """A composer trained on the noisy cycle until it knows it."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = Composer(ComposerConfig(layers=2, heads=2, width=32, dropout=0.0), VOCAB, 0, 64)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    for _ in range(300):
        x = torch.from_numpy(np.stack([cyclic(rng, 65, KEEP) for _ in range(16)]))
        loss = F.cross_entropy(model(x[:, :-1]).transpose(1, 2), x[:, 1:])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


def streams(keep: float, count: int = 12, length: int = 128) -> list[Stream]:
    rng = np.random.default_rng(1)
    return [Stream(f"s{i}", -1, cyclic(rng, length, keep)) for i in range(count)]


def test_label_balanced_mean_weighs_labels_equally():
    values = [(0, 1.0), (0, 3.0), (0, 5.0), (1, 10.0), (1, float("nan"))]
    assert label_balanced_mean(values) == pytest.approx((3.0 + 10.0) / 2)


def test_music_that_repeats_more_reads_higher():
    book = codebook()
    loose, strict = (real_repetition(streams(k), book, 64, RATE) for k in (0.3, 1.0))
    assert strict > 0.9 and loose < 0.5


def test_the_chosen_temperature_repeats_most_like_the_music(learned):
    calibration = calibrate_temperature(learned, codebook(), streams(KEEP), 0, RATE, 16.0, 8)
    table = dict(calibration.composed_repetition)
    assert table[0.5] > table[1.0] + 0.1  # colder repeats more
    gaps = {t: abs(r - calibration.real_repetition) for t, r in table.items()}
    assert gaps[calibration.temperature] == min(gaps.values())
    assert Calibration.from_dict(calibration.to_dict()) == calibration


def test_music_that_repeats_more_than_the_composer_gets_a_colder_temperature(learned):
    strict = calibrate_temperature(learned, codebook(), streams(1.0), 0, RATE, 16.0, 8)
    learned_music = calibrate_temperature(learned, codebook(), streams(KEEP), 0, RATE, 16.0, 8)
    assert strict.temperature < learned_music.temperature
    assert strict.real_repetition > learned_music.real_repetition


def test_music_that_never_repeats_keeps_temperature_one(learned):
    random_music = calibrate_temperature(learned, codebook(), streams(0.0), 0, RATE, 16.0, 8)
    assert random_music.real_repetition < 0.2
    assert random_music.temperature == 1.0


def test_no_stream_long_enough_means_no_calibration(learned):
    assert (
        calibrate_temperature(learned, codebook(), streams(KEEP, length=10), 0, RATE, 16.0, 2)
        is None
    )
