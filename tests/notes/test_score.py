"""Note scores: the three F1 figures on hand-built notes (timing, octave and transposition
errors, the start/end window, empty sides), one case counted by hand, the transposed
floor, and the whole path (basic-pitch included) on a piano clip of the demo corpus."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import soundfile as sf

from wavenet_music.config import UserError
from wavenet_music.notes import score
from wavenet_music.notes.midi import Note, read_midi
from wavenet_music.notes.score import NoteScores, follows, score_notes, transposed_floor
from wavenet_music.notes.transcribe import model_path

# Half-second notes a second apart; no pitch class repeats a semitone up (C E G B D).
SPARSE = [Note(0.1 + i, 0.6 + i, p) for i, p in enumerate([60, 64, 67, 71, 74])]
# Long notes, for the frame measure under a timing shift.
LONG = [Note(0.1 + 1.2 * i, 1.1 + 1.2 * i, p) for i, p in enumerate([60, 64, 67])]
# A melody over two chords (polyphonic: its transpositions share some pitch classes).
MELODY = [Note(0.2 + 0.3 * i, 0.48 + 0.3 * i, p) for i, p in enumerate([60, 62, 64, 65, 67, 69])]
CHORDS = [Note(0.2, 1.0, p) for p in (48, 52, 55)] + [Note(1.1, 2.0, p) for p in (53, 57, 60)]
PIECE = MELODY + CHORDS


def moved(notes: list[Note], seconds: float = 0.0, semitones: int = 0) -> list[Note]:
    return [
        Note(n.onset + seconds, n.offset + seconds, n.pitch + semitones, n.velocity) for n in notes
    ]


def f1s(scores: NoteScores) -> tuple[float, float, float]:
    return scores.note_f1, scores.pitch_class_f1, scores.frame_pitch_class_f1


# --- the measures ------------------------------------------------------------------------------


def test_identical_notes_score_one_on_every_measure():
    scores = score_notes(PIECE, PIECE)
    assert f1s(scores) == (1.0, 1.0, 1.0)
    assert (scores.found, scores.reference) == (len(PIECE), len(PIECE))


def test_onsets_within_50_ms_match_and_80_ms_late_only_the_frames_do():
    assert score_notes(LONG, moved(LONG, 0.03)).note_f1 == 1.0
    assert score_notes(LONG, moved(LONG, -0.03)).note_f1 == 1.0
    late = score_notes(LONG, moved(LONG, 0.08))
    assert (late.note_f1, late.pitch_class_f1) == (0.0, 0.0)
    assert late.frame_pitch_class_f1 > 0.85  # 0.92 of each second still overlaps


def test_an_octave_error_is_forgiven_only_by_the_pitch_class_measures():
    scores = score_notes(SPARSE, moved(SPARSE, semitones=12))
    assert f1s(scores) == (0.0, 1.0, 1.0)


def test_a_semitone_transposition_scores_zero_everywhere():
    assert f1s(score_notes(SPARSE, moved(SPARSE, semitones=1))) == (0.0, 0.0, 0.0)


def test_only_notes_starting_in_the_window_are_scored_in_both_lists():
    inside = [Note(1.0, 1.5, 60), Note(1.5, 2.2, 64)]  # the second sounds past the end
    reference = [Note(0.2, 0.9, 62), *inside, Note(2.0, 2.5, 65)]
    estimate = [Note(0.5, 0.8, 71), *inside, Note(2.0, 3.0, 70), Note(2.1, 2.4, 66)]
    scores = score_notes(reference, estimate, start=1.0, end=2.0)
    assert f1s(scores) == (1.0, 1.0, 1.0)
    assert (scores.found, scores.reference) == (2, 2)
    unbounded = score_notes(reference, estimate, start=1.0)  # 2.0 onwards differs
    assert unbounded.note_f1 < 1.0 and unbounded.frame_pitch_class_f1 < 1.0


def test_a_case_counted_by_hand():
    """Note F1 = 2·TP / (2·TP + FP + FN), with TP, FP, FN counted here, not by mir_eval."""
    reference = [Note(0.0, 0.5, 60), Note(0.5, 1.0, 62), Note(1.0, 1.5, 64), Note(1.5, 2.0, 65)]
    estimate = [
        Note(0.04, 0.5, 60),  # 40 ms late: found
        Note(0.5, 1.0, 74),  # an octave up: missed, but its pitch class is found
        Note(1.0, 1.5, 64),  # found
        Note(1.5, 2.0, 66),  # a semitone off: missed everywhere
        Note(1.7, 1.8, 67),  # nothing there
        Note(1.0, 1.2, 64),  # a second 64 at the same onset: one reference note, one match
    ]
    tp, fp, fn = 2, 4, 2
    scores = score_notes(reference, estimate)
    assert scores.note_f1 == pytest.approx(2 * tp / (2 * tp + fp + fn))
    tp, fp, fn = 3, 3, 1  # the octave error now counts
    assert scores.pitch_class_f1 == pytest.approx(2 * tp / (2 * tp + fp + fn))


def test_frames_counted_by_hand():
    """Reference frames 0-9 (0.01-0.31 s), estimate frames 5-14 (0.17-0.47 s) of 32 ms,
    an octave apart: TP 5, FP 5, FN 5; a frame's pitch class counts once for two notes."""
    reference = [Note(0.01, 0.31, 60)]
    estimate = [Note(0.17, 0.47, 72), Note(0.2, 0.3, 48)]
    assert score.pitch_class_frames(estimate, 0.0, 15)[:, 0].nonzero()[0].tolist() == list(
        range(5, 15)
    )
    assert score_notes(reference, estimate).frame_pitch_class_f1 == pytest.approx(0.5)


def test_empty_sides_score_zero_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # mir_eval's "notes are empty" must not leak
        for reference, estimate in [(PIECE, []), ([], PIECE), ([], [])]:
            scores = score_notes(reference, estimate)
            assert f1s(scores) == (0.0, 0.0, 0.0)
            assert (scores.found, scores.reference) == (len(estimate), len(reference))
        assert f1s(score_notes(PIECE, PIECE, start=5.0)) == (0.0, 0.0, 0.0)


def test_zero_length_notes_and_drums():
    """A zero-length note is scored (mir_eval refuses it as it is); drums are not."""
    clicks = [Note(0.5, 0.5, 60), Note(1.0, 1.0, 64)]
    assert f1s(score_notes(clicks, clicks)) == (1.0, 1.0, 1.0)
    drums = [Note(0.5, 0.6, 38, is_drum=True)]
    scores = score_notes(clicks + drums, clicks)
    assert scores.reference == 2 and scores.note_f1 == 1.0


# --- the floor ---------------------------------------------------------------------------------


def test_the_floor_of_a_piece_is_well_below_its_own_score():
    """Own score 1; the chords' transpositions share some keys and pitch classes (48 + 4
    = 52 with the same onset), so the floor is above 0, but far below."""
    floor = transposed_floor(PIECE, PIECE)
    assert 0.0 < floor.note_f1 <= floor.pitch_class_f1 < 0.2
    assert 0.0 < floor.frame_pitch_class_f1 < 0.3
    assert (floor.found, floor.reference) == (len(PIECE), len(PIECE))


def test_the_floor_is_the_mean_over_the_eleven_transpositions():
    estimate = moved(SPARSE, semitones=12) + moved(SPARSE, 0.02, semitones=4)
    expected = [score_notes(moved(SPARSE, semitones=k), estimate) for k in range(1, 12)]
    floor = transposed_floor(SPARSE, estimate)
    for name in score.F1_NAMES:
        assert getattr(floor, name) == pytest.approx(sum(getattr(s, name) for s in expected) / 11)
    assert floor.pitch_class_f1 > 0  # the +4 copy matches C E G B D moved by 4 (E G# B ...)


def test_the_floor_keeps_the_highest_keys_in_range():
    top = [Note(0.1, 0.5, 127), Note(0.6, 0.9, 120)]
    assert transposed_floor(top, top).note_f1 == 0.0
    assert {n.pitch for n in score.transposed(top, 8)} == {127 + 8 - 12, 128 - 12}


# --- the whole path ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def piano_clip(music_root: Path) -> tuple[Path, list[Note]]:
    """The first piano clip of the test corpus (FluidSynth) and its aligned notes."""
    try:
        model_path()
    except UserError as error:
        pytest.skip(str(error))
    flac = sorted((music_root / "piano").glob("*.flac"))[0]
    return flac, read_midi(flac.with_suffix(".mid"))


def test_a_piano_clip_follows_its_notes_far_above_the_floor(piano_clip):
    flac, notes = piano_clip
    audio, rate = sf.read(flac, dtype="float32")  # 16 kHz: resampled to basic-pitch's rate
    scores, floor = follows(notes, audio, rate, start=0.5, end=20.0)
    assert scores.note_f1 > 0.5 and scores.frame_pitch_class_f1 > 0.8, scores
    assert floor.note_f1 < 0.1 and floor.frame_pitch_class_f1 < 0.3, floor
    assert scores.reference == sum(0.5 <= n.onset < 20.0 for n in notes)
    with pytest.raises(ValueError, match=r"expected mono \(T,\) audio"):
        score.transcribe_audio(audio.reshape(-1, 2), rate)
