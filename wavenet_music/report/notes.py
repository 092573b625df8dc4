"""The report's notes table (a run steered by notes): the notes the composer wrote beside the
notes of the music it learned from, genre by genre, on ``notes.statistics``'s figures.

The genre's notes are those the WaveNet and the composer were trained on: each segment of
the run's training split, cut from its recording's notes (``composer.note_tokens``). A
composer that never lifts its keys shows here first (12-15 notes sounding at once where
the music holds 1-4: experiments/hanging_notes_2026-12-03), and the check reads the same
figures (``check.crowded_notes``).
"""

from __future__ import annotations

import html
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..composer.data import split_rows
from ..composer.note_tokens import segment_notes
from ..config import Config
from ..notes.midi import Note
from ..notes.statistics import LONG_NOTE_S, NoteFigures, note_figures, pitch_name
from .clips import run_labels
from .template import number

GENRE = "the genre's training notes"


def genre_note_figures(
    run_dir: Path, data_root: Path | None, config: Config
) -> dict[str, NoteFigures] | None:
    """label → the figures of the notes of the run's training segments of that label
    (None without the data)."""
    if data_root is None:
        return None
    labels, rate = run_labels(run_dir, data_root, config), config.data.sample_rate
    pieces: dict[str, list[list[Note]]] = defaultdict(list)
    seconds: dict[str, list[float]] = defaultdict(list)
    for row in split_rows(run_dir, data_root, config, "train"):
        label = labels[row.label] if row.label >= 0 else labels[0]
        pieces[label].append(segment_notes(row, config))
        seconds[label].append((row.end - row.start) / rate)
    return {label: note_figures(pieces[label], seconds[label]) for label in pieces}


def notes_figures(
    composed: Mapping[str, Sequence[Sequence[Note]]],
    seconds: float,
    genre: Mapping[str, NoteFigures] | None,
) -> dict[str, dict[str, dict[str, float]]]:
    """label → {"composed": figures of its pieces (each ``seconds`` long), "real": the
    genre's (where ``genre`` has the label)}, as JSON-able data for the summary."""
    out = {}
    for label, pieces in composed.items():
        kinds = {"composed": note_figures(pieces, [seconds] * len(pieces)).to_dict()}
        if genre is not None and label in genre:
            kinds["real"] = genre[label].to_dict()
        out[label] = kinds
    return out


NOTE = (
    "What the notes look like to a player, composed pieces first and in brackets "
    f"{GENRE}: notes struck per second, how many sound at once on average (the sum of the "
    "notes' lengths over the music's), the share of the time with no note sounding, the "
    "median note length, the share of notes held over "
    f"{LONG_NOTE_S:g} s (keys never lifted) and the range of keys (10th to 90th percentile)."
)
COLUMNS = (
    ("notes_per_second", "notes per s", "{:.1f}"),
    ("sounding_at_once", "sounding at once", "{:.2f}"),
    ("silent_share", "silent", "{:.0%}"),
    ("median_length_s", "median length (s)", "{:.2f}"),
    ("long_share", f"over {LONG_NOTE_S:g} s", "{:.1%}"),
)


def notes_html(figures: Mapping[str, Mapping[str, Mapping[str, float]]]) -> str:
    """The table of ``notes_figures``: a row per label, each cell the composed figure and
    the genre's in brackets."""
    head = "".join(f"<th>{title}</th>" for _, title, _ in COLUMNS)
    lines = [f"<tr><th>label</th>{head}<th>keys</th></tr>"]
    for label, kinds in figures.items():
        composed, real = kinds["composed"], kinds.get("real")
        cells = "".join(
            f"<td>{number(fmt, composed[k])}{_beside(number(fmt, real[k]) if real else None)}</td>"
            for k, _, fmt in COLUMNS
        )
        keys = f"<td>{_keys(composed)}{_beside(_keys(real) if real else None)}</td>"
        lines.append(f"<tr><td>{html.escape(label)}</td>{cells}{keys}</tr>")
    return (
        '<section class="notes"><h2>The notes, composed and real</h2>'
        f'<p class=note>{NOTE}</p><table class="stats">{"".join(lines)}</table></section>'
    )


def _beside(genre: str | None) -> str:
    return "" if genre is None else f' <span class="genre">({genre})</span>'


def _keys(values: Mapping[str, float]) -> str:
    low, high = values["low_pitch"], values["high_pitch"]
    if math.isnan(low):
        return "–"
    return f"{pitch_name(low)}–{pitch_name(high)}"
