"""What a listener gets: the subsonic filter against its design figures, measured on sines,
and fades that leave no step at either end."""

from __future__ import annotations

import numpy as np
import pytest

from wavenet_music.audio.finish import (
    FADE_IN_S,
    FADE_OUT_S,
    faded,
    for_listening,
    subsonic_filtered,
)

RATE = 16000


def gain_db(hz: float, seconds: float = 10.0) -> float:
    """The filter's gain for a sine of ``hz``, measured over the middle of the clip."""
    t = np.arange(int(seconds * RATE)) / RATE
    x = np.sin(2 * np.pi * hz * t)
    middle = slice(len(t) // 4, 3 * len(t) // 4)
    return 20 * np.log10(np.std(subsonic_filtered(x, RATE)[middle]) / np.std(x[middle]))


@pytest.mark.parametrize(
    ("hz", "low", "high"),
    [
        (1.0, -200, -70),
        (5.0, -30, -20),
        (20.0, -1.0, -0.2),
        (27.5, -0.3, 0.0),
        (440.0, -0.01, 0.01),
    ],
)
def test_the_subsonic_filter_removes_infrasound_and_keeps_the_piano_range(hz, low, high):
    assert low <= gain_db(hz) <= high


def test_a_wandering_offset_is_removed_and_the_music_kept():
    """Half of full scale of slow wander under a quiet tone (the demo's ambient pieces)."""
    t = np.arange(20 * RATE) / RATE
    tone = 0.05 * np.sin(2 * np.pi * 220 * t)
    wander = 0.5 * np.sin(2 * np.pi * 0.05 * t)  # a 20-s swing, as measured
    out = subsonic_filtered(tone + wander, RATE)
    middle = slice(5 * RATE, 15 * RATE)
    assert np.abs(out[middle] - tone[middle]).max() < 0.005  # the tone, within 0.5% of FS
    assert out.dtype == np.float32 and out.shape == tone.shape


def test_fades_leave_no_step_at_either_end_and_the_middle_untouched():
    x = np.full((2, 30 * RATE), 0.3, dtype=np.float32)  # a clip cut mid-sound at both ends
    y = faded(x, RATE)
    assert np.all(np.abs(y[:, [0, -1]]) < 1e-3)
    assert np.all(np.abs(np.diff(y, axis=1)) < 0.3 * np.pi / (FADE_IN_S * RATE))  # no click
    inside = slice(round(FADE_IN_S * RATE), -round(FADE_OUT_S * RATE))
    np.testing.assert_array_equal(y[:, inside], x[:, inside])
    short = faded(np.full(RATE, 0.3, dtype=np.float32), RATE)  # 1 s: a 50-ms fade out
    assert short[-round(0.05 * RATE) - 1] == pytest.approx(0.3)
    assert short[-round(0.05 * RATE) + 1] < 0.3


def test_finishing_keeps_a_clip_silent_empty_or_tiny():
    assert np.all(for_listening(np.zeros(RATE), RATE) == 0)
    assert for_listening(np.zeros(0), RATE).shape == (0,)
    assert np.all(np.abs(for_listening(np.full(5, 0.2), RATE)) < 0.2)  # too short to filter
