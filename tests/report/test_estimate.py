"""The demo's time estimate: its probe reads the machine's speed, not a moment's noise."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from wavenet_music.report.estimate import timed


def scripted(durations: list[float]) -> tuple[Callable[[], None], Callable[[], float], list[int]]:
    """(work, clock, calls): each call of ``work`` advances the fake ``clock`` by the next
    of ``durations``; ``calls`` counts them."""
    now = [0.0]
    calls = [0]

    def work() -> None:
        now[0] += durations[calls[0]]
        calls[0] += 1

    return work, lambda: now[0], calls


def test_a_burst_of_another_job_moves_a_short_probe_but_not_a_long_one() -> None:
    """Steps of 0.5 s; another job slows the first three timed ones to 1.5 s (after the
    warm-up call). Three calls read the burst; eight seconds of calls read the machine."""
    durations = [0.5] + [1.5] * 3 + [0.5] * 40
    work, clock, _ = scripted(durations)
    assert timed(work, warmup=1, repeats=3, clock=clock) == pytest.approx(1.5)
    work, clock, calls = scripted(durations)
    assert timed(work, warmup=1, repeats=3, least_seconds=8.0, clock=clock) == pytest.approx(0.5)
    # 3 × 1.5 + 7 × 0.5 = 8 s timed, after the warm-up call: eleven calls, no more
    assert calls[0] == 11


def test_slow_work_still_runs_the_stated_repeats() -> None:
    work, clock, calls = scripted([5.0, 4.0, 6.0, 5.0, 9.0])
    assert timed(work, warmup=1, repeats=3, least_seconds=1.0, clock=clock) == pytest.approx(5.0)
    assert calls[0] == 4  # the warm-up and three timed, though one already passed a second
