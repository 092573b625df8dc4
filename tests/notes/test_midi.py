"""MIDI files in and out: round trips, format 0 and 1, tempo changes, the pedals, All Notes
Off and the wheel as a synthesiser plays them (``midi``, ``midi_playing``), and every bad
file as one line (the CLI's exit 2 is tested in test_transcribe.py). What the piano's
WaveNet can play of the notes is ``test_playable.py``."""

from __future__ import annotations

import io
import shutil
import subprocess

import mido
import numpy as np
import pytest
import soundfile as sf

from wavenet_music.config import UserError
from wavenet_music.demo_corpus.sources import SOUNDFONT
from wavenet_music.notes.midi import (
    PIANO_RANGE,
    Note,
    midi_bytes,
    read_midi,
    read_score,
    sort_notes,
    write_midi,
)
from wavenet_music.notes.midi_playing import as_played
from wavenet_music.notes.roll import piano_roll

TICK_S = 60 / 120 / 960  # one tick of the written files
FLUID_RATE = 16000  # FluidSynth renders at this rate


def some_notes() -> list[Note]:
    return [
        Note(0.0, 0.5, 60, 100),
        Note(0.25, 1.0, 64, 80),
        Note(0.5, 0.75, 67, 1, program=24),  # a guitar
        Note(1.0, 1.1, 36, 127, is_drum=True),  # a kick drum
        Note(1.5, 3.25, 21, 64),
    ]


def assert_same_notes(got: list[Note], want: list[Note], tolerance: float) -> None:
    assert len(got) == len(want)
    for g, w in zip(sort_notes(got), sort_notes(want), strict=True):
        assert (g.pitch, g.velocity, g.program, g.is_drum) == (
            w.pitch,
            w.velocity,
            w.program,
            w.is_drum,
        )
        assert g.onset == pytest.approx(w.onset, abs=tolerance)
        assert g.offset == pytest.approx(w.offset, abs=tolerance)


def test_write_then_read_keeps_every_note_within_half_a_tick(tmp_path):
    path = write_midi(tmp_path / "song.mid", some_notes())
    assert_same_notes(read_midi(path), some_notes(), TICK_S / 2 + 1e-9)


def test_a_written_file_lasts_as_long_as_its_audio_and_names_its_instruments(tmp_path):
    """A piece ending in a rest: dropped into a DAW beside its WAV, both regions match."""
    path = write_midi(tmp_path / "piece.mid", [*some_notes(), Note(0.5, 0.9, 40, 90, 24)], 30.0)
    midi = mido.MidiFile(path)
    assert midi.length == pytest.approx(30.0)
    names = [m.name for track in midi.tracks for m in track if m.type == "track_name"]
    assert names == ["Acoustic Grand Piano", "Drums", "Acoustic Guitar (nylon)"]
    assert_same_notes(
        read_midi(path), sort_notes([*some_notes(), Note(0.5, 0.9, 40, 90, 24)]), TICK_S
    )
    assert mido.MidiFile(write_midi(tmp_path / "free.mid", some_notes())).length < 30.0


def test_a_file_name_that_is_not_utf8_reads(tmp_path):
    path = tmp_path / "caf\udce9.mid"  # a Latin-1 byte in the name
    write_midi(path, some_notes())
    assert len(read_midi(path)) == len(some_notes())


def format0_with_two_instruments() -> bytes:
    """One track: a piano on channel 0 and a guitar (program 24) on channel 1."""
    track = mido.MidiTrack(
        [
            mido.MetaMessage("set_tempo", tempo=500_000, time=0),  # 120 bpm
            mido.Message("program_change", channel=1, program=24, time=0),
            mido.Message("note_on", channel=0, note=60, velocity=90, time=0),
            mido.Message("note_on", channel=1, note=52, velocity=70, time=0),
            mido.Message("note_off", channel=0, note=60, velocity=0, time=480),  # 0.5 s
            mido.Message("note_on", channel=1, note=52, velocity=0, time=480),  # off, 1 s
        ]
    )
    midi = mido.MidiFile(type=0, ticks_per_beat=480, tracks=[track])
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


def test_format_0_with_several_instruments_reads_each(tmp_path):
    path = tmp_path / "type0.mid"
    path.write_bytes(format0_with_two_instruments())
    assert read_midi(path) == [
        Note(0.0, 1.0, 52, 70, program=24),
        Note(0.0, 0.5, 60, 90, program=0),
    ]


def test_format_1_with_a_tempo_change_reads_in_seconds(tmp_path):
    """120 bpm for the first beat, then 60 bpm: the second note (beat 2) starts at 0.5 +
    1.0 s, and lasts one beat of 1 s."""
    tempo = mido.MidiTrack(
        [
            mido.MetaMessage("set_tempo", tempo=500_000, time=0),
            mido.MetaMessage("set_tempo", tempo=1_000_000, time=480),
        ]
    )
    notes = mido.MidiTrack(
        [
            mido.Message("note_on", note=60, velocity=100, time=0),
            mido.Message("note_off", note=60, time=480),
            mido.Message("note_on", note=62, velocity=100, time=480),
            mido.Message("note_off", note=62, time=480),
        ]
    )
    path = tmp_path / "tempo.mid"
    mido.MidiFile(type=1, ticks_per_beat=480, tracks=[tempo, notes]).save(path)
    got = read_midi(path)
    assert [(n.pitch, n.onset, n.offset) for n in got] == [
        (60, pytest.approx(0.0), pytest.approx(0.5)),
        (62, pytest.approx(1.5), pytest.approx(2.5)),
    ]


def test_tempo_changes_in_the_notes_track_time_the_notes_as_a_sequencer_does(tmp_path):
    """A format-1 file whose tempo lies in the notes' track (some sequencers write it so):
    60 bpm for 4 beats, then 120; notes at beats 2 and 6 start at 2 s and 4 + 1 s. Read by
    the first track's tempo map alone, they would start at 1 and 3 s."""
    notes = mido.MidiTrack(
        [
            mido.MetaMessage("set_tempo", tempo=1_000_000, time=0),
            mido.Message("note_on", note=60, velocity=100, time=960),
            mido.Message("note_off", note=60, time=480),
            mido.MetaMessage("set_tempo", tempo=500_000, time=480),
            mido.Message("note_on", note=62, velocity=100, time=960),
            mido.Message("note_off", note=62, time=480),
        ]
    )
    name = mido.MidiTrack([mido.MetaMessage("track_name", name="song", time=0)])
    path = tmp_path / "tempo_in_track_1.mid"
    midi = mido.MidiFile(type=1, ticks_per_beat=480, tracks=[name, notes])
    midi.save(path)
    got = read_midi(path)
    assert [(n.pitch, n.onset, n.offset) for n in got] == [
        (60, pytest.approx(2.0), pytest.approx(3.0)),
        (62, pytest.approx(5.0), pytest.approx(5.5)),
    ]
    assert got[-1].offset == pytest.approx(mido.MidiFile(path).length)  # mido's own timing


def _has_fluidsynth() -> bool:
    return shutil.which("fluidsynth") is not None and SOUNDFONT.is_file()


def _rendered(midi) -> np.ndarray:
    """FluidSynth's render of the MIDI file ``midi`` at 16 kHz (T,), mono, written beside it
    as a WAV: how a synthesiser plays the file."""
    wav = midi.with_suffix(".wav")
    command = ["fluidsynth", "-ni", "-q", "-r", str(FLUID_RATE), "-T", "wav", "-F", str(wav)]
    subprocess.run([*command, str(SOUNDFONT), str(midi)], check=True, timeout=120)
    audio, _ = sf.read(wav)
    return audio.mean(axis=1) if audio.ndim > 1 else audio


def _silent_from(midi) -> float:
    """Seconds from which FluidSynth's render of ``midi`` stays 30 dB under its loudest
    50-ms frame: where the file's last note stops sounding."""
    mono = _rendered(midi)
    level = np.sqrt(np.mean(mono[: len(mono) // 800 * 800].reshape(-1, 800) ** 2, axis=1))
    return float(np.argmax(level < level.max() / 30) * 800 / FLUID_RATE)


def _pedalled(tmp_path, events: list[tuple[float, mido.Message]]) -> list[Note]:
    """The notes of a one-track file of ``events`` at (seconds, message), 120 bpm."""
    track, previous = mido.MidiTrack(), 0
    for seconds, message in sorted(events, key=lambda e: e[0]):
        tick = round(seconds * 960)  # 480 ticks a beat, 2 beats a second
        track.append(message.copy(time=tick - previous))
        previous = tick
    path = tmp_path / "pedal.mid"
    mido.MidiFile(type=0, ticks_per_beat=480, tracks=[track]).save(path)
    return read_midi(path)


def _key(seconds: float, pitch: int, down: bool, channel: int = 0) -> tuple[float, mido.Message]:
    kind = "note_on" if down else "note_off"
    return seconds, mido.Message(kind, note=pitch, velocity=90, channel=channel)


def _pedal(seconds: float, value: int, channel: int = 0) -> tuple[float, mido.Message]:
    return seconds, mido.Message("control_change", control=64, value=value, channel=channel)


def test_the_sustain_pedal_holds_released_keys_until_it_lifts(tmp_path):
    events = [
        _pedal(0.1, 127),
        *(_key(0.0, 60, True), _key(0.25, 60, False)),  # released under the pedal: to 1.0
        *(_key(0.3, 64, True), _key(0.5, 64, False)),  # likewise
        *(_key(0.6, 60, True), _key(0.7, 60, False)),  # C4 struck again: the first ends here
        _pedal(1.0, 0),
        *(_key(1.2, 67, True), _key(1.4, 67, False)),  # pedal up: as played
        *(_key(0.2, 36, True, channel=9), _key(0.3, 36, False, channel=9)),  # a drum: a hit
    ]
    got = [(n.pitch, n.onset, n.offset) for n in _pedalled(tmp_path, events)]
    assert got == [
        (60, 0.0, pytest.approx(0.6)),
        (36, pytest.approx(0.2), pytest.approx(0.3)),
        (64, pytest.approx(0.3), pytest.approx(1.0)),
        (60, pytest.approx(0.6), pytest.approx(1.0)),
        (67, pytest.approx(1.2), pytest.approx(1.4)),
    ]


def test_the_sostenuto_pedal_holds_only_the_keys_down_as_it_goes_down(tmp_path):
    """Controller 66 (it was ignored: C4 read 0-0.25 s where FluidSynth holds it to 2.25 s)."""
    lead = mido.Message("program_change", program=80)  # a square lead: no decay while held

    def sostenuto(seconds: float, value: int) -> tuple[float, mido.Message]:
        return seconds, mido.Message("control_change", control=66, value=value)

    events = [(0.0, lead), _key(0.0, 60, True), sostenuto(0.1, 127), _key(0.25, 60, False)]
    events += [_key(0.5, 64, True), _key(0.75, 64, False), sostenuto(2.25, 0)]  # struck after
    events += [_key(3.0, 72, True), _key(3.5, 72, False)]
    got = [(n.pitch, n.onset, n.offset) for n in _pedalled(tmp_path, events)]
    assert got == [
        (60, 0.0, pytest.approx(2.25)),
        (64, pytest.approx(0.5), pytest.approx(0.75)),
        (72, pytest.approx(3.0), pytest.approx(3.5)),
    ]
    if not _has_fluidsynth():
        return
    silent_from = _silent_from(tmp_path / "pedal.mid")
    assert silent_from == pytest.approx(2.25, abs=0.2)


def test_a_half_pedal_is_up_and_a_pedal_never_lifted_holds_to_the_end(tmp_path):
    events = [
        _pedal(0.0, 63),  # below 64: up
        *(_key(0.0, 60, True), _key(0.2, 60, False)),
        _pedal(0.5, 64),
        *(_key(0.5, 62, True), _key(0.7, 62, False)),  # held to the file's last event
        *(_key(1.5, 64, True), _key(2.0, 64, False)),
    ]
    got = [(n.pitch, n.onset, n.offset) for n in _pedalled(tmp_path, events)]
    assert got == [
        (60, 0.0, pytest.approx(0.2)),
        (62, pytest.approx(0.5), pytest.approx(2.0)),
        (64, pytest.approx(1.5), pytest.approx(2.0)),
    ]


def _ending_at(tmp_path, events: list[tuple[float, mido.Message]], end: float) -> list[Note]:
    """``_pedalled``, the track's end (end_of_track) ``end`` seconds into the file."""
    track, previous = mido.MidiTrack(), 0
    for seconds, message in sorted(events, key=lambda e: e[0]):
        tick = round(seconds * 960)
        track.append(message.copy(time=tick - previous))
        previous = tick
    track.append(mido.MetaMessage("end_of_track", time=round(end * 960) - previous))
    path = tmp_path / "ending.mid"
    mido.MidiFile(type=0, ticks_per_beat=480, tracks=[track]).save(path)
    assert mido.MidiFile(path).length == pytest.approx(end)
    return read_midi(path)


def test_a_key_never_released_sounds_to_the_end_of_the_file(tmp_path):
    """As a player plays it (FluidSynth holds the key until the file ends), not dropped."""
    events = [_key(0.0, 60, True), _key(0.5, 60, False), _key(0.5, 64, True)]
    got = [(n.pitch, n.onset, n.offset) for n in _ending_at(tmp_path, events, 3.0)]
    assert got == [(60, 0.0, pytest.approx(0.5)), (64, pytest.approx(0.5), pytest.approx(3.0))]
    alone = _ending_at(tmp_path, [_key(1.0, 67, True)], 1.0)  # struck at the very end
    assert [(n.pitch, n.onset) for n in alone] == [(67, pytest.approx(1.0))]


def test_a_pedal_never_lifted_holds_to_the_end_of_the_file_not_its_last_note(tmp_path):
    events = [
        _pedal(0.0, 127),
        *(_key(0.0, 60, True), _key(0.1, 60, False)),
        *(_key(2.0, 64, True), _key(2.1, 64, False)),
    ]
    got = [(n.pitch, n.onset, n.offset) for n in _ending_at(tmp_path, events, 6.1)]
    assert got == [  # not cut at 2.1 s, the last release: the file plays on to 6.1 s
        (60, 0.0, pytest.approx(6.1)),
        (64, pytest.approx(2.0), pytest.approx(6.1)),
    ]


RESTRUCK = [  # C4 struck again while it sounds, then released twice
    *(_key(0.0, 60, True), _key(0.5, 60, True), _key(1.0, 60, False), _key(2.0, 60, False)),
]


def test_a_key_struck_while_it_sounds_is_one_note_at_a_time(tmp_path):
    events = [
        *RESTRUCK,
        *(_key(3.0, 62, True), _key(3.5, 62, True), _key(3.5, 62, False)),  # on, then off
        _key(4.0, 62, False),  # D4 struck again at 3.5, the release of the first after it
        *(_key(5.0, 64, True), _key(5.0, 64, True), _key(5.5, 64, False)),  # two voices
        _key(6.0, 64, False),
    ]
    got = [(n.pitch, n.onset, n.offset) for n in _pedalled(tmp_path, events)]
    assert got == [
        (60, 0.0, pytest.approx(0.5)),  # pretty_midi alone: 0.0-1.0 over 0.5-1.0 (two voices)
        (60, pytest.approx(0.5), pytest.approx(1.0)),  # the first release ends the key
        (62, pytest.approx(3.0), pytest.approx(3.5)),
        (62, pytest.approx(3.5), pytest.approx(4.0)),
        (64, pytest.approx(5.0), pytest.approx(5.5)),  # one note, not two
    ]


def test_a_restruck_key_reads_as_fluidsynth_plays_it(tmp_path):
    """The demo corpus's recordings are FluidSynth's renders of their MIDI files: the notes
    read from a file must stop where its render falls silent."""
    if not _has_fluidsynth():
        pytest.skip("needs fluidsynth and the FluidR3_GM soundfont (make system-deps)")
    lead = mido.Message("program_change", program=80)  # a square lead: no decay while held
    notes = _pedalled(tmp_path, [(0.0, lead), *RESTRUCK])
    silent_from = _silent_from(tmp_path / "pedal.mid")
    assert max(n.offset for n in notes) == pytest.approx(1.0)
    assert silent_from == pytest.approx(1.0, abs=0.2)  # not 2.0: the first release ended it


def _tracks(path, *tracks: list[tuple[float, mido.Message]]) -> None:
    """A format-1 file at ``path`` of one track per list of (seconds, message), 120 bpm."""
    midi = mido.MidiFile(type=1, ticks_per_beat=480)
    for events in tracks:
        track, previous = mido.MidiTrack(), 0
        for seconds, message in sorted(events, key=lambda e: e[0]):
            tick = round(seconds * 960)
            track.append(message.copy(time=tick - previous))
            previous = tick
        midi.tracks.append(track)
    midi.save(path)


def test_a_pedal_in_a_track_of_its_own_holds_its_channels_notes(tmp_path):
    """Notation programs and DAWs write the pedal in a track of its own or with one hand:
    it holds every track's keys on its channel, as in one track (it was dropped)."""
    right = [*(_key(0.0, 72, True), _key(0.2, 72, False))]
    left = [*(_key(0.0, 48, True), _key(0.3, 48, False))]
    strings = [*(_key(0.0, 55, True, channel=1), _key(0.4, 55, False, channel=1))]
    pedal = [_pedal(0.1, 127), _pedal(1.5, 0)]
    _tracks(tmp_path / "apart.mid", right, left, strings, pedal)
    _tracks(tmp_path / "with_left.mid", right, left + pedal, strings)
    _tracks(tmp_path / "together.mid", right + left + pedal, strings)
    got = [(n.pitch, n.offset) for n in read_midi(tmp_path / "apart.mid")]
    assert got == [(48, pytest.approx(1.5)), (55, pytest.approx(0.4)), (72, pytest.approx(1.5))]
    assert read_midi(tmp_path / "with_left.mid") == read_midi(tmp_path / "apart.mid")
    assert read_midi(tmp_path / "together.mid") == read_midi(tmp_path / "apart.mid")
    if not _has_fluidsynth():
        return
    apart, together = (_rendered(tmp_path / f"{name}.mid") for name in ("apart", "together"))
    assert np.allclose(apart, together, atol=1e-3)  # FluidSynth holds them alike


def test_all_notes_off_releases_its_channels_keys_as_fluidsynth_plays_it(tmp_path):
    """A sequencer's All Notes Off (controller 123) in place of the releases: the keys
    of its channel stop there (they were held to the file's end, 2.5 s too long)."""
    off = lambda control, channel: mido.Message(  # noqa: E731
        "control_change", control=control, value=0, channel=channel
    )
    lead = mido.Message("program_change", program=80)  # a square lead: no decay while held
    events = [(0.0, lead), _key(0.0, 60, True), _key(0.0, 64, True), _key(0.0, 67, True, 1)]
    events += [(0.5, off(123, 0)), _key(0.5, 62, True), (0.7, off(120, 0))]  # 62: struck then
    events += [_key(2.0, 72, True), _key(3.0, 72, False), _key(3.0, 67, False, 1)]
    got = [(n.pitch, n.onset, n.offset) for n in _pedalled(tmp_path, events)]
    assert got == [
        (60, 0.0, pytest.approx(0.5)),
        (64, 0.0, pytest.approx(0.5)),
        (67, 0.0, pytest.approx(3.0)),  # another channel: played on
        (62, pytest.approx(0.5), pytest.approx(0.7)),
        (72, pytest.approx(2.0), pytest.approx(3.0)),
    ]
    if not _has_fluidsynth():
        return
    _pedalled(tmp_path, [e for e in events if e[1].channel == 0])  # silent at 0.7 to 2.0 s
    silent_from = _silent_from(tmp_path / "pedal.mid")
    assert silent_from == pytest.approx(0.7, abs=0.2)  # not the file's end


def _control(number: int, value: int = 0, channel: int = 0) -> mido.Message:
    return mido.Message("control_change", control=number, value=value, channel=channel)


def test_all_sound_off_silences_pedalled_notes_all_notes_off_leaves_them_to_the_pedal(tmp_path):
    """General MIDI, as FluidSynth plays it: All Notes Off (123) releases the keys, which
    the sustain pedal down holds to its lift; All Sound Off (120) silences the channel at
    once, pedal or not (its pedalled notes were held to the lift, 1.5 s too long). The
    pedal stays down: a key struck after it is held again."""
    lead = mido.Message("program_change", program=80)  # a square lead: no decay while held
    pedalled = [(0.0, lead), _pedal(0.1, 127), _key(0.0, 60, True), _key(0.3, 60, False)]
    pedalled += [_key(0.2, 64, True), _key(1.0, 64, False), _pedal(2.0, 0)]  # E4 down at 0.5

    def read(control: int, *more: tuple[float, mido.Message]) -> list[tuple[int, float]]:
        notes = _pedalled(tmp_path, [*pedalled, (0.5, _control(control)), *more])
        return [(n.pitch, n.offset) for n in notes]

    again = (_key(0.7, 67, True), _key(0.8, 67, False))
    assert read(123, *again) == [(60, 2.0), (64, 2.0), (67, 2.0)]
    assert read(120, *again) == [(60, 0.5), (64, 0.5), (67, 2.0)]
    if not _has_fluidsynth():
        return
    for control, silent in ((123, 2.0), (120, 0.5)):
        read(control)  # without G4: silent from where the last note stops
        assert _silent_from(tmp_path / "pedal.mid") == pytest.approx(silent, abs=0.2)


def test_reset_all_controllers_lifts_the_pedals_and_centres_the_wheel(tmp_path):
    """Controller 121, as FluidSynth plays it (General MIDI's RP-015): the pedals lift, so
    a key released under them stops there (read alone it held C4 to the end of the file,
    2.2 s too long), and the wheel is centred, so a later note is in tune."""
    lead = mido.Message("program_change", program=80)  # a square lead: no decay while held
    wheel = lambda value: mido.Message("pitchwheel", pitch=value)  # noqa: E731
    pedalled = [(0.0, lead), _pedal(0.1, 127), _key(0.0, 60, True), _key(0.3, 60, False)]
    pedalled += [(0.8, _control(121)), (3.0, _control(7, 100))]  # the file lasts 3 s
    notes = _pedalled(tmp_path, pedalled)
    assert [(n.pitch, n.offset) for n in notes] == [(60, pytest.approx(0.8))]
    if _has_fluidsynth():
        assert _silent_from(tmp_path / "pedal.mid") == pytest.approx(0.8, abs=0.2)
    bent = [_key(0.0, 64, True), (0.2, wheel(8191)), _key(0.3, 64, False)]
    bent += [(0.4, _control(121)), _key(0.5, 67, True), _key(0.7, 67, False)]
    _pedalled(tmp_path, bent)
    assert [n.pitch for n in read_score(tmp_path / "pedal.mid")[1]] == [64]


CONTROLS = {  # controllers some sequencers write in a track of their own: the notes they make
    "sostenuto": ([(0.1, _control(66, 127)), (2.0, _control(66, 0))], [2.0, 2.5]),
    "all notes off": ([(0.5, _control(123))], [0.3, 0.5]),
    "all sound off": ([(0.5, _control(120))], [0.3, 0.5]),
}


@pytest.mark.parametrize("controls, offsets", CONTROLS.values(), ids=CONTROLS.keys())
def test_controllers_in_another_track_act_on_their_channels_notes(tmp_path, controls, offsets):
    """A format-1 file's controllers act on their channel whatever track carries them, as
    FluidSynth plays it (they acted only on the notes of their own track: none)."""
    lead = mido.Message("program_change", program=80)
    notes = [(0.0, lead), _key(0.0, 60, True), _key(0.3, 60, False), _key(0.2, 64, True)]
    notes.append(_key(2.5, 64, False))
    _tracks(tmp_path / "apart.mid", [], notes, controls)
    _tracks(tmp_path / "together.mid", [], notes + controls)
    apart = read_midi(tmp_path / "apart.mid")
    assert [n.offset for n in apart] == pytest.approx(offsets)
    assert apart == read_midi(tmp_path / "together.mid")
    if not _has_fluidsynth():
        return
    rendered = [_rendered(tmp_path / f"{name}.mid") for name in ("apart", "together")]
    assert np.allclose(*rendered, atol=1e-3)  # FluidSynth plays them alike


def test_a_bend_and_its_range_in_another_track_bend_their_channels_notes(tmp_path):
    """A bend range (RPN 0) or the pitch wheel itself in a controller track: E4 bent 3
    semitones at range 12 is named (it was not: the range and the wheel were read with
    the notes of their own track alone)."""
    rpn = [(0.0, _control(101, 0)), (0.0, _control(100, 0)), (0.0, _control(6, 12))]
    wheel = [(0.2, mido.Message("pitchwheel", pitch=2048))]
    played = [_key(0.0, 64, True), _key(0.5, 64, False)]
    for split in ([played + wheel, rpn], [played, rpn + wheel], [played + rpn, wheel]):
        _tracks(tmp_path / "bend.mid", [], *split)
        assert [(n.pitch, n.onset) for n in read_score(tmp_path / "bend.mid")[1]] == [(64, 0.0)]


def test_a_note_released_at_its_strike_sounds_as_a_strike(tmp_path):
    events = [_key(0.2, 60, True), _key(0.2, 60, False), _key(0.4, 64, True), _key(0.6, 64, False)]
    got = [(n.pitch, n.onset, n.offset) for n in _pedalled(tmp_path, events)]
    assert got == [
        (60, pytest.approx(0.2), pytest.approx(0.2, abs=1 / 960)),  # one tick long, not lost
        (64, pytest.approx(0.4), pytest.approx(0.6)),
    ]
    roll = piano_roll(_pedalled(tmp_path, events), hop=160, sample_rate=16000, frames=30)
    assert roll[20, 60 - PIANO_RANGE[0]] > 0  # its frame sounds


def test_a_long_file_at_a_fine_resolution_reads_in_time(tmp_path):
    """Six minutes at 15,360 ticks a beat run past 10 million ticks, which pretty_midi
    refuses as "likely corrupt": read at coarser ticks, every note within a tick of 1 ms."""
    track = mido.MidiTrack()
    for k in range(180):  # a note every 2 s (4 beats at 120 bpm), half a second long
        track.append(mido.Message("note_on", note=60 + k % 12, velocity=80, time=k and 3 * 15360))
        track.append(mido.Message("note_off", note=60 + k % 12, time=15360))
    path = tmp_path / "long.mid"
    mido.MidiFile(type=0, ticks_per_beat=15360, tracks=[track]).save(path)
    got = read_midi(path)
    assert len(got) == 180
    assert all(n.onset == pytest.approx(2.0 * k, abs=1e-3) for k, n in enumerate(got))
    assert all(n.offset - n.onset == pytest.approx(0.5, abs=1e-3) for n in got)


def test_a_file_whose_notes_need_no_pairing_is_read_as_written():
    written = midi_bytes(some_notes())
    assert as_played(written) is written


def _with_key_signature(data: bytes, sharps: int, mode: int) -> bytes:
    """``data`` (a format-1 file) with a key signature event of ``sharps`` (negative:
    flats, one signed byte) and ``mode`` at the start of its first track."""
    midi = mido.MidiFile(file=io.BytesIO(data))
    midi.tracks[0].insert(0, mido.MetaMessage("key_signature", key="D"))  # FF 59 02 02 00
    buffer = io.BytesIO()
    midi.save(file=buffer)
    written = buffer.getvalue()
    assert written.count(b"\xff\x59\x02\x02\x00") == 1
    return written.replace(b"\xff\x59\x02\x02\x00", bytes([0xFF, 0x59, 2, sharps & 0xFF, mode]))


@pytest.mark.parametrize(("sharps", "mode"), [(-18, 1), (9, 0), (2, 5)])
def test_a_key_signature_naming_no_key_leaves_the_notes_readable(tmp_path, sharps, mode):
    """Files in the wild carry key signatures of "18 flats and mode 1" (pretty-midi issue
    165, mido issue 235; found here by fuzzing): mido raised KeySignatureError, which no
    reader caught, and `render` ended in a traceback for a file whose notes are fine. The
    key signature is notation: the notes read as they do without it."""
    written = midi_bytes(some_notes())
    path = tmp_path / "odd_key.mid"
    path.write_bytes(_with_key_signature(written, sharps, mode))
    assert path.read_bytes() != written
    assert read_midi(path) == read_midi(write_midi(tmp_path / "plain.mid", some_notes()))
    assert read_midi(path)  # the notes themselves, read


# --- bad input ---------------------------------------------------------------------------------


def tempo_zero_midi(track: int) -> bytes:
    """A format-1 file of one note whose track ``track`` sets a tempo of 0 (after a beat
    in track 1)."""
    midi = mido.MidiFile(type=1, ticks_per_beat=480)
    for _ in range(2):
        midi.tracks.append(mido.MidiTrack())
    midi.tracks[1] += [
        mido.Message("note_on", note=60, velocity=80),
        mido.Message("note_off", note=60, time=960),
    ]
    midi.tracks[track].insert(0, mido.MetaMessage("set_tempo", tempo=0, time=480 * track))
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


def one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text
    return text


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "is empty"),
        (b"MThd\x00\x00\x00\x06\x00\x01\x00", "not a readable MIDI file"),  # cut short
        (b"RIFF....WAVEfmt ", "not a readable MIDI file"),  # another format
        (midi_bytes([Note(0, 1, 60)])[:-9], "not a readable MIDI file"),  # last track cut
        (b"MThd\x00\x00\x00\x06\x00\x01\x00\x00\x01\xe0", "the file has no tracks"),
        (b"MThd\x00\x00\x00\x06\x00\x02" + midi_bytes([Note(0, 1, 60)])[10:], "format 2"),
        (  # 25 frames a second, 40 ticks a frame: SMPTE time, not ticks a beat
            midi_bytes([Note(0, 1, 60)])[:12] + b"\xe7\x28" + midi_bytes([Note(0, 1, 60)])[14:],
            "SMPTE time",
        ),
        (tempo_zero_midi(track=0), "a tempo of 0"),  # pretty_midi divided by it
        (tempo_zero_midi(track=1), "a tempo of 0"),  # in another track, later
    ],
)
def test_an_empty_or_corrupt_file_isone_line(tmp_path, content, expected):
    path = tmp_path / "bad.mid"
    path.write_bytes(content)
    with pytest.raises(UserError) as exc:
        read_midi(path)
    assert expected in one_line(exc) and str(path) in str(exc.value)


def test_a_file_without_notes_isone_line(tmp_path):
    path = tmp_path / "silent.mid"
    path.write_bytes(midi_bytes([]))
    with pytest.raises(UserError, match="has no notes") as exc:
        read_midi(path)
    one_line(exc)


@pytest.mark.parametrize("make", [lambda p: None, lambda p: p.mkdir()], ids=["missing", "folder"])
def test_a_missing_file_or_a_folder_isone_line(tmp_path, make):
    path = tmp_path / "song.mid"
    make(path)
    with pytest.raises(UserError, match=r"song\.mid") as exc:
        read_midi(path)
    one_line(exc)


def test_writing_into_a_folder_is_one_line_and_leaves_it(tmp_path):
    with pytest.raises(UserError, match="is a directory") as exc:
        write_midi(tmp_path, some_notes())
    one_line(exc)
    assert tmp_path.is_dir()


@pytest.mark.parametrize(
    "fields",
    [(1.0, 0.5, 60, 100), (-0.1, 0.5, 60, 100), (0, 1, 128, 100), (0, 1, 60, 0), (0, 1, 60, 128)],
)
def test_an_impossible_note_is_refused(fields):
    with pytest.raises(ValueError, match="expected"):
        Note(*fields)


def test_notes_under_a_pitch_bend_over_a_semitone_are_named(tmp_path):
    """A guitar bend of a whole tone sounds F#4 where the file writes E4: said, not played."""
    pitch = lambda value: mido.Message("pitchwheel", pitch=value)  # noqa: E731
    events = [
        *(_key(0.0, 64, True), _key(0.5, 64, False)),  # bent a whole tone from 0.2 s
        (0.2, pitch(8191)),
        (0.45, pitch(0)),
        *(_key(0.6, 67, True), _key(0.8, 67, False)),  # a slight bend: in tune enough
        (0.65, pitch(2000)),
        (0.75, pitch(0)),
    ]
    _pedalled(tmp_path, events)  # writes tmp_path / "pedal.mid"
    notes, bent = read_score(tmp_path / "pedal.mid")
    assert [(n.pitch, n.onset) for n in bent] == [(64, 0.0)]
    assert notes == read_midi(tmp_path / "pedal.mid") and len(notes) == 2


def test_a_bend_range_the_file_sets_scales_the_bends_named(tmp_path):
    """A guitar track sets the wheel's range to 12 semitones (registered parameter 0):
    a quarter of the wheel is 3 semitones, named (it was not: read at 2 semitones); at a
    range of 1 semitone a full wheel is not over one; data entry after the null parameter
    (127, 127) sets nothing."""
    pitch = lambda value: mido.Message("pitchwheel", pitch=value)  # noqa: E731
    control = lambda number, value: mido.Message("control_change", control=number, value=value)  # noqa: E731

    def bent(semitones: int, wheel: int) -> list[tuple[int, float]]:
        rpn = [(0.0, control(101, 0)), (0.0, control(100, 0)), (0.0, control(6, semitones))]
        unset = [(0.1, control(101, 127)), (0.1, control(100, 127)), (0.1, control(6, 2))]
        events = [_key(0.0, 64, True), (0.2, pitch(wheel)), _key(0.5, 64, False)]
        _pedalled(tmp_path, [*rpn, *unset, *events])
        return [(n.pitch, n.onset) for n in read_score(tmp_path / "pedal.mid")[1]]

    assert bent(12, 2048) == [(64, 0.0)]
    assert bent(12, 600) == []  # 0.9 semitones
    assert bent(1, 8191) == []
    assert bent(2, 8191) == [(64, 0.0)]


def test_data_entry_after_a_non_registered_parameter_leaves_the_bend_range(tmp_path):
    """A synth's own parameter (NRPN, controllers 99 and 98) set after RPN 0: its data entry
    of 12 was read as a range of 12 semitones, and a full wheel of a 1-semitone range
    named as bent."""
    pitch = lambda value: mido.Message("pitchwheel", pitch=value)  # noqa: E731
    control = lambda number, value: mido.Message("control_change", control=number, value=value)  # noqa: E731
    rpn = [(0.0, control(101, 0)), (0.0, control(100, 0)), (0.0, control(6, 1))]
    nrpn = [(0.1, control(99, 1)), (0.1, control(98, 8)), (0.1, control(6, 12))]
    events = [_key(0.0, 64, True), (0.2, pitch(8191)), _key(0.5, 64, False)]
    _pedalled(tmp_path, [*rpn, *nrpn, *events])
    assert read_score(tmp_path / "pedal.mid")[1] == []
