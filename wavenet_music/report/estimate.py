"""How long a budget of steps takes on this machine, measured before it is spent.

A training step or a generated sample costs the same whatever the weights and the data,
so a few timed steps of the real code on random inputs of the real shapes tell how fast
this machine (with whatever else it is running) does the work. Budgets are steps, so the
result of a run never depends on the machine; only the time it takes does, and that is
what these probes estimate.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from ..composer.calibration import GRID, HOLD_PENALTIES, STREAMS_PER_BATCH
from ..composer.config import ComposerConfig
from ..composer.event_rules import keys_at_end
from ..composer.model import Composer, continue_tokens, primed_composer
from ..composer.note_piece import EVENTS_PER_CHECK
from ..config import MAX_JUMP, Config
from ..notes import events
from ..notes.excitation import CHANNELS as EXCITATION_CHANNELS
from ..notes.midi import Note
from ..runtime.threads import for_generation
from ..wavenet.evaluate import loss_bits
from ..wavenet.generate import generate
from ..wavenet.memory import random_window
from ..wavenet.model import WaveNet
from ..wavenet.noise_guard import NEVER_NOISE, NoiseGuard
from .check import kind_figures
from .clips import Row
from .notes import heard_by_label
from .page import label_section

CPU = torch.device("cpu")


@dataclass(frozen=True)
class Phase:
    """One stage of a job and its estimated seconds on this machine."""

    name: str
    seconds: float
    how: str  # how the estimate was made, e.g. "2,000 steps × 0.31 s"


def timed(
    work: Callable[[], None],
    warmup: int = 2,
    repeats: int = 4,
    least_seconds: float = 0.0,
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    """Median seconds of ``work`` after ``warmup`` untimed calls (first calls allocate),
    over at least ``repeats`` calls and at least ``least_seconds`` of them: on a shared
    machine another job's burst of a second or two then slows a few of many calls, not
    the median (three calls of half a second once read 0.92 s a step where training ran
    at 0.48: a demo estimate 30% long)."""
    for _ in range(warmup):
        work()
    times: list[float] = []
    while len(times) < repeats or sum(times) < least_seconds:
        start = clock()
        work()
        times.append(clock() - start)
    return sorted(times)[len(times) // 2]


def finished(work: Callable[[], None], device: torch.device) -> Callable[[], None]:
    """``work`` that returns when its kernels have run: a GPU runs them after the call."""
    if device.type != "cuda":
        return work

    def synchronized() -> None:
        work()
        torch.cuda.synchronize(device)

    return synchronized


# Seconds each training probe times at least (generation's a quarter of it): a few seconds
# of noise must stay a minority of it. Less measures sooner and less steadily (the tests).
PROBE_SECONDS = 8.0


# Note events per second of music, for the composer's context before the notes are read:
# the demo corpus's mean (scores and transcriptions of its four genres: 26.2, 2026-12-02).
EVENTS_PER_SECOND = 26.0
# Note events a stream composes per second of a piece: a batch of pieces (one per label) goes
# on until its densest piece reaches the end. The demo's report composed 3,968 events a
# stream for three 30-s pieces (44 a second; its densest genre's music has 34), 2026-12-04.
COMPOSED_EVENTS_PER_SECOND = 44.0
# Steps a composed key stays down at least (``event_rules``): the demo's genres' 8-13.
SHORTEST_STEPS = 10


def wavenet_step_seconds(
    config: Config, device: torch.device = CPU, probe_seconds: float = PROBE_SECONDS
) -> tuple[float, float]:
    """(seconds per training step, seconds per validation window) of ``config`` on
    ``device``: the forward, loss, backward, clipping and Adam update of
    ``train.batch_size`` windows, and the forward of one window in evaluation, each timed
    for at least ``probe_seconds`` (the validation a quarter of it)."""
    torch.manual_seed(0)
    model = WaveNet(config.model).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-9)
    window = random_window(config, config.train.batch_size)
    inputs, targets, labels, frames, excitation = (
        None if t is None else t.to(device) for t in window
    )
    clip = config.train.grad_clip or math.inf

    def step() -> None:
        model.train()
        loss = loss_bits(model(inputs, labels, frames, excitation), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()

    def validation() -> None:
        model.eval()
        with torch.no_grad():
            model(inputs, labels, frames, excitation)

    per_step = timed(finished(step, device), warmup=1, repeats=3, least_seconds=probe_seconds)
    per_window = timed(
        finished(validation, device), warmup=1, repeats=3, least_seconds=probe_seconds / 4
    )
    return per_step, per_window / config.train.batch_size


def wavenet_training(config: Config, steps: int, speed: tuple[float, float]) -> Phase:
    """The estimated time of ``steps`` training steps with ``config``'s validations (every
    ``validate_every`` steps, at the start and at the end; twice with ``local_dropout``),
    at ``speed`` = ``wavenet_step_seconds(config)``."""
    per_step, per_window = speed
    t = config.train
    validations = steps // t.validate_every + 2
    passes = 2 if t.local_dropout > 0 else 1
    validating = validations * passes * t.validation_windows * per_window
    how = f"{steps:,} steps × {per_step:.3f} s + {validations} validations"
    return Phase("WaveNet training", steps * per_step + validating, how)


def composer_step_seconds(
    config: ComposerConfig,
    labels: int,
    context: int,
    vocab: int | None = None,
    device: torch.device = CPU,
    probe_seconds: float = PROBE_SECONDS,
) -> float:
    """Seconds per training step of a composer of ``config`` on windows of ``context``
    tokens of a ``vocab`` (default: its codebook) (forward, loss, backward, AdamW), on
    ``device``, timed for at least ``probe_seconds``."""
    torch.manual_seed(0)
    vocab = vocab or config.codebook_size
    model = Composer(config, vocab, labels, context).to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-9)
    tokens = torch.randint(0, vocab, (config.batch_size, context + 1), device=device)
    names = torch.randint(0, labels, (config.batch_size,), device=device) if labels else None

    def step() -> None:
        logits = model(tokens[:, :-1], names)  # (B, T, V)
        loss = torch.nn.functional.cross_entropy(logits.transpose(1, 2), tokens[:, 1:])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return timed(finished(step, device), warmup=1, repeats=3, least_seconds=probe_seconds)


def composer_window_seconds(
    config: ComposerConfig, labels: int, context: int, vocab: int, device: torch.device = CPU
) -> float:
    """Seconds of one held-out window's forward pass (``context`` tokens, in evaluation)
    of a composer of ``config`` on ``device``, as its validations score them."""
    torch.manual_seed(0)
    model = Composer(config, vocab, labels, context).to(device).eval()
    tokens = torch.randint(0, vocab, (1, context), device=device)
    names = torch.zeros(1, dtype=torch.long, device=device) if labels else None

    def window() -> None:
        with torch.no_grad():
            model(tokens, names)

    return timed(finished(window, device), warmup=1, repeats=3)


def composer_sampling_seconds(
    config: ComposerConfig, labels: int, context: int, batch: int, tokens: int
) -> float:
    """Seconds per token of composing ``batch`` sequences of ``tokens`` at once (the
    cached step), timed halfway through, where the cache holds the average length."""
    torch.manual_seed(0)
    model = Composer(config, config.codebook_size, labels, context).eval()
    names = torch.arange(batch) % labels if labels else None
    prime = torch.zeros(batch, max(1, min(tokens, context) // 2), dtype=torch.long)
    token = torch.zeros(batch, dtype=torch.long)
    steps = 8

    def sequence() -> None:
        with torch.no_grad():
            state = model.initial_state(names)
            _, state = model.step(prime, state)
            start = time.perf_counter()
            for _ in range(steps):
                model.step(token, state)
            times.append(time.perf_counter() - start)

    times: list[float] = []
    for _ in range(3):
        sequence()
    return sorted(times)[1] / steps


def composer_training(
    config: ComposerConfig,
    wavenet: Config,
    steps: int,
    device: torch.device = CPU,
    held_out_seconds: float = 0.0,
    probe_seconds: float = PROBE_SECONDS,
) -> Phase:
    """The estimated time of the composer's ``steps`` on ``device`` (at most: patience may
    stop it earlier), its validations (every ``validate_every`` steps and at the end, each
    scoring ``held_out_seconds`` of music) and its sampling calibration (a grid of
    temperatures and hold penalties, each composing ``calibration_streams`` sequences per
    label; none for note events, which are sampled at temperature 1). A step is timed for
    at least ``probe_seconds``."""
    rate, hop = wavenet.data.sample_rate, wavenet.model.hop_length
    labels = len(wavenet.model.global_labels)
    if wavenet.data.features == "notes":
        context = config.context_events(EVENTS_PER_SECOND)
        vocab, per_second = events.VOCAB_SIZE, EVENTS_PER_SECOND
    else:
        context = config.context_tokens(rate, hop)
        vocab, per_second = config.codebook_size, rate / hop / config.frames_per_token
    per_step = composer_step_seconds(config, labels, context, vocab, device, probe_seconds)
    validating = 0.0
    if held_out_seconds > 0 and steps:
        validations = steps // config.validate_every + 1
        windows = math.ceil(held_out_seconds * per_second / max(1, context // 2))
        validating = (
            validations * windows * composer_window_seconds(config, labels, context, vocab, device)
        )
    how = f"{steps:,} steps × {per_step:.3f} s + validations {validating / 60:.1f} min"
    if wavenet.data.features == "notes":
        return Phase("composer training", steps * per_step + validating, how)
    calibrating = 0.0
    if config.calibration_seconds is not None and steps:
        tokens = math.ceil(config.calibration_seconds * rate / hop / config.frames_per_token)
        points = len(GRID) * (len(HOLD_PENALTIES) if config.calibrate_hold_penalty else 1)
        per_point = config.calibration_streams * max(labels, 1)
        together = max(1, STREAMS_PER_BATCH // per_point)  # points composed side by side
        batches = math.ceil(points / together)
        per_token = composer_sampling_seconds(
            config, labels, context, min(points, together) * per_point, tokens
        )
        calibrating = batches * tokens * per_token
    how += f" + calibration {calibrating / 60:.1f} min"
    return Phase("composer training", steps * per_step + validating + calibrating, how)


def report(
    config: Config,
    seconds: float,
    per_window: float,
    evaluate_seconds: float = 60.0,
    pieces: int = 1,
    composer: ComposerConfig | None = None,
    probe_seconds: float = PROBE_SECONDS,
    held_out_seconds: float | None = None,
) -> Phase:
    """The estimated time of the listening report of a composer run: ``pieces`` composed
    pieces and plain clips of ``seconds`` per label (one batch per piece and kind), an
    untrained model's 4-s clips, the held-out likelihood over up to ``evaluate_seconds``
    per label, and no more than the ``held_out_seconds`` the run holds out, where known
    (``per_window``: seconds of one window's forward pass, from ``wavenet_step_seconds``),
    the page (``page_seconds``) and, for a run of notes, the
    ``composer`` writing each piece's note events. Generation is timed for at least a
    quarter of ``probe_seconds``."""
    labels = max(1, len(config.model.global_labels))
    per_stream = generation_rate(config, labels, probe_seconds)
    rate = config.data.sample_rate
    generating = (2 * pieces * seconds + min(seconds, 4.0)) * rate / per_stream
    held_out = labels * evaluate_seconds
    if held_out_seconds is not None:
        held_out = min(held_out, held_out_seconds)
    evaluating = held_out * rate / config.data.sample_size * per_window
    drawing = labels * page_seconds(config, seconds, pieces)
    composing = 0.0
    if composer is not None and config.data.features == "notes":
        composing = pieces * note_events_seconds(composer, labels, seconds)
    how = (
        f"{labels} × {pieces} × {2 * seconds:g} s at {per_stream:,.0f} samples/s per stream"
        f" + the page {drawing / 60:.1f} min"
    )
    if composing:
        how += f" + notes {composing / 60:.1f} min"
    return Phase("report", generating + evaluating + drawing + composing, how)


def page_seconds(config: Config, seconds: float, pieces: int) -> float:
    """Seconds the report's page takes for one label: the player file, spectrogram and
    statistics of each of its clips (``pieces`` real excerpts, composed pieces with their
    piano rolls and plain clips of ``seconds``, an untrained model's clip and white noise)
    and the check's figures of them, timed on random clips (their cost does not depend on
    what they play) and, for a run of notes, the transcription of its composed pieces (what
    reaches the ear)."""
    rate, rng = config.data.sample_rate, np.random.default_rng(0)

    def clip(length: float = seconds) -> np.ndarray:
        return (0.1 * rng.standard_normal(round(length * rate))).astype(np.float32)

    played = tuple(Note(k / 8, k / 8 + 0.5, 40 + k % 48) for k in range(round(seconds * 8)))
    rows = [Row(f"real {i}", "real", clip()) for i in range(pieces)]
    for i in range(pieces):
        rows.append(Row(f"composed {i}", "generated", clip(), tag="composed", notes=played))
        rows.append(Row(f"plain {i}", "plain", clip()))
    rows += [Row("untrained", "untrained", clip(min(seconds, 4.0))), Row("noise", "noise", clip())]
    composed = np.stack([row.audio for row in rows if row.tag == "composed"])  # (pieces, T)
    with tempfile.TemporaryDirectory() as folder:

        def page() -> None:
            label_section("probe", rows, Path(folder), rate)
            kind_figures(rows, rate)
            if config.data.features == "notes":
                heard_by_label({"probe": [played] * pieces}, {"probe": composed}, rate)

        return timed(page, warmup=0, repeats=1)


def note_events_seconds(config: ComposerConfig, labels: int, seconds: float) -> float:
    """Seconds the composer takes to write the note events of one piece of ``seconds`` per
    label, in one batch (``COMPOSED_EVENTS_PER_SECOND`` events a stream): its cached step
    with the event rules and the draw, as ``compose_events`` runs them, timed halfway
    through its context."""
    torch.manual_seed(0)
    context = config.context_events(EVENTS_PER_SECOND)
    model = Composer(config, events.VOCAB_SIZE, labels, context).eval()
    names = torch.arange(labels) if labels else None
    prime = torch.randint(0, events.VOCAB_SIZE, (context // 2,)).numpy()
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        state, last = primed_composer(model, prime, max(labels, 1), names)
        keys = keys_at_end(prime, max(labels, 1), last.device)
        shortest = torch.full((max(labels, 1),), SHORTEST_STEPS)

        def chunk() -> None:
            continue_tokens(
                model, state, last, EVENTS_PER_CHECK, 1.0, None, generator, 0.0, keys, shortest
            )

        per_token = timed(chunk, warmup=1, repeats=3) / EVENTS_PER_CHECK
    return math.ceil(seconds * COMPOSED_EVENTS_PER_SECOND) * per_token


def generation_rate(config: Config, streams: int, probe_seconds: float = PROBE_SECONDS) -> float:
    """Samples per second per stream of the fast generator (engine ``auto``, as the report
    uses it) for ``streams`` clips in one batch, with ``config``'s conditioning and its
    noise guard's work (a span judged, its state rebuilt; a guard that never draws again:
    the probe's random weights play noise): the median of three clips of one span, or of
    as many as ``probe_seconds / 4`` takes, on the threads the report generates on
    (``for_generation``: one for the demo's 4 streams). Timed on torch's default, one a
    core, it read the same speed on an idle 2-core Xeon and 0.72-0.78 of it beside a busy
    loop (interleaved, 2026-12-06): the report's generation estimated a third too long."""
    with for_generation(streams, CPU):
        return _generation_rate(config, streams, probe_seconds)


def _generation_rate(config: Config, streams: int, probe_seconds: float) -> float:
    model = WaveNet(config.model).eval()
    m = config.model
    hop = m.hop_length if m.local_channels is not None else None
    guard = NoiseGuard.of(NEVER_NOISE, config.data.sample_rate, m.quantization_channels, hop)
    length = guard.span
    labels = torch.arange(streams) % len(m.global_labels) if m.global_labels else None
    features = None
    if m.local_channels is not None:
        frames = -(-length // m.hop_length) + 2
        features = torch.randn(streams, m.local_channels, frames)
    heard = torch.randn(streams, EXCITATION_CHANNELS, length) if m.excitation else None
    steering = {"labels": labels, "features": features, "excitation": heard, "max_jump": MAX_JUMP}
    generate(model, 64, streams, **steering)  # builds / loads the engine
    steering["guard"] = guard

    def clips() -> None:
        generate(model, length, streams, **steering)

    return length / timed(clips, warmup=0, repeats=3, least_seconds=probe_seconds / 4)


def with_labels(config: Config, labels: int) -> Config:
    """``config`` with ``labels`` placeholder global-conditioning labels (the real ones come
    from the data; only their number matters for speed)."""
    names = tuple(f"label{i}" for i in range(labels))
    return replace(config, model=replace(config.model, global_labels=names))


def rest_at_pace(done: Phase, spent: float, rest: list[Phase]) -> float | None:
    """Seconds the ``rest`` of a job will take at the pace this machine kept through the
    phase just ``done`` (``spent`` seconds against its estimate): a machine that became
    busier, or quieter, after its speed was probed runs the rest likewise. None where the
    finished phase was too short to tell (under a minute estimated) or nothing is left."""
    if not rest or done.seconds < 60:
        return None
    return spent / done.seconds * sum(p.seconds for p in rest)
