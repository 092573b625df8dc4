"""The composer's sampling, calibrated to the music it learned from.

Sampled at temperature 1, a composer trained for minutes on half an hour of music wanders:
its feature sequences repeat far less than the music does (demo run, chroma features:
0.13 against 0.33). Lower temperatures make it repeat more; too low, it loops. And a
composer sampled on its own output holds tokens more often than the music does (the demo
recipe's composer: a token followed itself 46% of the time at temperature 1, 62% at 0.9,
against 43% in the music, although on the music's own contexts it predicts 44%): a held
token makes holding likelier, so sound that should move stands still, then moves in
bursts. The hold penalty (``composer.sample_tokens``) counters that.

The calibration composes ``seconds`` of tokens per label at every (temperature, hold
penalty) of a grid and picks the pair whose sequences are closest to the training music
in two numbers: ``repetition`` (structure.py, lags beyond 1 s) of the decoded tokens and
the hold rate (how often a token follows itself), each averaged per label, then over the
labels; distance = the sum of the two absolute differences. ``train-composer`` stores
the result in the composer's checkpoint and ``compose`` samples at it unless
``--temperature`` / ``--hold-penalty`` say otherwise.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..audio.structure import repetition
from ..runtime.device import model_device
from .data import Stream
from .model import Composer, continue_tokens
from .tokens import Codebook

GRID = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0)
HOLD_PENALTIES = (0.0, 0.5, 1.0, 1.5)


@dataclass(frozen=True)
class Calibration:
    """The chosen (temperature, hold penalty), the training music's repetition and hold
    rate, and ``grid``: (temperature, penalty, repetition, hold rate) of every point
    composed."""

    temperature: float
    real_repetition: float
    hold_penalty: float
    real_hold_rate: float
    grid: tuple[tuple[float, float, float, float], ...]

    @property
    def composed_repetition(self) -> tuple[tuple[float, float], ...]:
        """(temperature, repetition) at the chosen hold penalty."""
        return tuple((t, r) for t, b, r, _ in self.grid if b == self.hold_penalty)

    @property
    def chosen(self) -> tuple[float, float]:
        """(repetition, hold rate) of the chosen point."""
        at = {(t, b): (r, h) for t, b, r, h in self.grid}
        return at[self.temperature, self.hold_penalty]

    def to_dict(self) -> dict:
        return {
            "temperature": self.temperature,
            "hold_penalty": self.hold_penalty,
            "real_repetition": self.real_repetition,
            "real_hold_rate": self.real_hold_rate,
            "grid": [list(point) for point in self.grid],
        }

    @classmethod
    def from_dict(cls, saved: dict) -> Calibration:
        """Also reads calibrations saved before hold penalties: a grid of temperatures at
        penalty 0, hold rates unknown."""
        if "grid" in saved:
            grid = tuple(tuple(float(v) for v in point) for point in saved["grid"])
        else:
            grid = tuple(
                (float(t), 0.0, float(r), math.nan) for t, r in saved["composed_repetition"]
            )
        return cls(
            float(saved["temperature"]),
            float(saved["real_repetition"]),
            float(saved.get("hold_penalty", 0.0)),
            float(saved.get("real_hold_rate", math.nan)),
            grid,  # type: ignore[arg-type]
        )


def hold_rate(tokens: np.ndarray) -> float:
    """How often a token (N,) is the one before it again."""
    return float(np.mean(tokens[1:] == tokens[:-1])) if len(tokens) > 1 else math.nan


def label_balanced_mean(values: Sequence[tuple[int, float]]) -> float:
    """Mean over labels of the mean per label, of (label, value) pairs; NaNs left out."""
    per_label: dict[int, list[float]] = defaultdict(list)
    for label, value in values:
        if np.isfinite(value):
            per_label[label].append(value)
    means = [np.mean(v) for v in per_label.values() if v]
    return float(np.mean(means)) if means else float("nan")


def real_statistics(
    streams: Sequence[Stream], codebook: Codebook, tokens: int, frames_per_second: float
) -> tuple[float, float]:
    """(repetition, hold rate) of every whole ``tokens``-long window of the streams."""
    windows = [
        (s.label, s.tokens[i : i + tokens])
        for s in streams
        for i in range(0, len(s.tokens) - tokens + 1, tokens)
    ]
    return sequence_statistics(windows, codebook, frames_per_second)


def sequence_statistics(
    windows: Sequence[tuple[int, np.ndarray]], codebook: Codebook, frames_per_second: float
) -> tuple[float, float]:
    """(repetition, hold rate) of (label, tokens) windows, each a label-balanced mean."""
    decoded = [(label, repetition(codebook.decode(w), frames_per_second)) for label, w in windows]
    held = [(label, hold_rate(w)) for label, w in windows]
    return label_balanced_mean(decoded), label_balanced_mean(held)


STREAMS_PER_BATCH = 512  # grid points are composed together, up to this many sequences


@dataclass(frozen=True)
class Probe:
    """What is composed at each grid point: ``streams_per_label`` sequences per label of
    ``tokens`` tokens from the start token, measured at ``frames_per_second``."""

    model: Composer
    codebook: Codebook
    labels: int
    tokens: int
    frames_per_second: float
    streams_per_label: int

    @property
    def streams(self) -> int:
        return max(self.labels, 1) * self.streams_per_label


@torch.no_grad()
def composed_statistics(
    probe: Probe, points: Sequence[tuple[float, float]], seed: int
) -> list[tuple[float, float]]:
    """(repetition, hold rate) of ``probe``'s sequences at each (temperature, hold
    penalty) of ``points``. The points are composed side by side, in as few batches as
    ``STREAMS_PER_BATCH`` allows (per-token work is small, so one big batch is much faster
    than many)."""
    chunk = max(1, STREAMS_PER_BATCH // probe.streams)
    device = model_device(probe.model)
    generator = torch.Generator(device=device).manual_seed(seed)
    out = []
    for i in range(0, len(points), chunk):
        out += _composed_batch(probe, points[i : i + chunk], generator)
    return out


def _composed_batch(
    probe: Probe, points: Sequence[tuple[float, float]], generator: torch.Generator
) -> list[tuple[float, float]]:
    model, device = probe.model, model_device(probe.model)
    one_point = torch.arange(max(probe.labels, 1)).repeat_interleave(probe.streams_per_label)
    label_of = one_point.repeat(len(points))  # (P·S,)
    per_row = torch.tensor(points, dtype=torch.float64).repeat_interleave(len(one_point), 0)
    state = model.initial_state(label_of.to(device) if probe.labels else None)
    start = torch.full((len(label_of),), model.start_token, dtype=torch.long, device=device)
    temperature, penalty = per_row[:, 0].to(device), per_row[:, 1].to(device)  # (P·S,) each
    composed, _, _ = continue_tokens(
        model, state, start, probe.tokens, temperature, None, generator, penalty
    )
    rows = composed.cpu().numpy().reshape(len(points), len(one_point), probe.tokens)  # (P,S,T)
    names = one_point.tolist()
    return [
        sequence_statistics(
            list(zip(names, block, strict=True)), probe.codebook, probe.frames_per_second
        )
        for block in rows
    ]


def calibrate_sampling(
    model: Composer,
    codebook: Codebook,
    train: Sequence[Stream],
    labels: int,
    frames_per_second: float,
    seconds: float,
    streams_per_label: int,
    seed: int = 0,
    grid: Sequence[float] = GRID,
    hold_penalties: Sequence[float] = HOLD_PENALTIES,
) -> Calibration | None:
    """The (temperature, hold penalty) of the grid whose composed repetition and hold rate
    are closest to the training music's (ties: the higher temperature, then the lower
    penalty); None when no training stream holds a ``seconds`` window. With a single hold
    penalty only the repetition is matched."""
    tokens = math.ceil(seconds * frames_per_second / codebook.pool)
    real, real_hold = real_statistics(train, codebook, tokens, frames_per_second)
    if not np.isfinite(real):
        return None
    penalties = tuple(hold_penalties) if np.isfinite(real_hold) else (0.0,)
    match_hold = len(penalties) > 1

    grid_points = [(t, b) for b in penalties for t in grid]
    was_training = model.training
    model.eval()
    probe = Probe(model, codebook, labels, tokens, frames_per_second, streams_per_label)
    composed = composed_statistics(probe, grid_points, seed)
    model.train(was_training)
    points = tuple((t, b, *stats) for (t, b), stats in zip(grid_points, composed, strict=True))

    def distance(point: tuple[float, float, float, float]) -> float:
        _, _, r, h = point
        return abs(r - real) + (abs(h - real_hold) if match_hold else 0.0)

    finite = [(distance(p), -p[0], p[1]) for p in points if np.isfinite(distance(p))]
    if not finite:
        return None
    _, minus_t, penalty = min(finite)
    return Calibration(-minus_t, real, penalty, real_hold, points)
