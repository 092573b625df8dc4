"""Property tests (hypothesis): mu-law, windows and configs hold for any input."""

from __future__ import annotations

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from wavenet_music.audio.io import mu_law_decode, mu_law_encode
from wavenet_music.config import Config, ModelConfig, apply_overrides, dump_yaml, load_yaml
from wavenet_music.wavenet.data import Segment
from wavenet_music.wavenet.windows import IGNORE, WindowSource

floats = st.floats(allow_nan=True, allow_infinity=True, width=32)


@given(arrays(np.float32, st.integers(0, 300), elements=floats), st.sampled_from([2, 16, 256]))
def test_mu_law_classes_are_in_range_for_any_floats(audio, q):
    audio = np.nan_to_num(audio, nan=0.0)  # the decoder cleans NaN before encoding
    classes = mu_law_encode(audio, q)
    assert classes.shape == audio.shape
    assert classes.size == 0 or (classes.min() >= 0 and classes.max() <= q - 1)
    decoded = mu_law_decode(classes, q)
    assert np.all(np.abs(decoded) <= 1.0)
    np.testing.assert_array_equal(mu_law_encode(decoded, q), classes)  # a fixed point


@given(arrays(np.float64, st.integers(1, 200), elements=st.floats(-1, 1)))
@example(np.array([0.97851562, -0.97851562]))  # nearer level 254 in x, rounds to 255 in y
def test_mu_law_error_is_bounded_by_the_local_step(audio):
    classes = mu_law_encode(audio)
    decoded = mu_law_decode(classes)
    # the encoder rounds in the companded domain: each sample lies within half a companded
    # step (1 / 255) of its level there, G.711's y = sign(x) ln(1 + 255 |x|) / ln 256
    companded = np.sign(audio) * np.log(1 + 255 * np.abs(audio)) / np.log(256)
    assert np.all(np.abs(companded - (2 * classes / 255 - 1)) <= 1 / 255 + 1e-9)
    # so in the linear domain the farthest a sample sits from its level is at full scale,
    # from 1 down to the expansion of the companded midpoint 1 - 1/255 (not the linear
    # midpoint of levels 254 and 255: 0.97851562 decodes to 1, 0.0215 away, beyond it)
    boundary = (256 ** (1 - 1 / 255) - 1) / 255
    assert np.all(np.abs(decoded - audio) <= (1.0 - boundary) + 1e-6)


@settings(max_examples=60, deadline=None)
@given(
    length=st.integers(1, 400),
    rf=st.integers(2, 64),
    size=st.integers(1, 50),
    start=st.integers(-100, 500),
)
def test_windows_hold_a_full_receptive_field_before_every_target(
    tmp_path_factory, length, rf, size, start
):
    folder = tmp_path_factory.mktemp("w")
    classes = np.arange(length, dtype=np.int64) % 250 + 1  # never the silence class 0
    np.save(folder / "a.npy", classes.astype(np.uint8))
    segment = Segment("a", "", folder / "a.npy", 0, length)
    source = WindowSource([segment], rf, size, silence=0)
    inputs, targets, *_ = source.window(segment, start, size)
    assert inputs.shape == (rf - 1 + size,) and targets.shape == (size,)
    for j in range(size):
        position = start + j
        if targets[j] == IGNORE:
            assert not 0 <= position < length  # only samples outside the file are unscored
            continue
        assert targets[j] == classes[position]
        context = inputs[j : j + rf]  # what output j sees: rf inputs ending at position - 1
        expected = [classes[p] if 0 <= p < length else 0 for p in range(position - rf, position)]
        np.testing.assert_array_equal(context, expected)


settings_overrides = st.fixed_dictionaries(
    {
        "model.residual_channels": st.integers(1, 512),
        "model.dilations": st.lists(st.integers(1, 4096), min_size=1, max_size=30),
        "model.filter_width": st.integers(2, 5),
        "model.use_biases": st.booleans(),
        "model.global_labels": st.lists(
            st.text("abcxyz", min_size=1, max_size=5), unique=True, max_size=4
        ),
        "data.sample_rate": st.integers(1000, 192000),
        "data.silence_threshold": st.none() | st.floats(0.001, 0.5),
        "train.learning_rate": st.floats(1e-5, 1.0),  # the default floor of its decay
        "train.steps": st.none() | st.integers(1, 10**9),
        "train.device": st.sampled_from(["auto", "cpu", "cuda:1"]),
    }
)


@settings(max_examples=40, deadline=None)
@given(settings_overrides)
def test_config_round_trips_through_yaml_and_the_checkpoint_dict(tmp_path_factory, overrides):
    config = apply_overrides(Config(), overrides)
    path = tmp_path_factory.mktemp("c") / "c.yaml"
    path.write_text(dump_yaml(config))
    assert load_yaml(path, Config()) == config
    assert Config.from_dict(config.to_dict()) == config
    assert isinstance(config.model, ModelConfig) and config.model.receptive_field >= 2
