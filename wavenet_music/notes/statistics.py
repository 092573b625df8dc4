"""What a musician reads off a set of notes: how many, how many at once, how long, how high.

``note_figures`` summarises pieces of notes (each with its length in seconds) as a few
figures a player would check first against the music they came from:

- ``notes_per_second``: notes struck per second of music;
- ``sounding_at_once``: the mean number of notes sounding, the sum of the notes'
  lengths over the music's length (a held cluster of 12 reads 12, a melody about 1);
- ``silent_share``: the share of the time no note sounds (the union of the notes'
  spans, piece by piece);
- ``low_pitch`` / ``high_pitch``: the 10th and 90th percentiles of the notes' keys
  (MIDI numbers; ``pitch_name`` spells them);
- ``median_length_s``: the median note length in seconds;
- ``long_share``: the share of notes lasting over ``LONG_NOTE_S`` seconds, the mark of
  keys never lifted.

Drum notes have no key or length to play and are left out. Pure Python and numpy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace

import numpy as np

from .midi import Note

LONG_NOTE_S = 5.0  # a note held longer than this is rare in the demo's music (0.03-0.6%)
PITCH_PERCENTILES = (10, 90)
NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


@dataclass(frozen=True)
class NoteFigures:
    """The figures of the module docstring, of ``notes`` notes over ``seconds``."""

    seconds: float
    notes: int
    notes_per_second: float
    sounding_at_once: float
    silent_share: float
    low_pitch: float
    high_pitch: float
    median_length_s: float
    long_share: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def note_figures(pieces: Sequence[Sequence[Note]], seconds: Sequence[float]) -> NoteFigures:
    """The figures of ``pieces``, piece ``i`` lasting ``seconds[i]`` (notes beyond its end
    count up to it). Pieces without notes count as silence; with no notes at all the
    pitch and length figures are NaN."""
    if len(pieces) != len(seconds):
        raise ValueError(f"{len(pieces)} pieces but {len(seconds)} lengths")
    kept = [_played(piece, length) for piece, length in zip(pieces, seconds, strict=True)]
    spans = [np.array([(n.onset, n.offset) for n in piece], float).reshape(-1, 2) for piece in kept]
    total = float(sum(seconds))
    lengths = np.concatenate([s[:, 1] - s[:, 0] for s in spans]) if spans else np.zeros(0)
    pitches = np.array([n.pitch for piece in kept for n in piece], float)
    sounding = sum(_union_length(s) for s in spans)
    empty = len(lengths) == 0
    low, high = (np.nan, np.nan) if empty else np.percentile(pitches, PITCH_PERCENTILES)
    return NoteFigures(
        seconds=total,
        notes=len(lengths),
        notes_per_second=len(lengths) / total if total else np.nan,
        sounding_at_once=float(lengths.sum() / total) if total else np.nan,
        silent_share=float(1.0 - sounding / total) if total else np.nan,
        low_pitch=float(low),
        high_pitch=float(high),
        median_length_s=np.nan if empty else float(np.median(lengths)),
        long_share=np.nan if empty else float(np.mean(lengths > LONG_NOTE_S)),
    )


def _played(piece: Sequence[Note], seconds: float) -> list[Note]:
    """The pitched notes of ``piece`` that start before ``seconds``, cut to end by then."""
    return [
        replace(n, offset=min(n.offset, seconds))
        for n in piece
        if not n.is_drum and n.onset < seconds
    ]


def _union_length(spans: np.ndarray) -> float:
    """The length of the union of the intervals ``spans`` (N, 2)."""
    total, reach = 0.0, -np.inf
    for onset, offset in spans[np.argsort(spans[:, 0], kind="stable")]:
        if offset <= reach:
            continue
        total += offset - max(onset, reach)
        reach = offset
    return total


def pitch_name(pitch: float) -> str:
    """A MIDI key number as its name with its octave (60 → ``C4``), rounded to a key."""
    key = round(pitch)
    return f"{NAMES[key % 12]}{key // 12 - 1}"
