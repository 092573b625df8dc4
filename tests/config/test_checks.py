"""Every setting of every config is checked against its declared type and range: a bad
value is one line naming the setting and exit 2, never a crash, a NaN checkpoint or
silent garbage."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import field
from pathlib import Path

import pytest

from wavenet_music.cli import main
from wavenet_music.composer.config import ComposerConfig, PieceConfig
from wavenet_music.config import (
    MIN_SAMPLE_RATE,
    MIN_SECONDS,
    Config,
    DataConfig,
    EvaluateConfig,
    GenerateConfig,
    ModelConfig,
    ReportConfig,
    TrainConfig,
    UserError,
    apply_overrides,
)
from wavenet_music.config.checks import SETTINGS_CLASSES, Spec, doc, field_specs, settings

# The cheapest command that builds each config from its flags, before it reads a run
# or any audio ("{tmp}" holds nothing, so a command that gets past its settings stops
# at the missing run, named in its error).
COMMANDS: dict[type, list[str]] = {
    ModelConfig: ["info", "--preset", "tiny"],
    DataConfig: ["info", "--preset", "tiny"],
    TrainConfig: ["info", "--preset", "tiny"],
    GenerateConfig: ["generate", "{tmp}/none"],
    EvaluateConfig: ["evaluate", "{tmp}/none", "--data", "{tmp}"],
    ReportConfig: ["report", "{tmp}/none"],
    ComposerConfig: ["train-composer", "{tmp}/none"],
    PieceConfig: ["compose", "{tmp}/none"],
}
# Settings whose accepted probe fits only beside others (info refuses what train refuses):
# the excitation is made of notes, so it is probed on a run of notes.
COMMAND_OF = {"ModelConfig.excitation": ["info", "--preset", "notes"]}
PROBES = ("nan", "inf", "-inf", "-1", "0", "1e30", "1000000000000", "true", "null")
INTEGER_PROBES = ("2.5", "1e-3")

# The only probes a number accepts: 0 where it means none, off, the likeliest sample or
# seed 0 (and null where its type allows it); a bool takes only true. Every other probe
# is refused.
ACCEPTS_ZERO = frozenset(
    {
        "DataConfig.validation_fraction",  # nothing held out
        "TrainConfig.min_learning_rate",  # decay to 0
        "TrainConfig.warmup_steps",
        "TrainConfig.seed",
        "TrainConfig.local_dropout",
        "TrainConfig.input_noise",  # 0 = off  # off
        "GenerateConfig.temperature",  # the likeliest sample
        "GenerateConfig.floor",  # the whole distribution
        "GenerateConfig.max_jump",  # no limit
        "GenerateConfig.redraw_noise",  # never judged
        "GenerateConfig.excitation_gain",  # the notes not heard: the roll alone steers
        "EvaluateConfig.excitation_gain",
        "PieceConfig.wavenet_excitation_gain",
        "GenerateConfig.treble_tilt",  # every key alike, as trained
        "EvaluateConfig.treble_tilt",
        "PieceConfig.wavenet_treble_tilt",
        "GenerateConfig.heard_harmonics",  # as many harmonics as in training
        "EvaluateConfig.heard_harmonics",
        "PieceConfig.wavenet_heard_harmonics",
        "GenerateConfig.heard_rolloff",  # every harmonic as loud as the fundamental
        "EvaluateConfig.heard_rolloff",
        "PieceConfig.wavenet_heard_rolloff",
        "GenerateConfig.seed",
        "ReportConfig.seed",
        "ComposerConfig.dropout",
        "ComposerConfig.attention_dropout",
        "ComposerConfig.warmup_steps",
        "ComposerConfig.weight_decay",
        "ComposerConfig.seed",
        "PieceConfig.temperature",  # the likeliest token
        "PieceConfig.hold_penalty",
        "PieceConfig.shortest_note",  # keys lifted whenever the composer likes
        "PieceConfig.wavenet_temperature",
        "PieceConfig.wavenet_floor",  # the whole distribution
        "PieceConfig.wavenet_max_jump",  # no limit
        "PieceConfig.wavenet_redraw_noise",  # never judged
        "PieceConfig.seed",
    }
)


def _checked_fields() -> list[tuple[type, str, Spec]]:
    return [
        (owner, key, spec)
        for owner in COMMANDS
        for key, spec in field_specs(owner).items()
        if spec.numeric or spec.kind is bool
    ]


def test_every_settings_class_is_walked():
    assert set(SETTINGS_CLASSES) == set(COMMANDS)
    assert len(_checked_fields()) > 70


@pytest.mark.parametrize(
    "owner, key, spec",
    _checked_fields(),
    ids=[f"{o.__name__}.{k}" for o, k, _ in _checked_fields()],
)
def test_every_probe_is_refused_in_one_line_or_accepted_on_purpose(
    owner, key, spec, tmp_path, capsys
):
    given = COMMAND_OF.get(f"{owner.__name__}.{key}", COMMANDS[owner])
    command = [a.format(tmp=tmp_path) for a in given]
    flag = "--" + key.replace("_", "-")
    accepted = {"0"} if f"{owner.__name__}.{key}" in ACCEPTS_ZERO else set()
    if spec.kind is bool:
        accepted = {"true"}
    integral = int in (spec.kind, spec.item)
    for probe in (*PROBES, *(INTEGER_PROBES if integral else ())):
        code = main([*command, f"{flag}={probe}"])
        err = capsys.readouterr().err
        lines = err.splitlines()
        if probe in accepted or (probe == "null" and spec.optional):
            assert f"error: {spec.name}:" not in err, (probe, err)
            if command[0] == "info":
                assert code == 0, (probe, err)
            else:  # past its settings, the command stops at the missing run
                assert f"{tmp_path}/none" in err, (probe, err)
        else:
            assert code == 2 and len(lines) == 1, (probe, err)
            assert lines[0].startswith(f"wavenet-music {command[0]}: error: {spec.name}"), err


def test_a_numeric_setting_without_a_range_fails_when_its_class_is_defined():
    with pytest.raises(TypeError, match=r"Unbounded\.count declares no range"):

        @settings("x")
        class Unbounded:
            count: int = field(default=1, metadata=doc("how many"))

    with pytest.raises(TypeError, match=r"Optional\.rate declares no range"):

        @settings("x")
        class Optional:
            rate: float | None = field(default=None, metadata=doc("how fast; null = off"))

    with pytest.raises(TypeError, match=r"Undocumented\.size has no help text"):

        @settings("x")
        class Undocumented:
            size: int = 3

    with pytest.raises(TypeError, match=r"Named\.name is not a number but has a range"):

        @settings("x")
        class Named:
            name: str = field(default="a", metadata=doc("a name", low=0, high=1))

    assert not {"Unbounded", "Optional", "Undocumented", "Named"} & {
        c.__name__ for c in SETTINGS_CLASSES
    }


def test_construction_in_python_is_checked_too():
    with pytest.raises(UserError, match=r"^train\.grad_clip: expected a number in \(0, 1000\]"):
        TrainConfig(grad_clip=-1.0)
    with pytest.raises(UserError, match=r"^seconds: .* got nan$"):
        GenerateConfig(seconds=math.nan)
    with pytest.raises(UserError, match=r"^train\.learning_rate: .* got inf$"):
        dataclasses.replace(TrainConfig(), learning_rate=math.inf)
    with pytest.raises(UserError, match=r"^composer\.layers: expected an integer"):
        ComposerConfig(layers=True)  # a bool is not an int
    with pytest.raises(UserError, match=r"^num: expected an integer"):
        GenerateConfig(num=2.0)  # type: ignore[arg-type]
    for owner in COMMANDS:
        owner()  # every default is valid


def _error(capsys, *argv: str) -> str:
    assert main(list(argv)) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1, err
    return err.strip()


def test_the_reported_cases(tmp_path, capsys):
    info = ["info", "--preset", "tiny"]
    assert "train.grad_clip: expected a number in (0, 1000] or null, got -1.0" in _error(
        capsys, *info, "--grad-clip", "-1"
    )
    assert "train.min_learning_rate: expected a number in [0, 1], got -1.0" in _error(
        capsys, *info, "--min-learning-rate", "-1"
    )
    assert "train.min_learning_rate: expected at most train.learning_rate (0.002)" in _error(
        capsys, *info, "--min-learning-rate", "0.01"
    )
    assert "train.learning_rate: expected a number in (0, 1], got inf" in _error(
        capsys, *info, "--learning-rate", "inf"
    )
    assert "train.validation_windows: expected an integer in [1, 1024], got 100000000" in _error(
        capsys, *info, "--validation-windows", "1e8"
    )
    assert "batch_size: expected an integer in [1, 4096], got -1" in _error(
        capsys, "evaluate", str(tmp_path), "--data", str(tmp_path), "--batch-size", "-1"
    )
    assert "model.dilations.stacks: expected an integer in [1, 1024], got 1000000000" in _error(
        capsys, *info, "--dilations", "{stacks: 1000000000, max: 2}"
    )
    assert "seconds: expected a number in [0.001, 3600], got 0.0001" in _error(
        capsys, "generate", str(tmp_path), "--seconds", "0.0001"
    )
    assert main([*info, "--steps", "1e5", "--grad-clip", "null"]) == 0  # 1e5 is an integer


def test_the_evaluate_function_checks_its_batch_size():
    with pytest.raises(UserError, match=r"^batch_size: expected an integer in \[1, 4096\]"):
        from wavenet_music.wavenet.evaluate import evaluate

        evaluate(None, None, Path("."), batch_size=-1)  # type: ignore[arg-type]


def test_the_shortest_clip_has_a_sample_at_the_lowest_rate():
    from wavenet_music.wavenet.model import WaveNet
    from wavenet_music.wavenet.to_audio import generate_audio

    config = apply_overrides(
        Config(),
        {
            "data.sample_rate": MIN_SAMPLE_RATE,
            "model.dilations": [1, 2],
            "model.residual_channels": 4,
            "model.dilation_channels": 4,
            "model.skip_channels": 4,
        },
    )
    options = GenerateConfig(seconds=MIN_SECONDS, engine="eager")
    audio = generate_audio(WaveNet(config.model).eval(), config, options, progress=False)
    assert audio.shape == (1, 1)


def test_help_shows_each_range(capsys):
    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "windows per forward pass [int in [1, 4096], default 4]" in out
