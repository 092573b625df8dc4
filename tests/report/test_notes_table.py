"""The report's notes tables: shared phrases of a replaying composer against held-out music,
and what reaches the ear (the audio's transcription against the notes it plays)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from wavenet_music.config import UserError
from wavenet_music.notes.midi import Note, read_midi
from wavenet_music.notes.phrases import PhraseIndex
from wavenet_music.notes.score import transposed
from wavenet_music.notes.transcribe import model_path
from wavenet_music.report import notes as notes_table
from wavenet_music.report.notes import (
    Originality,
    heard_by_label,
    heard_figures,
    heard_html,
    notes_figures,
    notes_html,
)


def melody(pitches: list[int], start: float = 0.0) -> list[Note]:
    return [Note(start + 0.25 * i, start + 0.25 * (i + 1), p) for i, p in enumerate(pitches)]


TUNE = [60, 62, 64, 65, 67, 69, 71, 72, 71, 69, 67, 65, 64, 62, 60, 55, 60]  # 17 notes


def test_a_piece_replayed_from_training_shares_its_whole_melody_held_out_music_little():
    training = PhraseIndex([melody(TUNE)])
    # held out: 43 s, the tune's first three notes and a leap every second, in pieces of
    # 10 s; the last 3 s (under half of 10) is left out, and with it the tune's first four
    held_notes = [n for k in range(40) for n in melody([60, 62, 64, 90], start=k)]
    held_notes += melody([60, 62, 64, 65], start=41.0)
    phrases = Originality(training, {"piano": [(held_notes, 43.0)]})
    assert phrases.held_out_longest("piano", 10.0) == 3
    assert phrases.held_out_longest("guitar", 10.0) is None  # nothing held out
    replayed = melody([p + 5 for p in TUNE])  # in another key
    new = melody([60, 61, 60, 61, 63])
    figures = notes_figures({"piano": [new, replayed]}, 10.0, None, phrases)
    assert figures["piano"]["composed"]["longest_shared_phrase"] == len(TUNE)
    assert figures["piano"]["held_out"] == {"longest_shared_phrase": 3}
    page = notes_html(figures)
    assert '<td>17 <span class="genre">(3)</span></td>' in page
    assert "phrase shared with training" in page


def test_without_the_data_the_table_has_no_phrase_column():
    page = notes_html(notes_figures({"piano": [melody(TUNE)]}, 10.0, None))
    assert "phrase shared with training" not in page and "held-out music" not in page


# --- what reaches the ear ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def piano_pieces(music_root: Path) -> tuple[list[list[Note]], np.ndarray]:
    """Two 12-s pieces of the test corpus's first piano clip (FluidSynth) and their notes:
    audio that plays its notes, as a faithful WaveNet would."""
    try:
        model_path()
    except UserError as error:
        pytest.skip(str(error))
    flac = sorted((music_root / "piano").glob("*.flac"))[0]
    audio, rate = sf.read(flac, dtype="float32")
    assert rate == 16000
    notes, length = read_midi(flac.with_suffix(".mid")), 12 * rate
    pieces = [
        [
            Note(n.onset - k * 12, n.offset - k * 12, n.pitch)
            for n in notes
            if k * 12 <= n.onset < (k + 1) * 12
        ]
        for k in range(2)
    ]
    return pieces, np.stack([audio[:length], audio[length : 2 * length]])


def test_audio_that_plays_its_notes_reaches_the_ear_far_above_chance(piano_pieces):
    pieces, audio = piano_pieces
    heard = heard_figures(pieces, audio, 16000)
    assert heard["note_f1"] > 0.5 and heard["frame_pitch_class_f1"] > 0.7, heard
    assert heard["chance_note_f1"] < 0.1 and heard["chance_frame_pitch_class_f1"] < 0.35, heard
    written = notes_figures({"piano": pieces}, 12.0, None)["piano"]["composed"]
    # the keys heard are the keys written (within a few semitones: basic-pitch adds a few)
    assert abs(heard["low_pitch"] - written["low_pitch"]) <= 4, (heard, written)
    assert abs(heard["high_pitch"] - written["high_pitch"]) <= 4, (heard, written)
    assert 0.5 < heard["notes_per_second"] / written["notes_per_second"] < 2.0

    # the same audio under notes moved a fifth up: it does not play them
    fifth = [transposed(piece, 7) for piece in pieces]
    moved = heard_figures(fifth, audio, 16000)
    assert moved["note_f1"] < 0.1 and moved["frame_pitch_class_f1"] < 0.35, moved
    assert moved["low_pitch"] == heard["low_pitch"]  # the transcription's own keys

    # silence plays nothing: every figure 0, no keys
    quiet = heard_figures(pieces, np.zeros_like(audio), 16000)
    assert quiet["note_f1"] == quiet["frame_pitch_class_f1"] == quiet["notes_per_second"] == 0
    assert np.isnan(quiet["low_pitch"])
    with pytest.raises(ValueError, match="2 pieces of notes but 1 clips"):
        heard_figures(pieces, audio[:1], 16000)

    # the table: each figure, chance and the notes' own keys and rate in brackets
    figures = notes_figures({"piano": pieces, "silent": pieces}, 12.0, None)
    figures["piano"]["heard"], figures["silent"]["heard"] = heard, quiet
    page = heard_html(figures)
    assert "What reaches the ear" in page
    chance = f'<span class="genre">({heard["chance_note_f1"]:.2f})</span>'
    assert f"<td>{heard['note_f1']:.2f} {chance}</td>" in page
    rate = f'<td>{heard["notes_per_second"]:.1f} <span class="genre">'
    assert rate + f"({written['notes_per_second']:.1f})</span></td>" in page
    assert "<td>silent</td><td>0.00 " in page


def test_without_transcription_the_ear_table_is_left_out_with_a_line(monkeypatch, capsys):
    def missing() -> Path:
        raise UserError("transcription needs the basic-pitch package; pip install basic-pitch")

    monkeypatch.setattr(notes_table, "model_path", missing)
    pieces = {"piano": [melody(TUNE)]}
    assert heard_by_label(pieces, {"piano": np.zeros((1, 16000), np.float32)}, 16000) == {}
    assert "what reaches the ear is left out: transcription needs" in capsys.readouterr().err
    assert heard_html(notes_figures(pieces, 10.0, None)) == ""
