"""Presets, overrides and validation of the single source of truth."""

from __future__ import annotations

import dataclasses
import re

import pytest

from wavenet_music.config import (
    Config,
    ModelConfig,
    UserError,
    apply_overrides,
    dump_yaml,
    load_preset,
    load_yaml,
    parse_assignment,
    preset_names,
    stacked_dilations,
)
from wavenet_music.wavenet.model import WaveNet, macs_per_sample, parameter_count


def test_reference_is_the_classic_music_setting():
    config = load_preset("reference")
    m, d = config.model, config.data
    assert m.dilations == tuple(2**i for i in range(11)) * 5
    assert (m.layers, m.filter_width, m.receptive_field) == (55, 2, 10_237)
    assert (m.residual_channels, m.dilation_channels, m.skip_channels) == (64, 64, 1024)
    assert m.quantization_channels == 256
    assert (d.sample_rate, d.sample_size, d.silence_threshold) == (16000, 10_000, None)
    assert round(m.receptive_field / d.sample_rate, 2) == 0.64
    assert parameter_count(WaveNet(m)) == 6_142_592
    assert macs_per_sample(m) == 6_074_368


def test_defaults_equal_the_reference_preset():
    assert load_preset("reference").model == ModelConfig()


def test_presets_listed_and_unknown_named():
    assert {"reference", "tiny"} <= set(preset_names())
    with pytest.raises(UserError, match=r"unknown preset 'huge'.*reference"):
        load_preset("huge")


def test_tiny_is_much_smaller():
    tiny = load_preset("tiny").model
    assert macs_per_sample(tiny) * 10 < macs_per_sample(ModelConfig())


def test_round_trip_through_dict_and_yaml(tmp_path):
    config = apply_overrides(load_preset("tiny"), {"train.steps": 7, "data.cache_dir": "/x"})
    assert Config.from_dict(config.to_dict()) == config
    path = tmp_path / "c.yaml"
    path.write_text(dump_yaml(config))
    assert load_yaml(path, Config()) == config


def test_set_parses_yaml_values():
    config = apply_overrides(
        Config(),
        dict(
            [
                parse_assignment("model.dilations=[1, 2, 4]"),
                parse_assignment("train.grad_clip=null"),
                parse_assignment("train.learning_rate=3e-4"),
                parse_assignment("model.use_biases=false"),
            ]
        ),
    )
    assert config.model.dilations == (1, 2, 4)
    assert config.train.grad_clip is None and config.train.learning_rate == 3e-4
    assert config.model.use_biases is False
    stacked = apply_overrides(Config(), {"model.dilations": {"stacks": 2, "max": 4}})
    assert stacked.model.dilations == (1, 2, 4, 1, 2, 4) == stacked_dilations(4, 2)


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("model.residual_channels", -3, "expected an integer in [1, 4096], got -3"),
        ("model.dilations", [1, 0], "integers in [1, 65536] (1 to 1024 of them), got [1, 0]"),
        ("model.dilations", [1, 2.5], "integer, got 2.5"),
        ("model.dilations", "abc", "list of integers"),
        ("data.sample_rate", 0, "data.sample_rate: expected an integer in [1000, 384000], got 0"),
        ("train.learning_rate", "fast", "expected a number"),
        ("model.use_biases", 1, "true or false"),
        ("model.channels", 3, "unknown setting 'model.channels'"),
        ("optim.lr", 3, "expected section.key"),
        ("data.validation_fraction", 1.5, "expected a number in [0, 1), got 1.5"),
    ],
)
def test_invalid_settings_name_the_setting(key, value, message):
    with pytest.raises(UserError, match=re.escape(message)):
        apply_overrides(Config(), {key: value})


def test_unknown_yaml_keys_and_sections(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  residual_chanels: 3\n")
    with pytest.raises(UserError, match="residual_chanels"):
        load_yaml(bad, Config())
    bad.write_text("modle:\n  x: 1\n")
    with pytest.raises(UserError, match="unknown config section 'modle'"):
        load_yaml(bad, Config())


def test_a_setting_given_twice_in_a_yaml_file_is_one_line(tmp_path):
    bad = tmp_path / "twice.yaml"
    bad.write_text("model:\n  residual_channels: 16\n  skip_channels: 32\n  residual_channels: 8\n")
    with pytest.raises(UserError) as caught:
        load_yaml(bad, Config())
    assert str(caught.value) == (
        f"config file {bad} is not valid YAML: 'residual_channels' is given twice (line 4)"
    )


@pytest.mark.parametrize(
    ("text", "said"),
    [  # each a traceback before, or a line naming the context and not the problem
        ("model:\n  residual_channels: " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
        ("model:\n  residual_channels: " + "9" * 5000 + "\n", "value has 5000 digits"),
        ("? [a, b]\n: 1\n", "found unhashable key (line 1, column 3)"),
        ("model:\n\tresidual_channels: 4\n", "'\\t' that cannot start any token (line 2, col"),
        ("train:\n  steps: 2001-13-45\n", "is not valid YAML: month must be in 1..12"),
    ],
)
def test_a_hostile_yaml_file_is_one_line_saying_what_is_wrong(tmp_path, text, said):
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    with pytest.raises(UserError) as caught:
        load_yaml(bad, Config())
    message = str(caught.value)
    assert "\n" not in message and str(bad) in message and said in message
    assert "sys.set_int_max_str_digits" not in message  # advice for a programmer


def test_yaml_merge_keys_read_and_a_later_key_overrides_them(tmp_path):
    """``<<: *base`` is YAML's way to share settings; the duplicate-key check tried to
    build the merge key itself and called the file "not valid YAML"."""
    shared = tmp_path / "shared.yaml"
    shared.write_text(
        "model:\n  <<: {residual_channels: 8, skip_channels: 16}\n  skip_channels: 32\n"
    )
    config = load_yaml(shared, Config())
    assert (config.model.residual_channels, config.model.skip_channels) == (8, 32)


def test_configs_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Config().model.residual_channels = 3  # type: ignore[misc]


def test_a_settings_file_serves_both_commands(tmp_path):
    """train reads the model, data and train sections, train-composer the composer's."""
    from wavenet_music.composer.config import ComposerConfig

    path = tmp_path / "project.yaml"
    path.write_text("model: {residual_channels: 16}\ncomposer: {layers: 2}\n")
    assert load_yaml(path, Config()) == apply_overrides(Config(), {"model.residual_channels": 16})
    assert load_yaml(path, ComposerConfig()) == ComposerConfig(layers=2)
    assert apply_overrides(ComposerConfig(), {"composer.layers": "3"}).layers == 3


def test_the_demo_preset_is_the_notes_preset_with_labels_and_a_composer():
    from wavenet_music.composer.config import ComposerConfig

    demo, notes, tiny = load_preset("demo"), load_preset("notes"), load_preset("tiny")
    assert dataclasses.replace(demo.train, local_dropout=0.1, excitation_phase="recording") == (
        notes.train
    )
    assert demo.train.local_dropout == 0.3 and demo.data.labels == "folders"
    assert demo.train.excitation_phase == "start"  # a lower noise floor than the notes
    assert demo.model == notes.model and demo.model.dilations == tiny.model.dilations
    assert (demo.data.features, demo.model.local_channels, demo.model.excitation) == (
        "notes",
        176,
        True,
    )
    assert load_preset("demo", ComposerConfig()).transpose
    assert load_preset("tiny", ComposerConfig()) == ComposerConfig()  # no composer section
    chroma = load_preset("chroma")  # the demo's earlier representation, still available
    assert (chroma.data.features, chroma.model.local_channels) == ("chroma", 12)
    assert dataclasses.replace(chroma.train, local_dropout=0.0) == tiny.train


def test_notes_runs_mix_at_equal_power_and_runs_saved_before_keep_the_sum():
    """A run's saved settings without ``excitation_mix`` (every notes run before
    2026-12-05) load as the sum its model was trained on; the presets that hear notes
    mix at equal power."""
    saved = Config.from_dict({"model": {"excitation": True, "local_channels": 176}})
    assert saved.model.excitation_mix == "sum"
    assert {load_preset(name).model.excitation_mix for name in ("notes", "demo")} == {"equal_power"}
    with pytest.raises(UserError, match="excitation_mix"):
        apply_overrides(Config(), {"model.excitation_mix": "loudest"})


def test_runs_saved_before_the_harmonics_setting_keep_the_4_they_trained_with():
    """A run's saved settings without ``excitation_harmonics`` (every run before
    2026-12-06) load as the 4 its model was trained on; the presets train with 4 (12 in
    training played fewer notes: experiments/excitation_partials_2026-12-06)."""
    saved = Config.from_dict({"model": {"excitation": True, "local_channels": 176}})
    assert saved.model.excitation_harmonics == 4
    assert {load_preset(name).model.excitation_harmonics for name in ("notes", "demo")} == {4}
    with pytest.raises(UserError, match="excitation_harmonics"):
        apply_overrides(Config(), {"model.excitation_harmonics": 0})


def test_file_sections_are_the_sections_of_the_settings_classes():
    import wavenet_music.composer.config  # noqa: F401  (defines the composer section)
    from wavenet_music.config.checks import SETTINGS_CLASSES
    from wavenet_music.config.settings import FILE_SECTIONS

    sections = {c._settings_section for c in SETTINGS_CLASSES} - {""}
    assert sections == set(FILE_SECTIONS)


# --- what a hostile test of the settings found (2026-12-04) ---------------------------------


def test_a_frame_window_shorter_than_its_hop_is_one_line():
    """Before: a numpy error from deep inside the feature code, after decoding."""
    with pytest.raises(UserError, match=r"data.n_fft: expected at least model.hop_length \(256\)"):
        apply_overrides(Config(), {"model.local_channels": 80, "data.n_fft": 128})
    notes = apply_overrides(load_preset("notes"), {"data.n_fft": 128})  # notes: no analysis
    assert notes.data.n_fft == 128


def test_every_feature_kind_is_offered_and_nothing_else_is_stored():
    from wavenet_music.audio.features import FEATURES
    from wavenet_music.config.settings import FEATURE_KINDS

    assert set(FEATURE_KINDS) == {*FEATURES, "notes"}
    with pytest.raises(UserError, match=r"data\.features: expected one of log_mel, chroma, notes"):
        apply_overrides(Config(), {"data.features": "mfcc"})  # no local channels: checked too


def test_a_long_list_in_an_error_is_shown_by_its_start_and_length():
    with pytest.raises(UserError) as error:
        apply_overrides(Config(), {"model.dilations": {"stacks": 100, "max": 1024}})
    message = str(error.value)
    assert "got 1,100 items: [1, 2, 4, 8, 16" in message and len(message) < 300


def test_parameters_are_counted_without_building_the_model():
    from wavenet_music.wavenet.model import parameters_of

    config = load_preset("reference").model
    assert parameters_of(config) == parameter_count(WaveNet(config))
    huge = dataclasses.replace(config, residual_channels=4096, dilation_channels=4096)
    assert parameters_of(huge) > 2_000_000_000  # 8 GB of float32 never allocated
