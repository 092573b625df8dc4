"""A MIDI file as a General MIDI player (FluidSynth) plays it, for ``pretty_midi`` to read.

``pretty_midi`` times every track by the first track's tempo map, reads a controller only
with the notes of its own track, pairs a key's strikes and releases its own way and
refuses a file past 10 million ticks. ``as_played`` rewrites the file's events (``mido``)
so that ``midi.read_score`` reads them as a player plays them: tempo changes a sequencer
left in another track are moved to the first, so format 0 (one track, instruments on
channels) and format 1 (a track per instrument) read the same; a channel's pedals, All
Notes Off, pitch wheel and bend range act on its notes whichever track of the file sends
them, as General MIDI says; a key struck while it sounds ends its note there (two voices
on one key are one note), a note released at the tick it starts still sounds, an All
Notes Off or All Sound Off releases its channel's keys, and a key or pedal still down at
the end of the file is released there (where a player stops), and a Reset All
Controllers lifts the pedals and centres the wheel. A file past
``pretty_midi``'s 10 million ticks is read at coarser ticks (``coarser_ticks``). The
pedals holding notes on, in seconds, are ``midi.sustained`` and ``midi.silenced``. A key
signature no key has reads as C major (``AnyKeySignature``): no note depends on it.
"""

from __future__ import annotations

import io

import mido
from mido.midifiles.meta import KeySignatureError, MetaSpec_key_signature, add_meta_spec

SUSTAIN = 64  # General MIDI's sustain (damper) pedal controller: down at values >= 64
SOSTENUTO = 66  # holds only the keys down as it is pressed, until it lifts
ALL_SOUND_OFF = 120  # every voice of the channel silenced at once, held by a pedal or not
ALL_OFF = (ALL_SOUND_OFF, 123)  # All Sound Off, All Notes Off: every key of the channel released
RPN = (101, 100, 6, 38)  # registered parameter number (MSB, LSB), its data entry (MSB, LSB)
NRPN = (99, 98)  # a non-registered parameter's number: the data entries after it are its
RESET_ALL_CONTROLLERS = 121  # the pedals up, the wheel centred, no parameter selected
CHANNEL_CONTROLS = (SUSTAIN, SOSTENUTO, *ALL_OFF, *RPN, *NRPN)  # act on every note of their channel
FINEST_TICKS = 9_000_000  # pretty_midi refuses a file past 1e7 ticks: coarser ticks beyond


class AnyKeySignature(MetaSpec_key_signature):
    """mido's key signature event, except that one naming no key (more than 7 sharps or
    flats, a mode other than major or minor: files in the wild carry "18 flats and mode
    1", pretty-midi issue 165, mido issue 235) reads as mido's default, C major, where mido
    raised ``KeySignatureError`` and the whole file was unreadable, a traceback. The key
    signature is notation: no note's time, key or length depends on it."""

    type = "key_signature"

    def decode(self, message: mido.MetaMessage, data: list[int]) -> None:
        try:
            super().decode(message, data)
        except KeySignatureError:
            message.key = self.defaults[0]


add_meta_spec(AnyKeySignature)  # mido's reader, pretty_midi's through it, for this process


def as_played(data: bytes) -> bytes:
    """The MIDI file ``data`` as ``pretty_midi`` must see it to time and pair its notes as
    a player hears them: ticks no finer than ``pretty_midi`` reads (``coarser_ticks``),
    each Reset All Controllers spelt out (``controllers_reset``), tempo changes in the
    first track (``tempo_in_first_track``), each channel's pedals,
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
    if any(m.type == "set_tempo" and m.tempo == 0 for track in midi.tracks for m in track):
        raise ValueError("a tempo of 0 microseconds a beat: set a tempo above 0")
    end = max(sum(message.time for message in track) for track in midi.tracks)
    timed = [_absolute(track) for track in midi.tracks]
    coarse, end = coarser_ticks(midi, timed, end)
    reset = controllers_reset(coarse)
    moved = controls_with_their_notes(tempo_in_first_track(reset)) if midi.type == 1 else reset
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


def controllers_reset(tracks: list[Timed]) -> list[Timed]:
    """``tracks`` with each Reset All Controllers (controller 121) followed, at its tick, by
    what it resets that acts on the notes, as General MIDI's recommended practice (RP-015)
    and FluidSynth reset them: the sustain and sostenuto pedals lifted, the pitch wheel
    centred, no registered parameter selected (its bend range kept), on its channel; read
    alone it changed nothing (a pedal it lifted held every later note to the end of the
    file). ``tracks`` itself where none holds one."""
    if not any(_resets(m) for track in tracks for _, m in track):
        return tracks
    return [[e for tick, m in track for e in [(tick, m), *_reset(tick, m)]] for track in tracks]


def _resets(message: mido.Message) -> bool:
    return message.type == "control_change" and message.control == RESET_ALL_CONTROLLERS


def _reset(tick: int, message: mido.Message) -> Timed:
    """What ``message`` at ``tick`` resets, as messages at ``tick`` (none: not a reset)."""
    if not _resets(message):
        return []
    controls = ((SUSTAIN, 0), (SOSTENUTO, 0), (101, 127), (100, 127))
    channel = message.channel
    reset = [
        mido.Message("control_change", channel=channel, control=c, value=v) for c, v in controls
    ]
    return [(tick, m) for m in [*reset, mido.Message("pitchwheel", channel=channel, pitch=0)]]


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
    All Notes Off (``midi.sustained``), not after All Sound Off (``midi.silenced``). ``track``
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
