"""The report's notes table (a run steered by notes): the notes the composer wrote beside the
notes of the music it learned from, genre by genre, on ``notes.statistics``'s figures.

The genre's notes are those the WaveNet and the composer were trained on: each segment of
the run's training split, cut from its recording's notes (``composer.note_tokens``). A
composer that never lifts its keys shows here first (12-15 notes sounding at once where
the music holds 1-4: experiments/hanging_notes_2026-12-03), and the check reads the same
figures (``check.crowded_notes``). Beside them, the longest phrase each genre's pieces share
with the training music (``notes.phrases``), against what the genre's held-out music,
never learned from, shares with it: a composer that replays what it learned plays far
longer shared phrases than music it never heard.
"""

from __future__ import annotations

import html
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..composer.data import split_rows
from ..composer.note_tokens import segment_notes
from ..config import Config
from ..notes.midi import Note
from ..notes.phrases import PhraseIndex
from ..notes.statistics import LONG_NOTE_S, NoteFigures, note_figures, pitch_name
from .clips import run_labels
from .template import number

GENRE = "the genre's training notes"
SHARED = "longest_shared_phrase"  # notes in a row that a piece shares with the training music


def split_notes(
    run_dir: Path, data_root: Path, config: Config, part: str
) -> dict[str, list[tuple[list[Note], float]]]:
    """label → (notes, seconds) of each segment of the run's ``part`` split ("train" or
    "validation"), as the models learned them (``composer.note_tokens``)."""
    labels, rate = run_labels(run_dir, data_root, config), config.data.sample_rate
    out: dict[str, list[tuple[list[Note], float]]] = defaultdict(list)
    for row in split_rows(run_dir, data_root, config, part):
        label = labels[row.label] if row.label >= 0 else labels[0]
        out[label].append((segment_notes(row, config), (row.end - row.start) / rate))
    return out


def genre_note_figures(
    run_dir: Path, data_root: Path | None, config: Config
) -> dict[str, NoteFigures] | None:
    """label → the figures of the notes of the run's training segments of that label
    (None without the data)."""
    if data_root is None:
        return None
    return {
        label: note_figures([n for n, _ in segments], [s for _, s in segments])
        for label, segments in split_notes(run_dir, data_root, config, "train").items()
    }


@dataclass(frozen=True)
class Originality:
    """What the composed pieces' phrases are measured against: every training note of the
    run (any label: a composer could replay another genre's phrase) and, as the baseline,
    each label's held-out music, which neither model learned from."""

    training: PhraseIndex
    held_out: Mapping[str, Sequence[tuple[Sequence[Note], float]]]

    def held_out_longest(self, label: str, seconds: float) -> int | None:
        """The longest phrase the label's held-out music, cut into pieces of ``seconds``
        (a last piece over half of that kept), shares with the training music."""
        pieces = [
            [n for n in notes if start <= n.onset < start + seconds]
            for notes, length in self.held_out.get(label, ())
            for start in np.arange(0.0, length - seconds / 2, seconds)
        ]
        return max((self.training.longest_shared(p) for p in pieces), default=None)


def originality(run_dir: Path, data_root: Path | None, config: Config) -> Originality | None:
    """The run's ``Originality`` (None without the data)."""
    if data_root is None:
        return None
    training = split_notes(run_dir, data_root, config, "train")
    index = PhraseIndex(notes for segments in training.values() for notes, _ in segments)
    return Originality(index, split_notes(run_dir, data_root, config, "validation"))


def notes_figures(
    composed: Mapping[str, Sequence[Sequence[Note]]],
    seconds: float,
    genre: Mapping[str, NoteFigures] | None,
    phrases: Originality | None = None,
) -> dict[str, dict[str, dict[str, float]]]:
    """label → {"composed": figures of its pieces (each ``seconds`` long), "real": the
    genre's (where ``genre`` has the label), "held_out": the longest phrase its held-out
    music shares with the training music (with ``phrases``)}, as JSON-able data for the
    summary. With ``phrases`` the composed figures hold their longest shared phrase too."""
    out = {}
    for label, pieces in composed.items():
        kinds = {"composed": note_figures(pieces, [seconds] * len(pieces)).to_dict()}
        if genre is not None and label in genre:
            kinds["real"] = genre[label].to_dict()
        if phrases is not None:
            longest = max((phrases.training.longest_shared(p) for p in pieces), default=0)
            kinds["composed"][SHARED] = longest
            if (held := phrases.held_out_longest(label, seconds)) is not None:
                kinds["held_out"] = {SHARED: held}
        out[label] = kinds
    return out


NOTE = (
    "What the notes look like to a player, composed pieces first and in brackets "
    f"{GENRE}: notes struck per second, how many sound at once on average (the sum of the "
    "notes' lengths over the music's), the share of the time with no note sounding, the "
    "median note length, the share of notes held over "
    f"{LONG_NOTE_S:g} s (keys never lifted) and the range of keys (10th to 90th percentile)."
)
PHRASE_NOTE = (
    " The last column is the longest phrase (notes in a row, in any key) that the pieces "
    "share with the training music, and in brackets the same for the genre's held-out "
    "music, which the models never heard: a composer that replays what it learned "
    "shares far longer phrases than that."
)
# (summary key, column title, format, the kind in brackets)
COLUMNS = (
    ("notes_per_second", "notes per s", "{:.1f}", "real"),
    ("sounding_at_once", "sounding at once", "{:.2f}", "real"),
    ("silent_share", "silent", "{:.0%}", "real"),
    ("median_length_s", "median length (s)", "{:.2f}", "real"),
    ("long_share", f"over {LONG_NOTE_S:g} s", "{:.1%}", "real"),
)
SHARED_COLUMN = (SHARED, "phrase shared with training", "{:.0f}", "held_out")


def notes_html(figures: Mapping[str, Mapping[str, Mapping[str, float]]]) -> str:
    """The table of ``notes_figures``: a row per label, each cell the composed figure and
    the genre's in brackets (the held-out music's, for the shared phrase)."""
    shared = any(SHARED in kinds["composed"] for kinds in figures.values())
    columns = (*COLUMNS, SHARED_COLUMN) if shared else COLUMNS
    head = "".join(f"<th>{title}</th>" for _, title, _, _ in COLUMNS)
    tail = f"<th>{SHARED_COLUMN[1]}</th>" if shared else ""
    lines = [f"<tr><th>label</th>{head}<th>keys</th>{tail}</tr>"]
    for label, kinds in figures.items():
        cells = [_cell(kinds, column) for column in columns]
        real = kinds.get("real")
        keys = f"<td>{_keys(kinds['composed'])}{_beside(_keys(real) if real else None)}</td>"
        cells.insert(len(COLUMNS), keys)
        lines.append(f"<tr><td>{html.escape(label)}</td>{''.join(cells)}</tr>")
    return (
        '<section class="notes"><h2>The notes, composed and real</h2>'
        f"<p class=note>{NOTE}{PHRASE_NOTE if shared else ''}</p>"
        f'<table class="stats">{"".join(lines)}</table></section>'
    )


def _cell(kinds: Mapping[str, Mapping[str, float]], column: tuple[str, str, str, str]) -> str:
    key, _, fmt, bracket = column
    composed, other = kinds["composed"], kinds.get(bracket)
    if key not in composed:
        return "<td>–</td>"
    beside = number(fmt, other[key]) if other and key in other else None
    return f"<td>{number(fmt, composed[key])}{_beside(beside)}</td>"


def _beside(genre: str | None) -> str:
    return "" if genre is None else f' <span class="genre">({genre})</span>'


def _keys(values: Mapping[str, float]) -> str:
    low, high = values["low_pitch"], values["high_pitch"]
    if math.isnan(low):
        return "–"
    return f"{pitch_name(low)}–{pitch_name(high)}"
