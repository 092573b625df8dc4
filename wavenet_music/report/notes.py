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

Then what reaches the ear (``heard_figures``): each composed piece's audio transcribed, as a
listener's proxy, and scored against the notes it was composed to play, beside the chance
level (the same audio against those notes moved 1-11 semitones), and the keys and notes a
second the transcription holds against the notes'. The MIDI file beside a piece is what the
composer wrote; this table says how much of it the WaveNet plays.
"""

from __future__ import annotations

import html
import math
import sys
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..audio.finish import for_listening
from ..composer.data import split_rows
from ..composer.note_tokens import segment_notes
from ..config import Config, UserError
from ..notes.midi import Note
from ..notes.phrases import PhraseIndex
from ..notes.score import score_notes, transcribe_audio, transposed_floor
from ..notes.statistics import LONG_NOTE_S, NoteFigures, note_figures, pitch_name
from ..notes.transcribe import model_path
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


def heard_figures(
    pieces: Sequence[Sequence[Note]], audio: np.ndarray, sample_rate: int
) -> dict[str, float]:
    """What a listener hears of the notes of each composed piece: the transcription of its
    ``audio`` (pieces, T), finished as its WAV file is (``for_listening``), scored against
    them (``notes.score``: note F1, pitch and onset within 50 ms; frame pitch-class F1,
    octaves forgiven), the mean over the pieces, and the chance level of each (their
    ``transposed_floor``); the keys (10th-90th percentile) and notes a second of all the
    transcriptions together (``note_figures``)."""
    if len(pieces) != len(audio):
        raise ValueError(f"{len(pieces)} pieces of notes but {len(audio)} clips")
    found = [transcribe_audio(for_listening(clip, sample_rate), sample_rate) for clip in audio]
    scores = [score_notes(n, f) for n, f in zip(pieces, found, strict=True)]
    chance = [transposed_floor(n, f) for n, f in zip(pieces, found, strict=True)]
    heard = note_figures(found, [audio.shape[-1] / sample_rate] * len(found))
    out = {name: float(np.mean([getattr(s, name) for s in scores])) for name in HEARD_F1}
    out.update(
        {f"chance_{name}": float(np.mean([getattr(s, name) for s in chance])) for name in HEARD_F1}
    )
    out.update(
        notes_per_second=heard.notes_per_second,
        low_pitch=heard.low_pitch,
        high_pitch=heard.high_pitch,
    )
    return out


HEARD_F1 = ("note_f1", "frame_pitch_class_f1")


def heard_by_label(
    notes: Mapping[str, Sequence[Sequence[Note]]], clips: Mapping[str, np.ndarray], sample_rate: int
) -> dict[str, dict[str, float]]:
    """label → ``heard_figures`` of its pieces; {} with a line on stderr where basic-pitch,
    which transcribes them, is not installed (a run of MIDI files alone needs none)."""
    try:
        model_path()
    except UserError as error:
        print(f"report: what reaches the ear is left out: {error}", file=sys.stderr)
        return {}
    return {label: heard_figures(p, clips[label], sample_rate) for label, p in notes.items()}


HEARD_NOTE = (
    "How much of the composed notes the audio plays: each piece's audio transcribed by "
    "basic-pitch and scored against the MIDI file the composer wrote for it, the mean over "
    "the pieces; in brackets the chance level, the same audio against those notes moved by "
    "1-11 semitones. Note F1 counts notes found with their key and an onset within 50 ms "
    "(a FluidSynth render of the demo's piano scores about 0.7 against its own MIDI file); "
    "frame pitch-class F1, the pitch classes sounding in each 32-ms frame, octaves "
    "forgiven. Near chance, a genre's audio plays the texture of its notes, not the notes. "
    "The keys (10th to 90th percentile) and notes a second are the transcription's, the "
    "notes' own in brackets: a WaveNet that leaves out the treble plays lower keys."
)


def heard_html(figures: Mapping[str, Mapping[str, Mapping[str, float]]]) -> str:
    """The table of what reaches the ear (``heard_figures``), a row per label that has
    it; "" where none has."""
    lines = [
        "<tr><th>label</th><th>note F1</th><th>frame pitch-class F1</th>"
        "<th>keys heard</th><th>notes heard per s</th></tr>"
    ]
    for label, kinds in figures.items():
        heard, written = kinds.get("heard"), kinds["composed"]
        if heard is None:
            continue
        cells = [
            f"{number('{:.2f}', heard[name])}{_beside(number('{:.2f}', heard[f'chance_{name}']))}"
            for name in HEARD_F1
        ]
        cells.append(f"{_keys(heard)}{_beside(_keys(written))}")
        per_second = number("{:.1f}", written["notes_per_second"])
        cells.append(f"{number('{:.1f}', heard['notes_per_second'])}{_beside(per_second)}")
        lines.append(
            f"<tr><td>{html.escape(label)}</td>{''.join(f'<td>{c}</td>' for c in cells)}</tr>"
        )
    if len(lines) == 1:
        return ""
    return (
        '<section class="heard"><h2>What reaches the ear</h2>'
        f"<p class=note>{HEARD_NOTE}</p>"
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
