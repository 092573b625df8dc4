"""The composer of a run trained on notes: event tokens through the same transformer (its
incremental step is exact on them too), train-composer on a tiny notes run (held-out bits
against the bigram), compose writing a MIDI file and its render, primes, bad input."""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
from dataclasses import replace
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile as sf
import torch
import torch.nn.functional as F

from wavenet_music.cli import main
from wavenet_music.composer import compose as compose_module
from wavenet_music.composer.checkpoint import build_composer, load_composer
from wavenet_music.composer.compose import (
    SOUNDING_RESTS_DB,
    check_composer,
    checked_prime,
    compose,
    require_unsteered,
    rests_words,
    shortest_words,
    unsteered_rests,
)
from wavenet_music.composer.config import ComposerConfig, PieceConfig
from wavenet_music.composer.data import Stream, held_out_bits, split_rows, training_batch
from wavenet_music.composer.model import Composer
from wavenet_music.composer.note_piece import (
    compose_events,
    is_midi,
    notes_steering,
    piece_notes,
    read_note_prime,
)
from wavenet_music.composer.note_tokens import (
    note_corpus,
    rest_levels,
    shortest_notes,
    sounding_frames,
)
from wavenet_music.composer.train import train_composer
from wavenet_music.config import Config, UserError, apply_overrides
from wavenet_music.notes.events import (
    NOTE_OFF,
    NOTE_ON,
    TIME_SHIFT,
    VELOCITY,
    VOCAB_SIZE,
    decode,
    duration_steps,
    encode,
    shifts,
    velocity_in_force,
)
from wavenet_music.notes.excitation import excitation, sounding
from wavenet_music.notes.midi import PIANO_RANGE, Note, read_midi, write_midi
from wavenet_music.notes.phrases import PhraseIndex
from wavenet_music.report.notes import split_notes
from wavenet_music.runtime.stop import Interrupted
from wavenet_music.wavenet.checkpoint import load_model
from wavenet_music.wavenet.windows import IGNORE

from ..conftest import tiny_notes_config

RATE = 16000
ARPEGGIO = (0, 4, 7, 12, 7, 4)  # up and down a major chord, again and again


def arpeggio(key: int, seconds: float = 3.0) -> list[Note]:
    """A note every 0.2 s, 0.15 s long, accents on every third."""
    count = int((seconds - 0.1) / 0.2)
    return [
        Note(0.05 + 0.2 * i, 0.2 + 0.2 * i, 48 + key + ARPEGGIO[i % 6], 60 + 30 * (i % 3 == 0))
        for i in range(count)
    ]


@pytest.fixture(scope="module")
def notes_composer(tmp_path_factory):
    """Six recordings with their scores beside them in two label folders, a notes WaveNet
    trained 3 steps, and a composer of event tokens trained 150 steps (3 s) on them."""
    from wavenet_music.wavenet.train import train

    base = tmp_path_factory.mktemp("notes_composer")
    data = base / "data"
    for folder, keys, program in (("a", (0, 2, 5), 0), ("b", (7, 9, 3), 24)):  # b: a guitar
        (data / folder).mkdir(parents=True)
        for key in keys:
            notes = [replace(n, program=program) for n in arpeggio(key)]
            audio = 0.3 * excitation(notes, 0, 3 * RATE, RATE)[1]
            sf.write(data / folder / f"take{key}.wav", audio, RATE)
            write_midi(data / folder / f"take{key}.mid", notes)
    config = tiny_notes_config(str(base / "cache"), **{"data.labels": "folders"})
    train(data, base / "run", config, quiet=True)
    options = ComposerConfig(
        layers=2,
        heads=2,
        width=64,
        dropout=0.0,
        context_seconds=2.0,
        batch_size=8,
        learning_rate=3e-3,
        warmup_steps=5,
        steps=150,
        validate_every=25,
        patience=None,
        transpose=True,
    )
    result = train_composer(base / "run", None, options, quiet=True)
    return base / "run", data, result


# --- the model on event tokens -------------------------------------------------------------


@pytest.mark.parametrize(("prime", "context"), [(1, 16), (7, 16), (30, 16), (5, 200)])
def test_incremental_step_equals_the_full_forward_on_event_tokens(prime, context):
    """The generic step test (test_composer.py) on random ints, here on real event
    streams, with labels, the vocabulary of 308 events and the start token 308."""
    torch.manual_seed(0)
    model = Composer(ComposerConfig(layers=2, heads=4, width=32), VOCAB_SIZE, 2, context).eval()
    streams = [encode(arpeggio(0)), encode(arpeggio(5))]
    length = min(len(s) for s in streams) + 1
    tokens = torch.from_numpy(
        np.stack([np.concatenate([[VOCAB_SIZE], s])[:length] for s in streams])
    )  # (2, T)
    labels = torch.tensor([0, 1])
    state = model.initial_state(labels)
    with torch.no_grad():
        logits, state = model.step(tokens[:, :prime], state)
        full = model(tokens[:, :prime], labels, window=context)[:, -1]
        torch.testing.assert_close(logits, full, atol=1e-5, rtol=1e-5)
        for t in range(prime, length):
            logits, state = model.step(tokens[:, t], state)
            full = model(tokens[:, : t + 1], labels, window=context)[:, -1]  # (B, V)
            torch.testing.assert_close(logits, full, atol=1e-5, rtol=1e-5)


# --- events to notes ------------------------------------------------------------------------------


def test_piece_notes_continue_the_prime_from_zero_and_end_at_the_length():
    prime = encode([Note(0.0, 0.3, 60, 100)], end=0.5)  # velocity bin 25 is left set
    on = 64 - 21
    events = np.array([on, *shifts(20), on + 88, on + 2, *shifts(150)])
    notes = piece_notes(prime, events, seconds=1.0)
    assert notes == [Note(0.0, 0.2, 64, 102), Note(0.2, 1.0, 66, 102)]


def test_compose_events_stop_at_the_length_or_the_cap():
    torch.manual_seed(0)
    model = Composer(ComposerConfig(layers=1, heads=2, width=16), VOCAB_SIZE, 0, 32).eval()
    generator = torch.Generator().manual_seed(0)
    options = PieceConfig(seconds=2.0, temperature=1.0, hold_penalty=0.0)
    events = compose_events(model, np.zeros(0, np.int64), None, 3, options, generator)
    for row in events:  # the last event is the TIME_SHIFT that reaches 2 s
        assert duration_steps(row) >= 200 > duration_steps(row[:-1])
    with torch.no_grad():
        model.head.bias[TIME_SHIFT:VELOCITY] = -1e9  # time never moves on
    short = PieceConfig(seconds=0.05, temperature=1.0, hold_penalty=0.0)
    stuck = compose_events(model, np.zeros(0, np.int64), None, 2, short, generator)
    assert [duration_steps(row) for row in stuck] == [0, 0] and len(stuck[0]) >= 50
    # shorter than one step of the note grid (compose --seconds 0.001 raised from numpy)
    tiny = replace(short, seconds=0.001)
    instant = compose_events(model, np.zeros(0, np.int64), None, 2, tiny, generator)
    assert [len(row) for row in instant] == [0, 0]


# --- train-composer on a notes run ----------------------------------------------------------------


def test_a_window_cut_mid_piece_starts_with_the_velocity_in_force():
    """Training windows of note events: one cut where a velocity was
    set earlier starts with that VELOCITY in place of its first token, so the composer
    always knows how hard the keys are struck; the targets are the piece's own; a window
    at the piece's start, or with no velocity set before it, is the piece as it is."""
    piece = np.array(
        [VELOCITY + 20, NOTE_ON + 39, TIME_SHIFT + 9, NOTE_OFF + 39, NOTE_ON + 41]
        + [TIME_SHIFT + 4, NOTE_ON + 43, TIME_SHIFT + 4, NOTE_OFF + 43] * 20
    )
    streams = (Stream("a", 0, piece),)
    start = VOCAB_SIZE  # the composer's start token, after the vocabulary
    rng = np.random.default_rng(0)
    inputs, targets, _ = training_batch(streams, 8, 64, start, rng, velocity_in_force)
    plain, plain_targets, _ = training_batch(streams, 8, 64, start, np.random.default_rng(0))
    sequence = np.concatenate([[start], piece])
    assert torch.equal(targets, plain_targets)
    for row, (cut, as_is) in enumerate(zip(inputs.numpy(), plain.numpy(), strict=True)):
        fed = int((targets[row] != IGNORE).sum())  # the rest is padding past the end
        first = int(np.flatnonzero(
            [np.array_equal(sequence[f : f + fed], as_is[:fed]) for f in range(len(sequence))]
        )[0])  # fmt: skip
        expected = as_is.copy()
        if first >= 1:  # past the start token: the VELOCITY at 1 is in force
            expected[0] = VELOCITY + 20
        assert np.array_equal(cut, expected), (row, first)
    carried = (inputs[:, 0] == VELOCITY + 20) & (plain[:, 0] != VELOCITY + 20)
    assert bool(carried.any())  # some windows were cut past the VELOCITY
    unset = (Stream("b", 0, piece[1:]),)  # no velocity ever set: nothing to carry
    kept, _, _ = training_batch(unset, 8, 16, start, np.random.default_rng(1), velocity_in_force)
    as_is, _, _ = training_batch(unset, 8, 16, start, np.random.default_rng(1))
    assert torch.equal(kept, as_is)


def test_held_out_windows_carry_the_velocity_in_force_as_training_does():
    """A composer of context 4 scores a piece whose every NOTE_ON follows a velocity set
    once at its start, far beyond the context: the held-out bits with the velocity carried
    are those of a full forward over the windows built by hand, and differ from those
    without it (the composer hears it)."""
    torch.manual_seed(0)
    composer = Composer(
        ComposerConfig(layers=1, heads=2, width=16, context_seconds=1.0), VOCAB_SIZE, 0, 4
    ).eval()
    piece = np.array([VELOCITY + 20] + [NOTE_ON + 39, TIME_SHIFT + 9, NOTE_OFF + 39] * 6)
    stream = Stream("a", -1, piece)
    carried = held_out_bits(composer, (stream,), torch.device("cpu"), velocity_in_force)
    as_is = held_out_bits(composer, (stream,), torch.device("cpu"))
    sequence = np.concatenate([[composer.start_token], piece])  # (20,)
    total, count = 0.0, 0
    for end in range(1, len(sequence), 2):  # stride: half the context
        stop = min(end + 2, len(sequence))
        first = max(0, stop - 1 - 4)
        window = sequence[first : stop - 1].copy()
        if end - 1 > first and first > 0:
            window[0] = VELOCITY + 20
        with torch.no_grad():
            logits = composer(torch.from_numpy(window)[None])[0, end - 1 - first :]
        targets = torch.from_numpy(sequence[end:stop])
        total += F.cross_entropy(logits, targets, reduction="sum").item()
        count += stop - end
    assert carried == pytest.approx(total / count / math.log(2), rel=1e-6)
    assert carried != pytest.approx(as_is, rel=1e-3)


def test_the_notes_of_the_split_become_event_streams_in_twelve_keys(notes_composer):
    run, data, _ = notes_composer

    _, config = load_model(run)
    plain = note_corpus(run, data, config, ComposerConfig())
    moved = note_corpus(run, data, config, ComposerConfig(transpose=True))
    assert plain.codebook is None and plain.vocab == VOCAB_SIZE
    assert len(plain.train) == 4 and len(plain.validation) == 2  # one held out per folder
    assert len(moved.train) == 12 * len(plain.train)
    assert sorted({s.transposition for s in moved.train}) == list(range(-5, 7))
    assert [s.tokens.tolist() for s in moved.validation] == [
        s.tokens.tolist() for s in plain.validation
    ]
    for stream in plain.train:  # each stream is its recording's score
        key = int(stream.source.split("take")[1].split(".")[0])
        assert decode(stream.tokens) == decode(encode(arpeggio(key)))
        assert stream.label == (0 if stream.source.startswith("a/") else 1)
    tokens = sum(len(s.tokens) for s in plain.train)
    assert plain.events_per_second == pytest.approx(tokens / 12.0, rel=0.01)  # 4 × 3 s


def test_train_composer_on_notes_lowers_held_out_bits_beside_the_bigram(notes_composer):
    run, data, result = notes_composer
    record = result.to_dict()
    bits = [b for _, b in result.validation_bits]
    assert record["tokens"] == "note events" and record["frames_per_token"] is None
    assert min(bits) < bits[0] - 1 and bits[0] < math.log2(VOCAB_SIZE) + 1
    assert result.best_bits == min(bits) < result.bigram_bits < result.unigram_bits
    assert result.calibration is None  # no calibration for events
    saved = load_composer(run)
    assert saved.codebook is None and saved.vocab == VOCAB_SIZE and saved.step == 150
    context = ComposerConfig(context_seconds=2.0).context_events(result.tokens_per_second)
    assert saved.context == context
    lines = (run / "composer" / "metrics.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    assert first["bigram_bits_per_token"] == pytest.approx(result.bigram_bits)
    corpus = note_corpus(run, data, load_model(run)[1], saved.config)
    composer, cpu = build_composer(saved), torch.device("cpu")
    assert held_out_bits(composer, corpus.validation, cpu) == pytest.approx(
        result.best_bits, rel=1e-5
    )  # the windows as cut: carry_velocity is off by default
    print(
        f"\nheld-out bits/token: composer {result.best_bits:.3f} (first {bits[0]:.3f}),"
        f" bigram {result.bigram_bits:.3f}, unigram {result.unigram_bits:.3f}, "
        f"{result.tokens_per_second:.1f} events/s"
    )


def test_a_composer_told_to_carry_the_velocity_is_scored_with_it(notes_composer, tmp_path):
    """``carry_velocity``: training and the held-out score cut windows that start with the
    velocity in force; the reported bits are those of ``held_out_bits`` with it, not
    without it (mutation-checked: the trainer scoring without it fails this)."""
    run, data, _ = notes_composer
    copy = tmp_path / "run"
    shutil.copytree(run, copy, ignore=shutil.ignore_patterns("composer"))
    options = ComposerConfig(
        layers=1, heads=2, width=32, context_seconds=2.0, steps=20, validate_every=20,
        transpose=False, carry_velocity=True,
    )  # fmt: skip
    result = train_composer(copy, None, options, quiet=True)
    saved = load_composer(copy)
    corpus = note_corpus(copy, data, load_model(copy)[1], saved.config)
    assert corpus.state is velocity_in_force
    composer, cpu = build_composer(saved), torch.device("cpu")
    carried = held_out_bits(composer, corpus.validation, cpu, corpus.state)
    assert carried == pytest.approx(result.best_bits, rel=1e-5)
    assert held_out_bits(composer, corpus.validation, cpu) != pytest.approx(carried, rel=1e-5)


def test_train_composer_resumes_a_composer_of_events_through_the_cli(
    notes_composer, tmp_path, capsys
):
    run, _, result = notes_composer
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    assert main(["train-composer", str(copy), "--resume", "--steps", "160"]) == 0
    out, err = capsys.readouterr()
    record = json.loads(out.strip().splitlines()[-1])
    assert record["step"] == 160 and record["tokens"] == "note events"
    assert record["bigram_bits_per_token"] == pytest.approx(result.bigram_bits)
    best, bigram = record["validation_bits_per_token"], result.bigram_bits
    said = f"the composer: held-out {best:.3f} bits per note event, {bigram - best:.3f} under"
    assert said in err  # where it stands, as it ends
    saved = load_composer(copy)
    assert saved.step == 160 and saved.codebook is None


# --- compose ------------------------------------------------------------------------------------


def test_compose_warns_of_a_composer_not_below_its_bigram(notes_composer, tmp_path, capsys):
    """The fixture's composer is below its bigram: nothing said. Its records rewritten
    with every held-out score above the bigram's: one warning, with the command that
    trains it on."""
    run, _, result = notes_composer
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    args = ["compose", str(copy), "--seconds", "0.25", "--label", "a"]
    assert main([*args, "--out", str(tmp_path / "learned.wav")]) == 0
    assert "bigram" not in capsys.readouterr().err
    metrics = copy / "composer" / "metrics.jsonl"
    records = [json.loads(line) for line in metrics.read_text().splitlines()]
    worse = result.bigram_bits + 0.5
    records = [{**r, "validation_bits": worse} if "validation_bits" in r else r for r in records]
    metrics.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert main([*args, "--out", str(tmp_path / "wanders.wav")]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "bigram" in line]
    assert len(warnings) == 1 and warnings[0].startswith(f"warning: the composer of {copy}: ")
    assert f"held-out {worse:.3f} bits per note event after 150 steps, not below" in warnings[0]
    assert warnings[0].endswith(f"wavenet-music train-composer {copy} --resume --steps 2000")


def test_compose_writes_the_notes_as_midi_and_their_render(notes_composer, tmp_path, capsys):
    run, _, _ = notes_composer
    out = tmp_path / "piece.wav"
    args = ["compose", str(run), "--seconds", "0.75", "--label", "a,b", "--out", str(out)]
    assert main([*args, "--seed", "0"]) == 0  # (seed 1 rests through clip b: no notes)
    printed = capsys.readouterr().out.split()
    wavs = [tmp_path / "piece-a.wav", tmp_path / "piece-b.wav"]
    midis = [p.with_suffix(".mid") for p in wavs]
    assert printed == [str(p) for p in wavs + midis]
    for wav, midi in zip(wavs, midis, strict=True):
        audio, rate = sf.read(wav)
        assert rate == RATE and audio.shape == (12000,) and np.isfinite(audio).all()
        notes = read_midi(midi)
        assert all(PIANO_RANGE[0] <= n.pitch <= PIANO_RANGE[1] for n in notes)
        assert all(0 <= n.onset < n.offset <= 0.75 + 1e-3 for n in notes)
        assert mido.MidiFile(midi).length == pytest.approx(0.75, abs=1e-3)  # as its WAV
    # each label's notes played by the instrument of its training notes (b's: a guitar)
    assert {n.program for n in read_midi(midis[0])} == {0}
    assert {n.program for n in read_midi(midis[1])} == {24}
    assert load_composer(run, weights_only=True).meta["programs"] == [0, 24]


def test_compose_num_writes_several_pieces_of_a_label_in_one_batch(
    notes_composer, tmp_path, capsys
):
    """``--num 2``: two pieces of each label, composed together, each its own notes and
    audio (compose offered ``--num`` in its refusal of a label named twice, and had none)."""
    run, _, _ = notes_composer
    out = tmp_path / "piece.wav"
    args = ["compose", str(run), "--seconds", "0.75", "--label", "a,b", "--num", "2"]
    assert main([*args, "--seed", "0", "--out", str(out)]) == 0
    tags = ["a-1", "a-2", "b-1", "b-2"]
    wavs = [tmp_path / f"piece-{tag}.wav" for tag in tags]
    assert capsys.readouterr().out.split() == [str(p) for p in wavs] + [
        str(p.with_suffix(".mid")) for p in wavs
    ]
    audio = [sf.read(wav)[0] for wav in wavs]
    assert all(a.shape == (12000,) and np.isfinite(a).all() for a in audio)
    assert not np.array_equal(audio[0], audio[1]) and not np.array_equal(audio[2], audio[3])
    programs = [{n.program for n in read_midi(wav.with_suffix(".mid"))} for wav in wavs]
    assert programs[:2] == [{0}, {0}] and programs[2:] == [{24}, {24}]  # each its label's
    assert "--num 2" in bad(["compose", str(run), "--label", "a,a"], capsys)


def test_each_labels_shortest_notes_are_those_1_in_200_of_its_notes_fall_under():
    """Label 0: notes of 10 ms, 20 ms ... 4 s (1 in 200 under 20 ms, 2 in 400 under 30);
    label 1 none; label 2 all 0.25 s; on the 10-ms grid, never above the notes'."""
    rising = [Note(sum(range(k)) / 100, sum(range(k + 1)) / 100, 60, 80) for k in range(1, 401)]
    even = [Note(0.5 * i, 0.5 * i + 0.25, 62, 80) for i in range(50)]
    streams = [Stream("a", 0, encode(rising[:200])), Stream("b", 0, encode(rising[200:]))]
    streams.append(Stream("c", 2, encode(even)))
    assert shortest_notes(streams, 3) == (0.02, 0.0, 0.25)
    assert shortest_notes([Stream("d", -1, encode(even))], 0) == (0.25,)  # no labels


def test_a_labels_rest_level_is_its_music_between_its_notes_against_under_them(
    notes_composer, tmp_path
):
    """The fixture's run on its recordings made silent wherever their notes rest (a
    score's rests): both labels far under -12 dB. Label b's under a constant tone as well
    (a pad its notes leave out): b's rests within a few dB of its notes, a's as before."""
    run, data, _ = notes_composer
    config = load_model(run)[1]

    def levels(pad: float) -> tuple:
        folder = tmp_path / f"pad{pad}"
        shutil.copytree(data, folder)
        for wav in sorted(folder.glob("*/*.wav")):
            audio, rate = sf.read(wav)
            t = np.arange(len(audio)) / rate
            held = np.zeros(len(audio), dtype=bool)
            for n in read_midi(wav.with_suffix(".mid")):
                held[round(n.onset * rate) : round(n.offset * rate)] = True
            audio[~held] = 0.0
            if wav.parent.name == "b":
                audio += pad * np.sin(2 * np.pi * 110 * t)
            sf.write(wav, audio, rate)
        return rest_levels(split_rows(run, folder, config, "train"), config, 3)

    silent, padded = levels(0.0), levels(0.1)
    assert silent[0] < -30 and silent[1] < -30 and silent[2] is None  # 2: no music
    assert padded[0] == pytest.approx(silent[0]) and -6 < padded[1] <= 0


def test_the_frames_notes_sound_in():
    notes = [Note(0.06, 0.11, 60, 80)]  # sounds in frames 1 and 2 of 50 ms
    assert sounding_frames(notes, 4, 0.05).tolist() == [False, True, True, False]


def test_each_clip_plays_its_rests_unsteered_as_its_labels_music_does():
    job = dataclasses.make_dataclass("Job", ["clips", "labels", "config"])
    withheld = apply_overrides(Config(), {"train.local_dropout": 0.3})
    by_label = [SOUNDING_RESTS_DB + 1, SOUNDING_RESTS_DB - 1, None]
    three = job(3, torch.tensor([0, 1, 2]), withheld)
    assert unsteered_rests(None, by_label, three) == [True, False, False]
    assert unsteered_rests(True, by_label, three) == [True] * 3
    assert unsteered_rests(False, by_label, three) == [False] * 3
    assert unsteered_rests(None, None, three) == [False] * 3  # a composer that stored none
    unlabelled = job(2, None, withheld)
    assert unsteered_rests(None, [0.0], unlabelled) == [True, True]  # a run without labels
    never_without = job(3, torch.tensor([0, 1, 2]), Config())  # local_dropout 0
    assert unsteered_rests(None, by_label, never_without) == [False] * 3
    with pytest.raises(UserError, match=r"^--unsteered-rests true .* train.local_dropout 0 "):
        require_unsteered(PieceConfig(unsteered_rests=True), Config())
    for chosen in (None, False):
        require_unsteered(PieceConfig(unsteered_rests=chosen), Config())
    require_unsteered(PieceConfig(unsteered_rests=True), withheld)
    assert rests_words(["ambient", "piano", "ambient-2"], [True, False, True]) == "ambient"


def test_unsteered_rests_are_absent_frames_where_no_key_is_down(notes_composer):
    """The roll of a clip told to play its rests unsteered is NaN (absent, as training
    withholds notes) exactly on the frames where no key is down; the other clip's rests
    and every frame under a note are the roll as before."""
    run, _, _ = notes_composer
    config = load_model(run)[1]
    options = PieceConfig(seconds=1.0)
    notes = [Note(0.1, 0.3, 60, 90), Note(0.6, 0.7, 64, 90)]
    steered = notes_steering([notes, notes], config, options)["features"]  # (2, 176, K)
    mixed = notes_steering([notes, notes], config, options, [True, False])["features"]
    rest = (steered[0] == 0).all(dim=0)  # (K,)
    assert 0 < rest.sum() < rest.numel()
    assert torch.isnan(mixed[0][:, rest]).all() and not torch.isnan(mixed[0][:, ~rest]).any()
    assert torch.equal(mixed[0][:, ~rest], steered[0][:, ~rest])
    assert torch.equal(mixed[1], steered[1])


def test_the_shortest_notes_are_said_once_per_label():
    tags, seconds = ["ambient", "guitar", "guitar-2"], [0.13, 0.06, 0.06]
    assert shortest_words(tags, seconds) == "0.13 s (ambient), 0.06 s (guitar)"
    assert shortest_words(["", "2"], [0.1, 0.1]) == "0.1 s"


def test_compose_holds_each_key_as_long_as_its_labels_shortest_notes(
    notes_composer, tmp_path, capsys
):
    """train-composer stores each label's shortest notes (its arpeggios' are 0.15 s), and
    no composed note is shorter unless its key is struck again at its end or the piece's
    end cuts it; --shortest-note sets it."""
    run, _, _ = notes_composer
    assert load_composer(run, weights_only=True).meta["shortest_notes"] == [0.15, 0.15]
    out = tmp_path / "piece.wav"
    rests = ", rests played unsteered (a, b)"  # the fixture's rests play on (its releases)
    for given, shortest, said in (
        ((), 0.15, rests),
        (("--shortest-note", "0.4", "--unsteered-rests", "false"), 0.4, ""),
    ):
        args = ["compose", str(run), "--seconds", "3", "--label", "a,b", "--out", str(out)]
        assert main([*args, *given]) == 0
        assert f"no key lifted sooner than {shortest:g} s{said}\n" in capsys.readouterr().err
        for label in "ab":
            notes = read_midi(tmp_path / f"piece-{label}.mid")
            struck = {(round(n.onset, 3), n.pitch) for n in notes}
            lifted = [n for n in notes if (round(n.offset, 3), n.pitch) not in struck]
            assert len(lifted) >= 2
            short = [n for n in lifted if n.offset - n.onset < shortest - 1e-6 and n.offset < 3]
            assert not short, (given, label, short)


def test_ctrl_c_while_the_notes_play_names_the_whole_notes_too(
    notes_composer, tmp_path, capsys, monkeypatch
):
    """The MIDI files are written whole before the render: a Ctrl-C names them beside the
    audio so far (it named only the WAV, whose 0.8 s sat beside a 60-s piece's notes)."""
    run, _, _ = notes_composer
    out = tmp_path / "piece.wav"

    def stopped(*args, **kwargs):
        raise Interrupted([out.with_name("piece-a.wav")])

    monkeypatch.setattr(compose_module, "play_notes", stopped)
    args = ["compose", str(run), "--seconds", "0.75", "--label", "a", "--seed", "0"]
    assert main([*args, "--out", str(out)]) == 130
    err = capsys.readouterr().err
    midi = tmp_path / "piece-a.mid"
    assert f"the audio so far is in {out.with_name('piece-a.wav')}; " in err
    assert f"the notes, whole, in {midi}" in err and read_midi(midi)


def test_the_piece_plays_the_notes_it_wrote(notes_composer, tmp_path):
    """The MIDI file holds the piece's notes; the same seed composes the same piece."""
    run, _, _ = notes_composer
    options = PieceConfig(seconds=0.5, label="b", seed=4, chunk_seconds=0.1)
    seen = []
    piece = compose(run, options, out=tmp_path / "p.wav", on_chunk=lambda a: seen.append(a.shape))
    assert [shape[1] for shape in seen] == [1600, 3200, 4800, 6400, 8000]
    assert piece.midi_paths == [tmp_path / "p-b.mid"] and piece.temperature == 1.0
    back = read_midi(tmp_path / "p-b.mid")
    assert len(back) == len(piece.notes[0])
    for got, want in zip(back, piece.notes[0], strict=True):
        assert (got.pitch, got.velocity) == (want.pitch, want.velocity)
        assert abs(got.onset - want.onset) < 1e-3 and abs(got.offset - want.offset) < 1e-3
    assert piece.features.shape == (1, 8000 // 64, 176)
    again = compose(run, options)
    assert again.notes == piece.notes
    np.testing.assert_array_equal(again.audio, piece.audio)
    # the WaveNet's sampling floor acts from the first sample a note sounds, not before
    assert options.wavenet_note_temperature_scale < 1  # sharper draws there by default
    whole = compose(run, dataclasses.replace(options, wavenet_floor=0.0))
    assert whole.notes == piece.notes and piece.notes[0]
    first = int(np.argmax(sounding(piece.notes[0], 8000, RATE)))
    np.testing.assert_array_equal(whole.audio[0, :first], piece.audio[0, :first])
    assert not np.array_equal(whole.audio[0, first:], piece.audio[0, first:])
    # and so does its sharper temperature there (floor off in both)
    even = compose(
        run, dataclasses.replace(options, wavenet_floor=0.0, wavenet_note_temperature_scale=1.0)
    )
    np.testing.assert_array_equal(whole.audio[0, :first], even.audio[0, :first])
    assert not np.array_equal(whole.audio[0, first:], even.audio[0, first:])


def test_compose_continues_a_midi_prime_and_an_audio_prime(notes_composer, tmp_path):
    run, data, _ = notes_composer
    karaoke = tmp_path / "take2.kar"  # a karaoke file is a MIDI file, not audio
    karaoke.write_bytes((data / "a" / "take2.mid").read_bytes())
    for prime in (data / "a" / "take2.mid", karaoke, data / "b" / "take9.wav"):
        out = tmp_path / f"{prime.suffix[1:]}.wav"
        args = ["compose", str(run), "--seconds", "0.25", "--label", "a", "--out", str(out)]
        assert main([*args, "--prime", str(prime)]) == 0
        assert sf.read(out.with_name(f"{out.stem}-a.wav"))[0].shape == (4000,)
        assert out.with_name(f"{out.stem}-a.mid").is_file()


def test_an_audio_prime_of_nan_is_one_line_and_nan_inside_one_a_warning(tmp_path, capsys):
    """An all-NaN audio ``--prime`` of a notes run was "found no notes (it is silent)",
    NaN/inf inside one silence without a word: said as ``--seed-audio`` says it."""
    config = tiny_notes_config(str(tmp_path / "cache"))
    nan = tmp_path / "nan.wav"
    sf.write(nan, np.full(RATE, np.nan, dtype=np.float32), RATE, subtype="FLOAT")
    why = r"no finite samples \(all NaN or infinite\): nothing to continue; pass another --prime"
    with pytest.raises(UserError, match=why):
        read_note_prime(nan, config)
    holes = tmp_path / "holes.wav"
    audio = (0.3 * excitation(arpeggio(0), 0, 3 * RATE, RATE)[1]).astype(np.float32)
    audio[-100:] = np.nan
    sf.write(holes, audio, RATE, subtype="FLOAT")
    capsys.readouterr()
    assert len(read_note_prime(holes, config).tokens)
    err = capsys.readouterr().err
    assert err.count(f"warning: {holes}: 100 non-finite samples replaced by 0 (the prime)") == 1


def test_a_midi_file_is_known_by_its_name_or_its_first_bytes(notes_composer, tmp_path):
    _, data, _ = notes_composer
    unnamed = tmp_path / "song.bin"
    unnamed.write_bytes((data / "a" / "take2.mid").read_bytes())
    assert is_midi(unnamed) and is_midi(tmp_path / "new.KAR") and is_midi(tmp_path / "x.smf")
    assert not is_midi(data / "b" / "take9.wav") and not is_midi(tmp_path / "missing.wav")


def test_a_midi_prime_with_a_key_off_the_piano_is_played_without_it(
    notes_composer, tmp_path, capsys
):
    """As ``render`` plays such a file: the key left out, named in a warning."""
    run, data, _ = notes_composer
    prime = tmp_path / "high.mid"
    write_midi(prime, [*read_midi(data / "a" / "take2.mid"), Note(0.1, 0.2, 127)])
    capsys.readouterr()
    out = tmp_path / "p.wav"
    args = ["compose", str(run), "--seconds", "0.1", "--label", "a", "--out", str(out)]
    assert main([*args, "--prime", str(prime)]) == 0
    assert "G9 (127) at 0.10 s: left out" in capsys.readouterr().err
    assert out.with_name("p-a.wav").is_file()


def bad(argv: list[str], capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    return err


def test_bad_input_is_one_line(notes_composer, tmp_path, capsys):
    run, _, _ = notes_composer
    args = ["compose", str(run), "--seconds", "0.1", "--label", "a"]
    args += ["--out", str(tmp_path / "piece.wav")]
    corrupt = tmp_path / "corrupt.mid"
    corrupt.write_bytes(b"MThd\x00\x00\x00\x06\x00\x01garbage")
    assert "not a readable MIDI file" in bad([*args, "--prime", str(corrupt)], capsys)
    empty = tmp_path / "empty.mid"
    empty.write_bytes(b"")
    assert "is empty" in bad([*args, "--prime", str(empty)], capsys)
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(RATE), RATE)
    assert "found no notes" in bad([*args, "--prime", str(silent)], capsys)
    assert "drop --features-out" in bad([*args, "--features-out", str(tmp_path / "f.npy")], capsys)
    assert "expected a WAV path" in bad([*args[:-2], "--out", str(tmp_path / "x.mid")], capsys)
    assert not list(tmp_path.glob("*-a.*"))  # nothing written, not even in part


def test_no_output_is_written_over_the_file_the_command_reads(notes_composer, tmp_path, capsys):
    """A label is added to ``--out``: ``--out song.wav --label a`` names ``song-a.mid``
    and ``song-a.wav``, which may be the prime, the seed audio or the notes given."""
    run, data, _ = notes_composer
    prime, recording = tmp_path / "song-a.mid", tmp_path / "take-a.wav"
    prime.write_bytes((data / "a" / "take2.mid").read_bytes())
    recording.write_bytes((data / "a" / "take2.wav").read_bytes())
    kept = {path: path.read_bytes() for path in (prime, recording)}
    song, take = str(tmp_path / "song.wav"), str(tmp_path / "take.wav")
    compose = ["compose", str(run), "--seconds", "0.1", "--label", "a", "--out", song]
    assert bad([*compose, "--prime", str(prime)], capsys) == (
        f"wavenet-music compose: error: --out: {prime} would replace --prime {prime}, "
        "which this command reads; "
        "name another --out"
    )
    assert "replace --prime" in bad([*compose[:-1], take, "--prime", str(recording)], capsys)
    generate = ["generate", str(run), "--seconds", "0.1", "--label", "a", "--out", take]
    assert "replace --seed-audio" in bad([*generate, "--seed-audio", str(recording)], capsys)
    odd = tmp_path / "tune-a.wav"  # a MIDI file under an audio name: read by its bytes
    odd.write_bytes(prime.read_bytes())
    kept[odd] = odd.read_bytes()
    render = ["render", str(run), str(odd), "--seconds", "0.1", "--label", "a"]
    assert "replace --notes" in bad([*render, "--out", str(tmp_path / "tune.wav")], capsys)
    assert all(path.read_bytes() == content for path, content in kept.items())


def test_a_composer_serves_only_its_kind_of_run(notes_composer, tmp_path):
    run, _, _ = notes_composer
    saved = load_composer(run, weights_only=True)

    _, notes_config = load_model(run)
    check_composer(saved, notes_config, run)
    chroma = apply_overrides(Config(), {"data.features": "chroma", "model.local_channels": 12})
    chroma = dataclasses.replace(
        chroma, model=dataclasses.replace(chroma.model, global_labels=("a", "b"))
    )
    with pytest.raises(UserError, match="writes note events, but its WaveNet is steered by chroma"):
        check_composer(saved, chroma, run)
    midi = tmp_path / "x.mid"
    write_midi(midi, [Note(0.0, 1.0, 60)])
    assert checked_prime(str(midi), run, notes=True) == midi
    with pytest.raises(UserError, match="a MIDI prime needs a run trained with --preset notes"):
        checked_prime(str(midi), Path("chroma_run"), notes=False)


def test_the_report_shows_each_composed_piece_as_notes_above_its_spectrogram(
    notes_composer, tmp_path
):
    from wavenet_music.report.build import report_main

    run, data, _ = notes_composer
    page = report_main(run, data, tmp_path / "report", clips=1, seconds=1.5).read_text()
    assert "It lifts no key sooner than the label's shortest training notes: 0.15 s." in page
    # the fixture's notes rest only in their releases: its rests play on, unsteered
    levels = load_composer(run, weights_only=True).meta["rest_levels"]
    assert all(SOUNDING_RESTS_DB < level < 0 for level in levels)
    assert "Where no key is down the WaveNet plays unsteered for a, b (that music" in page
    for label in ("a", "b"):
        stem = f"{label}-composed-1"
        midi = read_midi(tmp_path / "report" / f"{stem}.mid")  # the notes the clip plays
        assert all(n.onset < 1.5 for n in midi)
        roll = page.index(f'src="{stem}-notes.png"')
        assert roll < page.index(f'src="{stem}.png"')  # the roll above the spectrogram
        assert f'href="{stem}.mid">its notes: MIDI file, {len(midi)} notes' in page
        assert (tmp_path / "report" / f"{stem}-notes.png").stat().st_size > 1000
    # the composed notes beside the genre's, in the table and in the figures the check reads
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    # every piece's falls into noise drawn again, by kind and label, said under the verdict
    redraws = summary["redraws"]
    assert set(redraws) == {"composed", "plain"}
    assert all(set(by_label) == {"a", "b"} for by_label in redraws.values())
    counts = [c for by_label in redraws.values() for c in by_label.values()]
    assert all(0 <= c["left_as_noise"] <= c["falls"] for c in counts)
    said = page[page.index('<p class="redraws">') :].split("</p>")[0]
    assert ("none." in said) == (sum(c["falls"] for c in counts) == 0)
    assert "The notes, composed and real" in page
    training = split_notes(run, data, load_model(run)[1], "train")  # every label's
    for label in ("a", "b"):
        composed, real = summary["notes"][label]["composed"], summary["notes"][label]["real"]
        assert composed["notes"] == len(read_midi(tmp_path / "report" / f"{label}-composed-1.mid"))
        assert composed["seconds"] == 1.5
        # the training notes: arpeggios of 0.15-s notes every 0.2 s, keys 48-72
        assert real["notes_per_second"] == pytest.approx(5.0, rel=0.1)
        assert real["sounding_at_once"] == pytest.approx(0.75, rel=0.1)
        assert real["median_length_s"] == pytest.approx(0.15) and real["long_share"] == 0
        assert 48 <= real["low_pitch"] < real["high_pitch"] <= 72
        rate = f"{composed['notes_per_second']:.1f}"
        assert f'<td>{rate} <span class="genre">({real["notes_per_second"]:.1f})</span>' in page
        # its longest phrase shared with the training notes, beside the held-out music's
        index = PhraseIndex(n for segments in training.values() for n, _ in segments)
        played = read_midi(tmp_path / "report" / f"{label}-composed-1.mid")
        assert composed["longest_shared_phrase"] == index.longest_shared(played)
        held = summary["notes"][label]["held_out"]["longest_shared_phrase"]
        assert held >= 2  # arpeggios held out, arpeggios learned: they share phrases
        shared = f'<td>{composed["longest_shared_phrase"]} <span class="genre">({held})</span>'
        assert shared in page
        # what reaches the ear: the piece's audio transcribed, against its notes and chance
        heard = summary["notes"][label]["heard"]
        for name in ("note_f1", "frame_pitch_class_f1"):
            assert 0 <= heard[name] <= 1 and 0 <= heard[f"chance_{name}"] <= 1
        chance = f'<span class="genre">({heard["chance_note_f1"]:.2f})</span>'
        assert f"<td>{label}</td><td>{heard['note_f1']:.2f} {chance}</td>" in page
    assert page.index("The notes, composed and real") < page.index("What reaches the ear")
