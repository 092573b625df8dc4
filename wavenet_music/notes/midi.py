"""Notes in seconds, and MIDI files read and written through ``pretty_midi``.

A ``Note`` is one sounding key: when it starts and stops (seconds from the start of the
piece), which key (MIDI pitch 0-127, middle C = 60), how hard it was struck (velocity
1-127) and which instrument played it (General MIDI program 0-127, or a drum). Reading a
file turns its ticks into seconds through every tempo change (``pretty_midi``'s timing,
which reads tempo from the first track only: tempo changes a sequencer left in another
track are moved there first), so format 0 (one track, instruments on channels) and format
1 (a track per instrument) read the same. A note is as long as it sounds: a key released
while the sustain pedal (controller 64) is down, or held down as the sostenuto pedal
(controller 66) went down, rings on until the pedal lifts or the key
is struck again, as a piano (and every synthesiser) plays it; a key struck while it
sounds ends its note there (two voices on one key are one note), a note released at
the tick it starts still sounds, an All Notes Off releases its channel's keys (a pedal
down still holds them) and an All Sound Off silences them, pedal or not, and a key
or pedal still down at the end of the file is released there (where a player stops).
A channel's pedals, All Notes Off, pitch wheel and bend range act on its notes whichever
track of the file sends them, as General MIDI says. A
file past ``pretty_midi``'s 10 million ticks is read at coarser ticks (``coarser_ticks``).
Writing builds the file in memory and replaces the target in one rename.

Bad input is one line naming the file (``UserError``): an empty or corrupt file, a file
without notes, notes outside a range or after the audio ends (``check_notes``).
"""

from __future__ import annotations

import io
import sys
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import mido
import pretty_midi

from ..config import UserError
from ..runs import write_atomically

PIANO_RANGE = (21, 108)  # A0..C8, the 88 keys
RESOLUTION = 960  # ticks per beat written: at 120 bpm one tick is 0.52 ms
WRITE_TEMPO = 120.0  # beats per minute written (the notes are in seconds: any tempo works)
NAMED = 5  # offending notes named one by one in an error
SUSTAIN = 64  # General MIDI's sustain (damper) pedal controller: down at values >= 64
SOSTENUTO = 66  # holds only the keys down as it is pressed, until it lifts
ALL_SOUND_OFF = 120  # every voice of the channel silenced at once, held by a pedal or not
ALL_OFF = (ALL_SOUND_OFF, 123)  # All Sound Off, All Notes Off: every key of the channel released
RPN = (101, 100, 6, 38)  # registered parameter number (MSB, LSB), its data entry (MSB, LSB)
CHANNEL_CONTROLS = (SUSTAIN, SOSTENUTO, *ALL_OFF, *RPN)  # act on every note of their channel
BENT = 4096  # pitch-wheel units beyond a semitone at the default bend range (8192 = 2 semitones)
BEND_RANGE = 2.0  # General MIDI's pitch-wheel range in semitones until RPN 0 sets another
QUIET_START = 3.0  # seconds of silence before the first note played said as a warning
BENT_WHAT = "bent over a semitone by the pitch wheel: played at their written keys"
FINEST_TICKS = 9_000_000  # pretty_midi refuses a file past 1e7 ticks: coarser ticks beyond


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
    ``BEND_RANGE`` from the start."""
    ranges = [(0.0, BEND_RANGE)]
    selected: dict[int, int | None] = {101: None, 100: None}  # the parameter's number
    entry = {6: int(BEND_RANGE), 38: 0}  # its data: semitones, cents
    for change in sorted(changes, key=lambda c: c.time):  # stable: order kept per tick
        if change.number in selected:
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


def as_played(data: bytes) -> bytes:
    """The MIDI file ``data`` as ``pretty_midi`` must see it to time and pair its notes as
    a player hears them: ticks no finer than ``pretty_midi`` reads (``coarser_ticks``),
    tempo changes in the first track (``tempo_in_first_track``), each channel's pedals,
    All Notes Off and bends with its notes (``controls_with_their_notes``), each key's
    strikes paired with its releases (``one_strike_per_key``) and every key and pedal still
    down at the end of the file released there (``released_at_end``). ``data`` itself when
    nothing changes."""
    midi = mido.MidiFile(file=io.BytesIO(data))
    if not midi.tracks:
        raise ValueError("the file has no tracks")
    if midi.type == 2:  # pretty_midi would play its sequences together, not in turn
        raise ValueError("format 2 (sequences played in turn) is not read; save it as format 1")
    if midi.ticks_per_beat < 0:  # the division's top bit (mido reads it signed): frames
        raise ValueError("SMPTE time (frames a second) is not read; save it in ticks a beat")
    if midi.ticks_per_beat == 0:
        raise ValueError("0 ticks a beat")
    end = max(sum(message.time for message in track) for track in midi.tracks)
    timed = [_absolute(track) for track in midi.tracks]
    coarse, end = coarser_ticks(midi, timed, end)
    moved = controls_with_their_notes(tempo_in_first_track(coarse)) if midi.type == 1 else coarse
    paired = [released_at_end(one_strike_per_key(track), end) for track in moved]
    if moved is timed and all(p is t for p, t in zip(paired, timed, strict=True)):
        return data
    for track, events in zip(midi.tracks, paired, strict=True):
        track[:] = _relative(sorted(events, key=lambda e: e[0]))  # stable: order kept per tick
    buffer = io.BytesIO()
    midi.save(file=buffer)  # mido puts each track's end_of_track last
    return buffer.getvalue()


Timed = list[tuple[int, mido.Message]]  # one track's events at absolute ticks


def coarser_ticks(midi: mido.MidiFile, tracks: list[Timed], end: int) -> tuple[list[Timed], int]:
    """``tracks`` and their ``end`` tick at fewer ticks a beat (``midi.ticks_per_beat`` set
    to match) where the file runs past ``FINEST_TICKS`` ticks (a long piece at a fine
    resolution), which ``pretty_midi`` refuses as likely corrupt; every event keeps its
    time to within one new tick. ``tracks`` and ``end`` themselves when they fit."""
    if end < FINEST_TICKS:
        return tracks, end
    finer = midi.ticks_per_beat
    midi.ticks_per_beat = max(1, finer * FINEST_TICKS // (end + 1))
    ratio = midi.ticks_per_beat / finer
    coarse = [[(round(tick * ratio), message) for tick, message in track] for track in tracks]
    return coarse, round(end * ratio)


def released_at_end(track: Timed, end: int) -> Timed:
    """``track`` with every key it leaves sounding released, and a sustain pedal it leaves
    down lifted, at ``end`` (the file's last tick), where a player stops: a note without
    its release is heard to the end, not lost. ``track`` itself when nothing is down."""
    down: dict[tuple[str, int, int], int] = {}  # (kind, channel, key or 0): since when
    for tick, message in sorted(track, key=lambda e: e[0]):  # stable: order kept per tick
        if message.type in ("note_on", "note_off"):
            key = ("note", message.channel, message.note)
            struck = message.type == "note_on" and message.velocity > 0
        elif message.type == "control_change" and message.control == SUSTAIN:
            key, struck = ("pedal", message.channel, 0), message.value >= 64
        else:
            continue
        if struck:
            down[key] = tick
        else:
            down.pop(key, None)
    releases = [
        (max(end, since + 1), mido.Message("note_off", channel=channel, note=note))
        if kind == "note"  # struck at the last tick: one tick long, a strike
        else (end, mido.Message("control_change", channel=channel, control=SUSTAIN, value=0))
        for (kind, channel, note), since in down.items()
    ]
    return track + releases if releases else track


def tempo_in_first_track(tracks: list[Timed]) -> list[Timed]:
    """A format-1 file's ``tracks`` with the tempo changes of its other tracks moved into
    the first, at the same ticks (``pretty_midi`` times every track by the first track's
    tempo map, as the format says a format-1 file keeps it; some sequencers write it in
    the notes' track). ``tracks`` itself when there is nothing to move."""
    if not any(m.type == "set_tempo" for track in tracks[1:] for _, m in track):
        return tracks
    moved = [(tick, m) for track in tracks[1:] for tick, m in track if m.type == "set_tempo"]
    rest = [[e for e in track if e[1].type != "set_tempo"] for track in tracks[1:]]
    return [tracks[0] + moved, *rest]


def controls_with_their_notes(tracks: list[Timed]) -> list[Timed]:
    """A format-1 file's ``tracks`` with each channel's controllers that act on its notes
    (``CHANNEL_CONTROLS``: sustain and sostenuto pedals, All Sound Off and All Notes Off,
    the pitch-bend range of RPN 0) and its pitch wheel, from whichever track sends them,
    in every track that plays notes on that channel, in the order a player sends them
    (by tick, then track): General MIDI applies a channel's controllers to the channel,
    whatever track carries them (FluidSynth measured: ``tests/notes/test_midi.py``),
    where ``pretty_midi`` reads a controller only with the notes of its own track (one in
    a track of its own was dropped). ``tracks`` itself when every one is already there."""
    tagged = [[(t, i, k, m) for k, (t, m) in enumerate(track)] for i, track in enumerate(tracks)]
    controls = [e for events in tagged for e in events if _acts_on_notes(e[3])]
    moved, changed = [], False
    for track, events in zip(tracks, tagged, strict=True):
        keys = {m.channel for _, m in track if m.type == "note_on"}
        own = [e for e in events if _acts_on_notes(e[3]) and e[3].channel in keys]
        heard = [e for e in controls if e[3].channel in keys]
        if own == heard:
            moved.append(track)
            continue
        changed = True
        rest = [e for e in events if not (_acts_on_notes(e[3]) and e[3].channel in keys)]
        moved.append([(t, m) for t, _, _, m in sorted(rest + heard, key=lambda e: e[:3])])
    return moved if changed else tracks


def _acts_on_notes(message: mido.Message) -> bool:
    control = message.type == "control_change" and message.control in CHANNEL_CONTROLS
    return control or message.type == "pitchwheel"


def one_strike_per_key(track: Timed) -> Timed:
    """``track`` with each key (channel, pitch) sounding one note at a time, as a
    synthesiser plays the file (FluidSynth measured: ``tests/notes/test_midi.py``). A key
    struck while it sounds ends its note at the new strike (a release is put before it),
    and its first release ends the key: two voices striking one key together are one note
    (``pretty_midi`` read two, overlapping), and a release left over is ignored. A release
    at the tick of a strike belongs to the note the strike ended; at the tick of a strike
    of a silent key it moves one tick later, so the note sounds as a strike
    (``pretty_midi`` would drop it). All Notes Off and All Sound Off (controllers 123 and
    120, which sequencers send on stop) release every key of their channel sounding then
    (``pretty_midi`` held them to the file's end); a pedal down holds those keys on after
    All Notes Off (``sustained``), not after All Sound Off (``silenced``). ``track``
    itself when nothing changes."""
    struck: dict[tuple[int, int], tuple[int, bool]] = {}  # sounding key: (tick, struck again)
    events: Timed = []
    for tick, message in track:
        if message.type == "control_change" and message.control in ALL_OFF:
            events += _all_released(struck, tick, message.channel)
        if message.type not in ("note_on", "note_off"):
            events.append((tick, message))
            continue
        key = (message.channel, message.note)
        if message.type == "note_on" and message.velocity > 0:
            if key in struck:  # struck while it sounds: the sounding note ends here
                events.append((tick, mido.Message("note_off", channel=key[0], note=key[1])))
            struck[key] = (tick, key in struck)
        elif key in struck:
            at, again = struck.pop(key)
            if at == tick and again:
                continue  # the release of the note this tick's strike ended
            tick += at == tick  # released as it is struck: one tick later, a strike
        events.append((tick, message))
    return track if events == track else events


def _all_released(
    struck: dict[tuple[int, int], tuple[int, bool]], tick: int, channel: int
) -> Timed:
    """A release at ``tick`` (one tick later for a key struck then) of each key of
    ``channel`` sounding in ``struck``, each taken out of it."""
    keys = [key for key in struck if key[0] == channel]
    return [
        (
            tick + (struck.pop(key)[0] == tick),
            mido.Message("note_off", channel=channel, note=key[1]),
        )
        for key in keys
    ]


def _absolute(track: mido.MidiTrack) -> list[tuple[int, mido.Message]]:
    ticks, events = 0, []
    for message in track:
        ticks += message.time
        if message.type != "end_of_track":
            events.append((ticks, message))
    return events


def _relative(events: list[tuple[int, mido.Message]]) -> list[mido.Message]:
    previous, messages = 0, []
    for tick, message in events:
        messages.append(message.copy(time=tick - previous))
        previous = tick
    return messages


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
            what = f"start after the audio ends ({seconds:.2f} s)"
            raise UserError(f"{source}: {named_notes(late, what)}")
    if one_instrument and len(by_instrument(notes)) > 1:
        raise UserError(f"{source}: expected one instrument, got {instrument_summary(notes)}")


def playable(notes: Sequence[Note], source: str) -> tuple[list[Note], list[str]]:
    """The notes of ``source`` a WaveNet of the piano's keys plays (every pitched part as
    one, keys of the piano), and a line for each kind left out or joined: drums, keys
    outside the piano, several instruments. A ``UserError`` where nothing is left."""
    low, high = PIANO_RANGE
    kept = [n for n in notes if not n.is_drum and not off_the_keys(n)]
    if not kept:
        check_notes(notes, source, PIANO_RANGE, pitched=True)  # says which: raises here
    drums = [n for n in notes if n.is_drum]
    outside = [n for n in notes if off_the_keys(n)]
    said = []
    if drums:
        said.append(f"{source}: {_count(drums)} of drums left out (no keys to play them)")
    if outside:
        span = f"{_key(low)}..{_key(high)} (MIDI {low}..{high})"
        said.append(f"{source}: {named_notes(outside, f'outside {span}')}: left out")
    if len(by_instrument(kept)) > 1:
        said.append(f"{source}: playing {instrument_summary(kept)} as one part")
    return kept, said


def read_playable(path: Path) -> list[Note]:
    """The notes of the MIDI file ``path`` that a WaveNet of the piano's keys plays
    (``playable``); each kind left out or joined, notes under a bent pitch wheel, and a
    long silence before the first note (``quiet_start``), said on stderr as a warning."""
    written, bent = read_score(path)
    notes, said = playable(written, str(path))
    if bent:
        said.append(f"{path}: {named_notes(bent, BENT_WHAT)}")
    said += quiet_start(notes, str(path))
    for line in said:
        print(f"warning: {line}", file=sys.stderr)
    return notes


def quiet_start(notes: Sequence[Note], source: str) -> list[str]:
    """A line for ``source`` when its first note played (``notes`` sorted) starts over
    ``QUIET_START`` seconds in (a count-in, a DAW's lead-in bars): a render or a clip
    steered by it opens with that silence, which the musician did not hear as music."""
    first = notes[0]
    if first.onset <= QUIET_START:
        return []
    return [
        f"{source}: {first.onset:.1f} s of silence before the first note played, "
        f"{_named([first])}: the clip opens silent (cut the lead-in in the sequencer to "
        "start on the music)"
    ]


def off_the_keys(note: Note, low: int = PIANO_RANGE[0], high: int = PIANO_RANGE[1]) -> bool:
    """A pitched ``note`` whose key lies outside ``low``..``high`` (the piano's): a drum's
    pitch names a drum, never a key."""
    return not note.is_drum and not low <= note.pitch <= high


def _check_range(notes: Sequence[Note], source: str, low: int, high: int) -> None:
    outside = [n for n in notes if off_the_keys(n, low, high)]
    if outside:
        span = f"{_key(low)}..{_key(high)} (MIDI {low}..{high})"
        raise UserError(
            f"{source}: {_count(outside)} outside {span}: {_named(outside)}; "
            f"{_onto_the_keys(notes, low, high)}"
        )


def _onto_the_keys(notes: Sequence[Note], low: int, high: int) -> str:
    """What brings the pitched ``notes`` onto ``low``..``high``: the fewest octaves that
    move them all there (a part written an octave too high), else moving the notes
    outside."""
    pitches = [n.pitch for n in notes if not n.is_drum]
    shift = -(-(low - min(pitches)) // 12) if min(pitches) < low else 0  # octaves up
    shift -= -(-(max(pitches) - high) // 12) if max(pitches) > high else 0  # or down
    if shift and low <= min(pitches) + 12 * shift and max(pitches) + 12 * shift <= high:
        octaves = f"{abs(shift)} octave{'' if abs(shift) == 1 else 's'}"
        return f"transpose the part {'up' if shift > 0 else 'down'} {octaves} in the sequencer"
    return "notes outside are not played: move them onto the keys in the sequencer"


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


def named_notes(notes: Sequence[Note], what: str) -> str:
    """ "3 notes start after ...: F5 (77) at 12.24 s, ...": ``notes`` counted, ``what``
    they do, and the first ``NAMED`` named."""
    return f"{_count(notes)} {what}: {_named(notes)}"


def _key(pitch: int) -> str:
    return pretty_midi.note_number_to_name(pitch)


def _count(notes: Sequence[Note]) -> str:
    return f"{len(notes)} note{'' if len(notes) == 1 else 's'}"


def _named(notes: Sequence[Note]) -> str:
    shown = ", ".join(f"{n.name} ({n.pitch}) at {n.onset:.2f} s" for n in notes[:NAMED])
    return shown + (f" and {len(notes) - NAMED} more" if len(notes) > NAMED else "")
