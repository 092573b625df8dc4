"""Notes in seconds, and MIDI files read and written through ``pretty_midi``.

A ``Note`` is one sounding key: when it starts and stops (seconds from the start of the
piece), which key (MIDI pitch 0-127, middle C = 60), how hard it was struck (velocity
1-127) and which instrument played it (General MIDI program 0-127, or a drum). Reading a
file turns its ticks into seconds through every tempo change, once ``midi_playing`` has
put its events as a General MIDI player (FluidSynth) plays them: tempo in the first
track, a channel's pedals and wheel with its notes, one strike per key, keys and pedals
released at the end. A note is as long as it sounds: a key released while the sustain
pedal (controller 64) is down, or held down as the sostenuto pedal (controller 66) went
down, rings on until the pedal lifts or the key is struck again, as a piano (and every
synthesiser) plays it, and an All Sound Off (controller 120) silences it, pedal or not.
Writing builds the file in memory and replaces the target in one rename.

Bad input is one line naming the file (``UserError``): an empty or corrupt file, a file
without notes. What a WaveNet of the piano's keys plays of them, and the checks that say
what it cannot (notes outside a range or after the audio ends), are in ``playable``.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import mido
import pretty_midi

from ..config import UserError
from ..runs import write_atomically
from .midi_playing import ALL_SOUND_OFF, NRPN, SOSTENUTO, SUSTAIN, as_played

PIANO_RANGE = (21, 108)  # A0..C8, the 88 keys
RESOLUTION = 960  # ticks per beat written: at 120 bpm one tick is 0.52 ms
WRITE_TEMPO = 120.0  # beats per minute written (the notes are in seconds: any tempo works)
BENT = 4096  # pitch-wheel units beyond a semitone at the default bend range (8192 = 2 semitones)
BEND_RANGE = 2.0  # General MIDI's pitch-wheel range in semitones until RPN 0 sets another


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
    return read_score(path)[0]


def read_score(path: Path) -> tuple[list[Note], list[Note]]:
    """``read_midi``'s notes, and those of them sounding while their instrument's pitch
    wheel is bent by more than a semitone (``BENT`` at General MIDI's default range of two
    semitones, or the range the file sets, ``bend_ranges``): a ``Note`` keeps its written
    key, so these play out of tune with the recording they steer, which a reader of a score
    says."""
    data = _read_bytes(path)
    try:
        with warnings.catch_warnings():  # meta events outside track 0: tempo moved there
            warnings.simplefilter("ignore", RuntimeWarning)
            midi = pretty_midi.PrettyMIDI(io.BytesIO(as_played(data)))
    except (OSError, EOFError, ValueError, KeyError, IndexError) as exc:
        raise UserError(f"{path}: not a readable MIDI file ({_reason(exc)})") from None
    notes = notes_of(midi)
    if not notes:
        raise UserError(f"{path}: the MIDI file has no notes")
    return notes, bent_notes(midi)


def bent_notes(midi: pretty_midi.PrettyMIDI) -> list[Note]:
    """The pitched notes of ``midi``, as played, that sound under a bend over ``BENT``."""
    bent: list[Note] = []
    for instrument in midi.instruments:
        ranges = bend_ranges(instrument.control_changes)
        spans = _bend_spans(instrument.pitch_bends, float(midi.get_end_time()), ranges)
        if instrument.is_drum or not spans:
            continue
        bent += [n for n in notes_of_instrument(instrument) if _overlaps(n, spans)]
    return sort_notes(bent)


def bend_ranges(changes: Iterable[pretty_midi.ControlChange]) -> list[tuple[float, float]]:
    """(seconds, semitones) of each pitch-wheel range one instrument's ``changes`` set
    (registered parameter 0: controllers 101 and 100 at 0 select it, 6 and 38 set its
    semitones and cents, as DAWs write a guitar's 12-semitone bends), after General MIDI's
    ``BEND_RANGE`` from the start. Selecting a non-registered parameter (controllers 99
    and 98) deselects it: the data entries after it set that parameter, not the range."""
    ranges = [(0.0, BEND_RANGE)]
    selected: dict[int, int | None] = {101: None, 100: None}  # the parameter's number
    entry = {6: int(BEND_RANGE), 38: 0}  # its data: semitones, cents
    for change in sorted(changes, key=lambda c: c.time):  # stable: order kept per tick
        if change.number in NRPN:
            selected = {101: None, 100: None}
        elif change.number in selected:
            selected[change.number] = change.value
        elif change.number in entry and selected == {101: 0, 100: 0}:
            entry[change.number] = change.value
            ranges.append((float(change.time), entry[6] + entry[38] / 100))
    return ranges


def _bend_spans(
    bends: Sequence[pretty_midi.PitchBend], end: float, ranges: Sequence[tuple[float, float]]
) -> list[tuple[float, float]]:
    """(start, stop) seconds over which the wheel sits more than a semitone from centre
    (``BENT`` at ``BEND_RANGE``), at the range of ``ranges`` set by then."""
    spans, since = [], None
    for bend in sorted(bends, key=lambda b: b.time):
        scale = next(r for t, r in reversed(ranges) if t <= bend.time) / BEND_RANGE
        far = abs(bend.pitch) * scale > BENT
        if far and since is None:
            since = float(bend.time)
        elif not far and since is not None:
            spans.append((since, float(bend.time)))
            since = None
    if since is not None:
        spans.append((since, max(end, since)))
    return spans


def _overlaps(note: Note, spans: Sequence[tuple[float, float]]) -> bool:
    return any(start < note.offset and note.onset < stop for start, stop in spans)


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
    """Every note of every instrument of ``midi``, in seconds, sorted by onset then pitch,
    held by each instrument's sostenuto and sustain pedals (``sustained``) until an All
    Sound Off (``silenced``). Velocity 0 (a note-off in disguise that some writers leave)
    reads as 1."""
    end = float(midi.get_end_time())
    notes: list[Note] = []
    for instrument in midi.instruments:
        played, changes = notes_of_instrument(instrument), instrument.control_changes
        if not instrument.is_drum:  # a drum's note is a hit: no pedal holds it
            played = sustained(played, pedal_spans(changes, end, SOSTENUTO), caught=True)
            played = sustained(played, pedal_spans(changes, end))
        notes.extend(silenced(played, [c.time for c in changes if c.number == ALL_SOUND_OFF]))
    return sort_notes(notes)


def notes_of_instrument(instrument: pretty_midi.Instrument) -> list[Note]:
    """The notes of one ``pretty_midi`` instrument as played (no pedal applied)."""
    return [
        Note(
            onset=max(0.0, float(n.start)),
            offset=max(0.0, float(n.start), float(n.end)),
            pitch=int(n.pitch),
            velocity=max(1, int(n.velocity)),
            program=int(instrument.program),
            is_drum=bool(instrument.is_drum),
        )
        for n in instrument.notes
    ]


def pedal_spans(
    changes: Iterable[pretty_midi.ControlChange], end: float, controller: int = SUSTAIN
) -> list[tuple[float, float]]:
    """(down, up) seconds of each press of the pedal ``controller`` (the sustain pedal, or
    ``SOSTENUTO``) among ``changes`` (one instrument's control changes); a pedal still down
    at the end lifts at ``end``."""
    spans: list[tuple[float, float]] = []
    down: float | None = None
    for change in sorted((c for c in changes if c.number == controller), key=lambda c: c.time):
        if change.value >= 64 and down is None:
            down = float(change.time)
        elif change.value < 64 and down is not None:
            spans.append((down, float(change.time)))
            down = None
    if down is not None:
        spans.append((down, max(end, down)))
    return spans


def sustained(
    notes: Sequence[Note], spans: Sequence[tuple[float, float]], caught: bool = False
) -> list[Note]:
    """``notes`` as a sustain pedal down over ``spans`` (``pedal_spans``) holds them: a key
    released while the pedal is down sounds until the pedal lifts, or until the same key
    is struck again (its string is damped and struck anew). With ``caught`` (the sostenuto
    pedal), only keys already down as the pedal goes down are held. Notes released with
    the pedal up are unchanged."""
    if not spans:
        return list(notes)
    held: list[Note] = []
    by_pitch = sorted(notes, key=lambda n: (n.pitch, n.onset, n.offset))
    for i, note in enumerate(by_pitch):
        up = next((u for d, u in spans if d <= note.offset < u and _held(note, d, caught)), None)
        if up is None:
            held.append(note)
            continue
        following = by_pitch[i + 1] if i + 1 < len(by_pitch) else None
        if following is not None and following.pitch == note.pitch and following.onset > note.onset:
            up = min(up, following.onset)  # struck again: the held note ends there
        held.append(replace(note, offset=max(note.offset, up)))
    return sort_notes(held)


def silenced(notes: Sequence[Note], times: Sequence[float]) -> list[Note]:
    """``notes`` cut at each All Sound Off (controller 120) at ``times`` (seconds) that
    finds them sounding: General MIDI silences every voice of the channel at once, held by
    a pedal or not, where All Notes Off (123) only releases the keys, which a sustain or
    sostenuto pedal down still holds (``one_strike_per_key``, ``sustained``). A note
    struck at that instant is struck after it, and sounds."""
    if not times:
        return list(notes)
    return [
        replace(n, offset=min((t for t in times if n.onset < t < n.offset), default=n.offset))
        for n in notes
    ]


def _held(note: Note, down: float, caught: bool) -> bool:
    return not caught or note.onset <= down < note.offset


def sort_notes(notes: Iterable[Note]) -> list[Note]:
    """``notes`` by onset, then pitch, then offset (a stable order for comparisons)."""
    return sorted(notes, key=lambda n: (n.onset, n.pitch, n.offset, n.program, n.is_drum))


# --- writing -----------------------------------------------------------------------------------


def midi_bytes(notes: Sequence[Note], seconds: float | None = None) -> bytes:
    """The bytes of a format-1 MIDI file holding ``notes``: one track per (program, drum)
    pair, named after its General MIDI instrument, at ``WRITE_TEMPO`` with ``RESOLUTION``
    ticks per beat (0.52 ms a tick). With ``seconds`` (the audio the notes belong to), every
    track lasts at least that long, so the file lines up with its audio in a DAW even where
    the piece ends in a rest."""
    midi = pretty_midi.PrettyMIDI(resolution=RESOLUTION, initial_tempo=WRITE_TEMPO)
    tracks: dict[tuple[int, bool], pretty_midi.Instrument] = {}
    for note in sort_notes(notes):
        key = (note.program, note.is_drum)
        if key not in tracks:
            name = "Drums" if note.is_drum else pretty_midi.program_to_instrument_name(note.program)
            tracks[key] = pretty_midi.Instrument(note.program, note.is_drum, name)
        tracks[key].notes.append(
            pretty_midi.Note(note.velocity, note.pitch, note.onset, note.offset)
        )
    midi.instruments.extend(tracks[key] for key in sorted(tracks))
    buffer = io.BytesIO()
    midi.write(buffer)
    if seconds is None:
        return buffer.getvalue()
    return _lasting(buffer.getvalue(), round(seconds * RESOLUTION * WRITE_TEMPO / 60))


def _lasting(data: bytes, ticks: int) -> bytes:
    """The MIDI file ``data`` with every track's end moved to ``ticks`` where it ends
    earlier (a track's end is its ``end_of_track`` event)."""
    midi = mido.MidiFile(file=io.BytesIO(data))
    for track in midi.tracks:
        length = sum(message.time for message in track)
        if track and track[-1].type == "end_of_track" and length < ticks:
            track[-1] = track[-1].copy(time=track[-1].time + ticks - length)
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


def write_midi(path: Path, notes: Sequence[Note], seconds: float | None = None) -> Path:
    """Write ``notes`` as a MIDI file (``midi_bytes``), atomically (a failure leaves the
    old file or none)."""
    return write_atomically(path, midi_bytes(notes, seconds))
