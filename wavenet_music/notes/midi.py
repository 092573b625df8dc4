"""Notes in seconds, and MIDI files read and written through ``pretty_midi``.

A ``Note`` is one sounding key: when it starts and stops (seconds from the start of the
piece), which key (MIDI pitch 0-127, middle C = 60), how hard it was struck (velocity
1-127) and which instrument played it (General MIDI program 0-127, or a drum). Reading a
file turns its ticks into seconds through every tempo change (``pretty_midi``'s timing),
so format 0 (one track, instruments on channels) and format 1 (a track per instrument)
read the same. Writing builds the file in memory and replaces the target in one rename.

Bad input is one line naming the file (``UserError``): an empty or corrupt file, a file
without notes, notes outside a range or after the audio ends (``check_notes``).
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pretty_midi

from ..config import UserError
from ..runs import write_atomically

PIANO_RANGE = (21, 108)  # A0..C8, the 88 keys
RESOLUTION = 960  # ticks per beat written: at 120 bpm one tick is 0.52 ms
WRITE_TEMPO = 120.0  # beats per minute written (the notes are in seconds: any tempo works)
NAMED = 5  # offending notes named one by one in an error


@dataclass(frozen=True, slots=True)
class Note:
    """One note: ``onset`` ≤ ``offset`` in seconds, ``pitch`` 0-127 (MIDI key number),
    ``velocity`` 1-127, General MIDI ``program`` 0-127, ``is_drum`` for percussion
    (whose pitch names a drum, not a key)."""

    onset: float
    offset: float
    pitch: int
    velocity: int = 100
    program: int = 0
    is_drum: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.onset <= self.offset:
            raise ValueError(f"expected 0 <= onset <= offset, got {self.onset}, {self.offset}")
        for name, low in (("pitch", 0), ("velocity", 1), ("program", 0)):
            value = getattr(self, name)
            if not low <= value <= 127:
                raise ValueError(f"{name}: expected an integer in [{low}, 127], got {value}")

    @property
    def name(self) -> str:
        """The key's name with its octave (``C4`` for 60), as errors show it."""
        return pretty_midi.note_number_to_name(self.pitch)


# --- reading -----------------------------------------------------------------------------------


def read_midi(path: Path) -> list[Note]:
    """The notes of the MIDI file ``path`` (format 0 or 1), sorted by onset then pitch.

    An empty, corrupt or note-less file is a one-line ``UserError`` naming it."""
    data = _read_bytes(path)
    try:
        with warnings.catch_warnings():  # tempo events outside track 0: timing still right
            warnings.simplefilter("ignore", RuntimeWarning)
            midi = pretty_midi.PrettyMIDI(io.BytesIO(data))
    except (OSError, EOFError, ValueError, KeyError, IndexError) as exc:
        raise UserError(f"{path}: not a readable MIDI file ({_reason(exc)})") from None
    notes = notes_of(midi)
    if not notes:
        raise UserError(f"{path}: the MIDI file has no notes")
    return notes


def _read_bytes(path: Path) -> bytes:
    try:
        data = Path(path).read_bytes()
    except IsADirectoryError:
        raise UserError(f"{path}: is a folder, expected a MIDI file") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror})") from None
    if not data:
        raise UserError(f"{path}: the file is empty, expected a MIDI file")
    return data


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def notes_of(midi: pretty_midi.PrettyMIDI) -> list[Note]:
    """Every note of every instrument of ``midi``, in seconds, sorted by onset then pitch.
    Velocity 0 (a note-off in disguise that some writers leave) reads as 1."""
    notes = [
        Note(
            onset=max(0.0, float(n.start)),
            offset=max(0.0, float(n.start), float(n.end)),
            pitch=int(n.pitch),
            velocity=max(1, int(n.velocity)),
            program=int(instrument.program),
            is_drum=bool(instrument.is_drum),
        )
        for instrument in midi.instruments
        for n in instrument.notes
    ]
    return sort_notes(notes)


def sort_notes(notes: Iterable[Note]) -> list[Note]:
    """``notes`` by onset, then pitch, then offset (a stable order for comparisons)."""
    return sorted(notes, key=lambda n: (n.onset, n.pitch, n.offset, n.program, n.is_drum))


# --- writing -----------------------------------------------------------------------------------


def midi_bytes(notes: Sequence[Note]) -> bytes:
    """The bytes of a format-1 MIDI file holding ``notes``: one track per (program, drum)
    pair, at ``WRITE_TEMPO`` with ``RESOLUTION`` ticks per beat (0.52 ms a tick)."""
    midi = pretty_midi.PrettyMIDI(resolution=RESOLUTION, initial_tempo=WRITE_TEMPO)
    tracks: dict[tuple[int, bool], pretty_midi.Instrument] = {}
    for note in sort_notes(notes):
        key = (note.program, note.is_drum)
        if key not in tracks:
            tracks[key] = pretty_midi.Instrument(program=note.program, is_drum=note.is_drum)
        tracks[key].notes.append(
            pretty_midi.Note(note.velocity, note.pitch, note.onset, note.offset)
        )
    midi.instruments.extend(tracks[key] for key in sorted(tracks))
    buffer = io.BytesIO()
    midi.write(buffer)
    return buffer.getvalue()


def write_midi(path: Path, notes: Sequence[Note]) -> Path:
    """Write ``notes`` as a MIDI file, atomically (a failure leaves the old file or none)."""
    return write_atomically(path, midi_bytes(notes))


# --- checks ------------------------------------------------------------------------------------


def check_notes(
    notes: Sequence[Note],
    source: str,
    pitch_range: tuple[int, int] | None = None,
    seconds: float | None = None,
    one_instrument: bool = False,
    pitched: bool = False,
) -> None:
    """A one-line ``UserError`` naming ``source`` when ``notes`` is empty, when pitched
    notes lie outside ``pitch_range`` (lowest, highest MIDI pitch, inclusive), when notes
    start at or after ``seconds`` (the length of the audio they belong to), or, with
    ``one_instrument``, when they are played by several instruments, or, with ``pitched``,
    when every note is a drum's (nothing a WaveNet plays). The first ``NAMED`` offending
    notes are named. Drums have no pitch range."""
    if not notes:
        raise UserError(f"{source}: no notes")
    if pitched and all(n.is_drum for n in notes):
        raise UserError(f"{source}: only percussion (drum notes), no pitched notes to play")
    if pitch_range is not None:
        _check_range(notes, source, *pitch_range)
    if seconds is not None:
        late = [n for n in notes if n.onset >= seconds]
        if late:
            raise UserError(
                f"{source}: {_count(late)} start after the audio ends ({seconds:.2f} s): "
                f"{_named(late)}"
            )
    if one_instrument and len(by_instrument(notes)) > 1:
        raise UserError(f"{source}: expected one instrument, got {instrument_summary(notes)}")


def _check_range(notes: Sequence[Note], source: str, low: int, high: int) -> None:
    outside = [n for n in notes if not n.is_drum and not low <= n.pitch <= high]
    if outside:
        span = f"{_key(low)}..{_key(high)} (MIDI {low}..{high})"
        raise UserError(f"{source}: {_count(outside)} outside {span}: {_named(outside)}")


def by_instrument(notes: Iterable[Note]) -> dict[tuple[int, bool], list[Note]]:
    """``{(program, is_drum): its notes}`` in the order the instruments first play."""
    groups: dict[tuple[int, bool], list[Note]] = {}
    for note in notes:
        groups.setdefault((note.program, note.is_drum), []).append(note)
    return groups


def instrument_summary(notes: Iterable[Note]) -> str:
    """Each instrument by its General MIDI name with its notes, for one line: "3
    instruments: Acoustic Grand Piano (12 notes), Violin (8 notes), drums (4 notes)"."""
    groups = by_instrument(notes)
    names = [
        f"{'drums' if drum else pretty_midi.program_to_instrument_name(program)} ({_count(group)})"
        for (program, drum), group in groups.items()
    ]
    plural = "" if len(groups) == 1 else "s"
    return f"{len(groups)} instrument{plural}: {', '.join(names)}"


def _key(pitch: int) -> str:
    return pretty_midi.note_number_to_name(pitch)


def _count(notes: Sequence[Note]) -> str:
    return f"{len(notes)} note{'' if len(notes) == 1 else 's'}"


def _named(notes: Sequence[Note]) -> str:
    shown = ", ".join(f"{n.name} ({n.pitch}) at {n.onset:.2f} s" for n in notes[:NAMED])
    return shown + (f" and {len(notes) - NAMED} more" if len(notes) > NAMED else "")
