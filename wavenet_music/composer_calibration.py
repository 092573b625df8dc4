"""The composer's sampling temperature, calibrated to the music it learned from.

Sampled at temperature 1, a composer trained for minutes on half an hour of music wanders:
its feature sequences repeat far less than the music does (demo run, chroma features:
0.13 against 0.33). Lower temperatures make it repeat more; too low, it loops. The
calibration composes ``seconds`` of features per label at every temperature of a grid and
picks the one whose sequences repeat as much as the training music's: ``repetition``
(structure.py, lags beyond 1 s) of the decoded tokens, averaged per label, then over the
labels. The training music goes through the same codebook, so both sides are decoded
tokens. ``train-composer`` stores the result in the composer's checkpoint and ``compose``
samples at it unless ``--temperature`` says otherwise.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .composer import Composer, continue_tokens
from .composer_data import Stream
from .structure import repetition
from .tokens import Codebook

GRID = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0)


@dataclass(frozen=True)
class Calibration:
    temperature: float  # the chosen one
    real_repetition: float  # of the training music's windows
    composed_repetition: tuple[tuple[float, float], ...]  # (temperature, repetition)

    def to_dict(self) -> dict:
        return {
            "temperature": self.temperature,
            "real_repetition": self.real_repetition,
            "composed_repetition": [list(pair) for pair in self.composed_repetition],
        }

    @classmethod
    def from_dict(cls, saved: dict) -> Calibration:
        pairs = tuple((float(t), float(r)) for t, r in saved["composed_repetition"])
        return cls(float(saved["temperature"]), float(saved["real_repetition"]), pairs)


def label_balanced_mean(values: Sequence[tuple[int, float]]) -> float:
    """Mean over labels of the mean per label, of (label, value) pairs; NaNs left out."""
    per_label: dict[int, list[float]] = defaultdict(list)
    for label, value in values:
        if np.isfinite(value):
            per_label[label].append(value)
    means = [np.mean(v) for v in per_label.values() if v]
    return float(np.mean(means)) if means else float("nan")


def real_repetition(
    streams: Sequence[Stream], codebook: Codebook, tokens: int, frames_per_second: float
) -> float:
    """Repetition of every whole ``tokens``-long window of the streams, decoded."""
    values = [
        (s.label, repetition(codebook.decode(s.tokens[i : i + tokens]), frames_per_second))
        for s in streams
        for i in range(0, len(s.tokens) - tokens + 1, tokens)
    ]
    return label_balanced_mean(values)


@torch.no_grad()
def composed_repetition(
    model: Composer,
    codebook: Codebook,
    labels: int,
    tokens: int,
    frames_per_second: float,
    temperature: float,
    streams_per_label: int,
    seed: int,
) -> float:
    """Repetition of ``streams_per_label`` sequences per label (one batch), ``tokens``
    long, composed from the start token at ``temperature``."""
    device = next(model.parameters()).device
    label_of = torch.arange(max(labels, 1)).repeat_interleave(streams_per_label)  # (B,)
    state = model.initial_state(label_of.to(device) if labels else None)
    start = torch.full((len(label_of),), model.start_token, dtype=torch.long, device=device)
    generator = torch.Generator(device=device).manual_seed(seed)
    composed, _, _ = continue_tokens(model, state, start, tokens, temperature, None, generator)
    values = [
        (int(label), repetition(codebook.decode(row), frames_per_second))
        for label, row in zip(label_of, composed.cpu().numpy(), strict=True)
    ]
    return label_balanced_mean(values)


def calibrate_temperature(
    model: Composer,
    codebook: Codebook,
    train: Sequence[Stream],
    labels: int,
    frames_per_second: float,
    seconds: float,
    streams_per_label: int,
    seed: int = 0,
    grid: Sequence[float] = GRID,
) -> Calibration | None:
    """The temperature of ``grid`` whose composed repetition is closest to the training
    music's (ties: the higher); None when no training stream holds a ``seconds`` window."""
    tokens = math.ceil(seconds * frames_per_second / codebook.pool)
    real = real_repetition(train, codebook, tokens, frames_per_second)
    if not np.isfinite(real):
        return None
    was_training = model.training
    model.eval()
    table = tuple(
        (
            t,
            composed_repetition(
                model, codebook, labels, tokens, frames_per_second, t, streams_per_label, seed
            ),
        )
        for t in grid
    )
    model.train(was_training)
    finite = [(abs(r - real), -t) for t, r in table if np.isfinite(r)]
    if not finite:
        return None
    return Calibration(-min(finite)[1], real, table)
