"""``render``: a run trained on notes plays a MIDI file, end to end, and bad input is one
line."""

from __future__ import annotations

import dataclasses
import io
import json
import shutil

import numpy as np
import pytest
import soundfile as sf

from wavenet_music.cli import main
from wavenet_music.notes.excitation import excitation
from wavenet_music.notes.midi import Note, write_midi
from wavenet_music.wavenet.train import train

from .conftest import tiny_notes_config

RATE = 16000
MELODY = [Note(0.05 + 0.2 * i, 0.25 + 0.2 * i, 57 + (5 * i) % 12, 100) for i in range(6)]


@pytest.fixture(scope="module")
def notes_run(tmp_path_factory):
    """A small notes run trained a few steps on recordings with their scores beside them."""
    base = tmp_path_factory.mktemp("render")
    data = base / "data"
    data.mkdir()
    for k in range(3):
        notes = [dataclasses.replace(n, pitch=n.pitch + 2 * k) for n in MELODY]
        audio = 0.3 * excitation(notes, 0, int(1.6 * RATE), RATE)[1]
        sf.write(data / f"take{k}.wav", audio, RATE)
        write_midi(data / f"take{k}.mid", notes)
    train(data, base / "run", tiny_notes_config(str(base / "cache")), quiet=True)
    return base / "run", data


def test_render_plays_a_midi_file_to_its_end(notes_run, tmp_path, capsys):
    run, data = notes_run
    out = tmp_path / "song.wav"
    assert main(["render", str(run), str(data / "take1.mid"), "--out", str(out), "--quiet"]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    audio, rate = sf.read(out)
    last_offset = max(n.offset for n in MELODY)
    assert rate == RATE and len(audio) == round((last_offset + 1.0) * RATE)
    assert np.abs(audio).max() > 0
    shorter = tmp_path / "short.wav"
    args = ["render", str(run), str(data / "take1.mid"), "--out", str(shorter), "--quiet"]
    assert main([*args, "--seconds", "0.25"]) == 0
    assert len(sf.read(shorter)[0]) == RATE // 4


def test_generate_plays_notes_too_and_unsteered_without_them(notes_run, tmp_path):
    run, data = notes_run
    steered = tmp_path / "steered.wav"
    args = ["generate", str(run), "--seconds", "0.1", "--quiet"]
    assert main([*args, "--notes", str(data / "take0.mid"), "--out", str(steered)]) == 0
    assert main([*args, "--out", str(tmp_path / "free.wav")]) == 0  # local_dropout > 0
    assert len(sf.read(steered)[0]) == RATE // 10


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p.write_bytes(b""), "is empty"),
        (lambda p: p.write_bytes(b"MThd\x00\x00\x00\x06junk"), "not a readable MIDI file"),
        (lambda p: write_midi(p, [Note(0.0, 0.5, 10, 80)]), "outside A0..C8"),
        (  # rendered as near-silence before, with exit 0
            lambda p: write_midi(
                p, [Note(0.1 * i, 0.1 * i + 0.1, 38, 90, is_drum=True) for i in range(9)]
            ),
            "only percussion (drum notes), no pitched notes to play",
        ),
        (lambda p: write_midi(p, [Note(3700.0, 3701.0, 60, 80)]), "lasts 3,702 s with its tail"),
    ],
)
def test_bad_midi_is_one_line(notes_run, tmp_path, capsys, make, message):
    run, _ = notes_run
    midi = tmp_path / "bad.mid"
    make(midi)
    code = main(["render", str(run), str(midi), "--out", str(tmp_path / "x.wav"), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and message in err[0] and "bad.mid" in err[0], err
    assert not (tmp_path / "x.wav").exists()


def test_a_musician_s_file_plays_its_pitched_parts_and_says_what_it_left_out(
    notes_run, tmp_path, capsys
):
    """A piano part with a violin line, a drum kit and a key above the piano: the WaveNet
    plays the keys it has, as one part, and says so; nothing is refused for it."""
    run, _ = notes_run
    midi = write_midi(
        tmp_path / "band.mid",
        [
            *(Note(0.1 * i, 0.1 * i + 0.2, 60 + i, 80) for i in range(4)),
            Note(0.0, 0.5, 76, 80, program=40),  # a violin
            *(Note(0.1 * i, 0.1 * i + 0.05, 38, 90, is_drum=True) for i in range(3)),
            Note(0.2, 0.3, 115, 80),  # above C8
        ],
    )
    out = tmp_path / "band.wav"
    assert main(["render", str(run), str(midi), "--out", str(out), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "band.mid: 3 notes of drums left out" in err
    assert "band.mid: 1 note outside A0..C8 (MIDI 21..108): G8 (115) at 0.20 s: left out" in err
    assert "playing 2 instruments: Acoustic Grand Piano (4 notes), Violin (1 note) as one" in err
    assert len(sf.read(out)[0]) == round((0.5 + 1.0) * RATE)  # to the last played note's end


def test_notes_after_the_clip_ends_are_named_not_left_out_silently(notes_run, tmp_path, capsys):
    """A DAW's export whose first note starts a minute in, rendered for 0.25 s: the clip
    plays none of it, and says so with the length that would (it was silence, no word)."""
    run, _ = notes_run
    midi = write_midi(tmp_path / "late.mid", [Note(0.1, 0.2, 62, 80), Note(60.0, 61.0, 60, 80)])
    for command in (["render", str(run), str(midi)], ["generate", str(run), "--notes", str(midi)]):
        out = tmp_path / f"{command[0]}.wav"
        assert main([*command, "--out", str(out), "--seconds", "0.25", "--quiet"]) == 0
        err = capsys.readouterr().err.strip().splitlines()
        assert [line for line in err if "late.mid" in line] == [
            f"warning: {midi}: 1 note starting after the clip ends (0.25 s): C4 (60) at "
            "60.00 s: not played (pass --seconds 62 to play them all)"
        ]
    early = write_midi(tmp_path / "early.mid", [Note(0.1, 0.5, 62, 80)])  # cut, not left out
    assert main(["render", str(run), str(early), "--out", str(out), "--seconds", "0.25"]) == 0
    assert "not played" not in capsys.readouterr().err


def test_render_seconds_0_is_refused_not_the_whole_file(notes_run, tmp_path, capsys):
    run, data = notes_run
    args = ["render", str(run), str(data / "take1.mid"), "--out", str(tmp_path / "x.wav")]
    assert main([*args, "--seconds", "0"]) == 2
    assert "seconds: expected a number in [0.001, 3600], got 0" in capsys.readouterr().err
    assert not (tmp_path / "x.wav").exists()


def test_render_refuses_a_run_not_trained_on_notes(piano_run, tmp_path, capsys):
    run, _ = piano_run
    midi = write_midi(tmp_path / "a.mid", MELODY)
    code = main(["render", str(run), str(midi), "--out", str(tmp_path / "x.wav")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "was not trained on notes" in err[0]


def test_evaluate_scores_how_well_renders_follow_their_notes(notes_run, capsys):
    from wavenet_music.config import (
        NOTE_EXCITATION_GAIN,
        NOTE_HEARD_HARMONICS,
        NOTE_HEARD_ROLLOFF,
        NOTE_TREBLE_TILT,
    )

    run, data = notes_run
    code = main(["evaluate", str(run), "--data", str(data), "--follow-seconds", "1", "--json"])
    assert code == 0
    record = json.loads(capsys.readouterr().out)
    following = record["following"]
    assert sorted(f["piece"] for f in following) == ["take0.wav", "take1.wav", "take2.wav"]
    heard = {
        "excitation_gain": NOTE_EXCITATION_GAIN,
        "treble_tilt": NOTE_TREBLE_TILT,
        "heard_harmonics": NOTE_HEARD_HARMONICS,
        "heard_rolloff": NOTE_HEARD_ROLLOFF,
    }
    assert record["following_heard"] == heard  # what the renders heard, recorded
    for f in following:
        assert f["notes"] == 5  # the notes starting in the first second
        assert f["unsteered"] is not None  # the notes preset withholds notes from 10%
        # the recordings are their notes' harmonics: the transcription finds them
        assert f["ceiling"]["pitch_class_f1"] > 0.5 > f["floor"]["pitch_class_f1"]
        for part in ("steered", "floor", "ceiling", "unsteered"):
            assert 0.0 <= f[part]["note_f1"] <= 1.0


def test_following_skips_a_recording_without_notes_and_says_so(notes_run, tmp_path, capsys):
    """A recording whose notes start after the followed second has nothing to follow: its
    scores would read 0.00, its real ceiling too. A silent one is not scored at all."""
    run, data = notes_run
    folder = tmp_path / "data"
    shutil.copytree(data, folder)
    sf.write(folder / "silence.wav", np.zeros(RATE), RATE)
    shutil.copy(data / "take0.wav", folder / "late.wav")
    late = [dataclasses.replace(n, onset=n.onset + 1.2, offset=n.offset + 1.2) for n in MELODY]
    write_midi(folder / "late.mid", late)
    args = ["evaluate", str(run), "--data", str(folder), "--follow-seconds", "1", "--json"]
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert "1 recording(s) hold no notes in their first 1 s" in err and "late.wav" in err
    pieces = sorted(f["piece"] for f in json.loads(out)["following"])
    assert pieces == ["take0.wav", "take1.wav", "take2.wav"]


def test_evaluate_with_nothing_to_follow_still_reports_its_bits(notes_run, tmp_path, capsys):
    """No notes in the first 0.04 s (the melody starts at 0.05 s), and a file the likelihood
    skipped (undecodable): the bits already computed were dropped for an error, exit 2."""
    run, data = notes_run
    folder = tmp_path / "data"
    shutil.copytree(data, folder)
    (folder / "broken.wav").write_bytes(b"RIFFjunk")  # evaluate skips it; follow read it
    args = ["evaluate", str(run), "--data", str(folder), "--follow-seconds", "0.04"]
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert "bits per sample over" in out and "in 3 files (1 skipped)" in out
    skipped = [line for line in err.splitlines() if "following skipped" in line]
    assert len(skipped) == 1 and "holds notes in its first 0.04 s" in skipped[0]
    assert "take0.wav" in skipped[0] and "broken.wav" not in skipped[0]
    assert main([*args, "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["files"] == 3 and "following" not in record
    assert "holds notes in its first 0.04 s" in record["following_skipped"]


def test_following_says_nan_in_a_recording_and_skips_one_without_a_finite_sample(
    notes_run, tmp_path, capsys
):
    """The recordings followed were read with NaN/inf as silence without a word: said once
    per file on every evaluate, as ``--seed-audio`` says it (the first evaluate said it
    twice: the likelihood's decoding into the cache said it too); a file without one finite
    sample is skipped and counted (the likelihood skips it; ``follow_notes`` on a folder
    followed it as silence)."""
    from wavenet_music.wavenet.checkpoint import load_model
    from wavenet_music.wavenet.follow import NothingToFollow, follow_notes

    run, data = notes_run
    folder = tmp_path / "data"
    shutil.copytree(data, folder)
    audio = sf.read(data / "take0.wav", dtype="float32")[0]
    audio[-100:] = np.inf
    sf.write(folder / "holes.wav", audio, RATE, subtype="FLOAT")
    sf.write(folder / "nan.wav", np.full_like(audio, np.nan), RATE, subtype="FLOAT")
    for name in ("holes", "nan"):
        shutil.copy(data / "take0.mid", folder / f"{name}.mid")
    said = f"warning: {folder / 'holes.wav'}: 100 non-finite samples replaced by 0 (the recording"
    args = ["evaluate", str(run), "--data", str(folder), "--follow-seconds", "1", "--json"]
    for _ in range(2):  # the first time, the likelihood decodes the file into its cache
        assert main(args) == 0
        out, err = capsys.readouterr()
        assert err.count(said) == 1 and err.count("non-finite samples replaced") == 1, err
        assert "holes.wav" in [f["piece"] for f in json.loads(out)["following"]]
    alone = tmp_path / "alone"  # not followed, a file new to the cache: the likelihood says it
    alone.mkdir()
    shutil.copy(folder / "holes.wav", alone / "holes.wav")
    assert main(["evaluate", str(run), "--data", str(alone), "--json"]) == 0
    assert capsys.readouterr().err.count("100 non-finite samples replaced by 0") == 1
    model, config = load_model(run)
    following = follow_notes(model, config, folder, 1.0)
    err = capsys.readouterr().err
    assert "1 recording(s) hold no finite sample (all NaN or infinite)" in err and "nan.wav" in err
    assert sorted(f.piece for f in following) == ["holes.wav", *(f"take{k}.wav" for k in range(3))]
    with pytest.raises(NothingToFollow, match="none of the 1 recording"):
        follow_notes(model, config, folder, 1.0, paths=[folder / "nan.wav"])


def test_following_needs_a_run_trained_on_notes(piano_run, music_root, capsys):
    run, _ = piano_run
    code = main(
        ["evaluate", str(run), "--data", str(music_root / "piano"), "--follow-seconds", "1"]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "needs a run trained on notes" in err[0]


def test_a_notes_run_re_renders_recordings_from_their_transcription(notes_run):
    from wavenet_music.wavenet.checkpoint import load_model
    from wavenet_music.wavenet.resynthesis import resynthesize

    run, data = notes_run
    model, config = load_model(run)
    excerpt = sf.read(data / "take0.wav", dtype="float32")[0][:4000]
    audio = resynthesize(model, config, [excerpt, excerpt[::-1].copy()], seed=1)
    assert audio.shape == (2, 4000) and np.isfinite(audio).all()


def test_a_silent_recording_has_no_notes_to_play(notes_run, tmp_path, capsys):
    run, _ = notes_run
    silent = tmp_path / "silence.wav"
    sf.write(silent, np.zeros(RATE), RATE)
    out = tmp_path / "x.wav"
    args = ["generate", str(run), "--features-from", str(silent), "--out", str(out), "--quiet"]
    code = main(args)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "found no notes" in err[0] and "silence.wav" in err[0]
    assert not out.exists()


def test_audio_of_nan_has_no_notes_to_play_and_nan_in_a_recording_is_said(
    notes_run, tmp_path, capsys
):
    """An all-NaN ``--features-from`` was transcribed as silence ("found no notes (it is
    silent)"), NaN/inf in a recording silently: said as ``--seed-audio`` says it."""
    run, data = notes_run
    nan, out = tmp_path / "nan.wav", tmp_path / "x.wav"
    sf.write(nan, np.full(RATE, np.nan, dtype=np.float32), RATE, subtype="FLOAT")
    args = ["generate", str(run), "--seconds", "0.1", "--quiet", "--features-from"]
    assert main([*args, str(nan), "--out", str(out)]) == 2
    line = f"{nan}: no finite samples (all NaN or infinite): no notes to play; pass another"
    assert capsys.readouterr().err == f"wavenet-music generate: error: {line} --features-from\n"
    assert not out.exists()
    holes = tmp_path / "holes.wav"
    audio = sf.read(data / "take0.wav", dtype="float32")[0]
    audio[-100:] = np.inf
    sf.write(holes, audio, RATE, subtype="FLOAT")
    assert main([*args, str(holes), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"warning: {holes}: 100 non-finite samples replaced by 0 (the steering audio)" in err


def test_a_take_shorter_than_the_asked_seconds_sets_the_clip_and_says_so(
    notes_run, tmp_path, capsys
):
    """A 2-s take asked to steer 4 s played 2 s of notes and 2 of nothing, without a word;
    as features do, the take sets the clip's length, said with both lengths."""
    run, data = notes_run
    take, out = tmp_path / "short.wav", tmp_path / "x.wav"
    sf.write(take, sf.read(data / "take0.wav", dtype="float32")[0][: RATE // 2], RATE)
    args = ["generate", str(run), "--features-from", str(take), "--seconds", "1"]
    assert main([*args, "--out", str(out), "--quiet"]) == 0
    said = capsys.readouterr().err.splitlines()
    lines = [line for line in said if "shorter than --seconds" in line]
    assert len(lines) == 1 and f"--features-from {take} covers 0.5 s" in lines[0], said
    assert sf.info(out).frames == RATE // 2


def test_features_of_a_run_that_plays_notes_points_to_transcribe(notes_run, tmp_path, capsys):
    """It wrote a .npy that ``generate --features`` then refused (this run plays notes)."""
    run, data = notes_run
    out = tmp_path / "x.npy"
    assert main(["features", str(run), str(data / "take0.wav"), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "plays notes, not features" in err[0] and "transcribe" in err[0]
    assert not out.exists()


def test_the_excitation_gain_is_the_notes_heard_louder_everywhere_they_are_played(
    notes_run, tmp_path
):
    """``excitation_gain`` (generate, render), ``wavenet_excitation_gain`` (compose) and
    the follow renders of evaluate: the notes heard at audio rate, × the gain, exactly as
    a model whose excitation weights are that many times larger hears them at gain 1 (4 is
    a power of two: both products are exact, so are the draws)."""
    import torch

    from wavenet_music.composer.config import PieceConfig
    from wavenet_music.composer.note_piece import play_notes
    from wavenet_music.config import (
        NOTE_EXCITATION_GAIN,
        NOTE_TREBLE_TILT,
        EvaluateConfig,
        GenerateConfig,
    )
    from wavenet_music.wavenet.checkpoint import load_model
    from wavenet_music.wavenet.follow import render_notes
    from wavenet_music.wavenet.to_audio import generate_audio, pieces_steering

    run, data = notes_run
    model, config = load_model(run)
    louder = load_model(run)[0]
    with torch.no_grad():
        for block in louder.blocks:
            block.excitation_condition.weight.mul_(4.0)
    notes = str(data / "take2.mid")

    def generated(m, gain):
        options = GenerateConfig(seconds=0.3, notes=notes, excitation_gain=gain)
        return generate_audio(m, config, options, progress=False)

    assert NOTE_EXCITATION_GAIN > 1  # renders lean on the notes more than training did
    assert GenerateConfig().excitation_gain == PieceConfig().wavenet_excitation_gain
    np.testing.assert_array_equal(generated(model, 4.0), generated(louder, 1.0))
    assert not np.array_equal(generated(model, 4.0), generated(model, 1.0))

    played = [dataclasses.replace(n, pitch=n.pitch + 3) for n in MELODY]
    follow = [
        render_notes(m, config, [played], 0.3, excitation_gain=g)
        for m, g in ((model, 4.0), (louder, 1.0))
    ]
    np.testing.assert_array_equal(*follow)
    # a gain for each piece of a batch: each hears its own (experiments fit gains in one batch)
    _, each = pieces_steering([played, played], config, 4800, [4.0, 1.0])
    for heard, gain in zip(each, (4.0, 1.0), strict=True):
        np.testing.assert_array_equal(heard, pieces_steering([played], config, 4800, gain)[1][0])
    assert not np.array_equal(each[0], each[1])

    # the treble tilt reaches every render: notes all at or below G4 play as untilted,
    # notes above it play otherwise, in generate, evaluate's renders and compose
    defaults = (GenerateConfig().treble_tilt, PieceConfig().wavenet_treble_tilt)
    assert defaults == (NOTE_TREBLE_TILT, NOTE_TREBLE_TILT) and NOTE_TREBLE_TILT > 0
    assert EvaluateConfig().treble_tilt == NOTE_TREBLE_TILT
    low = [dataclasses.replace(n, pitch=min(n.pitch, 67)) for n in played]
    high = [dataclasses.replace(n, pitch=n.pitch + 12) for n in played]
    for melody, same in ((low, True), (high, False)):
        tilted, flat = (
            render_notes(model, config, [melody], 0.3, treble_tilt=t) for t in (8.0, 0.0)
        )
        assert np.array_equal(tilted, flat) == same
    for melody, same in ((low, True), (high, False)):
        midi = write_midi(tmp_path / "melody.mid", melody, 0.4)
        tilted, flat = (
            generate_audio(
                model,
                config,
                GenerateConfig(seconds=0.3, notes=str(midi), treble_tilt=t),
                progress=False,
            )
            for t in (8.0, 0.0)
        )
        assert np.array_equal(tilted, flat) == same
    for melody, same in ((low, True), (high, False)):
        tilted, flat = (
            play_notes(
                model,
                config,
                [melody],
                None,
                None,
                PieceConfig(seconds=0.3, wavenet_treble_tilt=t),
                torch.Generator().manual_seed(0),
            )
            for t in (8.0, 0.0)
        )
        assert np.array_equal(tilted, flat) == same

    def composed(m, gain):
        options = PieceConfig(seconds=0.3, wavenet_excitation_gain=gain)
        generator = torch.Generator().manual_seed(0)
        return play_notes(m, config, [played], None, None, options, generator)

    np.testing.assert_array_equal(composed(model, 4.0), composed(louder, 1.0))
    assert not np.array_equal(composed(model, 4.0), composed(model, 1.0))


def test_the_heard_harmonics_reach_everywhere_the_notes_are_played(notes_run, tmp_path):
    """``heard_harmonics`` (generate, render, evaluate's renders) and
    ``wavenet_heard_harmonics`` (compose): the excitation generation hears is the notes'
    with harmonics 1 .. N, whatever the model trained with (4 here); 0 and 4 play as
    trained, 12 otherwise, in every path."""
    import torch

    from wavenet_music.composer.config import PieceConfig
    from wavenet_music.composer.note_piece import play_notes
    from wavenet_music.config import NOTE_HEARD_HARMONICS, EvaluateConfig, GenerateConfig
    from wavenet_music.wavenet.checkpoint import load_model
    from wavenet_music.wavenet.follow import render_notes
    from wavenet_music.wavenet.to_audio import generate_audio, pieces_steering

    run, _ = notes_run
    model, config = load_model(run)
    assert config.model.excitation_harmonics == 4 and NOTE_HEARD_HARMONICS == 12
    defaults = (
        GenerateConfig().heard_harmonics,
        EvaluateConfig().heard_harmonics,
        PieceConfig().wavenet_heard_harmonics,
    )
    assert defaults == (NOTE_HEARD_HARMONICS,) * 3
    played = [dataclasses.replace(n, pitch=n.pitch + 3) for n in MELODY]  # 5th harmonic < margin
    for harmonics, told in ((12, 12), (4, 4), (0, 4)):
        _, heard = pieces_steering([played], config, 4800, 2.0, 0.0, None, harmonics)
        expected = 2.0 * excitation(played, 0, 4800, RATE, mix="equal_power", harmonics=told)
        np.testing.assert_allclose(heard[0].numpy(), expected, rtol=1e-6, atol=1e-7)
    midi = write_midi(tmp_path / "melody.mid", played, 0.4)

    def generated(harmonics):
        options = GenerateConfig(seconds=0.3, notes=str(midi), heard_harmonics=harmonics)
        return generate_audio(model, config, options, progress=False)

    def followed(harmonics):
        return render_notes(model, config, [played], 0.3, heard_harmonics=harmonics)

    def composed(harmonics):
        options = PieceConfig(seconds=0.3, wavenet_heard_harmonics=harmonics)
        generator = torch.Generator().manual_seed(0)
        return play_notes(model, config, [played], None, None, options, generator)

    for play in (generated, followed, composed):
        np.testing.assert_array_equal(play(0), play(4))
        assert not np.array_equal(play(12), play(4))


def test_the_heard_rolloff_reaches_everywhere_the_notes_are_played(notes_run, tmp_path):
    """``heard_rolloff`` (generate, render, evaluate's renders) and
    ``wavenet_heard_rolloff`` (compose): generation hears each note's harmonic h at
    ``1 / h ** rolloff`` (``NOTE_HEARD_ROLLOFF`` by default, below training's 1) in every
    path; a note heard with its fundamental alone sounds the same at any rolloff."""
    import torch

    from wavenet_music.composer.config import PieceConfig
    from wavenet_music.composer.note_piece import play_notes
    from wavenet_music.config import NOTE_HEARD_ROLLOFF, EvaluateConfig, GenerateConfig
    from wavenet_music.wavenet.checkpoint import load_model
    from wavenet_music.wavenet.follow import render_notes
    from wavenet_music.wavenet.to_audio import generate_audio, pieces_steering

    run, _ = notes_run
    model, config = load_model(run)
    defaults = (
        GenerateConfig().heard_rolloff,
        EvaluateConfig().heard_rolloff,
        PieceConfig().wavenet_heard_rolloff,
    )
    assert defaults == (NOTE_HEARD_ROLLOFF,) * 3 and NOTE_HEARD_ROLLOFF < 1
    played = [dataclasses.replace(n, pitch=n.pitch + 3) for n in MELODY]
    for rolloff in (1.0, 0.5):
        _, heard = pieces_steering([played], config, 4800, 2.0, 0.0, None, 12, rolloff)
        expected = excitation(
            played, 0, 4800, RATE, mix="equal_power", harmonics=12, rolloff=rolloff
        )
        np.testing.assert_allclose(heard[0].numpy(), 2.0 * expected, rtol=1e-6, atol=1e-7)
    midi = write_midi(tmp_path / "melody.mid", played, 0.4)

    def generated(harmonics, rolloff):
        options = GenerateConfig(
            seconds=0.3, notes=str(midi), heard_harmonics=harmonics, heard_rolloff=rolloff
        )
        return generate_audio(model, config, options, progress=False)

    def followed(harmonics, rolloff):
        return render_notes(
            model, config, [played], 0.3, heard_harmonics=harmonics, heard_rolloff=rolloff
        )

    def composed(harmonics, rolloff):
        options = PieceConfig(
            seconds=0.3, wavenet_heard_harmonics=harmonics, wavenet_heard_rolloff=rolloff
        )
        generator = torch.Generator().manual_seed(0)
        return play_notes(model, config, [played], None, None, options, generator)

    for play in (generated, followed, composed):
        assert not np.array_equal(play(12, 0.5), play(12, 1.0))
        np.testing.assert_array_equal(play(1, 0.5), play(1, 1.0))


def test_tensorboard_previews_play_the_first_files_notes_as_render_does(tmp_path):
    """The snippet a notes run logs to TensorBoard is the clip ``render`` draws from the
    same model, seed and notes (the first training file's): the generation defaults
    (excitation gain, floors, temperatures) reach the preview, not training's gain of 1."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from wavenet_music.config import GenerateConfig
    from wavenet_music.wavenet.checkpoint import load_model
    from wavenet_music.wavenet.to_audio import generate_audio

    data = tmp_path / "data"
    data.mkdir()
    sf.write(data / "take.wav", 0.3 * excitation(MELODY, 0, int(1.6 * RATE), RATE)[1], RATE)
    write_midi(data / "take.mid", MELODY)  # one file: training has its first 0.9 of it
    run = tmp_path / "run"
    overrides = {"train.audio_every": 3, "train.audio_seconds": 0.3}
    train(data, run, tiny_notes_config(str(tmp_path / "cache"), **overrides), quiet=True)
    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"audio": 0}).Reload()
    [logged] = events.Audio("generated")
    preview, rate = sf.read(io.BytesIO(logged.encoded_audio_string))

    model, config = load_model(run)
    options = GenerateConfig(seconds=0.3, notes=str(data / "take.mid"), seed=config.train.seed)
    unguarded = dataclasses.replace(options, redraw_noise=0.0)
    rendered = generate_audio(model, config, unguarded, progress=False)
    assert rate == RATE and preview.shape == rendered[0].shape
    np.testing.assert_allclose(preview, rendered[0], atol=2 / 32767)  # 16-bit in TensorBoard
    at_gain_1 = dataclasses.replace(unguarded, excitation_gain=1.0)
    assert (
        np.abs(generate_audio(model, config, at_gain_1, progress=False)[0] - preview).max() > 0.01
    )
