"""Event tokens: the vocabulary's layout, notes → tokens → notes within the 10-ms grid and
the velocity bin, any token stream decodes to valid notes, transposition."""

from __future__ import annotations

from collections import defaultdict
from itertools import pairwise

import numpy as np
import pytest

from wavenet_music.notes.events import (
    NOTE_OFF,
    NOTE_ON,
    TIME_SHIFT,
    VELOCITY,
    VOCAB_SIZE,
    bin_velocity,
    decode,
    duration_steps,
    encode,
    transpose,
    velocity_bin,
    velocity_in_force,
)
from wavenet_music.notes.midi import PIANO_RANGE, Note


def on(pitch: int) -> int:
    return NOTE_ON + pitch - 21


def off(pitch: int) -> int:
    return NOTE_OFF + pitch - 21


def shift(steps: int) -> int:
    return TIME_SHIFT + steps - 1


def random_notes(rng: np.random.Generator, count: int = 60) -> list[Note]:
    """Notes of many keys; notes of one key neither overlap nor touch (10 ms apart at
    least), each lasts at least 10 ms, some gaps are several seconds long."""
    notes, free = [], defaultdict(float)  # pitch → when the key is free again
    t = 0.0
    for _ in range(count):
        t += rng.choice([rng.uniform(0.0, 0.3), rng.uniform(1.0, 3.5)], p=[0.85, 0.15])
        pitch = int(rng.integers(PIANO_RANGE[0], PIANO_RANGE[1] + 1))
        onset = max(t, free[pitch] + 0.011)
        offset = onset + rng.uniform(0.011, 1.5)
        notes.append(Note(onset, offset, pitch, int(rng.integers(1, 128))))
        free[pitch] = offset
    return notes


def by_key(notes: list[Note]) -> dict[int, list[Note]]:
    keys: dict[int, list[Note]] = defaultdict(list)
    for n in sorted(notes, key=lambda n: n.onset):
        keys[n.pitch].append(n)
    return keys


def test_the_vocabulary_layout():
    assert (NOTE_ON, NOTE_OFF, TIME_SHIFT, VELOCITY, VOCAB_SIZE) == (0, 88, 176, 276, 308)
    assert [velocity_bin(v) for v in (1, 3, 4, 64, 126, 127)] == [0, 0, 1, 16, 31, 31]
    assert all(velocity_bin(bin_velocity(b)) == b for b in range(32))


def test_a_small_piece_by_hand():
    """Velocity before the first NOTE_ON, NOTE_OFF before NOTE_ON at one step, 2 s of
    silence as two whole-second shifts."""
    notes = [Note(0.0, 0.5, 60, 80), Note(0.25, 2.5, 64, 80), Note(0.5, 0.6, 60, 30)]
    expected = [VELOCITY + 20, on(60), shift(25), on(64), shift(25), off(60)]
    expected += [VELOCITY + 7, on(60), shift(10), off(60), shift(100), shift(90), off(64)]
    assert encode(notes).tolist() == expected
    assert encode(notes, end=4.0).tolist() == [*expected, shift(100), shift(50)]
    back = decode(expected)
    assert [(n.onset, n.offset, n.pitch, n.velocity) for n in back] == [
        (0.0, 0.5, 60, 82),
        (0.25, 2.5, 64, 82),
        (0.5, 0.6, 60, 30),
    ]


@pytest.mark.parametrize("seed", range(5))
def test_notes_tokens_notes_within_the_grid_and_the_velocity_bin(seed):
    notes = random_notes(np.random.default_rng(seed))
    back = decode(encode(notes))
    assert len(back) == len(notes)
    got, want = by_key(back), by_key(notes)
    assert got.keys() == want.keys()
    for pitch, originals in want.items():
        for g, w in zip(got[pitch], originals, strict=True):
            assert abs(g.onset - w.onset) <= 0.005 + 1e-9
            assert abs(g.offset - w.offset) <= 0.005 + 1e-9
            assert velocity_bin(g.velocity) == velocity_bin(w.velocity)
            assert (g.program, g.is_drum) == (0, False)


def test_notes_on_the_grid_come_back_exactly():
    notes = decode(encode(random_notes(np.random.default_rng(9))))  # now on the grid
    assert decode(encode(notes)) == notes
    assert encode(decode(encode(notes))).tolist() == encode(notes).tolist()


def test_what_encode_leaves_out_or_adjusts():
    notes = [
        Note(0.0, 0.001, 60),  # shorter than a step: one step long
        Note(0.5, 2.0, 62),  # overlapped by the next note of its key: ends at its onset
        Note(1.0, 1.5, 62),
        Note(1.0, 1.2, 36, is_drum=True),  # a drum: not a key
        Note(1.0, 1.2, 20),  # below the piano
        Note(3.0, 3.1, 70),  # two onsets of one key in a step: the longer note stays
        Note(3.002, 3.5, 70),
    ]
    back = [(n.onset, n.offset, n.pitch) for n in decode(encode(notes))]
    assert back == [(0.0, 0.01, 60), (0.5, 1.0, 62), (1.0, 1.5, 62), (3.0, 3.5, 70)]


@pytest.mark.parametrize("seed", range(20))
def test_any_token_stream_decodes_to_valid_notes(seed):
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, VOCAB_SIZE, size=int(rng.integers(0, 2000)))
    notes = decode(tokens)
    end = duration_steps(tokens) / 100
    for n in notes:
        assert 0 <= n.onset < n.offset <= end + 1e-9
        assert PIANO_RANGE[0] <= n.pitch <= PIANO_RANGE[1] and 1 <= n.velocity <= 127
    for key in by_key(notes).values():  # a key sounds once at a time
        assert all(a.offset <= b.onset for a, b in pairwise(key))


def test_the_velocity_in_force_is_the_last_set_at_or_before_a_position():
    piece = [on(60), VELOCITY + 5, shift(10), on(62), VELOCITY + 9, on(64), shift(3)]
    tokens = np.array(piece)
    assert velocity_in_force(tokens, 0) is None  # struck at the default velocity
    assert velocity_in_force(np.array([VOCAB_SIZE, on(60)]), 1) is None  # a start token
    assert [velocity_in_force(tokens, i) for i in range(1, 7)] == [VELOCITY + 5] * 3 + [
        VELOCITY + 9
    ] * 3
    for position in range(len(piece)):  # what decode strikes the next NOTE_ON with
        state = velocity_in_force(tokens, position)
        struck = decode([*piece[: position + 1], on(70), shift(1)])[-1]
        expected = 66 if state is None else bin_velocity(state - VELOCITY)
        assert (struck.pitch, struck.velocity) == (70, expected)


def test_decode_rules():
    assert decode([off(60), shift(10)]) == []  # a NOTE_OFF of a key that is up
    assert decode([on(60), shift(10)]) == [Note(0.0, 0.1, 60, 66)]  # closed at the end
    assert decode([on(60), off(60), shift(5)]) == []  # no time: no note
    assert decode([on(60)]) == []
    retrigger = decode([VELOCITY + 5, on(60), shift(3), on(60), shift(2), off(60)])
    assert retrigger == [Note(0.0, 0.03, 60, 22), Note(0.03, 0.05, 60, 22)]
    with pytest.raises(ValueError, match=r"expected 0 \.\. 307, got 308"):
        decode([VOCAB_SIZE])


@pytest.mark.parametrize("semitones", [-12, -5, -1, 0, 3, 6, 30])
def test_transposing_tokens_is_transposing_their_notes(semitones):
    rng = np.random.default_rng(semitones + 100)
    tokens = rng.integers(0, VOCAB_SIZE, size=1500)
    moved = transpose(tokens, semitones)
    assert decode(moved) == transpose(decode(tokens), semitones)
    assert duration_steps(moved) == duration_steps(tokens)


def test_transposition_drops_keys_leaving_the_piano():
    notes = [Note(0.0, 1.0, 105), Note(0.0, 1.0, 60), Note(0.5, 0.6, 38, is_drum=True)]
    assert transpose(notes, 4) == [Note(0.0, 1.0, 64), Note(0.5, 0.6, 38, is_drum=True)]
    assert [n.pitch for n in transpose(notes, -39)] == [66, 21, 38]  # A0 = 21 stays
    assert [n.pitch for n in transpose(notes, -40)] == [65, 38]
    tokens = encode(notes)
    assert decode(transpose(tokens, 4)) == [Note(0.0, 1.0, 64, 102)]
