"""The piano roll: its channels, its alignment with the audio samples, and the round trip
notes → roll → notes keeping every note within one frame."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from wavenet_music.notes.midi import Note
from wavenet_music.notes.roll import (
    KEYS,
    PLANES,
    channel_count,
    channel_names,
    piano_roll,
    roll_planes,
    roll_to_notes,
)

HOP, RATE = 256, 16_000
FRAME_S = HOP / RATE


def test_the_channels_are_88_keys_per_plane_in_plane_major_order():
    names = channel_names()
    assert channel_count() == len(names) == 3 * KEYS == 264
    assert names[:2] == ["sounding:A0", "sounding:A#0"]
    assert names[KEYS - 1] == "sounding:C8"
    assert names[KEYS] == "onset:A0" and names[-1] == "onset_position:C8"
    assert channel_count(("sounding",)) == KEYS


@pytest.mark.parametrize("planes", [(), ("pitch",), ("onset", "onset")])
def test_an_unknown_or_repeated_plane_is_refused(planes):
    with pytest.raises(ValueError, match="roll planes"):
        channel_count(planes)


def test_frame_k_covers_samples_k_hop_to_k_plus_one_hop():
    """A note whose first sample is 3 * HOP starts in frame 3 at position 0; one starting
    a sample earlier starts in frame 2 at position (HOP - 1) / HOP."""
    notes = [
        Note(3 * HOP / RATE, 5 * HOP / RATE, 60, 127),
        Note((3 * HOP - 1) / RATE, 4 * HOP / RATE, 62, 64),
    ]
    planes = roll_planes(piano_roll(notes, 8, HOP, RATE))
    c4, d4 = 60 - 21, 62 - 21
    assert planes["onset"][:, c4].tolist() == [0, 0, 0, 1, 0, 0, 0, 0]
    assert planes["sounding"][:, c4].tolist() == [0, 0, 0, 1, 1, 0, 0, 0]  # [3 HOP, 5 HOP)
    assert planes["onset_position"][3, c4] == 0
    assert planes["onset"][:, d4].tolist() == [0, 0, 1, 0, 0, 0, 0, 0]
    assert planes["sounding"][2:4, d4] == pytest.approx([64 / 127] * 2)
    assert planes["onset_position"][2, d4] == pytest.approx((HOP - 1) / HOP)


def test_drums_keys_off_the_piano_and_notes_after_the_end_are_left_out():
    notes = [
        Note(0.0, 0.1, 36, is_drum=True),
        Note(0.0, 0.1, 20),
        Note(0.0, 0.1, 109),
        Note(8 * FRAME_S, 9 * FRAME_S, 60),  # starts after the 8 frames
    ]
    assert not piano_roll(notes, 8, HOP, RATE).any()


def test_a_note_that_outlasts_the_roll_is_cut():
    planes = roll_planes(piano_roll([Note(0.0, 1.0, 60)], 4, HOP, RATE))
    assert planes["sounding"][:, 60 - 21].tolist() == pytest.approx([100 / 127] * 4)


@st.composite
def playable_notes(draw) -> list[Note]:
    """Up to 40 notes within 200 frames; notes of one key start in different frames and
    do not overlap (what one key can play)."""
    notes = []
    for pitch in draw(st.lists(st.integers(21, 108), max_size=6, unique=True)):
        time = draw(st.floats(0, 20 * FRAME_S))
        for _ in range(draw(st.integers(1, 6))):
            onset = time
            offset = onset + draw(st.floats(0, 30 * FRAME_S))
            velocity = draw(st.integers(1, 127))
            notes.append(Note(onset, offset, pitch, velocity))
            next_frame = (np.floor(onset / FRAME_S) + 1) * FRAME_S
            time = max(offset, next_frame) + draw(st.floats(0, 10 * FRAME_S))
    return [n for n in notes if n.offset < 200 * FRAME_S]


def by_key(notes: list[Note]) -> list[Note]:
    return sorted(notes, key=lambda n: (n.pitch, n.onset))


@given(playable_notes())
def test_notes_to_roll_to_notes_keeps_every_note_within_one_frame(notes):
    back = roll_to_notes(piano_roll(notes, 200, HOP, RATE), HOP, RATE)
    assert len(back) == len(notes)
    for got, want in zip(by_key(back), by_key(notes), strict=True):
        assert (got.pitch, got.velocity) == (want.pitch, want.velocity)
        assert got.onset == pytest.approx(want.onset, abs=1e-6)  # to the sample
        assert abs(got.offset - want.offset) <= FRAME_S + 1e-9


@given(playable_notes())
def test_without_onset_positions_onsets_come_back_within_one_frame(notes):
    planes = ("sounding", "onset")
    back = roll_to_notes(piano_roll(notes, 200, HOP, RATE, planes), HOP, RATE, planes)
    assert len(back) == len(notes)
    for got, want in zip(by_key(back), by_key(notes), strict=True):
        assert got.pitch == want.pitch
        assert -1e-9 <= want.onset - got.onset < FRAME_S + 1e-9  # the start of its frame


def test_a_key_that_sounds_without_an_onset_starts_a_note_there():
    """A generated roll may hold a key without marking its onset: the note starts where
    the key starts to sound."""
    roll = np.zeros((6, channel_count(("sounding", "onset"))), dtype=np.float32)
    roll[2:5, 60 - 21] = 0.5
    (note,) = roll_to_notes(roll, HOP, RATE, ("sounding", "onset"))
    assert (note.pitch, note.velocity) == (60, 64)
    assert note.onset == pytest.approx(2 * FRAME_S) and note.offset == pytest.approx(5 * FRAME_S)


def test_the_inverse_needs_sounding_and_onsets():
    roll = np.zeros((4, KEYS), dtype=np.float32)
    with pytest.raises(ValueError, match="needs the planes"):
        roll_to_notes(roll, HOP, RATE, ("sounding",))
    with pytest.raises(ValueError, match="expected a roll"):
        roll_to_notes(roll, HOP, RATE, PLANES)
