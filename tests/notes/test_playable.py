"""What the piano's WaveNet plays of a MIDI file (``notes/playable.py``): notes off its keys
named, with the transposition that brings a part back; a late first note and notes after
the audio said; several instruments where one is expected named; each as one line."""

from __future__ import annotations

import pytest

from wavenet_music.config import UserError
from wavenet_music.notes.midi import PIANO_RANGE, Note, read_midi, write_midi
from wavenet_music.notes.playable import check_notes, instrument_summary, read_playable

from .test_midi import format0_with_two_instruments, one_line


def test_notes_outside_the_range_are_named():
    notes = [Note(0, 1, 60), Note(0.5, 1, 12), Note(2, 3, 120), Note(1, 2, 10, is_drum=True)]
    with pytest.raises(UserError) as exc:
        check_notes(notes, "song.mid", PIANO_RANGE)
    text = one_line(exc)
    assert "song.mid: 2 notes outside A0..C8 (MIDI 21..108)" in text
    assert "C0 (12) at 0.50 s" in text and "C9 (120) at 2.00 s" in text
    assert "(10)" not in text  # drums have no range


def test_many_notes_outside_the_range_are_counted_not_all_named():
    notes = [Note(i, i + 1, 0) for i in range(8)]
    with pytest.raises(UserError, match=r"8 notes outside .* and 3 more") as exc:
        check_notes(notes, "x", (21, 108))
    one_line(exc)


@pytest.mark.parametrize(
    ("pitches", "advice"),
    [
        ((110, 115, 109), "transpose the part down 1 octave in the sequencer"),
        ((5, 9), "transpose the part up 2 octaves in the sequencer"),
        ((10, 120), "move them onto the keys in the sequencer"),  # no octave fits both
    ],
)
def test_a_part_off_the_piano_says_how_to_bring_it_onto_the_keys(tmp_path, pitches, advice):
    """A part written an octave too high (or a bass two below A0): nothing left to play,
    the error names the file, the first notes and the fix (it named no fix)."""
    notes = [Note(0.5 * i, 0.5 * i + 0.4, pitch) for i, pitch in enumerate(pitches)]
    path = write_midi(tmp_path / "part.mid", notes)
    with pytest.raises(UserError) as exc:
        read_playable(path)
    text = one_line(exc)
    assert text.startswith(f"{path}: {len(pitches)} notes outside A0..C8 (MIDI 21..108): ")
    assert f"({pitches[0]}) at 0.00 s" in text and text.endswith(advice)


def test_a_late_first_note_is_said_with_the_silence_before_it(tmp_path, capsys):
    """A count-in of 8 s (a drum's click, left out) before the first note: the render
    opens with 8 s of silence, said in one line (it was not); a second's rest is not."""
    click = [Note(2.0 * i, 2.0 * i + 0.1, 37, is_drum=True) for i in range(4)]
    late = write_midi(tmp_path / "count_in.mid", [*click, Note(8.0, 8.5, 60), Note(9, 9.5, 62)])
    read_playable(late)
    said = [line for line in capsys.readouterr().err.splitlines() if "silence" in line]
    assert said == [
        f"warning: {late}: 8.0 s of silence before the first note played, C4 (60) at 8.00 s: "
        "the clip opens silent (cut the lead-in in the sequencer to start on the music)"
    ]
    read_playable(write_midi(tmp_path / "prompt.mid", [Note(1.0, 1.5, 60)]))
    assert "silence" not in capsys.readouterr().err


def test_notes_after_the_audio_are_named():
    notes = [Note(0, 1, 60), Note(9.5, 11, 62)]
    check_notes(notes[:1], "song.mid", PIANO_RANGE, seconds=9.5)
    with pytest.raises(UserError, match=r"1 note start after the audio ends \(9.50 s\): D4"):
        check_notes(notes, "song.mid", PIANO_RANGE, seconds=9.5)


def test_several_instruments_where_one_is_expected_are_named(tmp_path):
    path = tmp_path / "type0.mid"
    path.write_bytes(format0_with_two_instruments())
    notes = read_midi(path)
    check_notes(notes, "type0.mid", PIANO_RANGE)
    with pytest.raises(UserError) as exc:
        check_notes(notes, "type0.mid", PIANO_RANGE, one_instrument=True)
    assert one_line(exc) == (
        "type0.mid: expected one instrument, got 2 instruments: Acoustic Guitar (nylon) "
        "(1 note), Acoustic Grand Piano (1 note)"
    )
    drums = [Note(0, 1, 36, is_drum=True)] * 3
    assert instrument_summary(drums) == "1 instrument: drums (3 notes)"


def test_no_notes_where_notes_are_needed_isone_line():
    with pytest.raises(UserError, match=r"song\.mid: no notes"):
        check_notes([], "song.mid")
