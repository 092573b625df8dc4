"""Incremental generation: the queue method and the sampling draw.

``IncrementalWaveNet`` is the queue method of Paine et al. 2016 ("Fast WaveNet
Generation Algorithm"): every causal convolution keeps a queue of its past inputs, so
each new sample costs one small matrix product per layer, constant in the receptive
field. Its state is explicit (``GenerationState``); nothing is hidden in the layers.
``compiled.py`` runs the same step in C++; ``generate.py`` drives either.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from torch import Tensor

from .model import CausalConv1d, WaveNet


@dataclass
class GenerationState:
    """What the generator remembers between samples.

    ``queues[i]`` holds the last ``context_i`` inputs of causal convolution ``i`` (the
    initial convolution first, then one per residual layer) as a ring buffer of shape
    (context_i, B, C_i): the input at time ``t`` lives in slot ``t % context_i``.
    ``time`` is the index of the next input sample. ``step`` updates both in place.
    ``label_bias[l]`` (B, 2D) is layer l's global-conditioning term V·h, fixed per clip;
    ``local[l]`` (B, 2D, K) its local-conditioning term per frame, and ``local_origin``
    the sample index (from the start of frame 0 of ``local``) of the input at time 0.
    ``excitation`` (T, B, E): what the input at timeline index i hears of the notes
    (``WaveNet.forward``'s excitation, time first), on the timeline of ``local``.
    """

    queues: list[Tensor]
    time: int = 0
    label_bias: list[Tensor] | None = None
    local: list[Tensor] | None = None
    local_origin: int = 0
    excitation: Tensor | None = None


@dataclass(frozen=True)
class _Conv:
    """A causal convolution as one matrix over its stacked taps (oldest tap first)."""

    weight: Tensor  # (taps · C_in, C_out)
    bias: Tensor | None  # (C_out,)
    taps: int
    dilation: int

    @classmethod
    def of(cls, conv: CausalConv1d) -> _Conv:
        w = conv.weight.detach()  # (C_out, C_in, taps)
        stacked = w.permute(2, 1, 0).reshape(-1, w.shape[0]).contiguous()  # (taps·C_in, C_out)
        bias = None if conv.bias is None else conv.bias.detach()
        return cls(stacked, bias, conv.kernel_size[0], conv.dilation[0])

    @property
    def context(self) -> int:
        return (self.taps - 1) * self.dilation

    def step(self, x: Tensor, queue: Tensor, time: int) -> Tensor:
        """x (B, C_in) at ``time`` → (B, C_out); pushes x into the queue."""
        past = [
            queue[(time - k * self.dilation) % self.context] for k in range(self.taps - 1, 0, -1)
        ]
        inputs = torch.cat([*past, x], dim=1)  # (B, taps · C_in)
        out = (
            inputs @ self.weight
            if self.bias is None
            else torch.addmm(self.bias, inputs, self.weight)
        )
        queue[time % self.context] = x
        return out  # (B, C_out)


class IncrementalWaveNet:
    """The trained weights rearranged for one-sample steps: ``step(x_t, state) -> logits``."""

    def __init__(self, model: WaveNet) -> None:
        self.config = model.config
        self.causal = _Conv.of(model.causal)
        self.filter_gate = [_Conv.of(b.filter_gate) for b in model.blocks]
        self.residual = [_linear(b.residual) for b in model.blocks]  # (D, R), (R,)
        weight, bias = model.skip_matrix()
        self.skip = (weight.detach().t().contiguous(), None if bias is None else bias.detach())
        self.head = [_linear(model.head[1]), _linear(model.head[3])]
        self.dilation_channels = self.config.dilation_channels
        self.excitation = None  # (E, L · 2D): every layer's U = [U_f; U_g] side by side
        if self.config.excitation:
            weights = [b.excitation_condition.weight.detach()[:, :, 0] for b in model.blocks]
            self.excitation = torch.cat(weights, dim=0).t().contiguous()  # (E, L · 2D)

    def initial_state(
        self,
        model: WaveNet,
        history: Tensor,
        labels: Tensor | None = None,
        frames: Tensor | None = None,
        excitation: Tensor | None = None,
    ) -> GenerationState:
        """Queues filled as if ``history`` (B, T ≥ receptive_field) had been fed, except its
        last sample, which the first ``step`` takes. One forward pass, no loop; streams with
        the same history and label (e.g. silence) are computed once.

        ``labels`` (B,): global-conditioning labels; ``frames`` (B, F, K + 2): local-
        conditioning frames for the whole timeline, history included, laid out as for
        ``WaveNet.forward`` (history[:, 0] starts frame 1); ``excitation`` (B, E, T'):
        what every input of the timeline hears, history included (T' ≥ T).
        Slot j of a queue holds the input at time j - context (≡ j mod context)."""
        first, inverse = _distinct_streams(history, labels, frames, excitation)
        fed = history.shape[1] - 1
        with torch.inference_mode():
            pick = _rows(first)
            heard = None if excitation is None else excitation[first, :, :fed]
            histories = model.conv_histories(
                history[first, :-1], pick(labels), pick(frames), heard
            )  # (U, C, ctx)
            state = GenerationState(
                queues=[h[inverse].permute(2, 0, 1).contiguous() for h in histories],
                local_origin=fed,
            )
            if excitation is not None:
                state.excitation = excitation.permute(2, 0, 1).contiguous()  # (T', B, E)
            if labels is not None:
                state.label_bias = [b.label_embedding(labels) for b in model.blocks]  # (B, 2D)
            state.local = layer_conditioning(model, frames)
        return state

    def with_frames(
        self, model: WaveNet, state: GenerationState, frames: Tensor
    ) -> GenerationState:
        """``state`` steered by ``frames`` (B, F, K' + 2): the timeline it started from,
        extended (features that arrive while generating, as in ``compose``)."""
        with torch.inference_mode():
            state.local = layer_conditioning(model, frames)
        return state

    def step(self, x: Tensor, state: GenerationState) -> tuple[Tensor, GenerationState]:
        """x (B,) classes at ``state.time`` → logits (B, Q) for the next sample."""
        t = state.time
        one_hot = torch.nn.functional.one_hot(x, self.config.quantization_channels)
        one_hot = one_hot.to(self.causal.weight.dtype)
        h = self.causal.step(one_hot, state.queues[0], t)  # (B, R)
        frame = (state.local_origin + t) // self.config.hop_length  # of the sample fed
        local = None if state.local is None else [c[:, :, frame] for c in state.local]
        heard = None
        if state.excitation is not None:
            heard = self.heard(state.excitation[state.local_origin + t])

        def dilated(layer: int, h: Tensor) -> Tensor:  # (B, R) → (B, 2D)
            pre = self.filter_gate[layer].step(h, state.queues[layer + 1], t)
            return conditioned(pre, layer, state.label_bias, local, heard)

        state.time = t + 1
        return self.layers(h, dilated), state

    def heard(self, e: Tensor) -> Tensor:
        """What every layer hears of the notes e (B, E) of the sample fed: U_l e (L, B, 2D)."""
        return (e @ self.excitation).view(len(e), len(self.residual), -1).transpose(0, 1)

    def layers(self, h: Tensor, dilated: Callable[[int, Tensor], Tensor]) -> Tensor:
        """The residual layers, the skip sum and the head after the causal convolution's
        output h (B, R): logits (B, Q). ``dilated(l, h)`` is layer l's dilated convolution
        of its input, conditioned (B, 2D)."""
        zs = []
        for layer, (w_res, b_res) in enumerate(self.residual):
            pre = dilated(layer, h)  # (B, 2D)
            z = torch.tanh(pre[:, : self.dilation_channels]) * torch.sigmoid(
                pre[:, self.dilation_channels :]
            )  # (B, D)
            h = h + _affine(z, w_res, b_res)  # (B, R)
            zs.append(z)
        skips = _affine(torch.cat(zs, dim=1), *self.skip)  # (B, Sk)
        (w1, b1), (w2, b2) = self.head
        return _affine(torch.relu(_affine(torch.relu(skips), w1, b1)), w2, b2)  # (B, Q)

    def sample(
        self,
        logits: Tensor,
        temperature: float,
        generator: torch.Generator | None,
        floor: Tensor | None = None,
    ) -> Tensor:
        """logits (B, Q) → classes (B,): ``sample``, with torch operations."""
        return sample(logits, temperature, generator, floor)

    def draw(
        self,
        logits: Tensor,
        previous: Tensor,
        temperature: float,
        generator: torch.Generator | None,
        floor: Tensor | None = None,
        inverse: Tensor | None = None,
        jumps: JumpLimit | None = None,
        u: Tensor | None = None,
    ) -> Tensor:
        """The classes (B,) of the sample after ``previous`` (B,): ``draw``."""
        return draw(logits, previous, temperature, generator, floor, inverse, jumps, u)


def conditioned(
    pre: Tensor,
    layer: int,
    label_bias: list[Tensor] | None,
    local: list[Tensor] | Tensor | None,
    heard: Tensor | None,
) -> Tensor:
    """Layer ``layer``'s pre-activation (B, 2D) with its global (V·h), local and notes'
    terms added, each (B, 2D) for this sample, in that order."""
    if label_bias is not None:
        pre = pre + label_bias[layer]
    if local is not None:
        pre = pre + local[layer]
    if heard is not None:
        pre = pre + heard[layer]
    return pre


def layer_conditioning(model: WaveNet, frames: Tensor | None) -> list[Tensor] | None:
    """Every layer's local conditioning (B, 2D, K) at frame rate, from frames (B, F, K + 2)."""
    conditioning = model.local_frames(frames)  # (B, F, K) or None
    if conditioning is None:
        return None
    return [b.local_condition(conditioning) for b in model.blocks]  # L × (B, 2D, K)


def _distinct_streams(
    history: Tensor, labels: Tensor | None, frames: Tensor | None, excitation: Tensor | None
) -> tuple[Tensor, Tensor]:
    """(first, inverse): one stream index per distinct (history, label), and for every
    stream its distinct index. Streams with their own frames or excitation are all
    distinct."""
    if frames is not None or excitation is not None:
        everyone = torch.arange(history.shape[0], device=history.device)
        return everyone, everyone
    keys = history if labels is None else torch.cat([labels[:, None], history], dim=1)
    unique, inverse = torch.unique(keys, dim=0, return_inverse=True)  # (U, ·), (B,)
    first = torch.zeros(len(unique), dtype=torch.long, device=history.device)
    first[inverse] = torch.arange(len(inverse), device=history.device)
    return first, inverse


def _rows(index: Tensor):
    return lambda t: None if t is None else t[index]


def _linear(conv: torch.nn.Conv1d) -> tuple[Tensor, Tensor | None]:
    """A 1×1 convolution as (C_in, C_out) weight and bias."""
    bias = None if conv.bias is None else conv.bias.detach()
    return conv.weight.detach()[:, :, 0].t().contiguous(), bias


def _affine(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    return x @ weight if bias is None else torch.addmm(bias, x, weight)


# --- sampling ---------------------------------------------------------------------------


@dataclass(frozen=True)
class JumpLimit:
    """The classes a sample may take after the previous one (``generate.jump_limit``):
    ``mask`` (Q, Q) float32, added to the logits by the previous class k (row k: 0 within
    reach of class k, -inf beyond), and the same as intervals, the classes ``low[k]`` ..
    ``high[k]`` (Q,) int64 (mu-law values rise with the class, so the classes within reach
    of one are an interval), as the compiled step reads it."""

    mask: Tensor
    low: Tensor
    high: Tensor

    @classmethod
    def of(cls, mask: Tensor) -> JumpLimit:
        allowed = (mask == 0).to(torch.uint8)  # (Q, Q)
        classes = mask.shape[1]
        low = allowed.argmax(dim=1)  # the first allowed class of each row
        high = classes - 1 - allowed.flip(1).argmax(dim=1)  # the last
        inside = torch.arange(classes, device=mask.device)
        interval = (inside >= low[:, None]) & (inside <= high[:, None])
        if not torch.equal(interval, allowed.bool()):
            raise ValueError("a jump mask whose allowed classes are not an interval")
        return cls(mask, low.cpu(), high.cpu())


def draw(
    logits: Tensor,
    previous: Tensor,
    temperature: float,
    generator: torch.Generator | None,
    floor: Tensor | None = None,
    inverse: Tensor | None = None,
    jumps: JumpLimit | None = None,
    u: Tensor | None = None,
) -> Tensor:
    """logits (B, Q) of the sample after ``previous`` (B,) → its classes (B,): ``steered``
    (only classes within ``jumps`` of the previous one, each row at its own temperature
    where ``inverse`` (B, 1) gives its reciprocal), then ``sample`` (at ``u``, where the
    caller drew them ahead: ``generate.uniform_rows``). ``CompiledWaveNet.draw`` is the
    same arithmetic in one C++ call."""
    logits, temperature = steered(logits, previous, temperature, inverse, jumps)
    return sample(logits, temperature, generator, floor, u)


def steered(
    logits: Tensor,
    previous: Tensor,
    temperature: float,
    inverse: Tensor | None,
    jumps: JumpLimit | None,
) -> tuple[Tensor, float]:
    """The logits (B, Q) a draw samples from, and at what temperature: -inf where a class
    lies beyond ``jumps`` of ``previous`` (B,); times ``inverse`` (B, 1), then at
    temperature 1, where each row has its own temperature."""
    if jumps is not None:
        logits = jumps.mask.index_select(0, previous).add_(logits)  # -inf where too far
    if inverse is not None:
        logits, temperature = logits * inverse, 1.0
    return logits, temperature


def sample(
    logits: Tensor,
    temperature: float,
    generator: torch.Generator | None,
    floor: Tensor | None = None,
    u: Tensor | None = None,
) -> Tensor:
    """logits (B, Q) → classes (B,) drawn from p = softmax(logits / temperature): one
    uniform number u per stream (drawn from ``generator`` unless given, (B,) float64),
    and the first class whose cumulative sum exceeds u · the row's sum
    (``CompiledWaveNet.sample`` is the same draw in one C++ call). Temperature 0 takes the
    most likely class. (torch.multinomial drew an exponential per class: 2,048
    random numbers a step for 8 streams, which took longer than the compiled step itself.)

    ``floor`` (B,) float64: row b draws from max(p - floor_b, 0) renormalised, LPCNet's
    cut of the unlikely tail (Valin & Skoglund 2019, 3.6): the rare values that sound as
    hiss are never drawn. A floor below 1 / Q always keeps the likeliest class."""
    if temperature == 0:
        return logits.argmax(dim=1)
    u = uniforms(logits, generator) if u is None else u  # (B,)
    p = probabilities(logits, temperature)  # (B, Q)
    if not math.isfinite(p.sum().item()):  # NaN where a logit is NaN or inf
        raise RuntimeError(NOT_FINITE)
    return pick(p, u, floor)


NOT_FINITE = "logits hold NaN or infinity: nothing to sample from"


def probabilities(logits: Tensor, temperature: float) -> Tensor:
    """softmax(logits / temperature) (B, Q) in float64, as ``sample`` draws from it."""
    scaled = logits if temperature == 1 else logits / temperature
    return torch.softmax(scaled, dim=1, dtype=torch.float64)


def pick(p: Tensor, u: Tensor, floor: Tensor | None) -> Tensor:
    """``sample``'s choice from probabilities p (B, Q), consumed, at u (B,): the first
    class whose cumulative sum exceeds u · the row's sum, after the ``floor`` (B,)."""
    if floor is not None:
        p = (p - floor.to(p)[:, None]).clamp_(min=0)
    cumulative = p.cumsum_(dim=1)  # (B, Q)
    total = cumulative[:, -1:]  # (B, 1): 1 up to rounding, less after a floor
    classes = torch.searchsorted(cumulative, u[:, None] * total, right=True)[:, 0]  # (B,)
    return classes.clamp_(max=p.shape[1] - 1)


# one step's per-stream values: floor (B,) float64, inverse temperature (B, 1), uniform (B,)
StepRow = tuple[Tensor | None, Tensor | None, Tensor | None]


def stacked_rows(rows: Iterable[StepRow]) -> StepRow:
    """Steps' rows as tables of a row a step: floors (S, B), inverse temperatures
    (S, B, 1), uniform numbers (S, B); None where the steps have none."""
    floors, inverses, uniforms = zip(*rows, strict=True)
    return _stacked(floors), _stacked(inverses), _stacked(uniforms)


def _stacked(rows: tuple[Tensor | None, ...]) -> Tensor | None:
    return None if rows[0] is None else torch.stack(rows)


def uniforms(logits: Tensor, generator: torch.Generator | None) -> Tensor:
    """One uniform float64 number in [0, 1) per row of logits (B, Q): (B,)."""
    return torch.rand(
        logits.shape[0], dtype=torch.float64, device=logits.device, generator=generator
    )
