"""The figures a player reads off notes: a hand-counted case, every figure against an
independent count on a 1-ms grid over random notes, cuts at the piece's end, drums, and
the empty cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from wavenet_music.notes.midi import Note
from wavenet_music.notes.statistics import LONG_NOTE_S, note_figures, pitch_name


def test_a_hand_counted_piece():
    # 0-1 s: C4 alone; 1-2 s: rest; 2-4 s: E4 and G4 together; a drum hit is left out
    notes = [
        Note(0.0, 1.0, 60),
        Note(2.0, 4.0, 64),
        Note(2.0, 4.0, 67),
        Note(0.5, 0.6, 38, is_drum=True),
    ]
    f = note_figures([notes], [5.0])
    assert f.notes == 3 and f.seconds == 5.0
    assert f.notes_per_second == pytest.approx(3 / 5)
    assert f.sounding_at_once == pytest.approx((1 + 2 + 2) / 5)
    assert f.silent_share == pytest.approx(2 / 5)  # 1-2 s and 4-5 s
    assert f.median_length_s == pytest.approx(2.0)
    assert f.long_share == 0.0
    assert (f.low_pitch, f.high_pitch) == pytest.approx(np.percentile([60, 64, 67], [10, 90]))


def grid_figures(pieces, seconds, step=1e-3):
    """The same figures counted on a grid of ``step`` seconds, note by note."""
    sounding, silent, lengths = 0.0, 0.0, []
    for piece, length in zip(pieces, seconds, strict=True):
        times = np.arange(0, length, step) + step / 2
        count = np.zeros(len(times))
        for n in piece:
            if n.onset < length:
                count += (times >= n.onset) & (times < min(n.offset, length))
                lengths.append(min(n.offset, length) - n.onset)
        sounding += count.sum() * step
        silent += (count == 0).sum() * step
    return sounding / sum(seconds), silent / sum(seconds), np.array(lengths)


def random_piece(rng, seconds: float, count: int) -> list[Note]:
    notes = []
    for _ in range(count):
        onset = rng.uniform(0, seconds + 1)  # some start after the end: left out
        length = rng.choice([rng.uniform(0.01, 0.5), rng.uniform(4, 8)])
        notes.append(Note(onset, onset + length, int(rng.integers(21, 109))))
    return notes


def test_every_figure_equals_an_independent_count_on_a_grid():
    rng = np.random.default_rng(0)
    seconds = [6.0, 3.0, 4.5]
    pieces = [random_piece(rng, s, c) for s, c in zip(seconds, (25, 0, 12), strict=True)]
    f = note_figures(pieces, seconds)
    at_once, silent, lengths = grid_figures(pieces, seconds)
    assert f.sounding_at_once == pytest.approx(at_once, abs=2e-3)
    assert f.silent_share == pytest.approx(silent, abs=2e-3)
    assert 0 < f.silent_share < 1
    assert f.notes == len(lengths) < 37  # the notes starting after their piece's end are out
    assert f.notes_per_second == pytest.approx(len(lengths) / sum(seconds))
    assert f.median_length_s == pytest.approx(np.median(lengths))
    assert f.long_share == pytest.approx(np.mean(lengths > LONG_NOTE_S))
    assert 0 < f.long_share < 1  # some of the 4-8 s notes stay long once cut


def test_a_key_never_lifted_shows_as_crowding_and_long_notes():
    """Keys pressed one after another and never released (the hanging notes of an early
    composer) against the same keys each lifted before the next."""
    seconds = 10.0
    hanging = [Note(0.5 * i, seconds, 60 + i % 12) for i in range(20)]
    played = [Note(0.5 * i, 0.5 * i + 0.4, 60 + i % 12) for i in range(20)]
    crowded, melody = note_figures([hanging], [seconds]), note_figures([played], [seconds])
    assert melody.sounding_at_once == pytest.approx(20 * 0.4 / seconds)
    assert crowded.sounding_at_once == pytest.approx(sum(seconds - 0.5 * i for i in range(20)) / 10)
    assert crowded.long_share == pytest.approx(10 / 20)  # those pressed before 5 s
    assert melody.long_share == 0


def test_no_notes_and_mismatched_lengths():
    f = note_figures([[], [Note(0.0, 1.0, 60, is_drum=True)]], [2.0, 2.0])
    assert f.notes == 0 and f.sounding_at_once == 0 and f.silent_share == 1
    assert math.isnan(f.median_length_s) and math.isnan(f.low_pitch)
    with pytest.raises(ValueError, match="2 pieces but 1 lengths"):
        note_figures([[], []], [1.0])


def test_pitch_names():
    assert [pitch_name(p) for p in (21, 60, 61.4, 108)] == ["A0", "C4", "C#4", "C8"]
