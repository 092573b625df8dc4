"""How well audio follows the notes that steered it, measured by listening's proxy: its
transcription (``transcribe``) compared with the notes.

Three figures, each an F1 (2·TP / (2·TP + FP + FN)) of the estimate against the reference:

- ``note_f1``: mir_eval's note F1 (``precision_recall_f1_overlap``). A note is found when
  an estimated note has the same pitch (within 50 cents: integer keys must be equal) and
  an onset within 50 ms; offsets are ignored; each note matches at most once. Strict:
  basic-pitch over-segments (a held pure sine; a held piano key re-found at each strike
  of the keys around it: 54 notes for the 29 of the first 6 s of the test corpus's
  FluidSynth BWV 846, note F1 0.70), and each extra piece is a false positive, so even
  the real recording of the notes scores well below 1.
- ``pitch_class_f1``: the same with every pitch folded into one octave (C4..B4), so an
  estimate an octave (or two) off still counts, as long as its onset is within 50 ms.
- ``frame_pitch_class_f1``: per 32-ms frame, the set of pitch classes sounding in the
  estimate against that of the reference, TP/FP/FN summed over all frames (micro-average).
  A note sounds in every frame its [onset, offset) overlaps. Onset timing does not matter
  beyond the frames it moves, a split note counts once per frame, and octave errors are
  forgiven (as in ``pitch_class_f1``); a wrong pitch class or a wrong duration is not.

Only pitched notes (drums have no pitch to follow) with an onset in [start, end) are
scored, in both lists; frames cover [start, end), or up to the last offset of either list
where ``end`` is None. When one side is empty every F1 is 0; when both are (nothing to
find, nothing found) every F1 is also 0, not 1: "nothing scored" is not a perfect score,
and ``reference == found == 0`` tells the case apart.

The chance level (``transposed_floor``) is the mean score against the reference moved up
by 1..11 semitones: same rhythm, same chords' shapes, other pitch classes, i.e. what audio
scores against notes it did not follow. A score means something only above its floor.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace

import mir_eval
import numpy as np

from ..audio.io import resample
from .midi import Note
from .transcribe import SAMPLE_RATE, transcribe

ONSET_TOLERANCE_S = 0.05  # an estimated onset within this of the reference's matches
PITCH_TOLERANCE_CENTS = 50.0  # half a semitone: integer keys must be equal
FRAME_S = 0.032  # the frame measure's step, in seconds
MIN_DURATION_S = 1e-3  # zero-length notes last this long (mir_eval needs offset > onset)
FOLDED_OCTAVE = 60  # folded pitches lie in C4..B4
TRANSPOSITIONS = range(1, 12)  # semitones the floor moves the reference by
EMPTY_WARNINGS = r"(Reference|Estimated) notes are empty"  # mir_eval's, expected here
F1_NAMES = ("note_f1", "pitch_class_f1", "frame_pitch_class_f1")


@dataclass(frozen=True)
class NoteScores:
    """Three F1 scores in [0, 1] (see the module docstring) and the notes counted."""

    note_f1: float  # pitch and onset (50 ms) match; offsets ignored
    pitch_class_f1: float  # the same with octaves folded
    frame_pitch_class_f1: float  # sounding pitch classes per 32-ms frame
    found: int  # estimated notes scored
    reference: int  # reference notes scored


def score_notes(
    reference: Sequence[Note],
    estimate: Sequence[Note],
    start: float = 0.0,
    end: float | None = None,
) -> NoteScores:
    """``estimate`` scored against ``reference``: only their pitched notes with an onset
    in [``start``, ``end``) (``end`` None: to the end) count."""
    reference, estimate = _within(reference, start, end), _within(estimate, start, end)
    return NoteScores(
        note_f1=_note_f1(reference, estimate, fold=False),
        pitch_class_f1=_note_f1(reference, estimate, fold=True),
        frame_pitch_class_f1=_frame_f1(reference, estimate, start, end),
        found=len(estimate),
        reference=len(reference),
    )


def transposed_floor(
    reference: Sequence[Note],
    estimate: Sequence[Note],
    start: float = 0.0,
    end: float | None = None,
) -> NoteScores:
    """The chance level of ``score_notes``: its mean over ``reference`` transposed up by
    each of 1..11 semitones (a key past 127 goes down an octave: same pitch class). The
    counts are those of ``score_notes`` (transposing moves no note in or out)."""
    scores = [score_notes(transposed(reference, k), estimate, start, end) for k in TRANSPOSITIONS]
    means = {name: float(np.mean([getattr(s, name) for s in scores])) for name in F1_NAMES}
    return NoteScores(**means, found=scores[0].found, reference=scores[0].reference)


def transposed(notes: Sequence[Note], semitones: int) -> list[Note]:
    """``notes`` moved by ``semitones`` (0..11), keys past 127 an octave lower."""
    return [replace(n, pitch=_wrap(n.pitch + semitones)) for n in notes]


def _wrap(pitch: int) -> int:
    return pitch - 12 if pitch > 127 else pitch


def transcribe_audio(audio: np.ndarray, sample_rate: int) -> list[Note]:
    """The notes basic-pitch hears in (T,) mono float ``audio`` at ``sample_rate``."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError(f"expected mono (T,) audio, got shape {audio.shape}")
    return transcribe(resample(audio, sample_rate, SAMPLE_RATE))


def follows(
    reference: Sequence[Note],
    audio: np.ndarray,
    sample_rate: int,
    start: float = 0.0,
    end: float | None = None,
) -> tuple[NoteScores, NoteScores]:
    """(scores, floor): how well the transcription of ``audio`` follows ``reference``,
    and what it scores against ``reference`` transposed (``transposed_floor``)."""
    estimate = transcribe_audio(audio, sample_rate)
    return (
        score_notes(reference, estimate, start, end),
        transposed_floor(reference, estimate, start, end),
    )


# --- the measures ------------------------------------------------------------------------------


def _within(notes: Sequence[Note], start: float, end: float | None) -> list[Note]:
    """The pitched ``notes`` with an onset in [start, end)."""
    stop = math.inf if end is None else end
    return [n for n in notes if not n.is_drum and start <= n.onset < stop]


def _note_f1(reference: list[Note], estimate: list[Note], fold: bool) -> float:
    """mir_eval's onset-only note F1; 0 where either side is empty."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=EMPTY_WARNINGS)
        *_, f1, _ = mir_eval.transcription.precision_recall_f1_overlap(
            *_mir_eval_notes(reference, fold),
            *_mir_eval_notes(estimate, fold),
            onset_tolerance=ONSET_TOLERANCE_S,
            pitch_tolerance=PITCH_TOLERANCE_CENTS,
            offset_ratio=None,
        )
    return float(f1)


def _mir_eval_notes(notes: list[Note], fold: bool) -> tuple[np.ndarray, np.ndarray]:
    """(N, 2) intervals in seconds with positive durations, and (N,) pitches in Hz."""
    intervals = np.array([[n.onset, _offset(n)] for n in notes], dtype=np.float64)
    pitches = np.array([n.pitch for n in notes], dtype=np.float64)
    if fold:
        pitches = pitches % 12 + FOLDED_OCTAVE
    return intervals.reshape(-1, 2), mir_eval.util.midi_to_hz(pitches)


def _offset(note: Note) -> float:
    return max(note.offset, note.onset + MIN_DURATION_S)


def _frame_f1(
    reference: list[Note], estimate: list[Note], start: float, end: float | None
) -> float:
    """Micro-averaged F1 of the sounding pitch classes per ``FRAME_S`` frame."""
    if end is None:
        end = max((_offset(n) for n in [*reference, *estimate]), default=start)
    frames = max(0, math.ceil((end - start) / FRAME_S))
    truth = pitch_class_frames(reference, start, frames)  # (frames, 12)
    guess = pitch_class_frames(estimate, start, frames)  # (frames, 12)
    true_positives = int((truth & guess).sum())
    errors = int((truth ^ guess).sum())  # false positives + false negatives
    total = 2 * true_positives + errors
    return 2 * true_positives / total if total else 0.0


def pitch_class_frames(notes: Sequence[Note], start: float, frames: int) -> np.ndarray:
    """(frames, 12) bool: which pitch classes sound in frame ``i`` = [start + i·FRAME_S,
    start + (i + 1)·FRAME_S), a note in every frame its [onset, offset) overlaps."""
    sounding = np.zeros((frames, 12), dtype=bool)
    for note in notes:
        first = max(0, math.floor((note.onset - start) / FRAME_S))
        last = min(frames, math.ceil((_offset(note) - start) / FRAME_S))  # exclusive
        sounding[first:last, note.pitch % 12] = True
    return sounding
