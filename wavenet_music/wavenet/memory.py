"""What a training step, and generated clips, hold in memory, known before anything is
decoded, allocated or generated (generation: ``require_room_for_clips``, below).

Two parts, in every process:

- the training state: float32 weights, their gradients and Adam's two moments,
  ``TRAINING_BYTES_PER_PARAMETER`` a parameter;
- the activations: what autograd keeps of a window's forward pass for the backward, and the
  gradients that live beside it. The step is run on fake tensors (``FakeTensorMode``:
  shapes and dtypes, no data, no arithmetic) while ``LiveBytes`` counts every storage torch
  allocates until it is freed; so the count follows the model as it is (conditioning, bf16
  autocast) without a formula to keep in step with it.

Against real steps on a CPU (2026-12-06, Zen 4, fresh processes, the growth from 1 to 3
windows): with every block over 128 KiB mapped and returned (``MALLOC_MMAP_THRESHOLD_``
fixed) a window took 0.91-0.95 of the count; with glibc's default, which keeps blocks it
was given back, the peak resident memory 0.74-1.26 of it at 1, 2 and 8 threads (the
reference preset 1.15: 1.47 GB a window against 1.28 counted). So a step whose count,
times ``SCRATCH_ALLOWANCE``, exceeds the free memory is refused before it starts: Linux
ends a process that runs out of memory without a word, as it did ``--batch-size 22`` of
the reference preset on a 24 GiB machine.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch._subclasses.fake_tensor import FakeTensorMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves
from torch.utils.weak import WeakIdKeyDictionary

from ..config import Config, UserError
from ..notes.excitation import CHANNELS as EXCITATION_CHANNELS
from ..runtime.device import in_binary_units
from .evaluate import loss_bits
from .model import WaveNet, parameters_of

# float32 weights, their gradients and Adam's two moments: what training holds a parameter in
TRAINING_BYTES_PER_PARAMETER = 16
# real CPU processes held up to 1.26 times the counted bytes at a step's peak (see above)
SCRATCH_ALLOWANCE = 1.3
# ``rough_window_bytes`` over-counts a window's activations at least this many times: where
# they fit, so does the step, by more than the CPU's scratch space, and it is not counted
ROUGH_OVER_COUNT = 2


@dataclass(frozen=True)
class StepMemory:
    """Bytes one process holds at the peak of a training step of ``windows`` windows."""

    windows: int
    state: int  # weights, gradients, Adam's moments
    activations: int  # the rest, at the peak

    @property
    def total(self) -> int:
        return self.state + self.activations

    @property
    def per_window(self) -> int:
        return math.ceil(self.activations / self.windows)


def random_window(config: Config, batch: int) -> tuple[torch.Tensor | None, ...]:
    """(inputs (B, T), targets (B, S), labels (B,) or None, frames (B, F, K + 2) or None,
    excitation (B, E, T) or None) of a training window of ``config``'s shape, random."""
    m, s = config.model, config.data.sample_size
    length = m.receptive_field - 1 + s  # the model predicts the last ``s`` of them
    inputs = torch.randint(0, m.quantization_channels, (batch, length))
    targets = torch.randint(0, m.quantization_channels, (batch, s))
    labels = torch.randint(0, len(m.global_labels), (batch,)) if m.global_labels else None
    frames = None
    if m.local_channels is not None:
        frames = torch.randn(batch, m.local_channels, -(-length // m.hop_length) + 2)
    excitation = torch.randn(batch, EXCITATION_CHANNELS, length) if m.excitation else None
    return inputs, targets, labels, frames, excitation


class LiveBytes(TorchDispatchMode):
    """Counts the bytes of the storages torch allocates inside it while they live: ``live``
    now, ``peak`` the most at once. (A storage is counted once, views and in-place results
    included, and leaves the count when it is freed.)"""

    def __init__(self) -> None:
        super().__init__()
        self.live = 0
        self.peak = 0
        self._counted: WeakIdKeyDictionary = WeakIdKeyDictionary()

    def __torch_dispatch__(
        self, func: Callable[..., Any], types: Any, args: tuple = (), kwargs: dict | None = None
    ) -> Any:
        out = func(*args, **(kwargs or {}))
        for leaf in tree_leaves(out):
            if isinstance(leaf, torch.Tensor):
                self._count(leaf.untyped_storage())
        return out

    def _count(self, storage: torch.UntypedStorage) -> None:
        if storage in self._counted:
            return
        size = storage.nbytes()
        self._counted[storage] = size
        self.live += size
        self.peak = max(self.peak, self.live)
        weakref.finalize(storage, self._free, size)

    def _free(self, size: int) -> None:
        self.live -= size


def step_memory(config: Config, windows: int) -> StepMemory:
    """What one process holds at the peak of a training step of ``windows`` windows of
    ``config`` (forward, loss and backward, counted on fake tensors; weights and Adam's
    moments exist from the first step on, the gradients are counted where they appear)."""
    parameters = parameters_of(config.model)
    bf16 = config.train.precision == "bf16"
    with FakeTensorMode():
        model = WaveNet(config.model)
        inputs, targets, labels, frames, excitation = random_window(config, windows)
        with LiveBytes() as counted:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                logits = model(inputs, labels, frames, excitation)  # (B, Q, S)
            loss_bits(logits.float(), targets).backward()
            del logits
    gradients = 4 * parameters  # counted among the live bytes, part of the state
    state = TRAINING_BYTES_PER_PARAMETER * parameters
    return StepMemory(windows, state, max(0, counted.peak - gradients))


def rough_window_bytes(config: Config) -> int:
    """Over-counts a window's activations (in float32, every layer at the window's full
    length, what autograd keeps and as much again for the gradients): at least
    ``ROUGH_OVER_COUNT`` times ``step_memory``'s count. Tested against it."""
    m, samples = config.model, config.data.sample_size
    length = m.receptive_field - 1 + samples
    layers, q, d = len(m.dilations), m.quantization_channels, m.dilation_channels
    per_input = 3 * q + layers * (m.residual_channels + 5 * d)  # one-hot (int64, float32), layers
    per_target = layers * d + 3 * m.skip_channels + 4 * q  # skips, head, loss
    if m.local_channels is not None:
        per_input += 4 * m.dilation_channels  # one layer's conditioning at a time
    return 2 * 4 * (length * per_input + samples * per_target)


def require_room_for_training(
    config: Config, device: torch.device, free: int | None, copies: int = 1, processes: int = 1
) -> StepMemory | None:
    """A one-line ``UserError``, before anything is decoded or allocated, where ``copies``
    processes on ``device`` (one a process on a CPU) cannot each hold the model's training
    state, or a step of it with ``SCRATCH_ALLOWANCE``, in the ``free`` bytes (None: unknown,
    not checked). ``processes``: all processes of the run, which share the global batch.
    Returns the step's count where it was needed."""
    if free is None:
        return None
    state = parameters_of(config.model) * TRAINING_BYTES_PER_PARAMETER
    if state * copies > free:
        raise UserError(_state_too_large(config, device, free, copies, state))
    windows = config.train.batch_size // processes
    if (SCRATCH_ALLOWANCE * state + windows * rough_window_bytes(config)) * copies <= free:
        return None  # room for far more than a step holds
    step = step_memory(config, windows)
    if step.total * SCRATCH_ALLOWANCE * copies > free:
        raise UserError(_step_too_large(config, device, free, copies, processes, step))
    return step


def _state_too_large(
    config: Config, device: torch.device, free: int, copies: int, state: int
) -> str:
    where = f"{copies} processes' copies" if copies > 1 else "its"
    return (
        f"the model has {parameters_of(config.model):,} parameters: {where} weights, "
        f"gradients and Adam's moments alone need {in_binary_units(state * copies)}, and "
        f"{device} has {in_binary_units(free)} free; lower --residual-channels, "
        "--dilation-channels or --skip-channels, or the dilations (wavenet-music info "
        "counts a config's parameters and their training state)"
    )


def _step_too_large(
    config: Config, device: torch.device, free: int, copies: int, processes: int, step: StepMemory
) -> str:
    batch, samples = config.train.batch_size, config.data.sample_size
    room = free / copies / SCRATCH_ALLOWANCE - step.state  # one process's room for windows
    fits = max(0, int(room // step.per_window))  # windows a process can hold
    what = f"{copies} processes' steps" if copies > 1 else "a training step"
    if fits >= 1:
        advice = f"lower --batch-size to {fits * processes}"
    else:
        advice = "one window does not fit: lower --sample-size or the model's channels"
    return (
        f"{what} of {batch} windows of {samples:,} samples would hold about "
        f"{in_binary_units(step.total * copies)} (each window's activations "
        f"{in_binary_units(step.per_window)}), up to {SCRATCH_ALLOWANCE - 1:.0%} more with "
        f"the CPU's scratch space, and {device} has {in_binary_units(free)} free; {advice} "
        "(wavenet-music info shows what a step holds)"
    )


# --- generation ---------------------------------------------------------------------------

# What generation holds a sample until the WAVs are written, measured as the peak resident
# memory of ``generate`` and ``render`` in fresh processes, clips of 5 s against clips of
# 25-70 s (2026-12-06, Zen 4): without notes 9.5 bytes a sample of 8 clips and 43 of one
# (the tiny preset), with them 43-45 a sample of 8 clips (the demo preset unsteered and
# playing a MIDI file). So: each clip's samples (the classes drawn, int64, and the audio;
# with notes the excitation heard, the floors and temperatures where notes sound, the roll),
# and one clip's again while it is finished and written. Rounded up.
GENERATED_SAMPLE_BYTES = 10  # a sample of each clip
HEARD_SAMPLE_BYTES = 32  # more, with notes
FINISHING_SAMPLE_BYTES = 36  # a sample of the clip being finished and written


def generation_bytes(config: Config, clips: int, length: int) -> int:
    """About what ``clips`` clips of ``length`` samples of ``config`` hold while generated
    and written."""
    return length * (clips * _clip_sample_bytes(config) + FINISHING_SAMPLE_BYTES)


def _clip_sample_bytes(config: Config) -> int:
    return GENERATED_SAMPLE_BYTES + HEARD_SAMPLE_BYTES * bool(config.model.excitation)


def require_room_for_clips(
    config: Config,
    clips: int,
    length: int,
    free: int | None,
    count: str = "--num",
    labels: int = 1,
) -> None:
    """A one-line ``UserError``, before anything is generated, where ``clips`` clips of
    ``length`` samples would not fit in the ``free`` bytes (None: unknown, not checked);
    ``count``: the flag that sets the number of clips, ``--num`` clips of each of
    ``labels`` labels (or "--label", one clip a label, for compose of one piece a label):
    Linux commits memory as it is written, so clips past it would be generated, for hours,
    until the process is ended without a word (8 clips of an hour with notes hold about
    20 GiB)."""
    need = generation_bytes(config, clips, length)
    if free is None or need <= free:
        return
    rate, per_clip = config.data.sample_rate, _clip_sample_bytes(config)
    fewer = (free // length - FINISHING_SAMPLE_BYTES) // per_clip  # clips of this length
    if count == "--num":
        fewer //= labels  # --num clips of each label
    samples = free // (clips * per_clip + FINISHING_SAMPLE_BYTES)  # a clip, as many clips
    seconds = math.floor(10 * samples / rate) / 10
    if count == "--num":
        ways = [f"lower --num to {fewer:,}"] if fewer >= 1 else []
    else:
        ways = [f"ask for at most {fewer:,} with {count}"] if 1 <= fewer < clips else []
    ways += [f"lower --seconds to {seconds:,g}"] if seconds >= 0.1 else []
    raise UserError(
        f"{clips:,} clip{'s' * (clips > 1)} of {length / rate:,g} s would hold about "
        f"{in_binary_units(need)} while generated and written, and the machine has "
        f"{in_binary_units(free)} free; {' or '.join(ways) or 'lower --seconds'}"
    )
