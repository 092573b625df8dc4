"""What every training loop shares (the WaveNet's and the composer's): the learning-rate
schedule."""

from __future__ import annotations

import math


def cosine_schedule(
    step: int,
    peak: float,
    floor: float,
    warmup: int,
    steps: int | None,
    minutes: float | None,
    elapsed: float,
) -> float:
    """Linear warm-up to ``peak``, then cosine decay to ``floor`` over ``steps``; with only
    a ``minutes`` budget the decay follows the training time ``elapsed`` (seconds)
    instead: the rate is low when the time runs out. No budget: constant ``peak``."""
    if step < warmup:
        return peak * (step + 1) / warmup
    if steps is not None and steps > warmup:
        progress = min(1.0, (step - warmup) / (steps - warmup))
    elif steps is None and minutes is not None:
        progress = min(1.0, elapsed / (minutes * 60))
    else:
        return peak
    return floor + (peak - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))
