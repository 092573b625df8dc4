"""What every training loop shares (the WaveNet's and the composer's).

``TrainingRun`` is the skeleton a model's trainer fills in: the budget (``Budget``) and
when to stop, the training time across the sessions of a run, Ctrl-C and SIGTERM as stop
requests, the optimizer and RNG state a checkpoint keeps, the pace and what is left, and
the lines said when a run stops. The trainer supplies its step, its validation, what else
its checkpoints hold and its metrics log (``runs.append_record`` into its own
``metrics.jsonl``). The resume rule (the stored config with a
new budget; any other difference refused by name) is ``runs.resumed_settings``; the
learning rate of both follows ``cosine_schedule``.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
from tqdm import tqdm

from ..config.checks import UserError
from .stop import StopRequest
from .threads import TrainingThreads

NATIVE_BF16 = ("avx512_bf16", "amx_bf16")  # CPU flags of bfloat16 arithmetic in hardware


@dataclass(frozen=True)
class Budget:
    """How long a run trains: ``steps`` updates and/or ``minutes`` of training time (all
    sessions of the run together); whichever is spent first ends it."""

    steps: int | None
    minutes: float | None

    def require(self) -> None:
        """A one-line error for a run without either."""
        if self.steps is None and self.minutes is None:
            raise UserError("no training budget: pass --steps N or --minutes M")

    def spent(self, step: int, elapsed: float) -> bool:
        """True once ``step`` reaches ``steps`` or ``elapsed`` seconds reach ``minutes``."""
        if self.steps is not None and step >= self.steps:
            return True
        return self.minutes is not None and elapsed >= self.minutes * 60

    @property
    def flags(self) -> str:
        """The flags that give a resume this budget (`` --steps N --minutes M``)."""
        steps = "" if self.steps is None else f" --steps {self.steps}"
        return steps + ("" if self.minutes is None else f" --minutes {self.minutes:g}")

    def cut_short(self, step: int) -> bool:
        """True when training stopped at ``step`` before its ``steps`` budget."""
        return self.steps is not None and step < self.steps


class SavedState(Protocol):
    """What a checkpoint holds of a run's state (WaveNet's and composer's alike)."""

    step: int
    tensors: dict[str, torch.Tensor]
    meta: dict[str, Any]


class TrainingRun:
    """The skeleton of one training session of a run. A trainer subclasses it, counts
    ``step`` in its own step, runs its session inside ``session`` (the first validation,
    ``loop`` with that step, the final validation and save), keeps ``training_state`` in
    its checkpoints and gives it back to ``restore_training_state``; it may widen
    ``stopping`` (all processes agree, patience).

    Args:
        optimizer: the model's optimizer (its state is saved and restored here).
        budget: when the run is done.
        quiet: no progress lines (what a user must know is said anyway).
    """

    def __init__(self, optimizer: torch.optim.Optimizer, budget: Budget, quiet: bool) -> None:
        self.optimizer, self.budget, self.quiet = optimizer, budget, quiet
        self.step = 0
        self.first_step = 0  # the step this session started from
        self.elapsed_before = 0.0  # training seconds of earlier sessions of this run
        self.session_start = time.monotonic()
        self.stop = StopRequest()  # installed by ``session`` and ``loop``
        self.cpu_threads: TrainingThreads | None = None  # ``threads.for_training``'s, on CPU

    # the clock and the budget ---------------------------------------------------------------

    def start_session(self) -> None:
        """Start this session's clock (and its pace) at the current step."""
        self.session_start, self.first_step = time.monotonic(), self.step

    def elapsed(self) -> float:
        """Training seconds, earlier sessions of this run included."""
        return self.elapsed_before + time.monotonic() - self.session_start

    def done(self) -> bool:
        """True once the budget is spent."""
        return self.budget.spent(self.step, self.elapsed())

    def cut_short(self) -> bool:
        """True when a ``minutes`` cap ended training before its ``steps`` budget."""
        return self.budget.cut_short(self.step)

    def time_left(self) -> tuple[int, float] | None:
        """(steps left of the ``steps`` budget, seconds per step of this session so far,
        validations included); None without a steps budget or before the first step."""
        steps, done = self.budget.steps, self.step - self.first_step
        if steps is None or done == 0:
            return None
        return steps - self.step, (time.monotonic() - self.session_start) / done

    # the loop -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        """Start the session's clock; Ctrl-C and SIGTERM are stop requests until the block
        ends, so one during a validation before or after the steps, or during the final
        save, still ends in a checkpoint (a second one raises ``KeyboardInterrupt``)."""
        self.start_session()
        with self.stop:
            yield

    def tolerate_stop(self, work: Callable[[], None]) -> None:
        """``work()`` (a validation, a calibration) inside ``session``; the second signal of
        a stop request, which raises ``KeyboardInterrupt`` at once, only ends it: the
        caller goes on to save. (A first signal only asks: ``work`` may check
        ``stop.requested`` to cut itself short.)"""
        try:
            work()
        except KeyboardInterrupt:
            if not self.stop.requested:  # not the stop request's: not ours to swallow
                raise

    def loop(self, one_step: Callable[[], None]) -> bool:
        """Call ``one_step`` until ``stopping`` says so, on the threads other work leaves
        free (``cpu_threads``); True when a stop request (Ctrl-C, SIGTERM) ended it after
        the step under way, or a second one in the middle of a step: either way the caller
        saves."""
        try:
            with self.stop:
                while not any(stopping := self.stopping(self.stop)):
                    one_step()
                    self._revisit_threads()
                return stopping[1]
        except KeyboardInterrupt:
            return True

    def _revisit_threads(self) -> None:
        """Fewer threads once other work starts, more once it ends, said in one line."""
        if self.cpu_threads is not None and (choice := self.cpu_threads.revisit()) is not None:
            self.say(f"training now on {choice}")

    def stopping(self, stop: StopRequest) -> tuple[bool, bool]:
        """(the run is done, a stop was requested)."""
        return self.done(), stop.requested

    def set_learning_rate(self, rate: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = rate

    # state ----------------------------------------------------------------------------------

    def training_state(self, sampler: Any) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """(tensors, meta) of a checkpoint: the optimizer's moments, torch's RNG, the data
        order ``sampler`` (JSON-able) and the training time so far."""
        tensors, rest = flatten_optimizer(self.optimizer.state_dict())
        tensors["rng.torch"] = torch.get_rng_state()
        if (device := self.device_trained_on()).type == "cuda":  # dropout draws there
            tensors["rng.cuda"] = torch.cuda.get_rng_state(device)
        return tensors, {"optimizer": rest, "sampler": sampler, "elapsed": self.elapsed()}

    def restore_training_state(self, saved: SavedState) -> Any:
        """Continue at ``saved``'s step, optimizer, RNG and training time; returns the data
        order it saved (``training_state``'s ``sampler``)."""
        self.optimizer.load_state_dict(unflatten_optimizer(saved.tensors, saved.meta["optimizer"]))
        torch.set_rng_state(saved.tensors["rng.torch"])
        if "rng.cuda" in saved.tensors and (device := self.device_trained_on()).type == "cuda":
            torch.cuda.set_rng_state(saved.tensors["rng.cuda"], device)
        self.step, self.elapsed_before = saved.step, float(saved.meta.get("elapsed", 0.0))
        return saved.meta["sampler"]

    def device_trained_on(self) -> torch.device:
        return self.optimizer.param_groups[0]["params"][0].device

    # what it says ---------------------------------------------------------------------------

    def say(self, text: str) -> None:
        """A progress line on stderr (above a progress bar), unless quiet."""
        if not self.quiet:
            tqdm.write(text, file=sys.stderr)

    def say_stopped(self, path: Path | None, resume: str) -> None:
        """Said even when quiet: the user must know how to go on (``resume``: the command,
        to which the run's budget is added: a resume takes it anew)."""
        print(
            f"stopped at step {self.step}; checkpoint {path}; resume with: "
            f"{resume}{self.budget.flags}",
            file=sys.stderr,
        )


def flatten_optimizer(state: dict) -> tuple[dict[str, torch.Tensor], dict]:
    """torch optimizer ``state_dict()`` → (tensors, JSON-able rest)."""
    tensors, scalars = {}, {}
    for index, values in state["state"].items():
        for name, value in values.items():
            if torch.is_tensor(value):
                tensors[f"optimizer.{index}.{name}"] = value
            else:
                scalars[f"{index}.{name}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def unflatten_optimizer(tensors: dict[str, torch.Tensor], rest: dict) -> dict:
    """``flatten_optimizer``'s parts → the optimizer's ``state_dict()``."""
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value
    for key, value in rest.get("scalars", {}).items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value
    return {"state": state, "param_groups": rest["param_groups"]}


def cosine_schedule(
    step: int,
    peak: float,
    floor: float,
    warmup: int,
    steps: int | None,
    minutes: float | None,
    elapsed: float,
) -> float:
    """Linear warm-up to ``peak``, then cosine decay to ``floor`` over ``steps``; with only
    a ``minutes`` budget the decay follows the training time ``elapsed`` (seconds)
    instead: the rate is low when the time runs out. No budget: constant ``peak``."""
    if step < warmup:
        return peak * (step + 1) / warmup
    if steps is not None and steps > warmup:
        progress = min(1.0, (step - warmup) / (steps - warmup))
    elif steps is None and minutes is not None:
        progress = min(1.0, elapsed / (minutes * 60))
    else:
        return peak
    return floor + (peak - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def emulated_bf16_note(precision: str, device: torch.device, flags: str) -> str:
    """What to know when bf16 training runs on a CPU without bfloat16 arithmetic (``flags``:
    its instruction-set flags, ``wavenet.kernels.cpu_flags()``): autocast then converts
    every operand in software: a ``tiny`` step took 10x float32's (Zen 4 held to AVX2,
    2026-12-02); empty where that is not so."""
    if precision != "bf16" or device.type != "cpu":
        return ""
    if any(flag in NATIVE_BF16 for flag in flags.split()):
        return ""
    return (
        "train.precision=bf16 on a CPU without bfloat16 arithmetic (no avx512_bf16 or "
        "amx_bf16) is emulated, about 10x slower than float32; use --precision float32"
    )
