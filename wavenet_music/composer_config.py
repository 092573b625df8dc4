"""The composer's settings: frozen dataclasses, no torch (the CLI builds flags from them).

``ComposerConfig`` (tokens, network, training) is stored in the composer's checkpoint;
``ComposeConfig`` (how to compose a piece) is not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .config import UserError, check_positive_int, check_positive_number, doc


@dataclass(frozen=True)
class ComposerConfig:
    """The composer's tokens, network and training; stored in its checkpoint."""

    codebook_size: int = field(default=256, metadata=doc("k-means tokens (vocabulary)"))
    frames_per_token: int = field(default=4, metadata=doc("feature frames stacked into one token"))
    kmeans_iterations: int = field(default=30, metadata=doc("Lloyd iterations of k-means"))
    context_seconds: float = field(
        default=20.5, metadata=doc("music the composer hears before each token, seconds")
    )
    layers: int = field(default=4, metadata=doc("transformer blocks"))
    heads: int = field(default=4, metadata=doc("attention heads per block"))
    width: int = field(default=128, metadata=doc("embedding width"))
    dropout: float = field(default=0.1, metadata=doc("dropout in training"))
    batch_size: int = field(default=8, metadata=doc("windows per step"))
    learning_rate: float = field(default=1e-3, metadata=doc("AdamW learning rate"))
    warmup_steps: int = field(default=100, metadata=doc("linear warm-up steps"))
    weight_decay: float = field(default=0.1, metadata=doc("AdamW weight decay"))
    steps: int | None = field(default=None, metadata=doc("stop after this many steps"))
    minutes: float | None = field(default=None, metadata=doc("stop after this much wall time"))
    validate_every: int = field(default=200, metadata=doc("steps between validations"))
    patience: int | None = field(
        default=5,
        metadata=doc(
            "stop after this many validations without a better held-out score (the saved "
            "composer is always the best one); null = train the whole budget"
        ),
    )
    transpose: bool = field(
        default=False,
        metadata=doc(
            "chroma features only: also learn from the 11 other transpositions of every "
            "training segment (its pitch classes rotated), 12 times the music; the codebook "
            "is fitted on them too"
        ),
    )
    calibration_seconds: float | None = field(
        default=20.0,
        metadata=doc(
            "after training, pick the sampling temperature (and hold penalty) whose composed "
            "sequences of this length repeat as much as the training music "
            "(composer_calibration.py); null = none (compose samples at 1.0, penalty 0)"
        ),
    )
    calibrate_hold_penalty: bool = field(
        default=True,
        metadata=doc(
            "calibrate a hold penalty with the temperature, so that composed sequences also "
            "hold a token as often as the training music (false: penalty 0)"
        ),
    )
    calibration_streams: int = field(
        default=8,
        metadata=doc("sequences composed per label and grid point (temperature, penalty)"),
    )
    checkpoint_every: int = field(default=500, metadata=doc("steps between checkpoints"))
    keep_checkpoints: int = field(default=2, metadata=doc("newest checkpoints kept"))
    seed: int = field(default=0, metadata=doc("seed of k-means, weights and data order"))
    device: str = field(default="auto", metadata=doc("auto, cpu, cuda or cuda:N"))

    def __post_init__(self) -> None:
        for name in ("frames_per_token", "kmeans_iterations", "layers", "heads", "width"):
            check_positive_int(f"composer.{name}", getattr(self, name))
        for name in ("batch_size", "validate_every", "checkpoint_every", "keep_checkpoints"):
            check_positive_int(f"composer.{name}", getattr(self, name))
        check_positive_int("composer.calibration_streams", self.calibration_streams)
        check_positive_number("composer.context_seconds", self.context_seconds)
        check_positive_number("composer.learning_rate", self.learning_rate)
        if not isinstance(self.codebook_size, int) or self.codebook_size < 2:
            raise UserError(f"composer.codebook_size: expected >= 2, got {self.codebook_size!r}")
        if self.width % self.heads:
            raise UserError(
                f"composer.width: expected a multiple of heads ({self.heads}), got {self.width}"
            )
        if not 0 <= self.dropout < 1:
            raise UserError(f"composer.dropout: expected 0 <= x < 1, got {self.dropout}")
        if self.steps is not None:
            check_positive_int("composer.steps", self.steps)
        if self.patience is not None:
            check_positive_int("composer.patience", self.patience)
        if self.minutes is not None:
            check_positive_number("composer.minutes", self.minutes)
        if self.calibration_seconds is not None:
            check_positive_number("composer.calibration_seconds", self.calibration_seconds)

    def context_tokens(self, sample_rate: int, hop: int) -> int:
        """Tokens in ``context_seconds`` of music (each ``frames_per_token · hop`` samples)."""
        return math.ceil(self.context_seconds * sample_rate / (hop * self.frames_per_token))


@dataclass(frozen=True)
class ComposeConfig:
    """How to compose a piece from a run with a trained composer (not stored)."""

    seconds: float = field(default=30.0, metadata=doc("length of the piece"))
    label: str | None = field(
        default=None, metadata=doc("label to compose (labelled runs): NAME, a,b or all")
    )
    prime: str | None = field(default=None, metadata=doc("audio file the piece continues"))
    temperature: float | None = field(
        default=None,
        metadata=doc(
            "composer softmax temperature; null = the one train-composer calibrated (1.0 for "
            "a composer without)"
        ),
    )
    top_k: int | None = field(
        default=None, metadata=doc("sample among the k likeliest tokens; null = all")
    )
    hold_penalty: float | None = field(
        default=None,
        metadata=doc(
            "subtracted from the logit of the token just written (it would hold the sound); "
            "null = the one train-composer calibrated (0 for a composer without)"
        ),
    )
    wavenet_temperature: float = field(default=1.0, metadata=doc("WaveNet sampling temperature"))
    seed: int | None = field(default=0, metadata=doc("random seed; null = a fresh one"))
    chunk_seconds: float = field(
        default=2.0, metadata=doc("music composed ahead and rendered per chunk")
    )
    device: str = field(default="auto", metadata=doc("auto, cpu, cuda or cuda:N"))

    def __post_init__(self) -> None:
        check_positive_number("seconds", self.seconds)
        check_positive_number("chunk_seconds", self.chunk_seconds)
        for name in ("temperature", "hold_penalty", "wavenet_temperature"):
            value = getattr(self, name)
            if value is None and name != "wavenet_temperature":
                continue
            if not isinstance(value, int | float) or value < 0:
                raise UserError(f"{name}: expected a number >= 0, got {value!r}")
        if self.top_k is not None and (not isinstance(self.top_k, int) or self.top_k < 1):
            raise UserError(f"top_k: expected a positive integer or null, got {self.top_k!r}")
