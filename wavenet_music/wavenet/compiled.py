"""The compiled generation engine: IncrementalWaveNet's step as one C++ call per sample.

At batch 1 an eager step spends its time dispatching ~200 small PyTorch ops; the compiled
step (``kernels/wavenet_step.cpp``) runs every layer, the skip sum and the head in one call,
with the same explicit state (ring buffers + time) and the same logits within float32
rounding. Many streams share every weight load (a small GEMM kernel) and are split across
torch's threads in whole tiles, so the thread count never changes a stream's numbers.
Weights may be stored as bfloat16 or as int8 with a scale per output channel
(``precision``): the weights are then 2× or 4× smaller to read per sample, while activations
and sums stay float32. ``CompiledWaveNet.sample`` draws the next classes in the same call's
module (the torch operations of ``generate.sample`` took longer than a step of 8 streams),
and ``CompiledWaveNet.run`` draws ``RUN_STEPS`` samples a call, the step and the draw of
each, without a return to Python between samples (its loop cost a third of a sample).

``generation_step(model, engine, precision)`` picks the engine for ``generate``
(``choose_engine``: the rule, from the model and the CPU's features; ``engine_choice``: the
choice on this machine, as ``generate_audio``'s log line shows it).
"""

from __future__ import annotations

import itertools
import platform
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType

import torch
from torch import Tensor

from ..config import UserError
from ..runtime.console import warn
from .graphed import GraphedWaveNet
from .incremental import (
    GenerationState,
    IncrementalWaveNet,
    JumpLimit,
    StepRow,
    draw,
    layer_conditioning,
    stacked_rows,
    uniforms,
)
from .kernels import KernelBuildError, cpu_features, load_step_module
from .model import WaveNet

BLOCK = 64  # outputs per weight block; kBlock in wavenet_step.cpp
WEIGHT_DTYPES = {"float32": torch.float32, "bf16": torch.bfloat16, "int8": torch.int8}
_warned: list[bool] = []


@dataclass
class CompiledState:
    """``GenerationState`` packed for the compiled step, with the same meaning.

    ``queues`` holds every ring buffer of ``GenerationState.queues`` end to end, float32:
    queue i is (context_i, B, C_i), the input at time t in slot t % context_i (see
    ``queue``). ``label_bias`` stacks the layers' V·h terms (L, B, 2D); ``local`` their
    per-frame local conditioning, frames before channels (L, B, K, 2D); ``excitation``
    (T, B, E) what every input hears of the notes (its term U_l e joins the label bias,
    which the C++ step takes afresh at every call).
    """

    queues: Tensor  # (Σ context_i · B · C_i,)
    shapes: list[tuple[int, int, int]]  # (context_i, B, C_i) per queue
    time: int = 0
    label_bias: Tensor | None = None  # (L, B, 2D)
    local: Tensor | None = None  # (L, B, K, 2D)
    local_origin: int = 0
    excitation: Tensor | None = None  # (T, B, E)

    @classmethod
    def packed(cls, state: GenerationState) -> CompiledState:
        local = None
        if state.local is not None:
            local = torch.stack(state.local).transpose(2, 3).contiguous()  # (L, B, K, 2D)
        return cls(
            queues=torch.cat([q.reshape(-1) for q in state.queues]).float(),
            shapes=[tuple(q.shape) for q in state.queues],
            time=state.time,
            label_bias=None if state.label_bias is None else torch.stack(state.label_bias),
            local=local,
            local_origin=state.local_origin,
            excitation=state.excitation,
        )

    def queue(self, index: int) -> Tensor:
        """A view of queue ``index`` (context, B, C)."""
        start = sum(c * b * w for c, b, w in self.shapes[:index])
        context, b, width = self.shapes[index]
        return self.queues[start : start + context * b * width].view(context, b, width)


class CompiledWaveNet:
    """``step(x_t, state) -> logits`` in one C++ call; weights in ``precision``."""

    def __init__(
        self, model: WaveNet, precision: str = "float32", module: ModuleType | None = None
    ) -> None:
        module = module or load_step_module()
        eager = IncrementalWaveNet(model)
        config = model.config
        self.eager = eager
        self.module = module
        self.precision = precision
        self.hop_length = config.hop_length
        self.excitation = None  # (L, E, 2D): U_l of every layer
        if eager.excitation is not None:
            e, width = eager.excitation.shape
            self.excitation = eager.excitation.view(e, config.layers, width // config.layers)
            self.excitation = self.excitation.transpose(0, 1).float().contiguous()
        self.stack = module.Stack(
            config.quantization_channels,
            config.residual_channels,
            config.dilation_channels,
            config.filter_width,
            list(config.dilations),
            eager.causal.weight.float().contiguous(),  # (taps · Q, R): a lookup, kept float32
            _float(eager.causal.bias),
            [_matrix(module, c.weight, c.bias, precision) for c in eager.filter_gate],
            [_matrix(module, w, b, precision) for w, b in eager.residual],
            _matrix(module, *eager.skip, precision),
            _matrix(module, *eager.head[0], precision),
            _matrix(module, *eager.head[1], precision),
        )

    def initial_state(
        self,
        model: WaveNet,
        history: Tensor,
        labels: Tensor | None = None,
        frames: Tensor | None = None,
        excitation: Tensor | None = None,
    ) -> CompiledState:
        """As ``IncrementalWaveNet.initial_state`` (one forward pass), packed."""
        state = self.eager.initial_state(model, history, labels, frames, excitation)
        return CompiledState.packed(state)

    def with_frames(self, model: WaveNet, state: CompiledState, frames: Tensor) -> CompiledState:
        """As ``IncrementalWaveNet.with_frames``, packed."""
        with torch.inference_mode():
            local = layer_conditioning(model, frames)  # L × (B, 2D, K)
            state.local = torch.stack(local).transpose(2, 3).contiguous()  # (L, B, K, 2D)
        return state

    def step(self, x: Tensor, state: CompiledState) -> tuple[Tensor, CompiledState]:
        """x (B,) classes at ``state.time`` → logits (B, Q) for the next sample."""
        frame = 0
        if state.local is not None:
            frame = (state.local_origin + state.time) // self.hop_length  # of the sample fed
        heard = None  # the kernel adds U_l e for the sample fed (one torch call less a step)
        if state.excitation is not None:
            heard = state.excitation[state.local_origin + state.time]  # (B, E)
        logits = self.stack.step(  # (B, Q)
            x,
            state.queues,
            state.time,
            state.label_bias,
            state.local,
            frame,
            heard,
            self.excitation,
        )
        state.time += 1
        return logits, state

    def sample(
        self,
        logits: Tensor,
        temperature: float,
        generator: torch.Generator | None,
        floor: Tensor | None = None,
    ) -> Tensor:
        """logits (B, Q) → classes (B,): ``incremental.sample``'s draw (the same uniform
        numbers from ``generator``, the same classes up to rounding) in one C++ call."""
        if temperature == 0:
            return logits.argmax(dim=1)
        u = uniforms(logits, generator)
        return self.module.sample(logits, u, temperature, floor)

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
        """``incremental.draw`` (the jump limit, each row's temperature, the draw) in one
        C++ call: the same arithmetic, none of its torch calls a sample."""
        if temperature == 0 and inverse is None:
            return draw(logits, previous, temperature, generator, floor, inverse, jumps)
        u = uniforms(logits, generator) if u is None else u
        at = 1.0 if inverse is not None else temperature
        if jumps is None:
            return self.module.sample(logits, u, at, floor, inverse)
        return self.module.sample(logits, u, at, floor, inverse, previous, jumps.low, jumps.high)

    def run(
        self,
        state: CompiledState,
        x: Tensor,
        length: int,
        temperature: float,
        rows: Iterator[StepRow],
        jumps: JumpLimit | None = None,
        on_step: Callable[[Tensor], None] | None = None,
    ) -> Tensor:
        """``length`` classes (B, length) after ``x`` (B,), as ``generate``'s loop of
        ``step`` and ``draw`` draws them (the same arithmetic), ``RUN_STEPS`` samples a C++
        call: ``rows`` gives each step's floor, inverse temperature and uniform numbers;
        ``on_step`` hears the classes so far after each call. At temperature 0 (no
        uniform numbers) a step at a time, as ``generate`` does."""
        out = torch.empty(len(x), length, dtype=torch.long)
        x = x.clone().contiguous()
        for start in range(0, length, RUN_STEPS):
            floors, inverses, u = stacked_rows(itertools.islice(rows, RUN_STEPS))
            steps = min(RUN_STEPS, length - start)
            if u is None:  # the likeliest class
                for t in range(start, start + steps):
                    logits, state = self.step(x, state)
                    x = out[:, t] = self.draw(logits, x, temperature, None, None, None, jumps)
            else:
                self.stack.run(
                    x,
                    state.queues,
                    state.time,
                    steps,
                    state.label_bias,
                    state.local,
                    state.local_origin,
                    self.hop_length,
                    state.excitation,
                    self.excitation,
                    1.0 if inverses is not None else temperature,
                    u,
                    floors,
                    inverses,
                    None if jumps is None else jumps.low,
                    None if jumps is None else jumps.high,
                    out,
                    start,
                )
                state.time += steps
            if on_step is not None:
                on_step(out[:, : start + steps])
        return out


RUN_STEPS = 64  # samples a compiled call draws (``on_step`` after each)


def blocked_weight(weight: Tensor, precision: str) -> tuple[Tensor, Tensor | None]:
    """(in, out) float weight → (blocks, in, BLOCK) in ``precision`` (outputs padded with
    zeros to whole blocks), and for int8 the scale of every output channel (blocks·BLOCK,):
    w ≈ scale · q with q = round(w / scale), scale = max |w[:, o]| / 127."""
    n_in, n_out = weight.shape
    blocks = -(-n_out // BLOCK)
    padded = torch.zeros(n_in, blocks * BLOCK, dtype=torch.float32)
    padded[:, :n_out] = weight
    scale = None
    if precision == "int8":
        scale = padded.abs().amax(dim=0) / 127  # (blocks · BLOCK,)
        scale[scale == 0] = 1.0
        padded = torch.round(padded / scale).clamp(-127, 127)
    stored = padded.to(WEIGHT_DTYPES[precision])  # (in, blocks · BLOCK)
    return stored.view(n_in, blocks, BLOCK).transpose(0, 1).contiguous(), scale


def _matrix(module: ModuleType, weight: Tensor, bias: Tensor | None, precision: str):
    """``module.Matrix`` for y = x W + b, W (in, out) stored blocked in ``precision``."""
    stored, scale = blocked_weight(weight.float(), precision)
    if bias is not None:
        padded = torch.zeros(stored.shape[0] * BLOCK)
        padded[: bias.numel()] = bias
        bias = padded
    return module.Matrix(stored, scale, bias)


def _float(bias: Tensor | None) -> Tensor | None:
    return None if bias is None else bias.float().contiguous()


# --- which engine generate() runs -----------------------------------------------------------


@dataclass(frozen=True)
class EngineChoice:
    """The step ``generate`` runs and why, as ``generate``'s log line says it."""

    engine: str  # "compiled", "graph" or "eager"
    precision: str  # of the weights: "float32", "bf16" or "int8"
    reason: str

    def __str__(self) -> str:
        return f"{self.engine} {self.precision} step: {self.reason}"


def choose_engine(
    asked: str, precision: str, model_kind: str, features: frozenset[str], machine: str
) -> EngineChoice:
    """The step for engine ``asked`` (auto, compiled, graph, eager) and ``precision``, given the
    model (``model_kind``: "a float32 model on cpu") and the CPU (its instruction-set
    ``features`` as /proc/cpuinfo names them, ``machine`` as platform.machine()).

    ``auto`` is compiled for CPU float32 models, except on an x86 CPU without AVX2: there
    the vector code runs on 16 SSE registers and its tiles spill, as they did on AVX2 before
    it had tiles of its own. No default picks bf16 or int8 weights, and neither needs
    AVX512_BF16 or VNNI: the step widens them to float32 in registers (AVX-512F or AVX2).
    For a model on a GPU ``auto`` is ``graph``: the eager step replayed as a CUDA graph.
    Raises UserError where the choice cannot be honoured."""
    compilable = model_kind == CPU_FLOAT32
    on_gpu = model_kind.endswith(" on cuda")
    uncompiled = asked in ("eager", "graph") or (asked == "auto" and not compilable)
    if precision != "float32" and uncompiled:
        raise UserError(
            f"precision {precision}: needs the compiled engine (CPU, float32 model); "
            f"got engine {asked}, {model_kind}"
        )
    if asked == "eager":
        return EngineChoice("eager", "float32", "asked for")
    if asked == "graph" and not on_gpu:
        raise UserError(
            f"engine graph: replays CUDA graphs, needs a model on a GPU, got {model_kind} "
            "(use --device cuda, or engine auto)"
        )
    if on_gpu and asked in ("auto", "graph"):
        return EngineChoice("graph", "float32", f"{model_kind}: the eager step as a CUDA graph")
    if not compilable:
        if asked == "compiled":
            raise UserError(
                f"engine compiled: runs on CPU float32 models, got {model_kind} "
                "(use engine auto or eager)"
            )
        return EngineChoice("eager", "float32", f"{model_kind}; compiled runs CPU float32")
    vectors = vector_code(features, machine)
    if asked == "auto" and precision == "float32" and vectors == NO_AVX2:
        return EngineChoice("eager", "float32", f"{vectors}: the compiled step's tiles spill")
    reason = vectors
    if precision != "float32":
        reason += f"; {precision} weights widened to float32 in registers"
    return EngineChoice("compiled", precision, reason)


CPU_FLOAT32 = "a float32 model on cpu"  # what _kind says of a model the compiled step runs
NO_AVX2 = "an x86 CPU without AVX2"
SHOWN_FEATURES = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile")


def vector_code(features: frozenset[str], machine: str) -> str:
    """Which of the step's vector code the features select, with the features shown."""
    shown = " ".join(f for f in SHOWN_FEATURES if f in features)
    if "avx512f" in features:
        return f"AVX-512 build ({shown})"
    if "avx2" in features:
        return f"AVX2 build ({shown}; no avx512f)"
    if machine.lower() in ("x86_64", "amd64", "i386", "i686", "x86"):
        return NO_AVX2
    return f"generic vectors on {machine} (not measured)"


def engine_choice(model: WaveNet, engine: str = "auto", precision: str = "float32") -> EngineChoice:
    """``choose_engine`` for ``model`` on this machine, after building the compiled step
    where it is chosen: if the build fails, ``auto`` falls back to eager with one warning
    line and ``compiled`` raises UserError."""
    parameter = next(model.parameters())
    choice = choose_engine(engine, precision, _kind(parameter), cpu_features(), platform.machine())
    if choice.engine != "compiled":
        return choice
    try:
        load_step_module()
    except KernelBuildError as exc:
        if engine == "compiled":
            raise UserError(
                f"engine compiled: the C++ step did not build ({exc}); "
                "install g++ and ninja, or use engine eager"
            ) from None
        _warn_once(
            f"the compiled step did not build ({exc}); generating with the eager float32 step"
        )
        return EngineChoice("eager", "float32", f"the compiled step did not build: {exc}")
    return choice


def generation_step(
    model: WaveNet, engine: str = "auto", precision: str = "float32"
) -> IncrementalWaveNet | CompiledWaveNet:
    """The step for ``generate``, as ``engine_choice`` picks it: ``compiled``
    (CompiledWaveNet), ``graph`` (GraphedWaveNet, a model on a GPU) or ``eager``
    (IncrementalWaveNet)."""
    choice = engine_choice(model, engine, precision)
    if choice.engine == "eager":
        return IncrementalWaveNet(model)
    if choice.engine == "graph":
        return GraphedWaveNet(model)
    return CompiledWaveNet(model, choice.precision, load_step_module())


def _kind(parameter: Tensor) -> str:
    return f"a {str(parameter.dtype).removeprefix('torch.')} model on {parameter.device.type}"


def _warn_once(message: str) -> None:
    if not _warned:
        _warned.append(True)
        warn(message)
