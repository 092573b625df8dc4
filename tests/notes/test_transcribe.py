"""Transcription: basic-pitch's decoding on made-up activations, and the whole path (model
included) on a FluidSynth piano render of known notes, scored with mir_eval; the level gate
on a made-up tone and on noise; the cache; ``wavenet-music transcribe`` and its bad inputs
(one line, exit 2, nothing written)."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import mir_eval
import numpy as np
import pytest
import soundfile as sf

from wavenet_music.audio.io import load_audio, write_wav
from wavenet_music.cli import main
from wavenet_music.config import UserError
from wavenet_music.demo_corpus.sources import SOUNDFONT
from wavenet_music.notes import transcribe as tr
from wavenet_music.notes.midi import Note, read_midi, write_midi
from wavenet_music.runs import file_identity

from ..conftest import replaced_keeping_its_times

# A melody over two chords, 5 s at 100 bpm (0.3 s a step), piano velocities.
MELODY = [60, 62, 64, 65, 67, 65, 64, 62, 60, 67, 72, 71, 69, 67]
KNOWN_NOTES = (
    [Note(0.2 + 0.3 * i, 0.2 + 0.3 * i + 0.28, p, 90) for i, p in enumerate(MELODY)]
    + [Note(0.2, 2.0, p, 70) for p in (48, 55)]
    + [Note(2.6, 4.4, p, 70) for p in (43, 50)]
)


def note_f1(reference: list[Note], estimate: list[Note]) -> float:
    """mir_eval's note F1: pitch and onset (50 ms) must match, offsets ignored."""

    def arrays(notes):
        intervals = np.array([[n.onset, n.offset] for n in notes]).reshape(-1, 2)
        return intervals, mir_eval.util.midi_to_hz(np.array([n.pitch for n in notes]))

    *_, f1, _ = mir_eval.transcription.precision_recall_f1_overlap(
        *arrays(reference), *arrays(estimate), onset_tolerance=0.05, offset_ratio=None
    )
    return f1


@pytest.fixture(scope="module")
def piano_clip(tmp_path_factory) -> Path:
    """``KNOWN_NOTES`` rendered by FluidSynth with the FluidR3 piano (as the demo corpus
    renders its scores)."""
    if shutil.which("fluidsynth") is None or not SOUNDFONT.is_file():
        pytest.skip("needs fluidsynth and the FluidR3_GM soundfont (make system-deps)")
    folder = tmp_path_factory.mktemp("piano")
    midi, wav = folder / "known.mid", folder / "known.wav"
    write_midi(midi, KNOWN_NOTES)
    command = ["fluidsynth", "-ni", "-q", "-r", "44100", "-T", "wav", "-F", str(wav)]
    subprocess.run([*command, str(SOUNDFONT), str(midi)], check=True, timeout=120)
    return wav


# --- the decoding, without the model -----------------------------------------------------------


def test_frame_times_are_exact_across_the_windows():
    """Frame 141 is the last kept of the first window, frame 142 the first of the second,
    which starts STEP samples later."""
    times = tr.frame_times(300)
    assert times[1] == pytest.approx(tr.HOP / tr.SAMPLE_RATE)
    assert times[141] == pytest.approx(141 * tr.HOP / tr.SAMPLE_RATE)
    assert times[142] == pytest.approx(tr.STEP / tr.SAMPLE_RATE)
    assert tr.STEP == tr.KEPT_FRAMES * tr.HOP - 188  # windows overlap a little more


def test_the_windows_start_half_an_overlap_early_and_cover_the_audio():
    audio = np.arange(1, 400_001, dtype=np.float32)
    batches = list(tr.windows(audio))
    assert [len(b) for b in batches] == [tr.BATCH, 12 - tr.BATCH]
    windows = np.concatenate(batches)  # (W, WINDOW, 1)
    half = tr.OVERLAP_FRAMES // 2 * tr.HOP
    assert not windows[0, :half].any() and windows[0, half, 0] == 1
    assert [windows[w, 0, 0] for w in (1, 8)] == [tr.STEP - half + 1, 8 * tr.STEP - half + 1]
    assert tr.KEPT_FRAMES * len(windows) >= -(-audio.size // tr.HOP)


def test_windows_of_pieces_of_any_size_are_the_windows_of_the_whole():
    """Streamed pieces (empty, one sample, longer than a window) give the windows the
    formula gives for the whole: ``padded[w * STEP : w * STEP + WINDOW]``, padded with
    silence; samples past ``size`` (a file that grew) are left out."""
    rng = np.random.default_rng(3)
    audio = rng.standard_normal(300_001).astype(np.float32)
    padded = np.concatenate([np.zeros(tr.LEAD, np.float32), audio, np.zeros(tr.WINDOW)])
    starts = range(0, tr.LEAD + audio.size, tr.STEP)
    expected = np.stack([padded[s : s + tr.WINDOW] for s in starts])[..., None]
    cuts = np.sort(rng.integers(0, audio.size, 40))
    pieces = [audio[:0], audio[:1], *np.split(audio[1:], cuts[cuts > 1] - 1), rng.random(999)]
    streamed = np.concatenate(list(tr.stream_windows(pieces, audio.size)))
    np.testing.assert_array_equal(streamed, expected)
    np.testing.assert_array_equal(np.concatenate(list(tr.windows(audio))), expected)


def test_levels_heard_window_by_window_are_the_frame_levels():
    """``window_levels`` of each batch of windows, laid end to end, read what
    ``frame_levels`` reads on the whole audio, at its edges and across windows."""
    audio = tone(2.0, 0.5, start=0.0, total=9.0) + noise(-70, 9 * tr.SAMPLE_RATE)
    audio[-1000:] = 0.0
    frames, done, levels = -(-audio.size // tr.HOP), 0, []
    for batch in tr.windows(audio):
        levels.append(tr.window_levels(batch[..., 0], done, audio.size))
        done += len(batch) * tr.KEPT_FRAMES
    heard = np.concatenate(levels)[:frames]
    np.testing.assert_allclose(heard, tr.frame_levels(audio, frames), atol=1e-6)
    assert heard.max() > -20 and heard.min() < -60  # the tone and the noise alone


def naive_melodia(notes, energy, threshold, shortest):
    """basic-pitch's melodia trick as written: the whole array's argmax, note by note."""
    events = []
    while energy.max() > threshold:
        middle, key = np.unravel_index(int(np.argmax(energy)), energy.shape)
        energy[middle, key] = 0.0
        stop, under = tr._walk(energy, middle + 1, key, +1, threshold, True)
        end = stop - 1 - under
        stop, under = tr._walk(energy, middle - 1, key, -1, threshold, True)
        first = stop + 1 + under
        if end - first > shortest:
            events.append((int(first), int(end), int(key), float(notes[first:end, key].mean())))
    return events


@pytest.mark.parametrize("frames", [1, 3, 700, 2 * tr.MAXIMA_BLOCK])
def test_the_melodia_trick_in_blocks_finds_what_the_whole_array_argmax_finds(frames):
    """Activations in steps of 0.05 (many ties: the first largest must come first), held
    notes across blocks, a note at each end."""
    rng = np.random.default_rng(frames)
    notes = np.round(rng.random((frames, 88)) ** 6 / 0.05) * 0.05
    notes[frames // 3 :, 40] = 0.9
    notes[0, 3] = notes[-1, 80] = 0.95
    for threshold in (0.3, 0.6):
        ours = tr._melodia(notes, notes.astype(np.float64), threshold, 3)
        assert ours == naive_melodia(notes, notes.astype(np.float64), threshold, 3)
    assert frames < 700 or len(ours) > 10


def test_a_note_followed_into_the_next_block_leaves_no_stale_maximum():
    """A note grown across a block's edge clears that block's largest value (a
    neighbouring key): the next note is the strongest left anywhere (0.6, two blocks
    on), not what was strongest in that block (0.5)."""
    edge = tr.MAXIMA_BLOCK
    notes = np.zeros((3 * edge, 88))
    notes[edge - 56 : edge + 44, 40] = 0.8
    notes[edge - 6, 40] = 0.85  # the strongest: followed forward over the edge
    notes[edge + 34, 41] = 0.7  # block 1's largest, cleared by that walk
    notes[edge + 144 : edge + 164, 70] = 0.5
    notes[2 * edge + 20 : 2 * edge + 40, 71] = 0.6
    ours = tr._melodia(notes, notes.copy(), 0.3, 3)
    assert ours == naive_melodia(notes, notes.copy(), 0.3, 3)
    assert [key for *_, key, _ in ours] == [40, 71, 70]


def test_inferred_onsets_in_blocks_are_the_whole_array_formula():
    """The rise of the note activation, scaled to the onsets' maximum, worked out 7
    frames at a time: basic-pitch's whole-array formula to the bit."""
    rng = np.random.default_rng(5)
    notes = rng.random((100, 88)).astype(np.float32)
    onsets = (rng.random((100, 88)) * 0.7).astype(np.float32)
    padded = np.concatenate([np.zeros((2, 88)), notes])
    rise = np.maximum(np.min([padded[2:] - padded[1:-1], padded[2:] - padded[:-2]], axis=0), 0)
    rise[:2] = 0.0
    expected = np.maximum(onsets, onsets.max() * rise / rise.max())
    np.testing.assert_array_equal(tr.inferred_onsets(onsets, notes, block=7), expected)
    flat = np.ones((100, 88), np.float32)
    assert tr.inferred_onsets(onsets, flat) is onsets  # no rise anywhere


def tone(seconds: float, peak: float, start: float = 0.5, total: float = 6.0) -> np.ndarray:
    """(T,) ``total`` s at 22,050 Hz: A3 (MIDI 57) with 3 harmonics, decaying, ``seconds``
    long from ``start``, its largest sample ``peak``; silence elsewhere."""
    t = np.arange(int(seconds * tr.SAMPLE_RATE)) / tr.SAMPLE_RATE
    note = sum(np.sin(2 * np.pi * k * 220.0 * t) / k for k in (1, 2, 3)) * np.exp(-3 * t)
    note *= np.minimum(1, t / 0.005) * np.minimum(1, (seconds - t) / 0.02)  # no clicks
    audio = np.zeros(int(total * tr.SAMPLE_RATE), dtype=np.float32)
    first = int(start * tr.SAMPLE_RATE)
    audio[first : first + t.size] = peak * note / np.abs(note).max()
    return audio


def noise(dbfs: float, size: int, seed: int = 0) -> np.ndarray:
    """(size,) white noise whose RMS is ``dbfs``."""
    return (np.random.default_rng(seed).standard_normal(size) * 10 ** (dbfs / 20)).astype(
        np.float32
    )


UNGATED = tr.TranscriptionSettings(floor_dbfs=None, range_db=None)


def block(frames: int, key: int, start: int, end: int, value: float) -> np.ndarray:
    activation = np.zeros((frames, 88), dtype=np.float32)
    activation[start:end, key] = value
    return activation


def test_an_onset_followed_by_a_held_key_is_one_note():
    notes = block(100, 39, 10, 40, 0.8)
    onsets = block(100, 39, 10, 11, 0.9)
    events = tr.note_events(notes, onsets, tr.TranscriptionSettings())
    assert events == [(10, 40, 39, pytest.approx(0.8))]
    (note,) = tr.to_notes(events, 100)
    assert (note.pitch, note.velocity) == (60, round(0.8 * 127))


def test_a_held_key_without_an_onset_is_found_by_the_melodia_trick():
    notes = block(100, 39, 10, 40, 0.8)
    settings = tr.TranscriptionSettings(infer_onsets=False)
    assert tr.note_events(notes, np.zeros_like(notes), settings) == [
        (10, 39, 39, pytest.approx(0.8))
    ]
    no_melodia = tr.TranscriptionSettings(infer_onsets=False, melodia=False)
    assert tr.note_events(notes, np.zeros_like(notes), no_melodia) == []


def test_a_note_shorter_than_the_minimum_is_dropped():
    notes, onsets = block(100, 39, 10, 20, 0.8), block(100, 39, 10, 11, 0.9)
    assert tr.note_events(notes, onsets, tr.TranscriptionSettings(melodia=False)) == []


def test_silent_activations_give_no_notes_and_no_nan():
    zeros = np.zeros((50, 88), dtype=np.float32)
    assert tr.note_events(zeros, zeros, tr.TranscriptionSettings()) == []


def test_frame_levels_are_the_rms_in_dbfs_around_each_frame():
    """A sine of amplitude a has RMS a / sqrt(2); digital silence reads SILENCE_DB."""
    t = np.arange(3 * tr.SAMPLE_RATE) / tr.SAMPLE_RATE
    sine = (0.1 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    levels = tr.frame_levels(sine, 200)
    assert levels[1:-1] == pytest.approx(20 * np.log10(0.1 / np.sqrt(2)), abs=0.05)
    assert (tr.frame_levels(np.zeros(3000, dtype=np.float32), 12) == tr.SILENCE_DB).all()


def test_the_gate_keeps_a_note_that_reaches_the_floor_and_the_range():
    """Loudest frame -5 dBFS: the range (45 dB) asks -50; at -20 the floor (-55) rules."""
    events = [(0, 10, 39, 0.8), (10, 20, 40, 0.5), (20, 30, 41, 0.5)]
    levels = np.repeat([-5.0, -49.0, -51.0], 10)  # each note's loudest frame
    settings = tr.TranscriptionSettings()
    assert [e[2] for e in tr.audible(events, levels, settings)] == [39, 40]
    assert len(tr.audible(events, np.repeat([-20.0, -49.0, -51.0], 10), settings)) == 3
    assert len(tr.audible(events, np.repeat([-20.0, -54.0, -56.0], 10), settings)) == 2
    assert len(tr.audible(events, levels, replace(settings, range_db=None))) == 3
    assert tr.audible(events, levels - 60, UNGATED) == events


def test_notes_survive_their_cache_array():
    notes = [Note(0.5, 1.0, 60, 90), Note(1.0, 2.0, 36, 100, program=3, is_drum=True)]
    assert tr.notes_from_array(tr.notes_array(notes)) == notes
    assert tr.notes_array([]).shape == (0, 6)


def test_a_missing_model_is_one_line_naming_the_install(monkeypatch):
    monkeypatch.setattr(tr.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(UserError, match="pip install --no-deps basic-pitch"):
        tr.model_path()


# --- the model ---------------------------------------------------------------------------------


def test_silence_has_no_notes():
    assert tr.transcribe(np.zeros(3 * tr.SAMPLE_RATE, dtype=np.float32)) == []
    assert tr.transcribe(np.zeros(0, dtype=np.float32)) == []
    with pytest.raises(UserError, match=r"silent\.wav: the transcription found no notes"):
        tr.require_notes([], "silent.wav")


def test_a_loud_note_is_kept_and_noise_under_it_adds_no_note():
    """White noise at -80 dBFS over the 4.5 s of silence after a note: the model hears
    bass notes in it, the gate drops them; a quiet (-40 dBFS) note alone is kept."""
    audio = tone(1.0, 0.5)
    assert [n.pitch for n in tr.transcribe(audio)] == [57]
    noisy = audio + noise(-80, audio.size)
    assert any(n.onset > 2.0 for n in tr.transcribe(noisy, UNGATED))  # phantoms
    assert [n.pitch for n in tr.transcribe(noisy)] == [57]
    assert [n.pitch for n in tr.transcribe(tone(1.0, 0.01))] == [57]


def test_noise_alone_has_no_notes_and_the_error_names_its_level(tmp_path):
    audio = noise(-60, 6 * tr.SAMPLE_RATE)
    assert tr.transcribe(audio, UNGATED)  # what the gate is for
    assert tr.transcribe(audio) == []
    path = tmp_path / "hiss.wav"
    write_wav(path, audio, tr.SAMPLE_RATE)
    with pytest.raises(UserError, match=r"hiss\.wav: .*no notes.*loudest is -(59|60) dBFS"):
        tr.require_notes(tr.transcribe_file(path), path)


def test_a_note_shorter_than_the_shortest_kept_is_named_as_such(tmp_path):
    """A loud 0.1-s note is no silence: the error says what is wrong with it."""
    path = tmp_path / "blip.wav"
    write_wav(path, tone(0.1, 0.5, start=0.0, total=0.1), tr.SAMPLE_RATE)
    assert tr.transcribe_file(path) == []
    with pytest.raises(UserError, match=r"lasts 0\.1\d s, shorter than the shortest note"):
        tr.require_notes([], path)


def test_a_piano_render_is_transcribed_to_its_notes(piano_clip):
    notes = tr.transcribe_file(piano_clip)
    assert note_f1(KNOWN_NOTES, notes) >= 0.5
    assert all(21 <= n.pitch <= 108 for n in notes)


def test_a_recording_decoded_in_blocks_gives_the_notes_of_its_whole_audio(
    piano_clip, monkeypatch, capsys
):
    """``transcribe_file`` decodes in blocks of 65,536 frames and holds no whole audio,
    yet finds the notes ``transcribe`` finds in the whole decoded file; a long one shows
    a progress bar."""
    whole = tr.transcribe(load_audio(piano_clip, tr.SAMPLE_RATE))
    monkeypatch.setattr(tr, "LONG_SECONDS", 1.0)
    assert tr.transcribe_file(piano_clip) == whole and len(whole) >= 10
    assert f"transcribing {piano_clip.name}" in capsys.readouterr().err


def test_a_transcription_is_cached_by_file_and_settings(piano_clip, tmp_path, monkeypatch):
    first = tr.transcribe_file(piano_clip, tmp_path)
    (cache,) = tmp_path.glob("*.notes.npy")
    monkeypatch.setattr(tr, "transcribe_recording", lambda *a: pytest.fail("transcribed again"))
    assert tr.transcribe_file(piano_clip, tmp_path) == first
    monkeypatch.undo()
    other = tr.TranscriptionSettings(onset_threshold=0.6)
    tr.transcribe_file(piano_clip, tmp_path, other)
    assert len(list(tmp_path.glob("*.notes.npy"))) == 2
    cache.write_bytes(b"damaged")
    assert tr.transcribe_file(piano_clip, tmp_path) == first


def _key(path, settings) -> str:
    return tr._cache_key(file_identity(path), tr._model_digest(), settings)


def test_the_cache_key_changes_with_the_gate(tmp_path):
    """Transcriptions cached before the gate, or with other thresholds, are made again."""
    path = tmp_path / "a.wav"
    write_wav(path, np.zeros(100, dtype=np.float32), 16_000)
    gates = [(-55.0, 45.0), (-50.0, 45.0), (-55.0, 40.0), (None, 45.0), (-55.0, None)]
    settings = [tr.TranscriptionSettings(floor_dbfs=f, range_db=r) for f, r in gates]
    assert len({_key(path, s) for s in settings}) == len(gates)


def test_a_recording_replaced_with_its_old_modification_time_is_transcribed_again(tmp_path):
    """Another take of the same length copied over with ``cp -p`` has another key."""
    path = tmp_path / "a.wav"
    write_wav(path, np.zeros(100, dtype=np.float32), 16_000)
    settings = tr.TranscriptionSettings()
    before = _key(path, settings)
    take = tmp_path / "b.wav"
    write_wav(take, np.full(100, 0.5, dtype=np.float32), 16_000)
    replaced_keeping_its_times(path, lambda p: p.write_bytes(take.read_bytes()))
    assert _key(path, settings) != before


# --- the command -------------------------------------------------------------------------------


def test_the_command_writes_the_notes_as_midi(piano_clip, tmp_path, capsys):
    out = tmp_path / "notes.mid"
    assert main(["transcribe", str(piano_clip), "--out", str(out)]) == 0
    assert note_f1(KNOWN_NOTES, read_midi(out)) >= 0.5
    assert capsys.readouterr().out.startswith(f"{out}: ")


def _fails_with(capsys, argv: list[str], expected: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected in err, err


def test_the_command_refuses_silence_and_writes_nothing(tmp_path, capsys):
    silent, out = tmp_path / "silent.wav", tmp_path / "notes.mid"
    write_wav(silent, np.zeros(16_000, dtype=np.float32), 16_000)
    _fails_with(capsys, ["transcribe", str(silent), "--out", str(out)], "found no notes")
    assert not out.exists()


def test_the_command_refuses_audio_of_nan_and_says_nan_among_real_samples(tmp_path, capsys):
    """An all-NaN file was transcribed as silence ("found no notes (it is silent)"), and
    NaN/inf in a recording became silence without a word: said as ``--seed-audio`` says it."""
    nan, out = tmp_path / "nan.wav", tmp_path / "notes.mid"
    sf.write(nan, np.full(16_000, np.nan, dtype=np.float32), 16_000, subtype="FLOAT")
    expected = f"{nan}: no finite samples (all NaN or infinite): nothing to transcribe"
    _fails_with(capsys, ["transcribe", str(nan), "--out", str(out)], expected)
    assert not out.exists()
    holes = tmp_path / "holes.wav"
    audio = tone(1.0, 0.5, total=2.0)
    audio[-100:] = np.inf  # in the silence after the note
    sf.write(holes, audio, tr.SAMPLE_RATE, subtype="FLOAT")
    assert main(["transcribe", str(holes), "--out", str(out)]) == 0
    warning = f"warning: {holes}: 100 non-finite samples replaced by 0 (the recording)\n"
    assert capsys.readouterr().err == warning and [n.pitch for n in read_midi(out)] == [57]


@pytest.mark.parametrize("audio", ["missing.wav", "corrupt.wav"])
def test_the_command_refuses_bad_audio_in_one_line(tmp_path, capsys, audio):
    (tmp_path / "corrupt.wav").write_bytes(b"RIFF\x00\x00not audio")
    out = tmp_path / "notes.mid"
    _fails_with(capsys, ["transcribe", str(tmp_path / audio), "--out", str(out)], audio)
    assert not out.exists()


def test_the_command_refuses_a_folder_as_out_before_transcribing(tmp_path, capsys, monkeypatch):
    audio = tmp_path / "a.wav"
    write_wav(audio, np.zeros(100, dtype=np.float32), 16_000)
    monkeypatch.setattr(tr, "transcribe_file", lambda *a: pytest.fail("transcribed"))
    _fails_with(capsys, ["transcribe", str(audio), "--out", str(tmp_path)], "is a directory")


@pytest.mark.parametrize("name", ["notes.wav", "notes"])
def test_the_command_refuses_an_out_that_is_not_a_midi_name(tmp_path, capsys, monkeypatch, name):
    """``--out notes.wav`` got MIDI bytes under a WAV name; a bare ``--out notes`` is
    refused as ``features --out`` refuses one, naming both endings a MIDI file takes."""
    audio = tmp_path / "a.wav"
    write_wav(audio, np.zeros(100, dtype=np.float32), 16_000)
    monkeypatch.setattr(tr, "transcribe_file", lambda *a: pytest.fail("transcribed"))
    out = tmp_path / name
    expected = f"--out {out}: expected a MIDI path (a name ending in .mid or .midi)"
    _fails_with(capsys, ["transcribe", str(audio), "--out", str(out)], expected)
    assert not out.exists()
