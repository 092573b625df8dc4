"""A WaveNet steered by notes: the roll at frame rate and the excitation at audio rate.

Proves that the excitation is causal where it should be (each input hears the notes of
the sample it predicts, nothing later), that the incremental steps (eager and compiled)
equal the full forward pass with it, and that the data layer cuts windows whose notes
are exactly those of their audio (scores beside the recordings, transcriptions else).
"""

from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pytest
import soundfile as sf
import torch

from wavenet_music.audio.io import mu_law_decode, padded_slice
from wavenet_music.config import UserError, apply_overrides, load_preset
from wavenet_music.notes.excitation import CHANNELS, RecordingPhases, excitation, sounding
from wavenet_music.notes.features import CHANNELS as ROLL_CHANNELS
from wavenet_music.notes.features import NoteStore, read_notes
from wavenet_music.notes.midi import Note, read_midi, write_midi
from wavenet_music.notes.roll import piano_roll
from wavenet_music.wavenet.compiled import CompiledWaveNet
from wavenet_music.wavenet.data import prepare_corpus
from wavenet_music.wavenet.generate import generate, generate_naive
from wavenet_music.wavenet.incremental import IncrementalWaveNet
from wavenet_music.wavenet.model import WaveNet
from wavenet_music.wavenet.to_audio import note_floors, note_temperatures, notes_steering
from wavenet_music.wavenet.windows import WindowSampler, feature_store, noisy_inputs, window_source

from ..conftest import replaced_keeping_its_times
from .test_compiled import step_logits
from .test_generate import CONFIGS

RATE = 16000


def _heard(config, hop: int = 8, frames: bool = True) -> WaveNet:
    """A model of ``config`` that hears notes (and is steered by a roll of 176 channels)."""
    config = dataclasses.replace(
        config, excitation=True, local_channels=ROLL_CHANNELS if frames else 4, hop_length=hop
    )
    torch.manual_seed(0)
    model = WaveNet(config).eval()
    with torch.no_grad():  # larger than default init, so every layer matters
        for p in model.parameters():
            p.mul_(2.0)
    return model


def _inputs(model: WaveNet, batch: int, samples: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, model.config.quantization_channels, (batch, samples), generator=g)
    count = -(-samples // model.config.hop_length) + 2
    frames = (torch.rand(batch, model.config.local_channels, count, generator=g) > 0.9).float()
    heard = torch.randn(batch, CHANNELS, samples, generator=g)
    return x, frames, heard


# --- the model ------------------------------------------------------------------------------


def test_each_prediction_hears_the_notes_of_its_receptive_field_and_nothing_later():
    model = _heard(CONFIGS["small"]).double()
    rf = model.receptive_field
    x, frames, heard = _inputs(model, 1, rf + 40)
    heard = heard.double().requires_grad_(True)
    logits = model(x, None, frames.double(), heard)  # (1, Q, 41)
    for j in (0, 17, 40):
        (grad,) = torch.autograd.grad(logits[0, :, j].sum(), heard, retain_graph=True)
        used = torch.nonzero(grad[0].abs().sum(0)).flatten()
        # output j predicts sample j + rf from inputs j .. j + rf - 1; the newest input
        # carries the excitation of the predicted sample, and nothing later is heard
        assert used.max().item() == j + rf - 1
        assert used.min().item() >= j


@pytest.mark.parametrize("name, hop", [("small", 8), ("width3_nobias", 5), ("tiny", 256)])
def test_incremental_steps_equal_the_full_forward_with_excitation(name, hop, step_module):
    model = _heard(CONFIGS[name], hop)
    rf = model.receptive_field
    x, frames, heard = _inputs(model, 2, rf + 300)
    with torch.inference_mode():
        full = model(x, None, frames, heard)
        deaf = model(x, None, frames, torch.zeros_like(heard))
    assert not torch.allclose(full, deaf, atol=1e-3)  # the excitation matters
    eager = step_logits(IncrementalWaveNet(model), model, x, None, frames, heard)
    compiled = step_logits(
        CompiledWaveNet(model, "float32", step_module), model, x, None, frames, heard
    )
    torch.testing.assert_close(eager, full, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(compiled, full, rtol=1e-4, atol=1e-4)


def test_a_one_sample_shift_of_the_excitation_is_caught():
    model = _heard(CONFIGS["small"])
    rf = model.receptive_field
    x, frames, heard = _inputs(model, 1, rf + 100)
    shifted = torch.roll(heard, 1, dims=2)
    with torch.inference_mode():
        full = model(x, None, frames, shifted)
    steps = step_logits(IncrementalWaveNet(model), model, x, None, frames, heard)
    assert (steps - full).abs().max() > 1e-2


def test_generators_agree_with_notes_heard(step_module):
    model = _heard(CONFIGS["small"])
    length = 200
    features = (torch.rand(2, ROLL_CHANNELS, length // 8) > 0.9).float()
    heard = torch.randn(2, CHANNELS, length)
    runs = {}
    for name, engine in (("eager", "eager"), ("compiled", "compiled")):
        runs[name] = generate(
            model,
            length,
            2,
            generator=torch.Generator().manual_seed(5),
            features=features,
            excitation=heard,
            silence=0.0,
            engine=engine,
        )
    naive = generate_naive(
        model,
        length,
        2,
        generator=torch.Generator().manual_seed(5),
        features=features,
        excitation=heard,
        silence=0.0,
    )
    assert torch.equal(runs["eager"], naive)
    assert torch.equal(runs["compiled"], naive)
    other = generate(
        model,
        length,
        2,
        generator=torch.Generator().manual_seed(5),
        features=features,
        excitation=torch.zeros_like(heard),
        silence=0.0,
    )
    assert not torch.equal(other, naive)  # the notes heard change the audio


def test_the_floor_is_set_where_a_piece_s_notes_sound_and_nowhere_else():
    """``note_floors``: the floor on exactly the samples ``sounding`` marks, 0 in rests and
    for an unsteered piece (None), no floors at all for floor 0."""
    notes = [Note(0.01, 0.02, 60), Note(0.05, 0.06, 72, is_drum=True)]
    floors = note_floors([notes, None], 1_600, 16_000, 0.002)  # (2, 1600)
    assert floors.shape == (2, 1_600) and floors.dtype == torch.float32  # 4 bytes a sample
    expected = (sounding(notes, 1_600, 16_000) * 0.002).astype(np.float32)
    assert np.array_equal(floors[0].numpy(), expected) and floors[0, 160:320].all()
    assert floors[0, :160].eq(0).all() and floors[0, 800:].eq(0).all()  # a rest, a drum
    assert floors[1].eq(0).all()
    assert note_floors([notes], 1_600, 16_000, 0.0) is None


def test_the_temperature_is_scaled_where_a_piece_s_notes_sound_and_nowhere_else():
    """``note_temperatures``: temperature · scale on exactly the samples ``sounding`` marks,
    the temperature itself in rests and for an unsteered piece; no table where it would be
    the same everywhere (scale 1, temperature 0 = the likeliest class, nothing steered)."""
    notes = [Note(0.01, 0.02, 60), Note(0.05, 0.06, 72, is_drum=True)]
    table = note_temperatures([notes, None], 1_600, 16_000, 1.25, 0.8)  # (2, 1600)
    assert table.shape == (2, 1_600) and table.dtype == torch.float32
    heard = sounding(notes, 1_600, 16_000)
    assert heard.any() and not heard.all()
    assert np.allclose(table[0].numpy()[heard], 1.0) and np.allclose(table[0].numpy()[~heard], 1.25)
    assert table[1].eq(1.25).all()
    assert note_temperatures([notes], 1_600, 16_000, 1.0, 1.0) is None
    assert note_temperatures([notes], 1_600, 16_000, 0.0, 0.8) is None
    assert note_temperatures([None, None], 1_600, 16_000, 1.0, 0.8) is None


def test_the_excitation_is_required_exactly_when_the_model_hears_notes():
    model = _heard(CONFIGS["small"])
    x, frames, heard = _inputs(model, 1, model.receptive_field + 10)
    with pytest.raises(ValueError, match="needs an excitation"):
        model(x, None, frames)
    with pytest.raises(ValueError, match=r"excitation: expected \(1, 3, "):
        model(x, None, frames, heard[:, :, 1:])
    plain = WaveNet(dataclasses.replace(CONFIGS["small"], local_channels=ROLL_CHANNELS))
    with pytest.raises(ValueError, match="takes no excitation"):
        plain(x, None, frames, heard)


def test_settings_that_do_not_fit_together_are_one_line():
    notes = load_preset("notes")
    with pytest.raises(UserError, match="excitation is made of notes"):
        feature_store(apply_overrides(notes, {"data.features": "chroma"}))
    with pytest.raises(UserError, match="notes are a roll of 176 channels"):
        feature_store(apply_overrides(notes, {"model.local_channels": 12}))
    with pytest.raises(UserError, match="silence_threshold"):
        feature_store(apply_overrides(notes, {"data.silence_threshold": 0.01}))
    assert isinstance(feature_store(notes), NoteStore)


# --- the data -------------------------------------------------------------------------------


def _piece(folder, name: str, notes: list[Note], seconds: float, score: bool = True):
    """A recording of ``notes`` (their excitation's harmonics) with its score beside it."""
    audio = 0.3 * excitation(notes, 0, int(seconds * RATE), RATE)[1]
    sf.write(folder / f"{name}.wav", audio, RATE)
    if score:
        write_midi(folder / f"{name}.mid", notes)


MELODY = [Note(0.1 + 0.25 * i, 0.3 + 0.25 * i, 60 + (3 * i) % 13, 90) for i in range(8)]


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """A folder of recordings with their scores."""
    base = tmp_path_factory.mktemp("scored")
    data = base / "data"
    data.mkdir()
    for k in range(3):
        _piece(data, f"piece{k}", [dataclasses.replace(n, pitch=n.pitch + k) for n in MELODY], 2.5)
    config = apply_overrides(
        load_preset("notes"),
        {
            "data.cache_dir": str(base / "cache"),
            "data.sample_size": 500,
            "data.validation_fraction": 0.0,
        },
    )
    return data, config


def test_scores_beside_recordings_steer_them(scored, capsys):
    data, config = scored
    corpus = prepare_corpus(data, config.data, 256, config.model.receptive_field)
    assert sorted(s.source for s in corpus.train) == ["piece0.wav", "piece1.wav", "piece2.wav"]
    assert "notes: 3 of 3 recordings play the MIDI file beside them" in capsys.readouterr().err
    for segment in corpus.train:
        stored = read_notes(segment.notes)
        assert stored == read_midi(data / segment.source.replace(".wav", ".mid"))


def test_a_score_replaced_with_its_old_modification_time_is_read_again(scored, tmp_path):
    """Another take's score of the same length copied over with ``cp -p``: its notes, not
    the cached ones of the score it replaced, steer the recording."""
    data, config = scored
    folder = tmp_path / "data"
    shutil.copytree(data, folder)
    config = apply_overrides(config, {"data.cache_dir": str(tmp_path / "cache")})
    score = folder / "piece0.mid"

    def steering() -> list[Note]:
        corpus = prepare_corpus(folder, config.data, 256, config.model.receptive_field)
        return next(read_notes(s.notes) for s in corpus.train if s.source == "piece0.wav")

    assert steering() == read_midi(score)
    moved = [dataclasses.replace(n, pitch=n.pitch + 2) for n in read_midi(score)]
    other = write_midi(tmp_path / "other.mid", moved)
    replaced_keeping_its_times(score, lambda p: p.write_bytes(other.read_bytes()))
    assert steering() == read_midi(score) == moved


def test_a_score_s_unusable_notes_are_left_out_and_a_broken_score_is_transcribed(
    scored, tmp_path, capsys
):
    """What a musician's folder holds: a score that goes on past its recording, one with a
    key beyond the piano, one with nothing inside its audio, an unreadable one, names in
    another case, and a MIDI file named after no recording. Each is said; no recording is
    lost for a few notes."""
    _, config = scored
    data = tmp_path / "data"
    data.mkdir()
    _piece(data, "late", MELODY, 1.0)  # the score goes on after the audio ends
    high = [*MELODY[:4], Note(0.2, 0.4, 110, 90)]  # a key above C8
    _piece(data, "high", high, 2.5)
    _piece(
        data,
        "gone",
        [dataclasses.replace(n, onset=n.onset + 3, offset=n.offset + 3) for n in MELODY],
        2.5,
        score=False,
    )
    write_midi(
        data / "gone.mid",
        [dataclasses.replace(n, onset=n.onset + 3, offset=n.offset + 3) for n in MELODY],
    )
    _piece(data, "broken", MELODY, 2.5, score=False)
    (data / "broken.mid").write_bytes(b"MThd\x00\x00\x00\x06garbage")
    _piece(data, "Take", MELODY, 2.5, score=False)
    write_midi(data / "TAKE.MIDI", MELODY)
    write_midi(data / "orphan.mid", MELODY)
    tune = [Note(0.3 * i, 0.3 * i + 0.25, 48 + (7 * i) % 29, 90) for i in range(40)]  # 12 s
    _piece(data, "tune", tune, 13.0)  # lined up: nothing said
    _piece(data, "count_in", tune, 13.0, score=False)  # the score a bar late
    write_midi(
        data / "count_in.mid",
        [dataclasses.replace(n, onset=n.onset + 1, offset=n.offset + 1) for n in tune],
    )
    corpus = prepare_corpus(data, config.data, 256, config.model.receptive_field)
    err = capsys.readouterr().err
    segments = {s.source: s for s in corpus.train}
    assert sorted(segments) == [
        "Take.wav",
        "broken.wav",
        "count_in.wav",
        "high.wav",
        "late.wav",
        "tune.wav",
    ]
    assert (
        "count_in.mid: its notes sound 1.00 s later than the audio: shift the MIDI by -1.00 s"
        in err
    )
    assert "tune.mid" not in err
    late = read_notes(segments["late.wav"].notes)
    assert late == [
        dataclasses.replace(n, offset=min(n.offset, 1.0)) for n in MELODY if n.onset < 1.0
    ]
    assert "late.mid: 4 notes start after the audio ends (1.00 s): C5 (72) at 1.10 s" in err
    assert read_notes(segments["high.wav"].notes) == MELODY[:4]
    assert (
        "high.mid: 1 note outside the piano's keys (MIDI 21..108): D8 (110) at 0.20 s: left out"
        in err
    )
    assert (
        "gone.mid: no note of the piano's keys starts within the 2.50 s of its audio"
        in (dict(corpus.skipped)["gone.wav"])
    )
    assert "gone.mid: 8 notes" not in err  # said once, as the reason it was skipped
    assert (
        "broken.mid: not a readable MIDI file" in err and "transcribing broken.wav instead" in err
    )
    transcribed = read_notes(segments["broken.wav"].notes)
    assert transcribed and transcribed != MELODY  # basic-pitch's notes of the recording
    assert read_notes(segments["Take.wav"].notes) == read_midi(data / "TAKE.MIDI")
    assert "notes: 5 of 6 recordings play the MIDI file beside them, 1 is transcribed" in err
    assert "1 MIDI file is named after no recording and not read (orphan.mid)" in err
    prepare_corpus(data, config.data, 256, config.model.receptive_field, quiet=True)
    err = capsys.readouterr().err
    assert "orphan.mid" in err and "notes: 5 of 6" not in err  # quiet: the warning only


def test_windows_carry_the_roll_and_excitation_of_their_own_samples(scored):
    data, config = scored
    corpus = prepare_corpus(data, config.data, 256, config.model.receptive_field, quiet=True)
    source = window_source(config, corpus.train)
    rf, hop = config.model.receptive_field, config.model.hop_length
    segment = corpus.train[1]
    notes = read_notes(segment.notes)
    start = 3 * hop + rf  # the input window starts at sample 3·hop, a frame boundary
    window = source.window(segment, start, 600)
    inputs = rf - 1 + 600
    expected = excitation(notes, start - rf + 1, inputs, RATE)  # input i hears sample i + 1
    np.testing.assert_array_equal(window.excitation, expected)
    roll = piano_roll(notes, 40, hop, RATE, ("sounding", "onset"))
    np.testing.assert_array_equal(window.frames.T, roll[2 : 2 + window.frames.shape[1]])
    sounding, onsets = window.frames[:88], window.frames[88:]  # raw, not normalised
    assert sounding.max() == pytest.approx(90 / 127) and set(np.unique(onsets)) == {0.0, 1.0}


@pytest.mark.parametrize("mix", ["sum", "equal_power"])
def test_training_windows_and_renders_mix_the_notes_as_the_model_says(scored, mix):
    """``model.excitation_mix`` reaches the training windows and what generation hears:
    chords of the score mixed as ``excitation`` mixes them."""
    data, config = scored
    config = apply_overrides(config, {"model.excitation_mix": mix})
    corpus = prepare_corpus(data, config.data, 256, config.model.receptive_field, quiet=True)
    segment = corpus.train[1]
    notes = read_notes(segment.notes)
    chords = notes + [dataclasses.replace(n, pitch=n.pitch + 7) for n in notes]
    rf, start = (
        config.model.receptive_field,
        3 * config.model.hop_length + config.model.receptive_field,
    )
    window = window_source(config, corpus.train).window(segment, start, 600)
    expected = excitation(notes, start - rf + 1, rf - 1 + 600, RATE, mix=mix)
    np.testing.assert_array_equal(window.excitation, expected)
    assert feature_store(config).mix == mix  # the melody alone never has two notes at once
    _, heard = notes_steering(chords, config, 8_000, 2)
    assert heard.shape == (2, CHANNELS, 8_000)
    np.testing.assert_array_equal(heard[1].numpy(), excitation(chords, 0, 8_000, RATE, mix=mix))
    assert (mix == "sum") == np.array_equal(heard[0].numpy(), excitation(chords, 0, 8_000, RATE))


@pytest.mark.parametrize("way", ["onset", "start"])
def test_training_windows_and_renders_hear_the_harmonics_the_model_says(scored, way):
    """``model.excitation_harmonics`` reaches the training windows (in the recording's
    phases too) and what generation hears."""
    data, config = scored
    config = apply_overrides(
        config, {"model.excitation_harmonics": 12, "train.excitation_phase": way}
    )
    corpus = prepare_corpus(data, config.data, 256, config.model.receptive_field, quiet=True)
    segment = corpus.train[2]
    notes, rf = read_notes(segment.notes), config.model.receptive_field
    start = 3 * config.model.hop_length + rf
    window = window_source(config, corpus.train, training=True).window(segment, start, 600)
    classes, first, inputs = np.load(segment.cache), start - rf + 1, rf - 1 + 600

    def read(at: int, count: int) -> np.ndarray:  # the recording, its classes decoded
        return mu_law_decode(padded_slice(classes, at, count, 128, np.int64), 256)

    phases = None if way == "onset" else RecordingPhases(read, RATE, way, harmonics=12)
    expected = excitation(notes, first, inputs, RATE, phases, harmonics=12)
    np.testing.assert_array_equal(window.excitation, expected)
    assert not np.array_equal(window.excitation[1], excitation(notes, first, inputs, RATE)[1])
    _, heard = notes_steering(notes, config, 8_000, 1)
    np.testing.assert_array_equal(heard[0].numpy(), excitation(notes, 0, 8_000, RATE, harmonics=12))


@pytest.mark.parametrize("way", ["recording", "start"])
def test_training_windows_hear_the_notes_in_the_recording_s_phase(scored, way):
    """train.excitation_phase recording or start (the notes and demo presets): training
    windows hear each partial in the phase of the audio they are cut from (its mu-law
    classes decoded, before and after the window too); validation windows hear what
    generation hears, phase 0 at each onset."""
    data, config = scored
    config = apply_overrides(config, {"train.excitation_phase": way})
    corpus = prepare_corpus(data, config.data, 256, config.model.receptive_field, quiet=True)
    rf, hop = config.model.receptive_field, config.model.hop_length
    segment = corpus.train[2]
    notes, start, inputs = read_notes(segment.notes), 3 * hop + rf, rf - 1 + 600
    training = window_source(config, corpus.train, training=True).window(segment, start, 600)
    checking = window_source(config, corpus.train).window(segment, start, 600)
    first, classes = start - rf + 1, np.load(segment.cache)

    def read(at: int, count: int) -> np.ndarray:  # the recording, its classes decoded
        return mu_law_decode(padded_slice(classes, at, count, 128, np.int64), 256)

    heard = excitation(notes, first, inputs, RATE, RecordingPhases(read, RATE, way))
    np.testing.assert_array_equal(training.excitation, heard)
    np.testing.assert_array_equal(checking.excitation, excitation(notes, first, inputs, RATE))
    # these recordings play their notes in phase 0 at the onset: the phases heard agree
    assert not np.array_equal(training.excitation, checking.excitation)
    assert np.corrcoef(training.excitation[1], checking.excitation[1])[0, 1] > 0.95
    np.testing.assert_array_equal(training.inputs, checking.inputs)


def test_withheld_windows_hear_nothing_and_noise_leaves_targets_clean(scored):
    data, config = scored
    corpus = prepare_corpus(data, config.data, 256, config.model.receptive_field, quiet=True)
    source = window_source(config, corpus.train)
    clean = WindowSampler(source, seed=3).next_batch(4)
    noisy = WindowSampler(source, seed=3, input_noise=0.2).next_batch(4)
    again = WindowSampler(source, seed=3, input_noise=0.2).next_batch(4)
    assert torch.equal(noisy.inputs, again.inputs)  # drawn from the sampler's saved state
    assert not torch.equal(noisy.inputs, clean.inputs)
    picks = [(0, 2000), (1, 3000)]
    withheld = source.batch(picks, np.array([True, False]))
    assert torch.isnan(withheld.frames[0]).all() and not torch.isnan(withheld.frames[1]).any()
    assert withheld.excitation[0].abs().max() == 0 and withheld.excitation[1].abs().max() > 0


def test_windows_without_notes_read_a_clean_history(scored):
    """Noise goes only where the notes are given: a withheld window is plain WaveNet's
    training window, its past true, so the same model also continues a past on its own."""
    data, config = scored
    corpus = prepare_corpus(data, config.data, 256, config.model.receptive_field, quiet=True)
    source = window_source(config, corpus.train)
    batch = WindowSampler(source, seed=5, withhold=0.5, input_noise=0.2).next_batch(16)
    replay = WindowSampler(source, seed=5, withhold=0.5)  # the same picks, no noise drawn
    clean = replay.next_batch(16)
    withheld = torch.isnan(batch.frames).flatten(1).all(dim=1)  # (B,)
    assert 0 < int(withheld.sum()) < 16
    assert torch.equal(batch.inputs[withheld], clean.inputs[withheld])
    steered = ~withheld
    assert (batch.inputs[steered] != clean.inputs[steered]).any(dim=1).all()
    assert torch.equal(batch.targets, clean.targets)


def test_noisy_inputs_add_noise_to_the_waveform_not_the_classes():
    classes = np.array([[0, 64, 128, 192, 255]])
    assert np.array_equal(noisy_inputs(classes, np.zeros((1, 5)), 256), classes)
    louder = noisy_inputs(classes, np.full((1, 5), 0.01), 256)
    assert (louder >= classes).all() and louder[0, 2] > 128  # silence moves most in mu-law
    assert noisy_inputs(classes, np.full((1, 5), 0.5), 256)[0, 4] == 255  # clipped at full scale
    assert noisy_inputs(classes, np.full((1, 5), 0.05), 256)[0, 0] > 0


def test_relative_noise_keeps_each_window_s_signal_to_noise_ratio():
    """With ``input_noise_relative`` a quiet window gets quiet noise: the noise's level
    against the signal's is the same at -40 dB as at -6 dB (mu-law rounding aside), where
    absolute noise drowns the quiet one."""
    from wavenet_music.audio.io import mu_law_decode, mu_law_encode

    t = np.arange(4000)
    wave = np.stack([0.01 * np.sin(t / 7), 0.5 * np.sin(t / 7)])  # (2, T): -43 and -9 dB
    classes = mu_law_encode(wave, 256)
    noise = 0.2 * np.random.default_rng(0).standard_normal(wave.shape)

    def noise_to_signal(relative: bool) -> np.ndarray:
        clean = mu_law_decode(classes, 256)
        added = mu_law_decode(noisy_inputs(classes, noise, 256, relative), 256) - clean
        return np.sqrt((added**2).mean(1) / (clean**2).mean(1))

    quiet, loud = noise_to_signal(relative=True)
    assert quiet == pytest.approx(0.2, rel=0.15) and loud == pytest.approx(0.2, rel=0.15)
    quiet, loud = noise_to_signal(relative=False)
    assert quiet > 10 and loud < 0.7


def test_a_recording_without_a_score_is_steered_by_its_transcription(music_root, tmp_path):
    from wavenet_music.notes.transcribe import transcribe_file

    config = apply_overrides(load_preset("notes"), {"data.cache_dir": str(tmp_path)})
    folder = music_root / "classical"  # no .mid beside it
    corpus = prepare_corpus(folder, config.data, 256, config.model.receptive_field, quiet=True)
    segment = (corpus.train + corpus.validation)[0]
    assert segment.notes.name.endswith(".notes.npy")
    path = next(folder.glob("*.flac"))
    notes = read_notes(segment.notes)
    assert notes == transcribe_file(path) and len(notes) > 20


def test_a_window_picks_its_notes_without_changing_its_excitation(scored):
    data, config = scored
    corpus = prepare_corpus(data, config.data, 256, config.model.receptive_field, quiet=True)
    store = feature_store(config)
    rng = np.random.default_rng(0)
    for segment in corpus.train:
        notes = read_notes(segment.notes)
        for _ in range(30):
            first, count = int(rng.integers(-500, 40000)), int(rng.integers(1, 3000))
            expected = excitation(notes, first + 1, count, RATE)  # every note of the piece
            np.testing.assert_array_equal(store.excitation(segment.notes, first, count), expected)
