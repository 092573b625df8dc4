"""The composer's sampling calibration, with composers trained on noisy cycles: lower
temperatures repeat more, the chosen one repeats most like the music, music that repeats
more gets a colder temperature, music that never repeats keeps 1; music that holds its
tokens less often than the composer does gets a hold penalty that brings them together."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from wavenet_music.composer.calibration import (
    Calibration,
    calibrate_sampling,
    hold_rate,
    label_balanced_mean,
    real_statistics,
)
from wavenet_music.composer.config import ComposerConfig
from wavenet_music.composer.data import Stream
from wavenet_music.composer.model import Composer
from wavenet_music.composer.tokens import Codebook

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


def held(rng: np.random.Generator, length: int, hold: float) -> np.ndarray:
    """The cycle 0..PERIOD-1 from a random phase, each token held (repeated) with
    probability ``hold`` before the cycle moves on."""
    steps = rng.random(length) > hold  # (length,) where the cycle advances
    return (np.cumsum(steps) + rng.integers(PERIOD)) % PERIOD


def trained(sequence, steps: int = 300) -> Composer:
    """A small composer trained on ``sequence(rng, 65)`` until it knows it."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = Composer(ComposerConfig(layers=2, heads=2, width=32, dropout=0.0), VOCAB, 0, 64)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    for _ in range(steps):
        x = torch.from_numpy(np.stack([sequence(rng, 65) for _ in range(16)]))
        loss = F.cross_entropy(model(x[:, :-1]).transpose(1, 2), x[:, 1:])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


@pytest.fixture(scope="module")
def learned() -> Composer:
    """A composer trained on the noisy cycle."""
    return trained(lambda rng, n: cyclic(rng, n, KEEP))


def streams(keep: float, count: int = 12, length: int = 128) -> list[Stream]:
    rng = np.random.default_rng(1)
    return [Stream(f"s{i}", -1, cyclic(rng, length, keep)) for i in range(count)]


def held_streams(hold: float, count: int = 12, length: int = 128) -> list[Stream]:
    rng = np.random.default_rng(1)
    return [Stream(f"s{i}", -1, held(rng, length, hold)) for i in range(count)]


def test_label_balanced_mean_weighs_labels_equally():
    values = [(0, 1.0), (0, 3.0), (0, 5.0), (1, 10.0), (1, float("nan"))]
    assert label_balanced_mean(values) == pytest.approx((3.0 + 10.0) / 2)


def test_hold_rate_counts_tokens_that_follow_themselves():
    assert hold_rate(np.array([3, 3, 3, 5, 5, 7])) == pytest.approx(3 / 5)
    assert hold_rate(np.arange(10)) == 0.0
    rng = np.random.default_rng(0)
    assert hold_rate(held(rng, 20_000, 0.7)) == pytest.approx(0.7, abs=0.02)


def test_music_that_repeats_more_reads_higher():
    book = codebook()
    loose, strict = (real_statistics(streams(k), book, 64, RATE)[0] for k in (0.3, 1.0))
    assert strict > 0.9 and loose < 0.5


def test_the_chosen_sampling_is_closest_to_the_music(learned):
    calibration = calibrate_sampling(learned, codebook(), streams(KEEP), 0, RATE, 16.0, 8)
    table = dict(calibration.composed_repetition)
    assert table[0.5] > table[1.0] + 0.1  # colder repeats more
    gaps = {
        (t, b): abs(r - calibration.real_repetition) + abs(h - calibration.real_hold_rate)
        for t, b, r, h in calibration.grid
    }
    assert len(gaps) == 11 * 4
    assert gaps[calibration.temperature, calibration.hold_penalty] == min(gaps.values())
    assert Calibration.from_dict(calibration.to_dict()) == calibration


def test_music_that_repeats_more_than_the_composer_gets_a_colder_temperature(learned):
    strict = calibrate_sampling(learned, codebook(), streams(1.0), 0, RATE, 16.0, 8)
    learned_music = calibrate_sampling(learned, codebook(), streams(KEEP), 0, RATE, 16.0, 8)
    assert strict.temperature < learned_music.temperature
    assert strict.real_repetition > learned_music.real_repetition


def test_music_that_never_repeats_keeps_temperature_one(learned):
    random_music = calibrate_sampling(learned, codebook(), streams(0.0), 0, RATE, 16.0, 8)
    assert random_music.real_repetition < 0.2
    assert random_music.temperature == 1.0


def test_no_stream_long_enough_means_no_calibration(learned):
    assert (
        calibrate_sampling(learned, codebook(), streams(KEEP, length=10), 0, RATE, 16.0, 2) is None
    )


def test_music_that_holds_less_than_the_composer_gets_a_hold_penalty():
    sticky = trained(lambda rng, n: held(rng, n, 0.6))  # holds a token 60% of the time
    matched = calibrate_sampling(sticky, codebook(), held_streams(0.6), 0, RATE, 16.0, 8)
    moving = calibrate_sampling(sticky, codebook(), held_streams(0.2), 0, RATE, 16.0, 8)
    assert moving.real_hold_rate == pytest.approx(0.2, abs=0.05)
    assert moving.hold_penalty > matched.hold_penalty
    at = {(t, b): h for t, b, _, h in moving.grid}
    chosen = at[moving.temperature, moving.hold_penalty]
    unpenalised = at[moving.temperature, 0.0]
    assert abs(chosen - 0.2) < abs(unpenalised - 0.2) - 0.1  # the penalty brings them together
    assert Calibration.from_dict(moving.to_dict()) == moving


def test_hold_penalties_off_match_the_repetition_alone(learned):
    alone = calibrate_sampling(
        learned, codebook(), streams(KEEP), 0, RATE, 16.0, 8, hold_penalties=(0.0,)
    )
    assert alone.hold_penalty == 0.0 and {b for _, b, _, _ in alone.grid} == {0.0}
    gaps = {t: abs(r - alone.real_repetition) for t, r in alone.composed_repetition}
    assert gaps[alone.temperature] == min(gaps.values())


def test_a_calibration_saved_before_hold_penalties_reads_as_penalty_zero():
    old = {"temperature": 0.8, "real_repetition": 0.3, "composed_repetition": [[0.8, 0.31]]}
    calibration = Calibration.from_dict(old)
    assert calibration.temperature == 0.8 and calibration.hold_penalty == 0.0
    assert calibration.composed_repetition == ((0.8, 0.31),)
