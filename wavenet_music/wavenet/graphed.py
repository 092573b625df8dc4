"""The CUDA-graph generation engine: the eager step with its clock on the GPU, captured
once and replayed for every sample.

PyTorch's eager step (``incremental.py``) launches about ten small kernels a layer for
every sample; on a GPU their launches cost far more than their work (an H200 drew 164
samples/s for one ``reference`` stream, an eighth of the compiled CPU step beside it).
Here every index the step derives from the time (the queue slots it reads and writes, the
local-conditioning frame, the row of the notes heard, of the uniform numbers, floors and
temperatures) is computed on the device from a 0-dim ``time`` tensor, so every sample runs
the same kernels on the same buffers: captured once as a ``torch.cuda.CUDAGraph``, a sample
costs the host one replay. The arithmetic is the eager step's and draw's, operation for
operation, so both draw the same classes from the same uniform numbers (tested); on a CPU
the same clocked step runs uncaptured, which is how the tests check it without a GPU.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import Tensor

from .incremental import (
    NOT_FINITE,
    GenerationState,
    IncrementalWaveNet,
    JumpLimit,
    StepRow,
    _Conv,
    conditioned,
    pick,
    probabilities,
    stacked_rows,
    steered,
)
from .model import WaveNet

ROWS_AT_A_TIME = 4096  # steps of uniform numbers, floors and temperatures held on the device
UNCAPTURED_STEPS = 3  # real steps run before the capture (cuBLAS and the allocator warm up)


@dataclass
class ClockedState:
    """What the graph reads and writes, in buffers that never move (a captured graph
    replays on the same addresses): ``GenerationState`` with its clock on the device.

    ``time`` () int64: the index of the input fed next; ``x`` (B,) the classes fed next
    (the last drawn); ``out`` (B, length) every class drawn. ``local`` (K, L, B, 2D): every
    layer's local conditioning, frame first, so one gather takes a frame for all layers.
    ``u``, ``floor`` (ROWS, B) float64 and ``inverse`` (ROWS, B, 1) hold the rows of
    ROWS_AT_A_TIME steps at a time (row t % ROWS for step t). ``invalid`` () bool:
    some draw met a NaN or infinite logit (checked once at the end: a check per sample
    would wait for the GPU)."""

    queues: list[Tensor]
    time: Tensor
    x: Tensor
    out: Tensor
    invalid: Tensor
    local_origin: int
    label_bias: list[Tensor] | None
    local: Tensor | None
    excitation: Tensor | None
    u: Tensor | None
    floor: Tensor | None
    inverse: Tensor | None


class GraphedWaveNet(IncrementalWaveNet):
    """``IncrementalWaveNet`` with ``run``: a whole generation as one CUDA graph replayed a
    sample at a time. Its ``step`` and ``draw`` stay the eager ones (for callers that
    drive the step themselves, as ``compose`` does)."""

    def __init__(self, model: WaveNet) -> None:
        super().__init__(model)
        convs = [self.causal, *self.filter_gate]
        device = self.causal.weight.device
        long = {"dtype": torch.long, "device": device}
        # the taps each convolution reads from its queue, oldest first: back k·d, slot
        # (time - k·d) mod context, as _Conv.step reads them
        self.back = torch.tensor([k * c.dilation for c in convs for k in _taps(c)], **long)
        self.read_contexts = torch.tensor([c.context for c in convs for _ in _taps(c)], **long)
        self.contexts = torch.tensor([c.context for c in convs], **long)  # (N,)
        starts = list(itertools.accumulate((c.taps - 1 for c in convs), initial=0))
        self.reads = [slice(a, b) for a, b in itertools.pairwise(starts)]
        q, dtype = self.config.quantization_channels, self.causal.weight.dtype
        self.one_hot = torch.eye(q, dtype=dtype, device=device)  # row k: class k one-hot

    # --- the whole generation -------------------------------------------------------------

    def run(
        self,
        state: GenerationState,
        x: Tensor,
        length: int,
        temperature: float,
        rows: Iterator[StepRow],
        jumps: JumpLimit | None = None,
        on_step: Callable[[Tensor], None] | None = None,
    ) -> Tensor:
        """``length`` classes (B, length) after ``x`` (B,) from ``state`` (``initial_state``),
        drawn as ``generate``'s loop draws them: ``rows`` gives each step's floor, inverse
        temperature and uniform numbers (``generate.step_rows``, ``uniform_rows``). On a
        GPU a captured graph replays each sample; elsewhere the clocked step runs as it is."""
        clocked = clocked_state(state, x, length)
        capture = clocked.x.device.type == "cuda"

        def one_sample() -> None:
            self.advance(clocked, temperature, jumps)

        graph: torch.cuda.CUDAGraph | None = None
        for t in range(length):
            if t % ROWS_AT_A_TIME == 0:
                fill_rows(clocked, itertools.islice(rows, ROWS_AT_A_TIME))
            if graph is not None:
                graph.replay()
            elif capture and t == UNCAPTURED_STEPS:
                graph = captured(one_sample)
                graph.replay()
            elif capture:  # before a capture, on a side stream (as torch.cuda.graph asks)
                on_side_stream(one_sample)
            else:
                one_sample()
            if on_step is not None:
                on_step(clocked.out[:, : t + 1])
        if bool(clocked.invalid):
            raise RuntimeError(NOT_FINITE)
        return clocked.out

    def advance(self, s: ClockedState, temperature: float, jumps: JumpLimit | None) -> None:
        """One sample, in place: the step, the draw, the class recorded, the clock on."""
        logits = self.clocked_step(s)  # (B, Q)
        x = self.clocked_draw(logits, s, temperature, jumps)  # (B,)
        s.out.index_copy_(1, s.time.view(1), x[:, None])
        s.x.copy_(x)
        s.time.add_(1)

    def clocked_step(self, s: ClockedState) -> Tensor:
        """``IncrementalWaveNet.step`` for the input ``s.x`` at ``s.time``: logits (B, Q)."""
        t = s.time
        reads = torch.remainder(t - self.back, self.read_contexts)  # every tap's slot
        writes = torch.remainder(t, self.contexts).view(-1, 1)  # (N, 1): every queue's slot
        one_hot = self.one_hot.index_select(0, s.x)  # (B, Q)
        h = _conv_step(self.causal, one_hot, s.queues[0], reads[self.reads[0]], writes[0])
        position = t + s.local_origin  # of the sample fed, on the timeline of ``local``
        local = None
        if s.local is not None:  # (L, B, 2D): this frame's term, every layer
            frame = torch.div(position, self.config.hop_length, rounding_mode="floor")
            local = s.local.index_select(0, frame.view(1))[0]
        heard = None
        if s.excitation is not None:  # (L, B, 2D): U_l e for the sample fed
            heard = self.heard(s.excitation.index_select(0, position.view(1))[0])

        def dilated(layer: int, h: Tensor) -> Tensor:  # (B, R) → (B, 2D)
            queue, slots = s.queues[layer + 1], reads[self.reads[layer + 1]]
            pre = _conv_step(self.filter_gate[layer], h, queue, slots, writes[layer + 1])
            return conditioned(pre, layer, s.label_bias, local, heard)

        return self.layers(h, dilated)  # (B, Q)

    def clocked_draw(
        self, logits: Tensor, s: ClockedState, temperature: float, jumps: JumpLimit | None
    ) -> Tensor:
        """``incremental.draw`` with this step's row of the tables: classes (B,)."""
        row = torch.remainder(s.time, ROWS_AT_A_TIME).view(1)
        inverse = None if s.inverse is None else s.inverse.index_select(0, row)[0]  # (B, 1)
        logits, temperature = steered(logits, s.x, temperature, inverse, jumps)
        if temperature == 0:
            return logits.argmax(dim=1)
        p = probabilities(logits, temperature)  # (B, Q)
        s.invalid.logical_or_(~torch.isfinite(p.sum()))
        floor = None if s.floor is None else s.floor.index_select(0, row)[0]  # (B,)
        return pick(p, s.u.index_select(0, row)[0], floor)


def clocked_state(state: GenerationState, x: Tensor, length: int) -> ClockedState:
    """``state`` (fresh from ``initial_state``) in fixed buffers; its queues are taken over."""
    local = None
    if state.local is not None:  # L × (B, 2D, K) → (K, L, B, 2D)
        local = torch.stack(state.local).permute(3, 0, 1, 2).contiguous()
        state.local = None  # not held twice
    return ClockedState(
        queues=state.queues,
        time=torch.tensor(state.time, device=x.device),
        x=x.clone(),
        out=torch.empty(len(x), length, dtype=torch.long, device=x.device),
        invalid=torch.zeros((), dtype=torch.bool, device=x.device),
        local_origin=state.local_origin,
        label_bias=state.label_bias,
        local=local,
        excitation=state.excitation,
        u=None,
        floor=None,
        inverse=None,
    )


def fill_rows(s: ClockedState, rows: Iterator[StepRow]) -> None:
    """The next ≤ ROWS_AT_A_TIME steps' rows into the tables, in place after the first
    block (the graph reads the tables where they are)."""
    floors, inverses, uniforms = stacked_rows(rows)
    s.floor = _filled(s.floor, floors)
    s.inverse = _filled(s.inverse, inverses)
    s.u = _filled(s.u, uniforms)


def _filled(table: Tensor | None, block: Tensor | None) -> Tensor | None:
    if block is None:
        return None
    if table is None:
        table = block.new_zeros(ROWS_AT_A_TIME, *block.shape[1:])
    table[: len(block)].copy_(block)
    return table


def on_side_stream(run: Callable[[], None]) -> None:
    """``run`` on a side stream, ordered after and before the current stream's work."""
    side, current = torch.cuda.Stream(), torch.cuda.current_stream()
    side.wait_stream(current)
    with torch.cuda.stream(side):
        run()
    current.wait_stream(side)


def captured(one_sample: Callable[[], None]) -> torch.cuda.CUDAGraph:
    """``one_sample`` captured as a CUDA graph (not run: replay runs it)."""
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        one_sample()
    return graph


def _taps(conv: _Conv) -> range:
    return range(conv.taps - 1, 0, -1)


def _conv_step(conv: _Conv, x: Tensor, queue: Tensor, reads: Tensor, write: Tensor) -> Tensor:
    """``_Conv.step`` with the slots given on the device: x (B, C_in) → (B, C_out); pushes
    x into the queue at ``write`` (1,), after reading the taps at ``reads`` (taps - 1,)."""
    past = queue.index_select(0, reads)  # (taps - 1, B, C_in), oldest first
    inputs = torch.cat([*past.unbind(0), x], dim=1)  # (B, taps · C_in)
    out = inputs @ conv.weight if conv.bias is None else torch.addmm(conv.bias, inputs, conv.weight)
    queue.index_copy_(0, write, x[None])
    return out  # (B, C_out)
