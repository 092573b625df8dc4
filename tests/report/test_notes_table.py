"""The report's notes table: shared phrases of a replaying composer against held-out music."""

from __future__ import annotations

from wavenet_music.notes.midi import Note
from wavenet_music.notes.phrases import PhraseIndex
from wavenet_music.report.notes import Originality, notes_figures, notes_html


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
