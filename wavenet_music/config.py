"""Every setting, defined once.

Each concern has one frozen dataclass. Presets (``presets/*.yaml``) are data over these
classes, YAML files and ``--set section.key=value`` override them, the checkpoint stores
the whole ``Config`` and the command line flags are generated from the fields (see
``cli.py``). The field defaults are the classic ibab/tensorflow-wavenet music setting,
the ``reference`` preset.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml


class UserError(ValueError):
    """A problem with the user's input; the CLI prints it as one line and exits 2."""


def stacked_dilations(max_dilation: int, stacks: int) -> tuple[int, ...]:
    """Dilations 1, 2, 4, ..., max_dilation, repeated ``stacks`` times."""
    if max_dilation < 1 or max_dilation & (max_dilation - 1):
        raise UserError(f"max_dilation: expected a power of two >= 1, got {max_dilation}")
    one_stack = tuple(2**i for i in range(max_dilation.bit_length()))
    return one_stack * stacks


def doc(text: str) -> dict[str, str]:
    return {"help": text}


TRAIN_PRECISIONS = ("float32", "bf16")
GENERATE_ENGINES = ("auto", "compiled", "eager")
GENERATE_PRECISIONS = ("float32", "bf16", "int8")


@dataclass(frozen=True)
class ModelConfig:
    """The network: dilated causal convolutions, gated units, residual and skip paths."""

    filter_width: int = field(default=2, metadata=doc("taps of every causal convolution"))
    dilations: tuple[int, ...] = field(
        default=stacked_dilations(1024, 5),
        metadata=doc("dilation of each residual layer, e.g. [1,2,4,8] or {stacks: 5, max: 1024}"),
    )
    residual_channels: int = field(default=64, metadata=doc("channels of the residual path"))
    dilation_channels: int = field(default=64, metadata=doc("channels of the gated units"))
    skip_channels: int = field(default=1024, metadata=doc("channels of the skip path and head"))
    quantization_channels: int = field(default=256, metadata=doc("mu-law classes (softmax size)"))
    use_biases: bool = field(default=True, metadata=doc("biases in every convolution"))
    local_channels: int | None = field(
        default=None,
        metadata=doc("channels of the local-conditioning features (e.g. 80 mel bands); null = off"),
    )
    hop_length: int = field(default=256, metadata=doc("audio samples per local-conditioning frame"))
    global_labels: tuple[str, ...] = field(
        default=(),
        metadata=doc("labels of global conditioning (filled from the data by train); [] = off"),
    )

    def __post_init__(self) -> None:
        if len(set(self.global_labels)) != len(self.global_labels) or "" in self.global_labels:
            raise UserError(
                f"model.global_labels: expected distinct non-empty names, "
                f"got {list(self.global_labels)}"
            )
        for name in (
            "filter_width",
            "residual_channels",
            "dilation_channels",
            "skip_channels",
            "hop_length",
        ):
            check_positive_int(f"model.{name}", getattr(self, name))
        if self.local_channels is not None:
            check_positive_int("model.local_channels", self.local_channels)
        if self.filter_width < 2:
            raise UserError(f"model.filter_width: expected >= 2, got {self.filter_width}")
        q = self.quantization_channels
        check_positive_int("model.quantization_channels", q)
        if q < 2 or q > 65536:
            raise UserError(f"model.quantization_channels: expected 2..65536, got {q}")
        if not self.dilations:
            raise UserError("model.dilations: expected at least one dilation, got []")
        for d in self.dilations:
            check_positive_int("model.dilations", d)

    @property
    def receptive_field(self) -> int:
        """Samples the prediction of one sample sees: the initial causal convolution
        (``filter_width`` taps) plus ``(filter_width - 1) * dilation`` per layer."""
        return (self.filter_width - 1) * (sum(self.dilations) + 1) + 1

    @property
    def layers(self) -> int:
        return len(self.dilations)


@dataclass(frozen=True)
class DataConfig:
    """How audio becomes training windows."""

    sample_rate: int = field(default=16000, metadata=doc("model sample rate in Hz"))
    sample_size: int = field(
        default=10000,
        metadata=doc("target samples per training window (plus the receptive field)"),
    )
    silence_threshold: float | None = field(
        default=None,
        metadata=doc("RMS below which leading/trailing audio is trimmed; null = off"),
    )
    validation_fraction: float = field(
        default=0.1, metadata=doc("share of each folder's files (or time) held out")
    )
    cache_dir: str | None = field(
        default=None, metadata=doc("decoded mu-law cache; null = ~/.cache/wavenet-music")
    )
    labels: str | None = field(
        default=None,
        metadata=doc(
            "global conditioning labels: 'folders' (first folder level), "
            "a CSV file of file,label rows, or null = off"
        ),
    )
    features: str = field(
        default="log_mel",
        metadata=doc("local-conditioning feature: log_mel or chroma (12 channels)"),
    )
    n_fft: int = field(default=1024, metadata=doc("analysis window of the features, samples"))

    def __post_init__(self) -> None:
        check_positive_int("data.sample_rate", self.sample_rate)
        check_positive_int("data.sample_size", self.sample_size)
        check_positive_int("data.n_fft", self.n_fft)
        if not 0.0 <= self.validation_fraction < 1.0:
            raise UserError(
                f"data.validation_fraction: expected 0 <= x < 1, got {self.validation_fraction}"
            )
        if self.silence_threshold is not None and not 0.0 < self.silence_threshold < 1.0:
            raise UserError(
                f"data.silence_threshold: expected 0 < x < 1 or null, got {self.silence_threshold}"
            )


@dataclass(frozen=True)
class TrainConfig:
    """The optimisation loop and its bookkeeping."""

    batch_size: int = field(
        default=1, metadata=doc("windows per step (under torchrun: the global batch, split)")
    )
    learning_rate: float = field(default=1e-3, metadata=doc("Adam learning rate after warm-up"))
    min_learning_rate: float = field(default=1e-5, metadata=doc("floor of the cosine decay"))
    warmup_steps: int = field(default=100, metadata=doc("linear warm-up steps"))
    decay_steps: int | None = field(
        default=None,
        metadata=doc("cosine decay length in steps; null = --steps, else over --minutes"),
    )
    grad_clip: float | None = field(default=1.0, metadata=doc("gradient norm clip; null = off"))
    steps: int | None = field(default=None, metadata=doc("stop after this many steps"))
    minutes: float | None = field(default=None, metadata=doc("stop after this much wall time"))
    checkpoint_every: int = field(default=500, metadata=doc("steps between checkpoints"))
    keep_checkpoints: int = field(default=3, metadata=doc("newest checkpoints kept"))
    validate_every: int = field(default=250, metadata=doc("steps between validations"))
    validation_windows: int = field(default=8, metadata=doc("fixed windows per validation"))
    log_every: int = field(default=10, metadata=doc("steps between TensorBoard scalars"))
    max_bad_steps: int = field(
        default=20, metadata=doc("non-finite losses in a row that stop the run")
    )
    audio_every: int | None = field(
        default=None, metadata=doc("steps between TensorBoard audio snippets; null = off")
    )
    audio_seconds: float = field(default=0.5, metadata=doc("length of each snippet"))
    seed: int = field(default=0, metadata=doc("seed of weights, data order and snippets"))
    device: str = field(default="auto", metadata=doc("auto, cpu, cuda or cuda:N"))
    precision: str = field(
        default="float32", metadata=doc("float32, or bf16 (autocast; float32 master weights)")
    )
    local_dropout: float = field(
        default=0.0,
        metadata=doc(
            "share of windows trained with their local features withheld, so that the "
            "model also generates unsteered (no features); 0 = off"
        ),
    )

    def __post_init__(self) -> None:
        check_choice("train.precision", self.precision, TRAIN_PRECISIONS)
        if not isinstance(self.local_dropout, int | float) or not 0 <= self.local_dropout < 1:
            raise UserError(f"train.local_dropout: expected 0 <= x < 1, got {self.local_dropout!r}")
        for name in ("batch_size", "checkpoint_every", "keep_checkpoints", "validate_every"):
            check_positive_int(f"train.{name}", getattr(self, name))
        for name in ("validation_windows", "log_every", "max_bad_steps"):
            check_positive_int(f"train.{name}", getattr(self, name))
        for name in ("learning_rate", "audio_seconds"):
            check_positive_number(f"train.{name}", getattr(self, name))
        if self.steps is not None:
            check_positive_int("train.steps", self.steps)
        if self.minutes is not None:
            check_positive_number("train.minutes", self.minutes)
        if self.decay_steps is not None:
            check_positive_int("train.decay_steps", self.decay_steps)
        if self.warmup_steps < 0:
            raise UserError(f"train.warmup_steps: expected >= 0, got {self.warmup_steps}")


@dataclass(frozen=True)
class Config:
    """Everything a run needs; stored in every checkpoint."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {name: _plain(dataclasses.asdict(getattr(self, name))) for name in SECTIONS}

    @classmethod
    def from_dict(cls, data: dict[str, Any], base: Config | None = None) -> Config:
        """Overlay a nested ``{section: {key: value}}`` dict on ``base`` (default: defaults)."""
        flat = {}
        for section, values in (data or {}).items():
            if section not in SECTIONS:
                raise UserError(f"unknown config section {section!r}; expected one of {SECTIONS}")
            if not isinstance(values, dict):
                raise UserError(f"config section {section!r}: expected a mapping, got {values!r}")
            flat.update({f"{section}.{key}": value for key, value in values.items()})
        return apply_overrides(base or cls(), flat)


SECTIONS = ("model", "data", "train")
SECTION_CLASSES = {"model": ModelConfig, "data": DataConfig, "train": TrainConfig}


def apply_overrides(config: Config, overrides: dict[str, Any]) -> Config:
    """Return ``config`` with ``{"section.key": value}`` applied, values checked and coerced."""
    sections = {name: getattr(config, name) for name in SECTIONS}
    changes: dict[str, dict[str, Any]] = {name: {} for name in SECTIONS}
    for dotted, value in overrides.items():
        section, key = _split_key(dotted)
        fields = {f.name: f for f in dataclasses.fields(SECTION_CLASSES[section])}
        if key not in fields:
            raise UserError(
                f"unknown setting {dotted!r}; known in {section}: {', '.join(sorted(fields))}"
            )
        changes[section][key] = coerce(dotted, SECTION_CLASSES[section], key, value)
    try:
        replaced = {n: dataclasses.replace(sections[n], **changes[n]) for n in SECTIONS}
    except TypeError as exc:  # pragma: no cover - coerce() already checked every type
        raise UserError(str(exc)) from None
    return Config(**replaced)


def parse_assignment(text: str) -> tuple[str, Any]:
    """``"model.residual_channels=32"`` → ``("model.residual_channels", 32)`` (YAML value)."""
    if "=" not in text:
        raise UserError(f"--set: expected section.key=value, got {text!r}")
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    return key.strip(), value


def coerce(name: str, owner: type, key: str, value: Any) -> Any:
    """Check ``value`` against the annotation of ``owner.key`` and convert YAML types to it."""
    return _coerce_to(name, typing.get_type_hints(owner)[key], value)


def _coerce_to(name: str, hint: Any, value: Any) -> Any:
    args = typing.get_args(hint)
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _coerce_to(name, inner, value)
    if typing.get_origin(hint) is tuple and args[0] is str:
        if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            return tuple(value)
        raise UserError(f"{name}: expected a list of names, got {value!r}")
    if typing.get_origin(hint) is tuple:
        return _coerce_tuple(name, value)
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise UserError(f"{name}: expected true or false, got {value!r}")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise UserError(f"{name}: expected an integer, got {value!r}")
    if hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # PyYAML reads "3e-4" (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
        raise UserError(f"{name}: expected a number, got {value!r}")
    if hint is str:
        if isinstance(value, str):
            return value
        raise UserError(f"{name}: expected a string, got {value!r}")
    raise UserError(f"{name}: unsupported setting type {hint}")  # pragma: no cover


def _coerce_tuple(name: str, value: Any) -> tuple[int, ...]:
    if isinstance(value, dict) and set(value) == {"stacks", "max"}:
        stacks, top = value["stacks"], value["max"]
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (stacks, top)):
            raise UserError(f"{name}: expected integer stacks and max, got {value!r}")
        check_positive_int(f"{name}.stacks", stacks)
        return stacked_dilations(top, stacks)
    if isinstance(value, list | tuple):
        return tuple(_coerce_to(name, int, v) for v in value)
    raise UserError(f"{name}: expected a list of integers or {{stacks: S, max: M}}, got {value!r}")


def _split_key(dotted: str) -> tuple[str, str]:
    section, _, key = dotted.partition(".")
    if section not in SECTIONS or not key:
        raise UserError(f"setting {dotted!r}: expected section.key with section in {SECTIONS}")
    return section, key


def check_positive_int(name: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise UserError(f"{name}: expected a positive integer, got {value!r}")


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise UserError(f"{name}: expected one of {', '.join(choices)}, got {value!r}")


def check_positive_number(name: str, value: Any) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool) or not value > 0:
        raise UserError(f"{name}: expected a positive number, got {value!r}")


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}


# --- presets and files -----------------------------------------------------------------


def preset_names() -> list[str]:
    folder = resources.files("wavenet_music") / "presets"
    return sorted(
        p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml")
    )


def load_preset(name: str) -> Config:
    """A named preset from ``wavenet_music/presets/NAME.yaml``."""
    if name not in preset_names():
        raise UserError(f"unknown preset {name!r}; choose one of: {', '.join(preset_names())}")
    text = (resources.files("wavenet_music") / "presets" / f"{name}.yaml").read_text()
    return Config.from_dict(yaml.safe_load(text))


def load_yaml(path: Path, base: Config) -> Config:
    """Overlay a YAML config file on ``base``."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise UserError(f"config file {path} not found") from None
    except yaml.YAMLError as exc:
        raise UserError(
            f"config file {path} is not valid YAML: {str(exc).splitlines()[0]}"
        ) from None
    if data is not None and not isinstance(data, dict):
        raise UserError(f"config file {path}: expected a mapping of sections, got {type(data)}")
    return Config.from_dict(data or {}, base=base)


def dump_yaml(config: Config) -> str:
    return yaml.safe_dump(config.to_dict(), sort_keys=False, default_flow_style=None)


@dataclass(frozen=True)
class GenerateConfig:
    """How to sample new audio from a trained run (not stored in checkpoints)."""

    seconds: float = field(default=4.0, metadata=doc("length of each clip"))
    num: int = field(default=1, metadata=doc("clips generated together as one batch"))
    temperature: float = field(default=1.0, metadata=doc("softmax temperature; 0 = most likely"))
    seed: int | None = field(default=0, metadata=doc("random seed; null = a fresh one each run"))
    seed_audio: str | None = field(default=None, metadata=doc("audio file the clips continue"))
    label: str | None = field(
        default=None,
        metadata=doc("label to generate (conditioned runs): NAME, a,b or all; --num per label"),
    )
    features_from: str | None = field(
        default=None,
        metadata=doc("audio file whose local-conditioning features steer the clips"),
    )
    features: str | None = field(
        default=None, metadata=doc(".npy file of local-conditioning features (frames, F)")
    )
    save_every: float | None = field(
        default=None, metadata=doc("rewrite the partial WAV every this many seconds of audio")
    )
    device: str = field(default="auto", metadata=doc("auto, cpu, cuda or cuda:N"))
    engine: str = field(
        default="auto",
        metadata=doc("auto (compiled step when it builds, else eager), compiled or eager"),
    )
    precision: str = field(
        default="float32", metadata=doc("weights for generation: float32, bf16 or int8")
    )

    def __post_init__(self) -> None:
        check_choice("engine", self.engine, GENERATE_ENGINES)
        check_choice("precision", self.precision, GENERATE_PRECISIONS)
        check_positive_number("seconds", self.seconds)
        check_positive_int("num", self.num)
        if not isinstance(self.temperature, int | float) or self.temperature < 0:
            raise UserError(f"temperature: expected a number >= 0, got {self.temperature!r}")
        if self.save_every is not None:
            check_positive_number("save_every", self.save_every)
