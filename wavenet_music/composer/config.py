"""The composer's settings: frozen dataclasses, no torch (the CLI builds flags from them).

``ComposerConfig`` (tokens, network, training; the ``composer`` section of presets and
``--config`` files) is stored in the composer's checkpoint; ``PieceConfig`` (how to compose
one piece, as ``GenerateConfig`` says how to generate the WaveNet's clips) is not.

The composer writes one of two kinds of tokens, chosen by the run it serves:

- a run steered by frame features (chroma, log-mel) gets k-means tokens of
  ``frames_per_token`` frames each (``tokens.py``): ``codebook_size``,
  ``frames_per_token`` and ``kmeans_iterations`` shape them, a token lasts a fixed
  ``frames_per_token · hop`` samples, and the sampling is calibrated (``calibration_*``);
- a run steered by notes (``data.features: notes``) gets note events (``notes/events.py``,
  308 tokens): those three settings and the calibration do not apply (events are exact, not
  fitted, and repetition of decoded frames does not measure events), and since an event
  has no fixed length, ``context_seconds`` becomes tokens at the mean events per second of
  the training music (``context_events``). ``transpose`` moves the notes by -5 .. +6
  semitones.

Everything else (network, training, budget) means the same for both.
"""

from __future__ import annotations

import math
from dataclasses import field

from ..config import (
    MAX_BATCH,
    MAX_CHANNELS,
    MAX_JUMP,
    MAX_SECONDS,
    MAX_SEED,
    MAX_STEPS,
    MAX_TEMPERATURE,
    MIN_SECONDS,
    NOTE_EXCITATION_GAIN,
    NOTE_FLOOR,
    NOTE_HEARD_HARMONICS,
    NOTE_HEARD_ROLLOFF,
    NOTE_TEMPERATURE_SCALE,
    NOTE_TREBLE_TILT,
    REDRAW_NOISE,
    UserError,
    budget_minutes,
    budget_steps,
    excitation_gain_doc,
    floor_doc,
    heard_harmonics_doc,
    heard_rolloff_doc,
    jump_doc,
    note_temperature_doc,
    redraw_noise_doc,
    treble_tilt_doc,
)
from ..config.checks import doc, settings

MAX_COMPOSER_SECONDS = 600  # context and calibration: the work grows with (the square of) it


@settings("composer")
class ComposerConfig:
    """The composer's tokens, network and training; stored in its checkpoint."""

    codebook_size: int = field(
        default=256, metadata=doc("k-means tokens (vocabulary)", low=2, high=65536)
    )
    frames_per_token: int = field(
        default=4, metadata=doc("feature frames stacked into one token", low=1, high=256)
    )
    kmeans_iterations: int = field(
        default=30, metadata=doc("Lloyd iterations of k-means", low=1, high=10000)
    )
    context_seconds: float = field(
        default=20.5,
        metadata=doc(
            "music the composer hears before each token, seconds (note events: at the "
            "training music's mean events per second)",
            low=0,
            high=MAX_COMPOSER_SECONDS,
            low_open=True,
        ),
    )
    layers: int = field(default=4, metadata=doc("transformer blocks", low=1, high=128))
    heads: int = field(default=4, metadata=doc("attention heads per block", low=1, high=128))
    width: int = field(
        default=128, metadata=doc("embedding width, a multiple of heads", low=1, high=MAX_CHANNELS)
    )
    dropout: float = field(
        default=0.1,
        metadata=doc(
            "dropout in training, of each block's output and its MLP's",
            low=0,
            high=1,
            high_open=True,
        ),
    )
    attention_dropout: float = field(
        default=0.1,
        metadata=doc(
            "dropout of the attention weights in training; 0 lets torch's fused attention "
            "kernel run (the demo's composer: a CPU step in a third of the time, "
            "benchmarks/bench_composer.py)",
            low=0,
            high=1,
            high_open=True,
        ),
    )
    batch_size: int = field(default=8, metadata=doc("windows per step", low=1, high=MAX_BATCH))
    learning_rate: float = field(
        default=1e-3, metadata=doc("AdamW learning rate", low=0, high=1, low_open=True)
    )
    warmup_steps: int = field(
        default=100, metadata=doc("linear warm-up steps; 0 = none", low=0, high=MAX_STEPS)
    )
    weight_decay: float = field(
        default=0.1, metadata=doc("AdamW weight decay; 0 = none", low=0, high=10)
    )
    steps: int | None = budget_steps()
    minutes: float | None = budget_minutes()
    validate_every: int = field(
        default=200, metadata=doc("steps between validations", low=1, high=MAX_STEPS)
    )
    patience: int | None = field(
        default=5,
        metadata=doc(
            "stop after this many validations without a better held-out score; null = "
            "train the whole budget",
            low=1,
            high=MAX_STEPS,
        ),
    )
    keep_best: bool = field(
        default=True,
        metadata=doc(
            "compose with the weights of the best held-out validation; false: with those of "
            "the last one, which training runs at its last step (a small held-out split can "
            "prefer an under-trained composer: experiments/note_density_2026-12-03)"
        ),
    )
    carry_velocity: bool = field(
        default=False,
        metadata=doc(
            "note events: a window cut mid-piece starts with the velocity in force, in "
            "training and the held-out score (measured on one seed: piano's softest pieces "
            "came up to the genre's, ambient's pieces rested more; "
            "experiments/composer_velocity_2026-12-05)"
        ),
    )
    transpose: bool = field(
        default=False,
        metadata=doc(
            "chroma or notes: also learn from the 11 other transpositions of every training "
            "segment, 12 times the music: chroma's pitch classes rotated (the codebook is "
            "fitted on them too), notes moved by -5 .. +6 semitones (keys that leave the "
            "piano dropped)"
        ),
    )
    calibration_seconds: float | None = field(
        default=20.0,
        metadata=doc(
            "after training, pick the sampling temperature (and hold penalty) whose composed "
            "sequences of this length repeat as much as the training music "
            "(composer/calibration.py; frame features only: a composer of note events "
            "samples at 1.0, penalty 0); null = none (compose samples at 1.0, penalty 0)",
            low=0,
            high=MAX_COMPOSER_SECONDS,
            low_open=True,
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
        metadata=doc(
            "sequences composed per label and grid point (temperature, penalty)",
            low=1,
            high=1024,
        ),
    )
    checkpoint_every: int = field(
        default=500, metadata=doc("steps between checkpoints", low=1, high=MAX_STEPS)
    )
    keep_checkpoints: int = field(
        default=2, metadata=doc("newest checkpoints kept", low=1, high=1000)
    )
    seed: int = field(
        default=0, metadata=doc("seed of k-means, weights and data order", low=0, high=MAX_SEED)
    )
    device: str = field(default="auto", metadata=doc("auto, cpu, cuda or cuda:N"))

    def __post_init__(self) -> None:
        if self.width % self.heads:
            raise UserError(
                f"composer.width: expected a multiple of heads ({self.heads}), got {self.width}"
            )

    def context_tokens(self, sample_rate: int, hop: int) -> int:
        """Tokens in ``context_seconds`` of music (each ``frames_per_token · hop`` samples)."""
        return math.ceil(self.context_seconds * sample_rate / (hop * self.frames_per_token))

    def context_events(self, events_per_second: float) -> int:
        """Note events in ``context_seconds`` of music at ``events_per_second`` (the
        training music's mean), at least 1."""
        return max(1, math.ceil(self.context_seconds * events_per_second))


@settings()
class PieceConfig:
    """How to compose one piece from a run with a trained composer (not stored)."""

    seconds: float = field(
        default=30.0, metadata=doc("length of the piece", low=MIN_SECONDS, high=MAX_SECONDS)
    )
    label: str | None = field(
        default=None, metadata=doc("label to compose (labelled runs): NAME, a,b or all")
    )
    num: int = field(
        default=1,
        metadata=doc("pieces of each label, composed together as one batch", low=1, high=1024),
    )
    prime: str | None = field(
        default=None,
        metadata=doc(
            "audio file the piece continues; a run steered by notes also takes a MIDI file "
            "(audio is transcribed)"
        ),
    )
    temperature: float | None = field(
        default=None,
        metadata=doc(
            "composer softmax temperature; 0 = the likeliest token; null = the one "
            "train-composer calibrated (1.0 for a composer without)",
            low=0,
            high=MAX_TEMPERATURE,
        ),
    )
    top_k: int | None = field(
        default=None,
        metadata=doc("sample among the k likeliest tokens; null = all", low=1, high=65536),
    )
    hold_penalty: float | None = field(
        default=None,
        metadata=doc(
            "subtracted from the logit of the token just written (it would hold the sound); "
            "0 = none; null = the one train-composer calibrated (0 for a composer without)",
            low=0,
            high=100,
        ),
    )
    shortest_note: float | None = field(
        default=None,
        metadata=doc(
            "notes: the composer lifts no key it struck sooner than this, seconds; "
            "null = the label's shortest training notes (1 in 200 is shorter) as "
            "train-composer stored them (composers trained before 2026-12-06: none); 0 = none",
            low=0,
            high=10,
        ),
    )
    unsteered_rests: bool | None = field(
        default=None,
        metadata=doc(
            "notes: where no key is down the WaveNet plays as it does unsteered (the notes "
            "withheld, as in training) instead of hearing a rest: true for every label, "
            "false for none; null = for the labels whose music plays on between its notes "
            "(its rests within 12 dB of its notes, as train-composer measured them: the "
            "demo's ambient and classical; composers trained before 2026-12-06, or a "
            "WaveNet never trained without notes (train.local_dropout 0): none). "
            "experiments/ambient_rests_2026-12-05"
        ),
    )
    wavenet_temperature: float = field(
        default=1.0,
        metadata=doc(
            "WaveNet sampling temperature; 0 = the likeliest sample", low=0, high=MAX_TEMPERATURE
        ),
    )
    wavenet_floor: float = field(
        default=NOTE_FLOOR, metadata=floor_doc("while a note sounds, the WaveNet never draws a")
    )
    wavenet_note_temperature_scale: float = field(
        default=NOTE_TEMPERATURE_SCALE, metadata=note_temperature_doc("the WaveNet draws at")
    )
    wavenet_excitation_gain: float = field(
        default=NOTE_EXCITATION_GAIN, metadata=excitation_gain_doc("the WaveNet hears")
    )
    wavenet_treble_tilt: float = field(
        default=NOTE_TREBLE_TILT, metadata=treble_tilt_doc("the WaveNet hears")
    )
    wavenet_heard_harmonics: int = field(
        default=NOTE_HEARD_HARMONICS, metadata=heard_harmonics_doc("the WaveNet hears")
    )
    wavenet_heard_rolloff: float = field(
        default=NOTE_HEARD_ROLLOFF, metadata=heard_rolloff_doc("the WaveNet hears")
    )
    wavenet_max_jump: float = field(
        default=MAX_JUMP, metadata=jump_doc("the WaveNet never draws a sample")
    )
    wavenet_redraw_noise: float = field(
        default=REDRAW_NOISE, metadata=redraw_noise_doc("the WaveNet draws again each piece's")
    )
    seed: int | None = field(
        default=0, metadata=doc("random seed; null = a fresh one", low=0, high=MAX_SEED)
    )
    chunk_seconds: float = field(
        default=2.0,
        metadata=doc(
            "the WAV is rewritten after each chunk of audio (every note or frame is "
            "composed first), once it is long when it holds a quarter more",
            low=0,
            high=MAX_SECONDS,
            low_open=True,
        ),
    )
    device: str = field(
        default="auto",
        metadata=doc(
            "auto (the CPU, faster than a GPU at sample-by-sample generation), cpu, cuda or cuda:N"
        ),
    )
