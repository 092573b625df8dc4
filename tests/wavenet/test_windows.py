"""The training windows: a full receptive field, masked ends, reproducible draws."""

from __future__ import annotations

import numpy as np

from wavenet_music.wavenet.data import prepare_corpus
from wavenet_music.wavenet.windows import IGNORE, WindowSampler, WindowSource, validation_picks

from .conftest import data_config


def test_windows_have_a_full_receptive_field_and_mask_the_end(folder, tmp_path):
    corpus = prepare_corpus(
        folder, data_config(tmp_path, validation_fraction=0.0), 256, 100, quiet=True
    )
    rf = 64
    source = WindowSource(corpus.train, rf, 500, 128)
    segment = source.segments[0]
    classes = source.classes(segment)
    inputs, targets, *_ = source.window(segment, 0, 500)
    assert inputs.shape == (rf - 1 + 500,) and targets.shape == (500,)
    assert (inputs[:rf] == 128).all()  # before the file: silence
    np.testing.assert_array_equal(targets, classes[:500])
    np.testing.assert_array_equal(inputs[rf:], classes[: 500 - 1])  # input t predicts t + 1
    inputs, targets, *_ = source.window(segment, segment.end - 100, 500)
    assert (targets[100:] == IGNORE).all() and (targets[:100] != IGNORE).all()


def test_sampler_is_reproducible_and_resumable(folder, tmp_path):
    corpus = prepare_corpus(folder, data_config(tmp_path), 256, 100, quiet=True)
    source = WindowSource(corpus.train, 64, 500, 128)
    a, b = WindowSampler(source, 3), WindowSampler(source, 3)
    a.next_batch(4)
    state = a.state()
    expected = a.next_batch(4)
    b.set_state(state)
    got = b.next_batch(4)
    assert np.array_equal(expected.inputs, got.inputs)
    assert expected.inputs.shape == (4, 63 + 500) and expected.targets.shape == (4, 500)


def test_validation_picks_spread_and_stay_inside(folder, tmp_path):
    corpus = prepare_corpus(
        folder, data_config(tmp_path, validation_fraction=0.3), 256, 100, quiet=True
    )
    picks = validation_picks(corpus.validation, 6, 500)
    assert len({i for i, _ in picks}) >= 3
    for index, start in picks:
        segment = corpus.validation[index]
        assert segment.start <= start < segment.end
