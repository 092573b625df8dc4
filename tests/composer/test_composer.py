"""The composer: tokens, the transformer's exact incremental step, long-range learning,
a prime's frames heard as history, compose end to end on real music, and bad input."""

from __future__ import annotations

import math
import re
import shutil
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import torch.nn.functional as F

from tests.conftest import finish, launch_hearing_ctrl_c, small_config, wait_for
from wavenet_music.audio.finish import for_listening
from wavenet_music.audio.io import mu_law_decode
from wavenet_music.cli import main
from wavenet_music.composer.checkpoint import composer_dirs, load_composer, saved_calibration
from wavenet_music.composer.compose import compose, read_prime
from wavenet_music.composer.config import ComposerConfig, PieceConfig
from wavenet_music.composer.data import (
    Stream,
    TokenCorpus,
    bigram_bits,
    token_corpus,
    transposed,
    unigram_bits,
)
from wavenet_music.composer.model import Composer, alibi_bias, alibi_slopes, sample_tokens
from wavenet_music.composer.tokens import (
    Codebook,
    fit_codebook,
    kmeans,
    round_trip_db,
    stack_frames,
)
from wavenet_music.composer.train import baseline_result, composer_learning_rate, train_composer
from wavenet_music.config import Config, ModelConfig, UserError, apply_overrides
from wavenet_music.config.settings import MAX_JUMP, REDRAW_NOISE
from wavenet_music.wavenet.checkpoint import load_model
from wavenet_music.wavenet.generate import generate, padded_history
from wavenet_music.wavenet.model import WaveNet
from wavenet_music.wavenet.noise_guard import REDRAW_TRIES, NoiseGuard, Redraw

# --- tokens --------------------------------------------------------------------------------


def blobs(k: int, per: int, dim: int, spread: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 10.0, (k, dim))
    points = centres.repeat(per, axis=0) + rng.normal(0.0, spread, (k * per, dim))
    return centres, points.astype(np.float32)


def test_kmeans_finds_separated_clusters():
    centres, points = blobs(6, 200, 5, 0.1)
    found = kmeans(points, 6, iterations=30, seed=0)
    gaps = np.linalg.norm(found[:, None] - centres[None], axis=2).min(axis=0)  # (6,)
    assert gaps.max() < 0.05


def test_round_trip_error_matches_brute_force_and_is_bounded_by_the_spread():
    """features (dB) → tokens → features: the error equals an independent nearest-centroid
    search by loops, and a codebook with one token per cluster leaves only the spread."""
    rng = np.random.default_rng(1)
    mean, std = rng.normal(-40, 5, 4).astype(np.float32), rng.uniform(2, 8, 4).astype(np.float32)
    _, normalised = blobs(8, 100, 8, 0.05)  # pairs of 4-channel frames (pool 2)
    features = normalised.reshape(-1, 4) * std + mean  # (1600, 4) dB
    codebook = fit_codebook([features], mean, std, size=8, pool=2, seed=0)
    vectors = stack_frames((features - mean) / std, 2)
    nearest = [int(np.argmin([np.sum((v - c) ** 2) for c in codebook.centroids])) for v in vectors]
    decoded = codebook.centroids[nearest].reshape(-1, 4) * std + mean
    expected = math.sqrt(np.mean((features - decoded) ** 2))
    assert round_trip_db(features, codebook) == pytest.approx(expected, rel=1e-5)
    assert expected < 3 * 0.05 * std.max()  # only the within-cluster spread is lost
    np.testing.assert_array_equal(codebook.encode(codebook.decode(np.arange(8))), np.arange(8))


def test_a_codebook_too_large_for_the_data_is_refused():
    with pytest.raises(
        UserError, match="fewer than the 64 codebook entries: pass --codebook-size 5"
    ):
        fit_codebook([np.zeros((10, 3))], np.zeros(3), np.ones(3), size=64, pool=1)


# --- the transformer -----------------------------------------------------------------------


def test_alibi_bias_is_causal_and_relative():
    bias = alibi_bias(alibi_slopes(4), 3, 5)  # (4, 3, 5): the 3 newest of 5 positions
    assert torch.isinf(bias[:, 0, 3:]).all() and torch.isinf(bias[:, 1, 4]).all()
    assert bias[0, 2, 4] == 0 and bias[0, 2, 3] == -alibi_slopes(4)[0]
    assert (bias[-1][torch.isfinite(bias[-1])] == 0).all()  # the content-only head


@pytest.mark.parametrize(
    ("labels", "prime", "batch", "context"),
    [(0, 5, 2, 12), (3, 5, 3, 12), (3, 1, 1, 12), (0, 12, 2, 12), (3, 17, 2, 12), (0, 1, 2, 1)],
)
def test_incremental_step_equals_the_full_forward_with_a_sliding_window(
    labels, prime, batch, context
):
    torch.manual_seed(0)
    length = 50  # well past the window: the cache's ring of `context` slots wraps 3+ times
    model = Composer(ComposerConfig(layers=2, heads=4, width=32), 20, labels, context).eval()
    tokens = torch.randint(0, 21, (batch, length))  # includes the start token 20
    label = torch.arange(batch) % labels if labels else None
    state = model.initial_state(label)
    with torch.no_grad():
        logits, state = model.step(tokens[:, :prime], state)  # a prime, maybe past the window
        full = model(tokens[:, :prime], label, window=context)[:, -1]  # (B, V)
        torch.testing.assert_close(logits, full, atol=1e-5, rtol=1e-5)
        for t in range(prime, length):
            logits, state = model.step(tokens[:, t], state)
            full = model(tokens[:, : t + 1], label, window=context)[:, -1]  # (B, V)
            torch.testing.assert_close(logits, full, atol=1e-5, rtol=1e-5)
            if t < context:  # a training window: the plain forward pass
                torch.testing.assert_close(logits, model(tokens[:, : t + 1], label)[:, -1])


def test_the_step_writes_one_token_at_a_time_into_a_fixed_cache():
    model = Composer(ComposerConfig(layers=1, heads=2, width=16), 10, 0, 4).eval()
    state = model.initial_state()
    with torch.no_grad():
        _, state = model.step(torch.zeros(2, 3, dtype=torch.long), state)
        keys = state.keys[0]
        for _ in range(9):
            _, state = model.step(torch.zeros(2, dtype=torch.long), state)
        assert state.keys[0] is keys and keys.shape == (2, 2, 4, 8)  # context slots, no copy
        assert state.fed == 12
        with pytest.raises(ValueError, match="one token per clip"):
            model.step(torch.zeros(2, 2, dtype=torch.long), state)


def test_attention_dropout_drops_attention_weights_alone():
    torch.manual_seed(0)
    tokens = torch.randint(0, 10, (2, 24))

    def training_outputs(**dropouts: float) -> tuple[torch.Tensor, torch.Tensor]:
        torch.manual_seed(1)
        model = Composer(ComposerConfig(layers=2, heads=2, width=16, **dropouts), 10, 0, 24)
        model.train()
        return model(tokens), model(tokens)

    first, again = training_outputs(dropout=0.0, attention_dropout=0.0)
    torch.testing.assert_close(first, again)  # nothing random left in training
    first, again = training_outputs(dropout=0.0, attention_dropout=0.5)
    assert not torch.allclose(first, again)  # the attention weights alone are dropped
    with torch.no_grad():  # none in inference, whatever the setting
        model = Composer(ComposerConfig(layers=2, heads=2, width=16), 10, 0, 24).eval()
        torch.testing.assert_close(model(tokens), model(tokens))


def test_top_k_and_temperature_zero():
    logits = torch.tensor([[0.0, 3.0, 2.0, -1.0]]).repeat(500, 1)
    gen = torch.Generator().manual_seed(0)
    assert set(sample_tokens(logits, 1.0, 2, gen).tolist()) == {1, 2}
    assert sample_tokens(logits, 0.0, None, gen).eq(1).all()


def test_the_hold_penalty_divides_the_odds_of_the_previous_token():
    logits = torch.zeros(20_000, 4)  # four equally likely tokens
    previous = torch.ones(20_000, dtype=torch.long)
    gen = torch.Generator().manual_seed(0)
    tokens = sample_tokens(logits, 1.0, None, gen, previous, math.log(3.0))
    assert (tokens == 1).float().mean().item() == pytest.approx(1 / 10, abs=0.01)  # 1/3 : 3
    start = torch.full((20_000,), 4)  # the start token (outside the vocabulary) holds nothing
    tokens = sample_tokens(logits, 1.0, None, gen, start, math.log(3.0))
    assert (tokens == 1).float().mean().item() == pytest.approx(1 / 4, abs=0.01)


def test_the_composer_learns_a_dependency_far_beyond_wavenets_receptive_field():
    """After a marker, repeat the key token shown 300 tokens (4.8 s at 62.5 tokens/s; the
    reference WaveNet hears 40 frames) earlier. Within a short window the key is uniform
    over 8 values: no model with less context can do better than 3 bits there."""
    keys, marker, vocab, lag = 8, 8, 24, 300

    def sequences(rng: np.random.Generator, n: int) -> torch.Tensor:
        x = rng.integers(marker + 1, vocab, size=(n, lag + 8))  # filler
        key = rng.integers(0, keys, size=n)
        x[:, :4], x[:, lag - 1], x[:, lag : lag + 4] = key[:, None], marker, key[:, None]
        return torch.from_numpy(x)

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = Composer(ComposerConfig(layers=2, heads=2, width=32, dropout=0.0), vocab, 0, lag + 8)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.0)
    for _ in range(200):
        x = sequences(rng, 8)
        loss = F.cross_entropy(model(x[:, :-1]).transpose(1, 2), x[:, 1:])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    x = sequences(np.random.default_rng(1), 200)
    with torch.no_grad():
        logits = model.eval()(x[:, :lag])[:, -1]  # predicts x[:, lag], the recalled key
    bits = F.cross_entropy(logits, x[:, lag]).item() / math.log(2)
    assert bits < 0.5 < math.log2(keys) - 2.0  # floor without the context: 3 bits


def test_baselines_on_a_known_sequence():
    train = [np.array([0, 1] * 500)]  # a strict alternation
    held = [np.array([0, 1] * 50)]
    assert unigram_bits(train, held, 4) == pytest.approx(-math.log2(501 / 1004), rel=1e-6)
    bits, _ = bigram_bits(train, held, 4)
    assert bits < 0.05  # the bigram knows what follows


def test_a_time_budget_decays_the_composers_learning_rate_over_the_time():
    timed = ComposerConfig(learning_rate=1e-3, warmup_steps=10, minutes=2)
    assert composer_learning_rate(5, timed, elapsed=100.0) == pytest.approx(6e-4)  # warm-up
    assert composer_learning_rate(50, timed, elapsed=0.0) == pytest.approx(1e-3)
    assert composer_learning_rate(50, timed, elapsed=60.0) == pytest.approx(5.5e-4)
    assert composer_learning_rate(50, timed, elapsed=120.0) == pytest.approx(1e-4)
    assert composer_learning_rate(50, timed, elapsed=900.0) == pytest.approx(1e-4)
    stepped = ComposerConfig(learning_rate=1e-3, warmup_steps=0, minutes=2, steps=100)
    assert composer_learning_rate(50, stepped, elapsed=0.0) == pytest.approx(5.5e-4)
    unbounded = ComposerConfig(learning_rate=1e-3, warmup_steps=0)
    assert composer_learning_rate(10_000, unbounded, elapsed=1e6) == 1e-3


# --- transpositions ---------------------------------------------------------------------------

CHROMA = {"data.features": "chroma", "model.local_channels": 12}


def test_transpositions_rotate_the_pitch_classes():
    c_major = np.full((5, 12), -60.0, np.float32)
    c_major[:, [0, 4, 7]] = -10.0  # C E G
    chroma = c_major + np.random.default_rng(0).normal(size=(5, 12)).astype(np.float32)
    copies = transposed([("a.flac", 1, chroma)], apply_overrides(Config(), CHROMA))
    assert [shift for *_, shift in copies] == list(range(12))
    assert len({source for source, *_ in copies}) == 12 and {c[1] for c in copies} == {1}
    for _, _, rotated, shift in copies:  # pitch class c of the copy = c - shift originally
        np.testing.assert_array_equal(rotated, chroma[:, (np.arange(12) - shift) % 12])
    d_major = copies[2][2]
    assert set(np.argsort(d_major[0])[-3:]) == {2, 6, 9}  # D F# A
    with pytest.raises(UserError, match=r"composer\.transpose"):
        transposed([("a.flac", 1, chroma)], Config())  # log-mel bands do not rotate


def test_baselines_with_transpositions_count_from_the_stronger_training_set():
    codebook = Codebook(np.zeros((4, 12), np.float32), np.zeros(12), np.ones(12), 1)
    original = Stream("a", 0, np.array([0, 1] * 500))
    junk = Stream("a +1 st", 0, np.random.default_rng(0).integers(0, 4, 5000), 1)
    held = Stream("b", 0, np.array([0, 1] * 50))
    corpus = TokenCorpus(codebook, (original, junk), (held,), 0.0, 62.5)
    result = baseline_result(Path("run"), corpus, ComposerConfig(transpose=True))
    alone, _ = bigram_bits([original.tokens], [held.tokens], 4)
    both, _ = bigram_bits([original.tokens, junk.tokens], [held.tokens], 4)
    assert result.bigram_bits == pytest.approx(alone) and alone < both


def test_a_chroma_run_gives_the_composer_twelve_transpositions(music_root, tmp_path):
    from wavenet_music.wavenet.checkpoint import load_model
    from wavenet_music.wavenet.train import train

    tiny = {"model.dilations": [1, 2, 4], "model.residual_channels": 8}
    tiny |= {"model.dilation_channels": 8, "model.skip_channels": 16, "train.steps": 1}
    config = small_config(str(tmp_path / "cache"), **CHROMA, **tiny)
    train(music_root / "piano", tmp_path / "run", config, quiet=True)
    wavenet, wave_config = load_model(tmp_path / "run")
    options = ComposerConfig(codebook_size=16, frames_per_token=2, kmeans_iterations=5)
    args = (tmp_path / "run", music_root / "piano", wavenet, wave_config)
    plain = token_corpus(*args, options)
    rotated = token_corpus(*args, replace(options, transpose=True))
    assert len(rotated.train) == 12 * len(plain.train)
    assert sorted({s.transposition for s in rotated.train}) == list(range(12))
    assert [len(s.tokens) for s in rotated.train if s.transposition == 5] == [
        len(s.tokens) for s in plain.train
    ]
    held = [s.tokens.tolist() for s in rotated.validation]  # held-out music is not rotated
    assert held and all(s.transposition == 0 for s in rotated.validation)
    assert len(held) == len(plain.validation)


# --- a prime's own frames as history -----------------------------------------------------------


def _steered() -> tuple[WaveNet, dict]:
    """A small labelled, locally conditioned WaveNet whose draws depend on the frames it
    reads, and what steers 2 clips of 11 hops after a prime of 5 hops (its frames too)."""
    torch.manual_seed(0)
    config = ModelConfig(
        dilations=(1, 2, 4, 8),
        residual_channels=8,
        dilation_channels=8,
        skip_channels=16,
        local_channels=3,
        hop_length=16,
        global_labels=("a", "b"),
    )
    model = WaveNet(config).eval()
    with torch.no_grad():  # larger than default init, and frames near 0 dB, so that the
        for p in model.parameters():  # draws depend on the frames read: with default init,
            p.mul_(4.0)  # or music's -40 dB, frames read in the wrong place passed
    rng = np.random.default_rng(0)
    steering = {
        "labels": torch.tensor([0, 1]),
        "features": torch.from_numpy(rng.normal(0, 1, (2, 3, 12)).astype(np.float32)),
        "prime": torch.from_numpy(rng.integers(0, 256, (2, 5 * 16))),
        "prime_frames": torch.from_numpy(rng.normal(0, 1, (2, 3, 6)).astype(np.float32)),
    }
    return model, steering


@pytest.mark.parametrize("engine", ["eager", "compiled"])
def test_a_prime_is_heard_with_its_own_frames_as_the_full_forward_pass_hears_them(engine):
    """``generate`` after a prime with its frames (``compose --prime`` of a chroma run):
    at temperature 0 every sample is the likeliest class of ``WaveNet.forward`` over the
    silence before the prime, the prime and the samples so far, with the frames laid out
    by hand: the frame before the prime and its own frames where the prime lies, the
    composed frames after it. Without the prime's frames the clips differ."""
    model, steering = _steered()
    hop, length = 16, 11 * 16
    out = generate(model, length, 2, temperature=0.0, engine=engine, silence=0.0, **steering)
    fed = torch.cat([padded_history(model, steering["prime"], 2).cpu(), out], dim=1)
    pad = fed.shape[1] - length - 5 * hop  # silence before the prime, whole hops
    frames = torch.cat(
        [
            torch.zeros(2, 3, pad // hop),  # the context frame, then the silence's frames
            steering["prime_frames"],  # the frame before the prime, then its 5
            steering["features"],
            torch.zeros(2, 3, 1),  # the frame after (heard as look-ahead)
        ],
        dim=2,
    )
    logits = model(fed[:, :-1], steering["labels"], frames)  # (2, Q, T - 1)
    torch.testing.assert_close(logits.argmax(dim=1)[:, -length:], out, rtol=0, atol=0)
    unprimed = {**steering, "prime_frames": None}
    assert not torch.equal(generate(model, length, 2, temperature=0.0, **unprimed), out)


def test_prime_frames_that_do_not_describe_the_prime_are_refused():
    model, steering = _steered()
    with pytest.raises(ValueError, match="prime frames"):
        generate(model, 16, 2, **{**steering, "prime_frames": steering["prime_frames"][:, :, 1:]})
    with pytest.raises(ValueError, match="prime frames"):
        generate(model, 16, 2, **{**steering, "prime": None})


# --- end to end on real music -------------------------------------------------------------------


@pytest.fixture(scope="module")
def composed_run(music_root, tmp_path_factory):
    """A tiny locally conditioned, labelled WaveNet (3 steps) with a composer (10 steps)."""
    from wavenet_music.wavenet.train import train

    base = tmp_path_factory.mktemp("composer")
    config = small_config(
        str(base / "cache"),
        **{
            "model.dilations": [1, 2, 4, 8, 16],
            "model.residual_channels": 8,
            "model.dilation_channels": 8,
            "model.skip_channels": 16,
            "model.local_channels": 16,
            "data.labels": "folders",
            "train.batch_size": 2,
            "train.steps": 3,
            "train.local_dropout": 0.3,  # it also plays unsteered: plain clips
        },
    )
    train(music_root, base / "run", config, quiet=True)
    options = ComposerConfig(
        codebook_size=16,
        frames_per_token=1,
        kmeans_iterations=10,
        layers=1,
        heads=2,
        width=16,
        context_seconds=2.0,
        batch_size=2,
        steps=10,
        validate_every=10,
        checkpoint_every=10,  # a periodic checkpoint at the last step: the final one replaces it
        calibration_seconds=3.0,
        calibration_streams=2,
    )
    result = train_composer(base / "run", music_root, options, quiet=True)
    return base, result


def test_train_composer_reports_baselines_and_held_out_bits(composed_run):
    base, result = composed_run
    assert result.step == 10 and result.validation_bits[-1][0] == 10
    assert 0 < result.round_trip_db < 20
    assert math.isfinite(result.validation_bits[-1][1])
    assert 0 < result.bigram_bits < result.unigram_bits <= math.log2(16) + 0.01
    assert (base / "run" / "composer" / "step_00000010" / "meta.json").is_file()


def test_the_calibrated_sampling_is_saved_and_composed_at(composed_run, tmp_path):
    base, result = composed_run
    calibration = result.calibration
    assert calibration is not None and 0 < calibration.real_repetition <= 1
    assert calibration.temperature in dict(calibration.composed_repetition)
    saved = load_composer(base / "run")
    assert saved_calibration(saved) == calibration
    piece = compose(base / "run", PieceConfig(seconds=0.1, label="piano"))
    assert piece.temperature == calibration.temperature
    assert piece.hold_penalty == calibration.hold_penalty
    asked = PieceConfig(seconds=0.1, label="piano", temperature=1.5, hold_penalty=0.25)
    asked_piece = compose(base / "run", asked)
    assert (asked_piece.temperature, asked_piece.hold_penalty) == (1.5, 0.25)


def wavenet_only(source, run):
    """A copy of the run ``source`` without its composer."""
    shutil.copytree(source / "checkpoints", run / "checkpoints")
    for name in ("config.yaml", "data.json"):
        shutil.copy(source / name, run / name)
    return run


def test_the_saved_composer_is_the_best_held_out_one_and_patience_stops(
    composed_run, music_root, tmp_path
):
    """Early stopping: whatever the trajectory, the checkpoint's weights score the best
    held-out bits seen, and training stopped before its budget exactly when ``patience``
    validations in a row failed to beat that best."""
    from wavenet_music.composer.checkpoint import build_composer, load_composer
    from wavenet_music.composer.data import held_out_bits, token_corpus
    from wavenet_music.wavenet.checkpoint import load_model

    run = wavenet_only(composed_run[0] / "run", tmp_path / "run")
    options = ComposerConfig(
        codebook_size=16, kmeans_iterations=10, layers=2, heads=2, width=32,
        context_seconds=2.0, batch_size=4, learning_rate=3e-3, warmup_steps=5,
        steps=150, validate_every=5, patience=2,
        calibration_seconds=None,  # not what this test is about: 144 of its 148 s
    )  # fmt: skip
    result = train_composer(run, music_root, options, quiet=True)
    scores = [bits for _, bits in result.validation_bits]
    best = int(np.argmin(scores))
    assert result.best_bits == scores[best]
    assert (len(scores) - 1 - best == 2) == (result.step < 150)
    saved = load_composer(run)
    wavenet, config = load_model(run)
    corpus = token_corpus(run, music_root, wavenet, config, options)
    rescored = held_out_bits(build_composer(saved), corpus.validation, torch.device("cpu"))
    assert rescored == pytest.approx(result.best_bits, abs=1e-4)


def on_cpu(weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A state dict on the CPU, where checkpoints load (training may run on a GPU)."""
    return {name: w.cpu() for name, w in weights.items()}


def test_resume_goes_on_from_the_current_weights_not_the_best(composed_run, music_root, tmp_path):
    """The checkpoint keeps two sets of weights: the best held-out ones (what compose
    uses) and the current ones, which a resumed training starts from."""
    from wavenet_music.composer.checkpoint import build_composer, load_composer
    from wavenet_music.composer.data import token_corpus
    from wavenet_music.composer.train import ComposerTrainer, baseline_result
    from wavenet_music.wavenet.checkpoint import load_model

    run = wavenet_only(composed_run[0] / "run", tmp_path / "run")
    options = ComposerConfig(
        codebook_size=16, kmeans_iterations=10, layers=1, heads=2, width=16,
        context_seconds=2.0, batch_size=2, steps=10,
    )  # fmt: skip
    wavenet, config = load_model(run)
    corpus = token_corpus(run, music_root, wavenet, config, options)

    def trainer() -> ComposerTrainer:
        return ComposerTrainer(run, corpus, config.model.global_labels, options, 8, quiet=True)

    first = trainer()
    for _ in range(3):
        first.train_step()
    first._validate(baseline_result(run, corpus, options))  # the best so far
    for _ in range(3):
        first.train_step()  # the current weights move on
    first.save()
    saved = load_composer(run)
    resumed = trainer()
    resumed.restore(saved)
    best, current = build_composer(saved).state_dict(), on_cpu(first.model.state_dict())
    for name, weight in on_cpu(resumed.model.state_dict()).items():
        torch.testing.assert_close(weight, current[name], rtol=0, atol=0)
        torch.testing.assert_close(best[name], on_cpu(first.best[1])[name], rtol=0, atol=0)
    assert any(not torch.equal(best[n], current[n]) for n in current)
    assert resumed.best[0] == first.best[0] and resumed.step == 6


def test_keep_best_false_keeps_the_last_validated_weights_and_patience_the_best_score(
    composed_run, music_root, tmp_path, monkeypatch
):
    """With ``keep_best`` false compose gets the weights of the last validation, whatever
    its score, and the report its bits; patience still counts from the best score."""
    from wavenet_music.composer.checkpoint import build_composer, load_composer
    from wavenet_music.composer.data import token_corpus
    from wavenet_music.composer.train import ComposerTrainer, baseline_result
    from wavenet_music.report.check import composer_figures
    from wavenet_music.runs import read_metrics
    from wavenet_music.wavenet.checkpoint import load_model

    run = wavenet_only(composed_run[0] / "run", tmp_path / "run")
    options = ComposerConfig(
        codebook_size=16, kmeans_iterations=10, layers=1, heads=2, width=16,
        context_seconds=2.0, batch_size=2, steps=10, patience=2, keep_best=False,
    )  # fmt: skip
    wavenet, config = load_model(run)
    corpus = token_corpus(run, music_root, wavenet, config, options)
    trainer = ComposerTrainer(run, corpus, config.model.global_labels, options, 8, quiet=True)
    scores = iter([4.0, 5.0, 4.5])  # the first is the best; the last two are worse
    monkeypatch.setattr(trainer, "validate", lambda: next(scores))
    result = baseline_result(run, corpus, options)
    trainer.log({"step": 0, "bigram_bits_per_token": result.bigram_bits})  # as training does
    for validation in range(3):
        trainer.train_step()
        trainer._validate(result)
        assert trainer.patience_spent() == (validation == 2)  # two without beating 4.0
    trainer.save()
    saved = load_composer(run)
    for name, weight in build_composer(saved).state_dict().items():
        torch.testing.assert_close(weight, on_cpu(trainer.model.state_dict())[name], rtol=0, atol=0)
    assert saved.meta["best_bits"] == 4.5 and saved.meta["lowest_bits"] == 4.0
    resumed = ComposerTrainer(run, corpus, config.model.global_labels, options, 8, quiet=True)
    resumed.restore(saved)
    assert (resumed.lowest, resumed.since_best, resumed.best[0]) == (4.0, 2, 4.5)
    metrics = read_metrics(run / "composer")
    assert composer_figures(metrics, keep_best=False)["held_out_bits"] == 4.5
    assert composer_figures(metrics)["held_out_bits"] == 4.0


def test_a_resume_takes_a_new_budget_and_refuses_any_other_change(composed_run, tmp_path):
    """In the library, not only in the CLI: a resumed composer continues its stored config;
    only ``steps`` and ``minutes`` may differ, anything else is a one-line error naming it
    (and the composer is left as it was)."""
    from wavenet_music.composer.train import composer_config

    run = tmp_path / "run"
    shutil.copytree(composed_run[0] / "run", run)
    stored = load_composer(run)
    longer = replace(stored.config, steps=20, minutes=5.0)
    assert composer_config(run, longer, resume=True)[0] == longer
    wider = replace(longer, width=32, learning_rate=1e-2)
    with pytest.raises(UserError, match=r"only steps and minutes may change.*width, learning_rate"):
        train_composer(run, None, wider, resume=True, quiet=True)
    assert [p.name for p in composer_dirs(run)] == ["step_00000010"]
    assert load_composer(run).meta == stored.meta


def test_compose_writes_its_features_first_and_the_wav_chunk_by_chunk(composed_run, tmp_path):
    base, _ = composed_run
    out, seen = tmp_path / "piece.wav", []

    def on_chunk(audio: np.ndarray) -> None:
        written = out.with_name("piece-piano.wav").is_file()
        seen.append((audio.shape[1], written and (tmp_path / "f-piano.npy").is_file()))

    options = PieceConfig(seconds=0.5, label="piano", chunk_seconds=0.1, top_k=8)
    piece = compose(
        base / "run", options, out=out, features_out=tmp_path / "f.npy", on_chunk=on_chunk
    )
    assert len(seen) >= 4 and seen[0][0] < 8000 and all(written for _, written in seen)
    audio, rate = sf.read(tmp_path / "piece-piano.wav")
    assert rate == 16000 and audio.shape == (8000,) and np.isfinite(audio).all()
    features = np.load(tmp_path / "f-piano.npy")
    assert features.shape[1] == 16 and len(features) * 256 >= 8000
    heard = for_listening(piece.audio[0], rate)  # the WAV is finished to be heard
    np.testing.assert_allclose(heard, audio, atol=1 / 32768)


def test_a_composed_piece_is_the_wavenet_playing_its_frames_after_the_primes_own(
    composed_run, music_root
):
    """``compose --prime`` of a chroma run: the audio is ``generate`` over the composed
    features, after the prime's last receptive field of audio heard with the prime's own
    frames (``read_prime``), drawn from the WaveNet's seed (the composer's + 1) with the
    settings' jump limit and noise guard."""
    base, _ = composed_run
    prime_path = sorted((music_root / "guitar").glob("*.flac"))[0]
    options = PieceConfig(seconds=0.25, label="guitar", prime=str(prime_path), seed=3)
    piece = compose(base / "run", options)
    model, config = load_model(base / "run", torch.device("cpu"))
    prime = read_prime(prime_path, config, load_composer(base / "run").codebook)
    classes = generate(
        model,
        4000,
        1,
        generator=torch.Generator().manual_seed(4),
        labels=torch.tensor([config.model.global_labels.index("guitar")]),
        features=torch.from_numpy(piece.features.transpose(0, 2, 1).copy()),
        prime=torch.from_numpy(prime.classes)[None],
        prime_frames=torch.from_numpy(prime.frames.T.copy())[None],
        max_jump=MAX_JUMP,
        guard=NoiseGuard.of(REDRAW_NOISE, 16000, 256, config.model.hop_length),
    )
    np.testing.assert_array_equal(mu_law_decode(classes.numpy(), 256), piece.audio)


def test_compose_of_a_chroma_run_draws_falls_into_noise_again(composed_run, tmp_path, capsys):
    """The test run's WaveNet (3 steps) plays noise throughout: ``compose`` judges it, draws
    it again its tries and says so, as ``generate`` does; ``--wavenet-redraw-noise 0``
    does not."""
    base, _ = composed_run
    out = tmp_path / "noise.wav"
    args = ["compose", str(base / "run"), "--seconds", "1", "--label", "piano", "--out", str(out)]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert f"noise-piano.wav: still noise from 0.0 s after {REDRAW_TRIES} draws" in err
    options = PieceConfig(seconds=1.0, label="piano")
    assert compose(base / "run", options).redraws == [Redraw(0, 0, False, REDRAW_TRIES)]
    assert compose(base / "run", replace(options, wavenet_redraw_noise=0.0)).redraws == []


def test_compose_continues_a_prime_through_the_cli(composed_run, music_root, tmp_path, capsys):
    base, _ = composed_run
    prime = sorted((music_root / "guitar").glob("*.flac"))[0]
    out = tmp_path / "more.wav"
    args = ["compose", str(base / "run"), "--seconds", "0.25", "--label", "guitar"]
    assert main([*args, "--prime", str(prime), "--out", str(out), "--seed", "3"]) == 0
    assert sf.read(tmp_path / "more-guitar.wav")[0].shape == (4000,)


def test_compose_prints_every_path_it_writes_features_too(composed_run, tmp_path, capsys):
    """``--features-out f.npy`` of a labelled run writes ``f-piano.npy``: it was not printed
    (the WAVs were), so one looked for ``f.npy``."""
    base, _ = composed_run
    out, features = tmp_path / "x.wav", tmp_path / "f.npy"
    args = ["compose", str(base / "run"), "--seconds", "0.25", "--label", "piano,guitar"]
    capsys.readouterr()
    assert main([*args, "--out", str(out), "--features-out", str(features)]) == 0
    printed = capsys.readouterr().out.splitlines()
    names = ["x-piano.wav", "x-guitar.wav", "f-piano.npy", "f-guitar.npy"]
    assert printed == [str(tmp_path / name) for name in names]
    assert all(Path(line).is_file() for line in printed) and not features.exists()
    assert main([*args, "--num", "2", "--out", str(out), "--features-out", str(features)]) == 0
    printed = capsys.readouterr().out.splitlines()  # two pieces of each label: their frames
    stems = [f"{x}-{label}-{k}" for x in "xf" for label in ("piano", "guitar") for k in (1, 2)]
    names = [f"{stem}.{'wav' if stem[0] == 'x' else 'npy'}" for stem in stems]
    assert printed == [str(tmp_path / name) for name in names]
    first, second = (np.load(tmp_path / f"f-piano-{k}.npy") for k in (1, 2))
    assert first.shape == second.shape and not np.array_equal(first, second)


def test_a_prime_without_a_finite_sample_is_one_line_and_nan_inside_one_a_warning(
    composed_run, music_root, tmp_path, capsys
):
    """An all-NaN ``--prime`` was continued as silence, NaN/inf inside one silently: said
    as ``generate --seed-audio`` says it (``check_damage``)."""
    base, _ = composed_run
    nan, out = tmp_path / "nan.wav", tmp_path / "more.wav"
    sf.write(nan, np.full(16000, np.nan, dtype=np.float32), 16000, subtype="FLOAT")
    args = ["compose", str(base / "run"), "--seconds", "0.25", "--label", "guitar"]
    assert main([*args, "--prime", str(nan), "--out", str(out)]) == 2
    line = f"{nan}: no finite samples (all NaN or infinite): nothing to continue; pass another"
    assert capsys.readouterr().err == f"wavenet-music compose: error: {line} --prime\n"
    assert not list(tmp_path.glob("more*"))
    holes = tmp_path / "holes.wav"
    audio = sf.read(sorted((music_root / "guitar").glob("*.flac"))[0], dtype="float32")[0]
    audio[-100:] = np.inf
    sf.write(holes, audio, 16000, subtype="FLOAT")
    assert main([*args, "--prime", str(holes), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert err.count(f"warning: {holes}: 100 non-finite samples replaced by 0 (the prime)") == 1


def test_ctrl_c_during_compose_keeps_the_piece_so_far(composed_run, tmp_path):
    base, _ = composed_run
    out = tmp_path / "long.wav"
    command = [
        *(sys.executable, "-m", "wavenet_music.cli", "compose", str(base / "run")),
        *("--seconds", "60", "--label", "piano", "--chunk-seconds", "0.05", "--out", str(out)),
    ]
    process = launch_hearing_ctrl_c(command)
    written = out.with_name("long-piano.wav")
    wait_for(written.exists, process)
    time.sleep(0.5)  # Ctrl-C lands while it composes (any moment would do)
    process.send_signal(signal.SIGINT)
    _, err = finish(process)
    assert process.returncode == 130
    assert "interrupted; the audio so far is in" in err and "Traceback" not in err
    audio, rate = sf.read(written)
    assert rate == 16000 and 800 <= len(audio) < 60 * 16000 and np.isfinite(audio).all()


def bad(argv: list[str], capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    return err


def test_bad_input_is_one_line(composed_run, music_root, tmp_path, capsys):
    from wavenet_music.wavenet.train import train

    base, _ = composed_run
    run = str(base / "run")
    assert "this run knows: ambient, classical, guitar, piano" in bad(
        ["compose", run, "--label", "jazz"], capsys
    )
    twice = bad(["compose", run, "--label", "piano,piano"], capsys)
    assert "names piano more than once; for several clips of a label pass --num" in twice
    assert "--label 'piano,,': an empty label name" in bad(  # was "names  more than once"
        ["compose", run, "--label", "piano,,"], capsys
    )
    sf.write(tmp_path / "short.wav", np.zeros(100), 16000)
    assert "too short to continue" in bad(
        ["compose", run, "--label", "piano", "--prime", str(tmp_path / "short.wav")], capsys
    )
    piano = ["compose", run, "--label", "piano", "--out", str(tmp_path / "x.wav")]
    assert "--features-out " in bad([*piano, "--features-out", str(tmp_path / "f.txt")], capsys)
    assert "--wavenet-excitation-gain: only a run trained on notes" in bad(
        [*piano, "--wavenet-excitation-gain", "2"], capsys
    )
    for composing in (["--shortest-note", "1"], ["--unsteered-rests", "true"]):  # were ignored
        assert f"{composing[0]}: only a run trained on notes" in bad([*piano, *composing], capsys)
    assert not list(tmp_path.glob("x*"))
    assert "already has a composer" in bad(["train-composer", run, "--steps", "1"], capsys)
    plain = small_config(str(base / "cache"), **{"model.dilations": [1, 2], "train.steps": 1})
    train(music_root / "piano", tmp_path / "plain", plain, quiet=True)
    assert "--local-channels" in bad(
        ["train-composer", str(tmp_path / "plain"), "--steps", "1"], capsys
    )
    assert "--local-channels" in bad(["compose", str(tmp_path / "plain")], capsys)
    no_composer = tmp_path / "no_composer"
    (no_composer / "checkpoints").mkdir(parents=True)
    for item in (base / "run" / "checkpoints").iterdir():
        (no_composer / "checkpoints" / item.name).symlink_to(item)
    assert "no composer yet" in bad(["compose", str(no_composer), "--label", "piano"], capsys)


def test_composition_section_writes_a_piece_per_label(composed_run, music_root, tmp_path):
    from wavenet_music.report.composition import composition_section

    base, _ = composed_run
    section = composition_section(base / "run", tmp_path, seconds=0.25, data_root=music_root)
    assert [r["label"] for r in section["rows"]] == ["ambient", "classical", "guitar", "piano"]
    for row in section["rows"]:
        composed, plain = (sf.read(tmp_path / row[kind])[0] for kind in ("composed", "plain"))
        assert composed.shape == plain.shape == (4000,)
        assert not np.array_equal(composed, plain)
    assert section["html"].count("<audio") == 8  # composed and plain (unsteered) per label
    assert section["statistics"] == {}  # 0.25 s holds no 10-s window


def test_the_report_of_a_composer_run_sets_pieces_beside_plain_wavenet(
    composed_run, music_root, tmp_path
):
    """Per genre: a real excerpt, the composed piece, the plain clip (same length), the
    untrained model and noise; the long-range statistics of composed, plain and real; all
    playable in a headless browser."""
    from tests.report.test_report import PHONE_PX, open_in_browser
    from wavenet_music.report.build import report_main

    base, _ = composed_run
    page = report_main(base / "run", music_root, tmp_path / "r", clips=1, seconds=10.0)
    text = page.read_text()
    assert text.count('class="clip plain"') == 4 and text.count("composed 1") >= 4
    assert "distance to real (SDs)" in text and "harmonic repetition (diagnostic)" in text
    assert "<td>real</td>" in text and not re.search(r">\s*nan\s*<", text)  # real's: "—"
    by_label = text.split('<table class="stats by-label">')[1].split("</table>")[0]
    assert by_label.count("<tr><td>") == 4  # the distance to real, genre by genre
    for kind in ("real", "composed", "plain"):
        assert f"<tr><td>{kind}</td>" in text  # a row of structure statistics
    rows = text.split('<div class="pair three">')[1:]  # one row a piece: the three to compare
    assert len(rows) == 4
    for row in rows:
        clips = row.split("</div>")[0]
        real, composed, plain = (
            clips.index(f'class="clip {k}"') for k in ("real", "generated", "plain")
        )
        assert real < composed < plain and clips.count("<figure") == 3
    assert text.count("The average spectrum of the composed pieces is") == 4
    assert "<th>composed: distance (dB)</th>" in text and "generated: distance" not in text
    durations, widths, requests, phone, lines = open_in_browser(page, tmp_path / "shot.png")
    assert phone <= PHONE_PX  # the notes and structure tables scroll alone on a phone
    assert set(lines) == {1}  # each clip's tag on one line
    assert len(durations) == 4 * 5  # real, composed, plain, untrained, noise per genre
    lengths = sorted(round(d, 2) for d in durations)
    assert lengths[:4] == [4.0] * 4  # the untrained clips are 4 s
    assert lengths[4:] == [10.0] * 16  # real, composed, plain and noise are 10 s
    assert len(widths) == 21 and all(w > 0 for w in widths)
    assert all(url.startswith("file://") for url in requests)


def test_compose_refuses_pieces_too_large_for_the_free_memory(
    composed_run, tmp_path, capsys, monkeypatch
):
    """Two labels' pieces of 2 s hold 1.8 MB while played (``wavenet/memory.py``: an hour's
    3.2 GB); with 1.5 MB free the command is one line before the composer writes a token,
    naming the labels and the length that fit, and writes nothing."""
    import wavenet_music.composer.compose as composing

    base, _ = composed_run
    monkeypatch.setattr(composing, "free_memory", lambda device: 1_500_000)
    out = tmp_path / "long.wav"
    args = ["compose", str(base / "run"), "--seconds", "2", "--label", "piano,guitar"]
    assert main([*args, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "2 clips of 2 s would hold about 1.7 MiB" in err[0], err
    assert "ask for at most 1 with --label or lower --seconds to 1.6" in err[0]
    assert not list(tmp_path.glob("long*"))


def test_the_reports_pieces_take_seeds_from_the_one_given_on_past_the_last(composed_run):
    """Piece k of the report is drawn from seed ``seed + k``; past ``MAX_SEED`` that goes
    on from 0 (``report --seed 4294967295 --clips 2`` refused a seed no one typed,
    4294967296, after composing the first piece)."""
    from wavenet_music.config import MAX_SEED
    from wavenet_music.report.build import composed_and_plain
    from wavenet_music.wavenet.checkpoint import load_model

    base, _ = composed_run
    _, config = load_model(base / "run")
    last = composed_and_plain(base / "run", base, None, config, 0.05, MAX_SEED, pieces=2)
    first = composed_and_plain(base / "run", base, None, config, 0.05, 0, pieces=1)
    for kind in (0, 1):  # composed, plain
        for label, pieces in last[kind].items():
            assert np.array_equal(pieces[1], first[kind][label][0])
            assert not np.array_equal(pieces[0], pieces[1])


def test_compose_plays_the_runs_composer_with_an_earlier_wavenet_step(composed_run, tmp_path):
    """``compose RUN/checkpoints/step_N``: the WaveNet of that step (``load_model``) and the
    run's composer; it was "no composer yet; train one: train-composer RUN/checkpoints/..."."""
    from wavenet_music.wavenet.checkpoint import checkpoint_dirs

    base, _ = composed_run
    step = checkpoint_dirs(base / "run")[0]
    out = tmp_path / "x.wav"
    argv = ["compose", str(step), "--label", "piano", "--seconds", "0.1", "--out", str(out)]
    assert main(argv) == 0
    assert sf.info(tmp_path / "x-piano.wav").frames == 1600  # the labelled run names the label
