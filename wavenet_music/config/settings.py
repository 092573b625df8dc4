"""Every setting, defined once.

Each concern has one frozen dataclass. Presets (``presets/*.yaml``) are data over these
classes, YAML files and ``--set section.key=value`` override them, the checkpoint stores
the whole ``Config`` and the command line flags are generated from the fields (see
``cli.py``). The field defaults are the classic ibab/tensorflow-wavenet music setting,
the ``reference`` preset.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar, overload

import yaml

from .checks import UserError, convert, doc, read_user_text, settings

# Bounds shared by many settings (each field declares its own range with doc(low=, high=)).
MAX_STEPS = 10**9  # step counts, intervals and budgets
MAX_SEED = 2**32 - 1  # 32-bit seeds
MAX_CHANNELS = 4096
MAX_DILATION = 2**16
MAX_LAYERS = 1024
MAX_BATCH = 4096
MAX_MINUTES = 60 * 24 * 365  # a year of wall time
MIN_SAMPLE_RATE = 1000
MAX_SAMPLE_RATE = 384_000
MIN_SECONDS = 1 / MIN_SAMPLE_RATE  # one sample at the lowest rate: no clip has 0 samples
MAX_SECONDS = 3600  # the longest clip or piece one command writes
MAX_TEMPERATURE = 100.0
# While a note sounds, a WaveNet steered by notes never draws a value less likely than this
# (``wavenet.incremental.sample``: LPCNet's cut of the unlikely tail). Measured on the demo
# (experiments/demo_sampling_2026-12-03, 6 seeds): composed pieces' spectral flatness 37-43%
# lower in every genre (classical 0.109 → 0.070), their distance to the genre 0.3-1.4 dB
# larger; dense piano note F1 0.59 → 0.63.
NOTE_FLOOR = 0.002
# While a note sounds, a WaveNet steered by notes draws at its temperature times this:
# sharper, as LPCNet sharpens voiced speech. The hiss it cuts lies under the notes, in their
# quiet decays (experiments/rest_hiss_2026-12-03: 1 → 0.6 took composed flatness down by
# 18-44% by genre, note F1 the same). 0.6 → 0.3, the demo report's 12 composed pieces (20 s)
# rendered by two demo WaveNets, 3 and 1 seeds (experiments/note_temperature_lower_2026-12-06):
# flatness classical 0.019 → 0.011, guitar 0.025 → 0.016, piano 0.030 → 0.021 (ambient's
# hiss lies in its rests: rest_hiss), note F1 +0.01 to +0.08 in every genre, the long-term
# spectrum's shape 0.2-0.6 dB further from the genre's, the level 0.4-3 dB lower. 0.3 → 0.15,
# the same renders, two models, 3 and 1 seeds (experiments/note_temperature_lowest_2026-12-06):
# flatness classical 0.011 → 0.008, guitar 0.016 → 0.012, piano 0.021 → 0.017, note F1
# ambient +0.01/+0.05, classical +0.03, guitar 0.00/+0.02, piano +0.01/-0.02, the shape up to
# 0.3 dB further; down to 0.05 no collapse, the flatness lower still and the shape further.
NOTE_TEMPERATURE_SCALE = 0.15
# While generating, a WaveNet steered by notes hears them (the excitation, ``model.excitation``)
# this many times as loud as in training, and follows them more closely: taught by
# recordings whose history already holds the notes, it leans on the notes too little when
# its history is its own output. The demo's model, its report's 3 composed pieces a genre
# (experiments/excitation_gain_2026-12-05): note F1 by transcription piano 0.31 → 0.52,
# guitar 0.16 → 0.38, classical 0.04 → 0.21, ambient 0.15 → 0.19; flatness lower and the
# level nearer the genre's in every genre; 4 overshoots piano's level.
NOTE_EXCITATION_GAIN = 3.0
# While generating, the notes above G4 are heard this many dB louder each octave up (the
# treble tilt, ``notes.excitation.tilt_gain``): the WaveNet played a third of its treble
# notes at most, the top of the melody missing. The demo report's composed notes, four
# models (experiments/treble_tilt_2026-12-05): at 4, the notes at or above C5 heard more
# often in all 12 (model, genre) pairs (+0.04 to +0.22), note F1 within -0.02 .. +0.05;
# 8 plays more treble still but costs two models' piano 0.03 and 0.09 note F1.
NOTE_TREBLE_TILT = 4.0
# While generating, every note is heard with its harmonics 1 .. this (channels 1 and 2 of
# the excitation, those below the Nyquist margin) however many the model trained with
# (``model.excitation_harmonics``, 4): a WaveNet trained with 4 played more of its notes
# hearing 12. The demo report's 12 composed pieces, three models trained with 4
# (experiments/excitation_partials_2026-12-06): note F1 +0.03 to +0.09 in every genre of
# each (the demo's: piano 0.54 → 0.59, classical 0.23 → 0.30), the spectrum's shape as
# near the genre's or nearer; trained with 12 as well, a model played fewer.
NOTE_HEARD_HARMONICS = 12
# While generating, harmonic h of every note is heard at 1 / h ** this instead of the
# 1 / h it trained with, the harmonics' sum at the same power (brighter, not louder;
# ``notes.excitation.harmonic_weights``). The demo reports of two models rebuilt on their
# own WaveNets and notes (experiments/heard_rolloff_2026-12-07), 1 → 0.5: note F1 up in
# all 8 (model, genre) pairs (+0.03 to +0.12; classical 0.36 → 0.48), classical's notes
# heard 3.8 → 5.3 a second of 8.6, the spectrum's shape nearer each genre's, 2-5 kHz
# louder and more tonal (band flatness -12 to -20%); the cost: the whole band 30-60%
# flatter (piano 0.017 → 0.022; recordings 0.005, white noise 0.56) and up to 0.8 dB
# louder. 0.75 gains half as much at half the cost.
NOTE_HEARD_ROLLOFF = 0.5
# The most a sample may move from the previous one, of full scale (0 = no limit). Recorded
# music at 16 kHz practically never moves half full scale in one sample (the demo corpus:
# 0-0.6 times a second); a WaveNet in a loud state it rarely trained on gives the mirror
# class (-0.5 → +0.65) several percent and crackles, hundreds of clicks a second
# (experiments/plain_level_2026-12-03): those draws are never made.
MAX_JUMP = 0.5
# A half second of generated audio spectrally flatter than this (and louder than -40 dBFS)
# is a fall into noise, drawn again (``wavenet.noise_guard``; white noise: 0.56). The
# demo's recordings never read above 0.13 in a half second louder than -45 dBFS (ambient;
# median 0.002-0.007 by genre), its WaveNets' music up to 0.23;
# their falls into white noise 0.43-0.56 (experiments/ambient_noise_2026-12-05), and the
# plain ambient of a clean clone's WaveNet, trained on 2 threads, a coloured noise at
# 0.30-0.41 for 55% of its half seconds, which 0.4 let through (the demo's check failed;
# experiments/coloured_noise_2026-12-06).
REDRAW_NOISE = 0.3


def jump_doc(what: str) -> dict:
    """The metadata of a sampling jump limit (``MAX_JUMP``)."""
    return doc(
        f"{what} more than this (of full scale) from the previous sample (no clicks); 0 = no limit",
        low=0,
        high=2,
    )


def redraw_noise_doc(what: str) -> dict:
    """The metadata of a noise guard setting (``REDRAW_NOISE``)."""
    return doc(
        f"{what} half second (judged a quarter second apart) whose spectral flatness, in "
        "its frames louder than -40 dBFS, exceeds this (white noise: 0.56; recorded music at "
        "most 0.13), from the half "
        "second before, up to 4 times, then from 1.5 s before; 0 = never",
        low=0,
        high=1,
    )


def note_temperature_doc(what: str) -> dict:
    """The metadata of a temperature scale while notes sound (``NOTE_TEMPERATURE_SCALE``)."""
    return doc(
        f"while a note sounds, {what} temperature times this (sharper draws, less hiss under "
        "the notes); 1 = the same temperature everywhere",
        low=0,
        high=1,
        low_open=True,
    )


def excitation_gain_doc(what: str) -> dict:
    """The metadata of a gain on the notes heard while generating (``NOTE_EXCITATION_GAIN``)."""
    return doc(
        f"{what} the notes at audio rate (the excitation) this many times as loud as in "
        "training: higher follows the notes more closely; 1 = as trained; 0 = not heard "
        "(the roll alone steers)",
        low=0,
        high=100,
    )


def treble_tilt_doc(what: str) -> dict:
    """The metadata of a treble tilt on the notes heard while generating (``NOTE_TREBLE_TILT``)."""
    return doc(
        f"{what} the notes above G4 this many dB louder each octave up (the treble "
        "played more often); 0 = every key alike, as in training",
        low=0,
        high=24,
    )


def heard_harmonics_doc(what: str) -> dict:
    """The metadata of the harmonics heard while generating (``NOTE_HEARD_HARMONICS``)."""
    return doc(
        f"{what} every note with its harmonics 1 .. this (training: "
        "model.excitation_harmonics); more plays more of the notes; 0 = as in training",
        low=0,
        high=MAX_HARMONICS,
    )


def heard_rolloff_doc(what: str) -> dict:
    """The metadata of the harmonics' rolloff heard while generating (``NOTE_HEARD_ROLLOFF``)."""
    return doc(
        f"{what} each note's harmonic h at 1 / h ** this, at the same power (training: "
        "1 / h); below 1 brighter: more of the notes and of 2-5 kHz played; 1 = as in "
        "training; 0 = every harmonic alike",
        low=0,
        high=2,
    )


def floor_doc(what: str) -> dict:
    """The metadata of a sampling floor setting (``NOTE_FLOOR``)."""
    return doc(
        f"{what} value less likely than this (cuts the hiss of unlikely draws); 0 = the "
        "whole distribution; below 1 / quantization channels",
        low=0,
        high=1,
        high_open=True,
    )


def stacked_dilations(max_dilation: int, stacks: int) -> tuple[int, ...]:
    """Dilations 1, 2, 4, ..., max_dilation, repeated ``stacks`` times."""
    if not 1 <= max_dilation <= MAX_DILATION or max_dilation & (max_dilation - 1):
        raise UserError(f"max: expected a power of two in [1, {MAX_DILATION}], got {max_dilation}")
    if not 1 <= stacks <= MAX_LAYERS:
        raise UserError(f"stacks: expected an integer in [1, {MAX_LAYERS}], got {stacks}")
    one_stack = tuple(2**i for i in range(max_dilation.bit_length()))
    return one_stack * stacks


def budget_steps() -> Any:
    """The ``steps`` field of a training budget (WaveNet and composer alike)."""
    return field(default=None, metadata=doc("stop after this many steps", low=1, high=MAX_STEPS))


def budget_minutes() -> Any:
    """The ``minutes`` field of a training budget: a cap on wall time."""
    return field(
        default=None,
        metadata=doc("stop after this much wall time", low=0, high=MAX_MINUTES, low_open=True),
    )


TRAIN_PRECISIONS = ("float32", "bf16")
EXCITATION_PHASES = ("onset", "recording", "start")
MAX_HARMONICS = 64  # the most partials an excitation names a note (each costs a sinusoid a sample)
EXCITATION_MIXES = ("sum", "equal_power")  # notes.excitation.MIXES (config imports nothing)
FEATURE_KINDS = ("log_mel", "chroma", "notes")  # audio/features.py's FEATURES, and notes
GENERATE_ENGINES = ("auto", "compiled", "graph", "eager")
GENERATE_PRECISIONS = ("float32", "bf16", "int8")


@settings("model")
class ModelConfig:
    """The network: dilated causal convolutions, gated units, residual and skip paths."""

    filter_width: int = field(
        default=2, metadata=doc("taps of every causal convolution", low=2, high=64)
    )
    dilations: tuple[int, ...] = field(
        default=stacked_dilations(1024, 5),
        metadata=doc(
            "dilation of each residual layer, e.g. [1,2,4,8] or {stacks: 5, max: 1024}",
            low=1,
            high=MAX_DILATION,
            items=(1, MAX_LAYERS),
        ),
    )
    residual_channels: int = field(
        default=64, metadata=doc("channels of the residual path", low=1, high=MAX_CHANNELS)
    )
    dilation_channels: int = field(
        default=64, metadata=doc("channels of the gated units", low=1, high=MAX_CHANNELS)
    )
    skip_channels: int = field(
        default=1024, metadata=doc("channels of the skip path and head", low=1, high=MAX_CHANNELS)
    )
    quantization_channels: int = field(
        default=256, metadata=doc("mu-law classes (softmax size)", low=2, high=65536)
    )
    use_biases: bool = field(default=True, metadata=doc("biases in every convolution"))
    local_channels: int | None = field(
        default=None,
        metadata=doc(
            "channels of the local-conditioning features (e.g. 80 mel bands); null = off",
            low=1,
            high=MAX_CHANNELS,
        ),
    )
    hop_length: int = field(
        default=256,
        metadata=doc("audio samples per local-conditioning frame", low=1, high=MAX_DILATION),
    )
    global_labels: tuple[str, ...] = field(
        default=(),
        metadata=doc("labels of global conditioning (filled from the data by train); [] = off"),
    )
    excitation: bool = field(
        default=False,
        metadata=doc(
            "hear the notes at audio rate: sinusoids at every sounding note's frequency "
            "into every layer (needs data.features=notes)"
        ),
    )
    excitation_mix: str = field(
        default="sum",
        metadata=doc(
            "how the notes sounding at once mix in the excitation: sum (each at its "
            "velocity: four notes give four times one's power; every run before 2026-12-05) "
            "or equal_power (divided by the square root of the notes sounding: its power "
            "follows velocity, not how many notes sound, as recordings' loudness does)",
            choices=EXCITATION_MIXES,
        ),
    )
    excitation_harmonics: int = field(
        default=4,
        metadata=doc(
            "harmonics 1 .. N of every note in the excitation in training (at 1/h, those "
            "below 0.475 of the sample rate; generation hears --heard-harmonics); 12 "
            "played fewer notes than 4 in the demo",
            low=1,
            high=MAX_HARMONICS,
        ),
    )

    def __post_init__(self) -> None:
        if len(set(self.global_labels)) != len(self.global_labels) or "" in self.global_labels:
            raise UserError(
                f"model.global_labels: expected distinct non-empty names, "
                f"got {list(self.global_labels)}"
            )

    @property
    def receptive_field(self) -> int:
        """Samples the prediction of one sample sees: the initial causal convolution
        (``filter_width`` taps) plus ``(filter_width - 1) * dilation`` per layer."""
        return (self.filter_width - 1) * (sum(self.dilations) + 1) + 1

    @property
    def layers(self) -> int:
        return len(self.dilations)


@settings("data")
class DataConfig:
    """How audio becomes training windows."""

    sample_rate: int = field(
        default=16000,
        metadata=doc("model sample rate in Hz", low=MIN_SAMPLE_RATE, high=MAX_SAMPLE_RATE),
    )
    sample_size: int = field(
        default=10000,
        metadata=doc(
            "target samples per training window (plus the receptive field)", low=1, high=10**6
        ),
    )
    silence_threshold: float | None = field(
        default=None,
        metadata=doc(
            "RMS below which leading/trailing audio is trimmed; null = off",
            low=0,
            high=1,
            low_open=True,
            high_open=True,
        ),
    )
    validation_fraction: float = field(
        default=0.1,
        metadata=doc(
            "share of each folder's files (or time) held out", low=0, high=1, high_open=True
        ),
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
        metadata=doc(
            "local-conditioning feature: log_mel, chroma (12 channels) or notes (a piano "
            "roll, 176 channels: the .mid beside each recording, else its transcription)",
            choices=FEATURE_KINDS,
        ),
    )
    n_fft: int = field(
        default=1024, metadata=doc("analysis window of the features, samples", low=1, high=65536)
    )


@settings("train")
class TrainConfig:
    """The optimisation loop and its bookkeeping."""

    batch_size: int = field(
        default=1,
        metadata=doc(
            "windows per step (under torchrun: the global batch, split)", low=1, high=MAX_BATCH
        ),
    )
    learning_rate: float = field(
        default=1e-3, metadata=doc("Adam learning rate after warm-up", low=0, high=1, low_open=True)
    )
    min_learning_rate: float = field(
        default=1e-5,
        metadata=doc(
            "floor of the cosine decay, at most learning_rate; 0 = decay to 0", low=0, high=1
        ),
    )
    warmup_steps: int = field(
        default=100, metadata=doc("linear warm-up steps; 0 = none", low=0, high=MAX_STEPS)
    )
    decay_steps: int | None = field(
        default=None,
        metadata=doc(
            "cosine decay length in steps; null = --steps, else over --minutes",
            low=1,
            high=MAX_STEPS,
        ),
    )
    grad_clip: float | None = field(
        default=1.0,
        metadata=doc("gradient norm clip; null = off", low=0, high=1000, low_open=True),
    )
    steps: int | None = budget_steps()
    minutes: float | None = budget_minutes()
    checkpoint_every: int = field(
        default=500, metadata=doc("steps between checkpoints", low=1, high=MAX_STEPS)
    )
    keep_checkpoints: int = field(
        default=3, metadata=doc("newest checkpoints kept", low=1, high=1000)
    )
    validate_every: int = field(
        default=250, metadata=doc("steps between validations", low=1, high=MAX_STEPS)
    )
    validation_windows: int = field(
        default=8, metadata=doc("fixed windows per validation", low=1, high=1024)
    )
    log_every: int = field(
        default=10, metadata=doc("steps between TensorBoard scalars", low=1, high=MAX_STEPS)
    )
    max_bad_steps: int = field(
        default=20,
        metadata=doc("non-finite losses in a row that stop the run", low=1, high=MAX_STEPS),
    )
    audio_every: int | None = field(
        default=None,
        metadata=doc("steps between TensorBoard audio snippets; null = off", low=1, high=MAX_STEPS),
    )
    audio_seconds: float = field(
        default=0.5, metadata=doc("length of each snippet", low=MIN_SECONDS, high=60)
    )
    seed: int = field(
        default=0,
        metadata=doc("seed of weights, data order and snippets", low=0, high=MAX_SEED),
    )
    device: str = field(default="auto", metadata=doc("auto, cpu, cuda or cuda:N"))
    precision: str = field(
        default="float32",
        metadata=doc(
            "float32, or bf16 (autocast; float32 master weights)", choices=TRAIN_PRECISIONS
        ),
    )
    local_dropout: float = field(
        default=0.0,
        metadata=doc(
            "share of windows trained with their local features withheld, so that the "
            "model also generates unsteered (no features); 0 = off",
            low=0,
            high=1,
            high_open=True,
        ),
    )
    input_noise: float = field(
        default=0.0,
        metadata=doc(
            "noise on the audio history the model reads (targets stay clean), its standard "
            "deviation drawn per window from [0, this]: a steered model then follows its "
            "features instead of only its past (windows whose features are withheld stay "
            "clean); 0 = off",
            low=0,
            high=1,
        ),
    )
    excitation_phase: str = field(
        default="onset",
        metadata=doc(
            "phase of the excitation's partials in training windows: onset (0 at each "
            "note's onset, as in generation), recording (each partial follows the "
            "recording's phase, so that the excitation predicts the waveform and the model "
            "learns to start its notes, the treble too: note F1 0.58-0.61, where onset "
            "gives 0.29, and a noise floor twice as high) or start (a steady partial in "
            "the phase the recording starts the note in: 0.44, a lower floor); "
            "experiments/notes_phase_2026-12-02",
            choices=EXCITATION_PHASES,
        ),
    )
    input_noise_relative: bool = field(
        default=False,
        metadata=doc(
            "input_noise is a share of each window's RMS level instead of full scale, so "
            "quiet passages get quieter noise (measured on the demo: no better than "
            "absolute noise; experiments/notes_demo_trial_2026-12-02)"
        ),
    )

    def __post_init__(self) -> None:
        if self.min_learning_rate > self.learning_rate:
            raise UserError(
                f"train.min_learning_rate: expected at most train.learning_rate "
                f"({self.learning_rate:g}), got {self.min_learning_rate:g}"
            )


@dataclass(frozen=True)
class Config:
    """Everything a run needs; stored in every checkpoint."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        analysed = self.model.local_channels is not None and self.data.features != "notes"
        if analysed and self.data.n_fft < self.model.hop_length:  # frames would leave gaps
            raise UserError(
                f"data.n_fft: expected at least model.hop_length ({self.model.hop_length}) so "
                f"that each frame's window covers its hop, got {self.data.n_fft}; raise "
                "--n-fft or lower --hop-length"
            )

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {name: _plain(dataclasses.asdict(getattr(self, name))) for name in SECTIONS}

    @classmethod
    def from_dict(cls, data: dict[str, Any], base: Config | None = None) -> Config:
        """Overlay a nested ``{section: {key: value}}`` dict on ``base`` (default: defaults)."""
        return overlay_sections(base or cls(), data)


SECTIONS = ("model", "data", "train")
SECTION_CLASSES = {"model": ModelConfig, "data": DataConfig, "train": TrainConfig}
# A settings file (a preset, --config) may hold the composer's section too: one file for
# train and train-composer, each reading its own sections (composer/config.py).
FILE_SECTIONS = (*SECTIONS, "composer")
S = TypeVar("S")


def sections_of(config: Any) -> dict[str, Any]:
    """The settings sections of ``config``, by name: a ``Config``'s model, data and train,
    or a sectioned settings instance (``ComposerConfig``) as its one section."""
    if isinstance(config, Config):
        return {name: getattr(config, name) for name in SECTIONS}
    return {type(config)._settings_section: config}


def apply_overrides(config: S, overrides: dict[str, Any]) -> S:
    """Return ``config`` (a ``Config`` or a ``ComposerConfig``) with ``{"section.key": value}``
    applied, values checked and coerced."""
    sections = sections_of(config)
    changes: dict[str, dict[str, Any]] = {name: {} for name in sections}
    for dotted, value in overrides.items():
        section, key = _split_key(dotted, tuple(sections))
        owner = type(sections[section])
        fields = {f.name for f in dataclasses.fields(owner)}
        if key not in fields:
            raise UserError(
                f"unknown setting {dotted!r}; known in {section}: {', '.join(sorted(fields))}"
            )
        changes[section][key] = coerce(owner, key, value)
    replaced = {n: dataclasses.replace(sections[n], **changes[n]) for n in sections}
    return Config(**replaced) if isinstance(config, Config) else next(iter(replaced.values()))


def overlay_sections(config: S, data: dict[str, Any] | None) -> S:
    """Overlay a nested ``{section: {key: value}}`` dict on ``config``, skipping the other
    command's sections (``FILE_SECTIONS``)."""
    own = sections_of(config)
    flat = {}
    for section, values in (data or {}).items():
        if section not in FILE_SECTIONS:
            raise UserError(f"unknown config section {section!r}; expected one of {FILE_SECTIONS}")
        if not isinstance(values, dict):
            raise UserError(f"config section {section!r}: expected a mapping, got {values!r}")
        if section in own:
            flat.update({f"{section}.{key}": value for key, value in values.items()})
    return apply_overrides(config, flat)


def parse_assignment(text: str) -> tuple[str, Any]:
    """``"model.residual_channels=32"`` → ``("model.residual_channels", 32)`` (YAML value)."""
    if "=" not in text:
        raise UserError(f"--set: expected section.key=value, got {text!r}")
    key, raw = text.split("=", 1)
    return key.strip(), yaml_value(raw) if raw.strip() else None


def yaml_value(raw: str) -> Any:
    """A value typed on the command line as YAML reads it (``32``, ``[1, 2]``, ``true``),
    or the text itself where YAML cannot read it: the setting's check then says what it
    expected. (Nested 3,000 deep, an integer of 5,000 digits or a date of month 13 were
    tracebacks from PyYAML: RecursionError, ValueError.)"""
    try:
        return yaml.safe_load(raw)
    except (yaml.YAMLError, ValueError, RecursionError):
        return raw


def coerce(owner: type, key: str, value: Any) -> Any:
    """``value`` as YAML reads it, converted to the declared type of ``owner.key``
    (``settings.convert``); dilations also take the form ``{stacks: S, max: M}``."""
    if owner is ModelConfig and key == "dilations" and isinstance(value, dict):
        return _stacked(value)
    return convert(owner, key, value)


def _stacked(value: dict[str, Any]) -> tuple[int, ...]:
    stacks, top = value.get("stacks"), value.get("max")
    if set(value) != {"stacks", "max"} or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in (stacks, top)
    ):
        raise UserError(
            f"model.dilations: expected a list of integers or {{stacks: S, max: M}}, got {value!r}"
        )
    try:
        return stacked_dilations(top, stacks)  # type: ignore[arg-type]
    except UserError as exc:
        raise UserError(f"model.dilations.{exc}") from None


def _split_key(dotted: str, sections: tuple[str, ...]) -> tuple[str, str]:
    section, _, key = dotted.partition(".")
    if section not in sections or not key:
        raise UserError(f"setting {dotted!r}: expected section.key with section in {sections}")
    return section, key


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}


# --- presets and files -----------------------------------------------------------------


def preset_names() -> list[str]:
    folder = resources.files("wavenet_music.config") / "presets"
    return sorted(
        p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml")
    )


@overload
def load_preset(name: str) -> Config: ...
@overload
def load_preset(name: str, base: S) -> S: ...
def load_preset(name: str, base: Any = None) -> Any:
    """A named preset from ``wavenet_music/config/presets/NAME.yaml``: its model, data and train
    sections over the defaults, or with ``base`` (``ComposerConfig()``) its sections of
    ``base``'s kind over ``base`` (a preset without a composer section leaves it as is).
    ``extends: OTHER`` in the file starts from the preset OTHER instead."""
    if name not in preset_names():
        raise UserError(f"unknown preset {name!r}; choose one of: {', '.join(preset_names())}")
    text = (resources.files("wavenet_music.config") / "presets" / f"{name}.yaml").read_text()
    data = yaml.safe_load(text)
    start = Config() if base is None else base
    if "extends" in data:
        start = load_preset(data.pop("extends"), start)
    return overlay_sections(start, data)


MERGE_TAG = "tag:yaml.org,2002:merge"


class _UniqueKeys(yaml.SafeLoader):
    """YAML's safe loader refusing a key given twice in one mapping (PyYAML keeps the last
    silently: a setting edited in one place and left in another would train unseen)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set = set()
        for key_node, _ in node.value:
            if key_node.tag == MERGE_TAG:  # ``<<: *base``: its keys a later one may override
                continue
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):  # a list as a key: the safe loader's error
                break
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"{key!r} is given twice (line {key_node.start_mark.line + 1})"
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_yaml(text: str) -> Any:
    """``text`` as YAML's safe loader reads it, a key given twice in a mapping refused."""
    return yaml.load(text, Loader=_UniqueKeys)  # a SafeLoader: builds no objects


def load_yaml(path: Path, base: S) -> S:
    """Overlay a YAML config file on ``base`` (a ``Config`` or a ``ComposerConfig``): the
    file's sections of ``base``'s kind; the other command's sections are skipped."""
    text = read_user_text(path, "config file")
    try:
        data = read_yaml(text)
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: a date of month 13, say
        raise UserError(f"config file {path} is not valid YAML: {yaml_problem(exc)}") from None
    except RecursionError:
        raise UserError(
            f"config file {path}: nested too deeply to read (a section holds settings)"
        ) from None
    if data is not None and not isinstance(data, dict):
        raise UserError(f"config file {path}: expected a mapping of sections, got {type(data)}")
    return overlay_sections(base, data)


def yaml_problem(exc: Exception) -> str:
    """What is wrong, in one line, and where: a ``MarkedYAMLError``'s problem and its line
    and column (its first line is the context, "while scanning for the next token"); a
    value's ``ValueError`` without Python's advice to the programmer."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem:
        mark = exc.problem_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        return f"{exc.problem}{where}"
    return str(exc).splitlines()[0].split("; use sys.")[0]


def dump_yaml(config: Config) -> str:
    return yaml.safe_dump(config.to_dict(), sort_keys=False, default_flow_style=None)


@settings()
class GenerateConfig:
    """How to sample new audio from a trained run (not stored in checkpoints)."""

    seconds: float = field(
        default=4.0, metadata=doc("length of each clip", low=MIN_SECONDS, high=MAX_SECONDS)
    )
    num: int = field(
        default=1, metadata=doc("clips generated together as one batch", low=1, high=1024)
    )
    temperature: float = field(
        default=1.0,
        metadata=doc("softmax temperature; 0 = most likely", low=0, high=MAX_TEMPERATURE),
    )
    floor: float = field(
        default=NOTE_FLOOR,
        metadata=floor_doc("while a note sounds (runs steered by notes), never draw a sample"),
    )
    note_temperature_scale: float = field(
        default=NOTE_TEMPERATURE_SCALE,
        metadata=note_temperature_doc("runs steered by notes draw at"),
    )
    excitation_gain: float = field(
        default=NOTE_EXCITATION_GAIN, metadata=excitation_gain_doc("runs steered by notes hear")
    )
    treble_tilt: float = field(
        default=NOTE_TREBLE_TILT, metadata=treble_tilt_doc("runs steered by notes hear")
    )
    heard_harmonics: int = field(
        default=NOTE_HEARD_HARMONICS, metadata=heard_harmonics_doc("runs steered by notes hear")
    )
    heard_rolloff: float = field(
        default=NOTE_HEARD_ROLLOFF, metadata=heard_rolloff_doc("runs steered by notes hear")
    )
    max_jump: float = field(default=MAX_JUMP, metadata=jump_doc("never draw a sample"))
    redraw_noise: float = field(
        default=REDRAW_NOISE, metadata=redraw_noise_doc("draw again each clip's")
    )
    seed: int | None = field(
        default=0,
        metadata=doc("random seed; null = a fresh one each run", low=0, high=MAX_SEED),
    )
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
    notes: str | None = field(
        default=None,
        metadata=doc("MIDI file whose notes the clips play (runs trained with --features notes)"),
    )
    save_every: float | None = field(
        default=None,
        metadata=doc(
            "rewrite the partial WAV every this many seconds of audio (once it is long, "
            "when it holds a quarter more: a long piece writes a few times its size)",
            low=MIN_SECONDS,
            high=MAX_SECONDS,
        ),
    )
    device: str = field(
        default="auto",
        metadata=doc(
            "auto (the CPU: faster than a GPU for models of the demo's size), cpu, cuda "
            "(CUDA graphs: faster for many streams of reference's size) or cuda:N"
        ),
    )
    engine: str = field(
        default="auto",
        metadata=doc(
            "auto (on a CPU the compiled step when it builds, else eager; on a GPU graph), "
            "compiled, graph (CUDA graphs, a model on a GPU) or eager",
            choices=GENERATE_ENGINES,
        ),
    )
    precision: str = field(
        default="float32",
        metadata=doc("weights for generation: float32, bf16 or int8", choices=GENERATE_PRECISIONS),
    )


@settings()
class EvaluateConfig:
    """How ``evaluate`` scores held-out audio (not stored)."""

    batch_size: int = field(
        default=4, metadata=doc("windows per forward pass", low=1, high=MAX_BATCH)
    )
    device: str = field(default="auto", metadata=doc("auto, cpu, cuda or cuda:N"))
    label: str | None = field(
        default=None,
        metadata=doc("label every file is scored under (labelled runs); null = its folder's"),
    )
    follow_seconds: float | None = field(
        default=None,
        metadata=doc(
            "runs trained on notes: also render this many seconds of each file's notes and "
            "score how well the render follows them (transcribed; note F1); null = off",
            low=MIN_SECONDS,
            high=MAX_SECONDS,
        ),
    )
    excitation_gain: float = field(
        default=NOTE_EXCITATION_GAIN,
        metadata=excitation_gain_doc("the renders of --follow-seconds hear"),
    )
    treble_tilt: float = field(
        default=NOTE_TREBLE_TILT,
        metadata=treble_tilt_doc("the renders of --follow-seconds hear"),
    )
    heard_harmonics: int = field(
        default=NOTE_HEARD_HARMONICS,
        metadata=heard_harmonics_doc("the renders of --follow-seconds hear"),
    )
    heard_rolloff: float = field(
        default=NOTE_HEARD_ROLLOFF,
        metadata=heard_rolloff_doc("the renders of --follow-seconds hear"),
    )


@settings()
class ReportConfig:
    """What ``report`` generates for the listening page (not stored)."""

    clips: int = field(
        default=4,
        metadata=doc(
            "generated clips per label (a run with a composer: composed pieces and as "
            "many plain clips per label)",
            low=1,
            high=64,
        ),
    )
    seconds: float = field(
        default=4.0, metadata=doc("length of each clip", low=MIN_SECONDS, high=600)
    )
    seed: int = field(default=0, metadata=doc("random seed of the clips", low=0, high=MAX_SEED))
