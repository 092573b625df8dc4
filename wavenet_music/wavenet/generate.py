"""Sample-by-sample generation: ``generate`` draws new audio with the fastest step this
machine has (on a CPU the compiled C++ step or the eager queues of ``incremental.py``, on
a GPU the eager step replayed as a CUDA graph: ``graphed.py``; chosen by
``compiled.generation_step``); ``generate_naive`` recomputes the full forward pass over
the receptive field for every sample: slow, obviously right, kept for tests and
benchmarks. From a trained run to WAV files (labels, steering features, Ctrl-C):
``to_audio.py``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ..audio.features import SILENCE_DB
from ..audio.io import mu_law_decode, silence_class
from ..config import UserError
from ..runtime.device import model_device
from .compiled import CompiledWaveNet, generation_step
from .graphed import GraphedWaveNet
from .incremental import IncrementalWaveNet, JumpLimit, draw
from .model import WaveNet
from .noise_guard import NoiseGuard, Redraw, RedrawFn

# steps of floors or temperatures converted at a time (step_rows), and of uniform numbers
# drawn at a time (uniform_rows)
FLOOR_BLOCK = 4096


def padded_history(model: WaveNet, prime: Tensor | None, num: int) -> Tensor:
    """At least a receptive field of silence (as before every file in training), then
    ``prime`` (num, P) if given, on the model's device. With local conditioning the
    history is a whole number of frames, so that generation starts a frame."""
    silence = silence_class(model.config.quantization_channels)
    size = model.receptive_field
    if model.config.local_channels is not None:
        hop, primed = model.config.hop_length, 0 if prime is None else prime.shape[1]
        size = -(-(size + primed) // hop) * hop - primed
    pad = torch.full((num, size), silence, dtype=torch.long)
    history = pad if prime is None else torch.cat([pad, prime.long()], dim=1)
    return history.to(model_device(model))


def local_timeline(
    model: WaveNet,
    features: Tensor | None,
    history: int,
    length: int,
    silence: float = SILENCE_DB,
    prime_frames: Tensor | None = None,
) -> Tensor | None:
    """Frames for ``WaveNet.forward`` over history + generated samples (B, F, K_total + 2):
    a context frame, ``silence`` (what the features read of no sound: ``SILENCE_DB``, 0 for
    notes) for the history's frames, ``features``, a context frame. A stream whose
    features start absent (NaN: unsteered) has absent frames around them. With
    ``prime_frames`` (B, F, 1 + P / hop): the history ends with a prime of P samples
    analysed (the frame before it, then its own), which replace its last frames."""
    if (features is None) != (model.config.local_channels is None):
        state = "needs" if features is None else "takes no"
        raise ValueError(f"this model {state} local-conditioning features")
    if features is None:
        return None
    hop = model.config.hop_length
    if features.shape[2] * hop < length:
        raise ValueError(
            f"{features.shape[2]} frames cover {features.shape[2] * hop} samples, "
            f"fewer than the {length} asked for"
        )
    features = features.cpu()
    unsteered = torch.isnan(features[:, :, :1]).any(dim=1, keepdim=True)  # (B, 1, 1)
    fill = torch.where(unsteered, torch.nan, silence).to(features.dtype)  # (B, 1, 1)
    silent = fill.expand(-1, features.shape[1], 1 + history // hop)
    if prime_frames is not None:
        fits = prime_frames.shape[:2] == features.shape[:2]
        if not (fits and prime_frames.shape[2] < silent.shape[2]):
            raise ValueError(
                f"prime frames of shape {tuple(prime_frames.shape)} for a history of "
                f"{history // hop} frames and features of shape {tuple(features.shape)}"
            )
        kept = silent.shape[2] - prime_frames.shape[2]
        silent = torch.cat([silent[:, :, :kept], prime_frames.cpu().to(features.dtype)], dim=2)
    end = fill.expand(-1, features.shape[1], 1)
    return torch.cat([silent, features, end], dim=2).to(model_device(model))


def check_prime_frames(model: WaveNet, prime: Tensor | None, prime_frames: Tensor | None) -> None:
    """A ``ValueError`` unless ``prime_frames`` are absent or describe ``prime``: a whole
    number of hops of it, a frame each and the one before."""
    if prime_frames is None:
        return
    hop = model.config.hop_length
    primed = None if prime is None else prime.shape[1]
    if primed is None or primed % hop or prime_frames.shape[2] != 1 + primed // hop:
        raise ValueError(
            f"prime frames of shape {tuple(prime_frames.shape)} for a prime of {primed} "
            f"samples; expected 1 + samples / {hop} frames of a whole number of hops"
        )


def heard_timeline(
    model: WaveNet, excitation: Tensor | None, history: int, length: int
) -> Tensor | None:
    """What every fed input hears of the notes (B, E, history + length - 1), for
    ``WaveNet.forward``: nothing during the history, then ``excitation`` (B, E, ≥ length)
    of the generated samples, each heard by the input that predicts it."""
    if (excitation is None) == bool(model.config.excitation):
        state = "needs an" if model.config.excitation else "takes no"
        raise ValueError(f"this model {state} excitation (notes heard at audio rate)")
    if excitation is None:
        return None
    if excitation.shape[2] < length:
        raise ValueError(f"excitation of {excitation.shape[2]} samples for {length} asked for")
    silent = excitation.new_zeros(excitation.shape[0], excitation.shape[1], history - 1)
    return torch.cat([silent, excitation[:, :, :length]], dim=2).to(model_device(model))


ProgressFn = Callable[[Tensor], None]


@torch.inference_mode()
def generate(
    model: WaveNet,
    length: int,
    num: int = 1,
    *,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
    prime: Tensor | None = None,
    labels: Tensor | None = None,
    features: Tensor | None = None,
    prime_frames: Tensor | None = None,
    excitation: Tensor | None = None,
    silence: float = SILENCE_DB,
    floors: Tensor | None = None,
    temperatures: Tensor | None = None,
    max_jump: float = 0.0,
    on_step: ProgressFn | None = None,
    engine: str = "auto",
    precision: str = "float32",
    guard: NoiseGuard | None = None,
    on_redraw: RedrawFn | None = None,
) -> Tensor:
    """Generate ``num`` clips of ``length`` classes each with the incremental generator.

    Args:
        prime: (num, P) classes the clips continue from (not part of the output);
            without it, generation starts after a receptive field of silence, as in training.
        labels: (num,) global-conditioning label indices, when the model has labels.
        features: (num, F, K) local-conditioning frames of the audio to generate (frame k
            describes output samples k·hop ..), when the model has local conditioning;
            ``length`` ≤ K · hop.
        prime_frames: (num, F, 1 + P / hop) the frames of ``prime`` (P a whole number of
            hops): the frame before it, then its own, as ``audio.features`` analyses it
            (``composer.compose.read_prime``); without them the history reads ``silence``.
        excitation: (num, E, ≥ length) the notes heard at audio rate (``notes.excitation``)
            of the samples to generate, when the model hears them (``model.excitation``).
        silence: what the features read where there is no sound (the history).
        floors: (num, length) each sample's probability floor (``incremental.sample``):
            classes less likely are never drawn; 0 or None: the whole distribution.
        temperatures: (num, length) each sample's temperature, > 0, in place of
            ``temperature`` (``to_audio.note_temperatures``: sharper where notes sound).
        max_jump: no class whose value lies further than this (of full scale) from the
            previous sample's is drawn (``jump_mask``); 0: no limit.
        on_step: called with the classes so far (num, t) after every sample, or every run
            of samples one call draws (the compiled engine: ``compiled.RUN_STEPS``).
        engine: ``auto``, ``compiled``, ``graph`` (a model on a GPU: ``graphed.py``) or
            ``eager``; precision: the compiled step's weights, ``float32``, ``bf16`` or
            ``int8`` (see ``compiled.generation_step``).
        guard: draw in spans and draw again a stream's fall into noise (``noise_guard``;
            at temperature 0 nothing is drawn again); ``on_redraw`` hears each redraw.
    Returns:
        Tensor[num, length] of classes.
    """
    check_prime_frames(model, prime, prime_frames)
    history = padded_history(model, prime, num)
    timeline = Timeline(
        history,
        _on(labels, history.device),
        local_timeline(model, features, history.shape[1], length, silence, prime_frames),
        heard_timeline(model, excitation, history.shape[1], length),
    )
    sampling = Sampling(
        generation_step(model, engine, precision),
        temperature,
        checked_floors(model, floors, num, length),
        checked_temperatures(temperatures, num, length),
        jump_limit(model, max_jump, history.device),
    )
    if guard is None:
        return sampling.drawn(model, timeline, 0, length, generator, on_step)
    return guarded(model, timeline, length, sampling, generator, guard, on_step, on_redraw)


@dataclass(frozen=True)
class Timeline:
    """What the streams read before the next sample: ``history`` (B, H) classes fed, and
    the conditioning of the whole timeline from ``history[:, 0]`` on, laid out as
    ``WaveNet.forward`` takes it: ``labels`` (B,), local ``frames`` (B, F, K + 2; the
    history starts frame 1) and ``heard`` (B, E, T'): what every input hears."""

    history: Tensor
    labels: Tensor | None
    frames: Tensor | None
    heard: Tensor | None

    def rows(self, streams: Tensor) -> Timeline:
        """The timeline of ``streams`` (S,) indices only."""
        return Timeline(*(None if t is None else t[streams] for t in self._tensors()))

    def after(self, classes: Tensor, model: WaveNet) -> Timeline:
        """The timeline once ``classes`` (B, t) are drawn after the history, its front cut
        to what the next draws read: the receptive field, in whole frames (only that much
        of ``classes`` is copied, however long the clip grows)."""
        fed = self.history.shape[1]
        cut = max(0, fed + classes.shape[1] - model.receptive_field)
        hop = model.config.hop_length if self.frames is not None else 1
        cut = cut // hop * hop  # the frames stay aligned with the samples
        if cut >= fed:
            history = classes[:, cut - fed :].to(self.history.device)
        else:
            history = torch.cat([self.history[:, cut:], classes.to(self.history.device)], dim=1)
        frames = None if self.frames is None else self.frames[:, :, cut // hop :]
        heard = None if self.heard is None else self.heard[:, :, cut:]
        return Timeline(history, self.labels, frames, heard)

    def within(self, steps: int, model: WaveNet) -> Timeline:
        """The timeline with no more conditioning than ``steps`` draws read (a long
        piece's later frames are not converted for every span)."""
        fed = self.history.shape[1] + steps
        frames = self.frames
        if frames is not None:
            frames = frames[:, :, : -(-fed // model.config.hop_length) + 2]
        heard = None if self.heard is None else self.heard[:, :, :fed]
        return Timeline(self.history, self.labels, frames, heard)

    def _tensors(self) -> tuple[Tensor | None, ...]:
        return self.history, self.labels, self.frames, self.heard


@dataclass(frozen=True)
class Sampling:
    """How every sample is drawn: the ``step`` (``compiled.generation_step``), the
    ``temperature``, each sample's ``floors`` and ``temperatures`` (num, length) of the
    whole clip (or None) and the ``jumps`` limit."""

    step: IncrementalWaveNet | CompiledWaveNet | GraphedWaveNet
    temperature: float
    floors: Tensor | None
    temperatures: Tensor | None
    jumps: JumpLimit | None

    @property
    def random(self) -> bool:
        """Whether samples are drawn (else the likeliest class is taken)."""
        return self.temperature != 0 or self.temperatures is not None

    def drawn(
        self,
        model: WaveNet,
        timeline: Timeline,
        start: int,
        length: int,
        generator: torch.Generator | None,
        on_step: ProgressFn | None,
        streams: Tensor | None = None,
    ) -> Tensor:
        """Samples ``start`` .. ``start + length`` of the clip (B, length) after
        ``timeline``, for ``streams`` (indices into the clip's streams; None: all)."""
        history, device = timeline.history, timeline.history.device
        num = history.shape[0]
        which = slice(None) if streams is None else streams.cpu()
        span = slice(start, start + length)
        floors = None if self.floors is None else self.floors[which, span]
        temperatures = None if self.temperatures is None else self.temperatures[which, span]
        per_step = step_rows(floors, length, device)
        heat = step_rows(temperatures, length, device, inverse=True)
        noise = uniform_rows(generator, num, length, device, self.random)
        fast = self.step
        state = fast.initial_state(model, history, timeline.labels, timeline.frames, timeline.heard)
        x = history[:, -1]
        if isinstance(fast, GraphedWaveNet | CompiledWaveNet):  # the same loop, in one call
            rows = zip(per_step, heat, noise, strict=True)  # per sample, or per run of them
            return fast.run(state, x, length, self.temperature, rows, self.jumps, on_step)
        out = torch.empty(num, length, dtype=torch.long, device=device)
        for t, floor, inverse, u in zip(range(length), per_step, heat, noise, strict=True):
            logits, state = fast.step(x, state)  # (num, Q)
            x = fast.draw(logits, x, self.temperature, generator, floor, inverse, self.jumps, u)
            out[:, t] = x
            if on_step is not None:
                on_step(out[:, : t + 1])
        return out


def guarded(
    model: WaveNet,
    timeline: Timeline,
    length: int,
    sampling: Sampling,
    generator: torch.Generator | None,
    guard: NoiseGuard,
    on_step: ProgressFn | None = None,
    on_redraw: RedrawFn | None = None,
) -> Tensor:
    """``generate``'s clips drawn ``guard.span`` samples at a time, each stream's fall into
    noise drawn again (``noise_guard``). The spans draw the same uniform numbers in the same
    order as one pass, so a stream never drawn again plays what it would unguarded."""
    num = timeline.history.shape[0]
    out = torch.empty(num, length, dtype=torch.long, device=timeline.history.device)
    armed = np.ones(num, dtype=bool)  # streams a fall is drawn again for
    redraws = redraw_generator(generator)
    for start in range(0, length, guard.span):
        end = min(start + guard.span, length)
        now = timeline.after(out[:, :start], model).within(end - start, model)
        progress = None if on_step is None else _filling(out, start, on_step)
        out[:, start:end] = sampling.drawn(model, now, start, end - start, generator, progress)
        noisy = guard.noisy(_audio(out[:, max(0, start - guard.hop) : end], guard))
        armed |= ~noisy  # a stream left as noise is guarded again once it plays music
        fallen = armed & noisy
        if not (fallen.any() and sampling.random):
            continue
        streams = torch.from_numpy(np.flatnonzero(fallen))
        drawing = Redrawing(model, timeline, out, sampling, redraws, guard, on_step)
        for redraw in drawing.redrawn(start, end, streams):
            armed[redraw.stream] = redraw.resolved
            if on_redraw is not None:
                on_redraw(redraw)
    return out


def _filling(out: Tensor, start: int, on_step: ProgressFn) -> ProgressFn:
    """A span's progress callback: copies the span's classes so far into ``out`` from
    ``start`` and tells ``on_step`` the clip so far."""
    seen = [0]

    def progress(classes: Tensor) -> None:  # (B, t) of the span
        t = classes.shape[1]
        out[:, start + seen[0] : start + t] = classes[:, seen[0] :]
        seen[0] = t
        on_step(out[:, : start + t])

    return progress


@dataclass(frozen=True)
class Redrawing:
    """What drawing a fall again needs: the model and its ``timeline``, the clips so far
    ``out`` (B, T) drawn in place, the ``sampling`` rules, the redraws' own random stream
    ``generator``, the ``guard`` and the progress callback."""

    model: WaveNet
    timeline: Timeline
    out: Tensor
    sampling: Sampling
    generator: torch.Generator | None
    guard: NoiseGuard
    on_step: ProgressFn | None

    def redrawn(self, start: int, end: int, streams: Tensor) -> list[Redraw]:
        """``streams`` (S,), fallen into noise in the span ``start`` .. ``end``, drawn
        again from ``guard.reaches`` spans before ``start`` in turn (the fall began in the
        span before; a fall its tries cannot clear, from further back), a stream going
        further back only while it stays noise; a ``Redraw`` per stream, from where its
        last redraw started."""
        redrawn: dict[int, Redraw] = {}
        for reach in self.guard.reaches:
            back = max(0, start - reach * self.guard.span)
            tried = self.drawn_again(back, end, streams)
            for stream, (ok, draws) in tried.items():
                before = redrawn[stream].draws if stream in redrawn else 0
                redrawn[stream] = Redraw(stream, back, ok, before + draws)
            streams = torch.tensor([stream for stream, (ok, _) in tried.items() if not ok])
            if len(streams) == 0 or back == 0:
                break
        return list(redrawn.values())

    def drawn_again(self, back: int, end: int, streams: Tensor) -> dict[int, tuple[bool, int]]:
        """Samples ``back`` .. ``end`` of ``streams`` (S,) of ``out`` drawn again in place,
        up to ``guard.tries`` times until every span of them, each with the half span
        before it, reads as music; returns stream → (resolved (else it keeps its last
        try), draws made). ``on_step`` hears the clip so far (no new samples) as they are
        drawn, so that Ctrl-C is heard as soon."""
        model, out, guard = self.model, self.out, self.guard
        resolved = {}

        def progress(_: Tensor) -> None:
            if self.on_step is not None:
                self.on_step(out[:, :end])

        for draws in range(1, guard.tries + 1):
            before = self.timeline.after(out[:, :back], model).within(end - back, model)
            again = self.sampling.drawn(
                model, before.rows(streams), back, end - back, self.generator, progress, streams
            )
            out[streams, back:end] = again
            noisy = np.zeros(len(streams), dtype=bool)
            for start in range(back, end, guard.span):  # with the half span before each
                judged = out[streams, max(0, start - guard.hop) : min(start + guard.span, end)]
                noisy |= guard.noisy(_audio(judged, guard))
            resolved.update(dict.fromkeys(streams[~noisy].tolist(), (True, draws)))
            streams = streams[torch.from_numpy(noisy)]
            if len(streams) == 0:
                break
        resolved.update(dict.fromkeys(streams.tolist(), (False, guard.tries)))
        return resolved


def redraw_generator(generator: torch.Generator | None) -> torch.Generator | None:
    """The random stream redraws take theirs from: seeded from ``generator``'s seed (the
    same redraws for the same seed), apart from it (the other streams' draws stay as they
    would be); None (torch's global stream) for None."""
    if generator is None:
        return None
    seed = (generator.initial_seed() + REDRAW_SEED_OFFSET) % 2**64
    return torch.Generator(device=generator.device).manual_seed(seed)


REDRAW_SEED_OFFSET = 0x9E3779B97F4A7C15  # any fixed odd number: redraws' seed ≠ the clip's


def _audio(classes: Tensor, guard: NoiseGuard) -> np.ndarray:
    return mu_law_decode(classes.cpu().numpy(), guard.quantization_channels)


@torch.inference_mode()
def generate_naive(
    model: WaveNet,
    length: int,
    num: int = 1,
    *,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
    prime: Tensor | None = None,
    labels: Tensor | None = None,
    features: Tensor | None = None,
    prime_frames: Tensor | None = None,
    excitation: Tensor | None = None,
    silence: float = SILENCE_DB,
    floors: Tensor | None = None,
    temperatures: Tensor | None = None,
    max_jump: float = 0.0,
) -> Tensor:
    """The plain reference: one full forward pass over the last receptive field per sample
    (over everything so far with local conditioning, whose frames start at sample 0)."""
    rf = model.receptive_field
    check_prime_frames(model, prime, prime_frames)
    history = padded_history(model, prime, num)
    frames = local_timeline(model, features, history.shape[1], length, silence, prime_frames)
    heard = heard_timeline(model, excitation, history.shape[1], length)
    labels = _on(labels, history.device)
    per_step = step_rows(checked_floors(model, floors, num, length), length, history.device)
    heat = step_rows(
        checked_temperatures(temperatures, num, length), length, history.device, inverse=True
    )
    jumps = jump_limit(model, max_jump, history.device)
    for _, floor, inverse in zip(range(length), per_step, heat, strict=True):
        window = history if frames is not None else history[:, -rf:]
        now = None if heard is None else heard[:, :, : window.shape[1]]
        logits = model(window, labels, frames, now)[:, :, -1]  # (B, Q)
        x = draw(logits, history[:, -1], temperature, generator, floor, inverse, jumps)
        history = torch.cat([history, x[:, None]], dim=1)
    return history[:, history.shape[1] - length :]


def jump_mask(model: WaveNet, max_jump: float, device: torch.device) -> Tensor | None:
    """(Q, Q) float32 added to the logits by the previous class: row k is 0 for the
    classes whose mu-law value lies within ``max_jump`` of class k's, -inf beyond (k
    itself always stays); None for no limit (0)."""
    if max_jump == 0:
        return None
    if not max_jump > 0:
        raise UserError(f"max_jump: expected 0 (no limit) or a positive amount, got {max_jump}")
    q = model.config.quantization_channels
    values = torch.from_numpy(mu_law_decode(np.arange(q), q)).double()  # (Q,)
    banned = (values[:, None] - values[None, :]).abs() > max_jump  # (Q previous, Q next)
    return torch.zeros(q, q).masked_fill_(banned, float("-inf")).to(device)


def jump_limit(model: WaveNet, max_jump: float, device: torch.device) -> JumpLimit | None:
    """``jump_mask`` with its intervals (``incremental.JumpLimit``); None for no limit."""
    mask = jump_mask(model, max_jump, device)
    return None if mask is None else JumpLimit.of(mask)


def checked_floors(model: WaveNet, floors: Tensor | None, num: int, length: int) -> Tensor | None:
    """``generate``'s floors (num, length) as they are (no copy: 4 bytes per stream and
    sample in float32), checked once; None where there is no floor at all."""
    if floors is None or not bool((floors > 0).any()):
        return None
    if tuple(floors.shape) != (num, length):
        raise ValueError(f"floors of shape {tuple(floors.shape)} for {(num, length)} samples")
    classes = model.config.quantization_channels
    if not float(floors.max()) * classes < 1:
        raise UserError(
            f"a sampling floor (--floor; compose: --wavenet-floor) of {float(floors.max()):g} "
            "could cut every class: keep it "
            f"below 1 / {classes} (the likeliest class is at least that likely)"
        )
    return floors


def checked_temperatures(temperatures: Tensor | None, num: int, length: int) -> Tensor | None:
    """``generate``'s temperatures (num, length) as they are, checked once."""
    if temperatures is None:
        return None
    if tuple(temperatures.shape) != (num, length):
        shape = tuple(temperatures.shape)
        raise ValueError(f"temperatures of shape {shape} for {(num, length)} samples")
    if not bool((temperatures > 0).all()) or not bool(temperatures.isfinite().all()):
        raise ValueError("temperatures: every sample's temperature must be finite and > 0")
    return temperatures


def step_rows(
    table: Tensor | None, length: int, device: torch.device, inverse: bool = False
) -> Iterator[Tensor | None]:
    """``length`` steps' values on ``device`` from a table (num, length), converted
    ``FLOOR_BLOCK`` steps at a time (a view per step, never a second copy of the whole
    table): floors (num,) in float64, as ``sample`` takes them, or with ``inverse`` the
    reciprocals of temperatures (num, 1) in float32, as ``incremental.draw`` multiplies
    logits by them; None for every step where there is no table."""
    if table is None:
        yield from itertools.repeat(None, length)
        return
    for start in range(0, table.shape[1], FLOOR_BLOCK):
        block = table[:, start : start + FLOOR_BLOCK]  # (num, ≤ FLOOR_BLOCK)
        if inverse:
            yield from block.to(device, torch.float32).reciprocal().T.contiguous()[:, :, None]
        else:
            yield from block.to(device, torch.float64).T.contiguous()  # rows (num,)


def uniform_rows(
    generator: torch.Generator | None, num: int, length: int, device: torch.device, drawn: bool
) -> Iterator[Tensor | None]:
    """The uniform numbers (num,) float64 each of ``length`` steps draws, from
    ``generator`` ``FLOOR_BLOCK`` steps at a time (one torch call a block, not a step). On
    the CPU these are the same numbers in the same order as a call a step, since torch
    draws a CPU generator's numbers one after another, and the generator is left where
    those calls leave it (nothing drawn past the last step; tested); a CUDA generator gives
    other numbers a block than a step, the same for every engine. None for every step
    where nothing is drawn (``drawn`` false: the likeliest class)."""
    if generator is not None and generator.device.type != device.type:
        raise ValueError(
            f"a random generator on {generator.device.type} for a model on {device.type}: "
            "make it on the model's device"
        )
    if not drawn:
        yield from itertools.repeat(None, length)
        return
    for start in range(0, length, FLOOR_BLOCK):
        steps = min(FLOOR_BLOCK, length - start)
        yield from torch.rand(steps, num, dtype=torch.float64, device=device, generator=generator)


def _on(labels: Tensor | None, device: torch.device) -> Tensor | None:
    return None if labels is None else labels.to(device)
