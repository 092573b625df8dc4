"""Data-parallel training over several processes, launched by ``torchrun``.

    torchrun --nproc_per_node N -m wavenet_music.cli -- train DATA --run RUN ...

torchrun sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` in every process; without them
training runs as one process and nothing here communicates. With them, each process
holds a full copy of the model (``DistributedDataParallel`` averages the gradients),
cuts its own consecutive share of every global batch (``train.batch_size`` windows in
all), and the processes agree on every decision to stop, and on whether each step before
training succeeded (``agreed``: where one fails, none waits for it). Only rank 0 writes to
the run directory and prints (``runtime/console.py``). The backend is gloo on CPU and nccl on
CUDA (one GPU per process: ``cuda:LOCAL_RANK``).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import torch
import torch.distributed as dist

from ..config import UserError
from ..runtime.console import alike, mark_own
from ..runtime.stop import signals_end_the_process

T = TypeVar("T")

# How long a step the processes take together waits for them all (torch's default).
STEP_TIMEOUT = timedelta(minutes=30)
# How long the others wait while rank 0 does work once for all (``rank_zero_first``): the
# first decoding and transcription of a large corpus takes hours, and a step's timeout
# had ended every other process after 30 minutes of it. A rank 0 that fails ends them
# at once (``agreed``), and torchrun ends them where it dies.
RANK_ZERO_TIMEOUT = timedelta(days=7)


@dataclass(frozen=True)
class Distributed:
    """This process's place among the training processes."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0  # index of this process on its machine: its GPU
    local_world_size: int = 1  # processes on this machine: torchrun's --nproc_per_node

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes checkpoints, metrics and messages."""
        return self.rank == 0


SINGLE = Distributed()


def from_env(environ: Mapping[str, str] = os.environ) -> Distributed:
    """The process's rank as torchrun sets it; a single process when it did not."""
    if "WORLD_SIZE" not in environ:
        return SINGLE
    try:
        rank, world = int(environ["RANK"]), int(environ["WORLD_SIZE"])
        local = int(environ.get("LOCAL_RANK", rank))
        local_world = int(environ.get("LOCAL_WORLD_SIZE", world))
    except (KeyError, ValueError):
        raise UserError(
            "WORLD_SIZE is set but RANK/LOCAL_RANK/LOCAL_WORLD_SIZE are missing or not integers; "
            "launch with torchrun --nproc_per_node N -m wavenet_music.cli -- train ..."
        ) from None
    if not 0 <= rank < world:
        raise UserError(f"expected 0 <= RANK < WORLD_SIZE, got RANK={rank}, WORLD_SIZE={world}")
    if not 0 < local_world <= world:
        raise UserError(
            f"expected 0 < LOCAL_WORLD_SIZE <= WORLD_SIZE, got {local_world} and {world}"
        )
    missing = [name for name in ("MASTER_ADDR", "MASTER_PORT") if not environ.get(name)]
    if world > 1 and missing:
        raise UserError(
            f"WORLD_SIZE is set but {' and '.join(missing)} not: launch with torchrun "
            "--nproc_per_node N -m wavenet_music.cli -- train ..., which sets them"
        )
    return Distributed(rank, world, local, local_world)


def train_command(*arguments: str, ctx: Distributed | None = None) -> str:
    """``wavenet-music train ARGUMENTS`` as this run is launched (``ctx``; by default the
    environment's): under torchrun, the torchrun line with the run's number of processes,
    so that advice to resume names a launch that fits the run."""
    if ctx is None:
        try:
            ctx = from_env()
        except UserError:  # a launch by hand that train refuses; the advice is for later
            ctx = SINGLE
    words = " ".join(("train", *arguments))
    if not ctx.enabled:
        return f"wavenet-music {words}"
    nodes = ctx.world_size // ctx.local_world_size
    launch = f"--nnodes {nodes} --nproc_per_node" if nodes > 1 else "--nproc_per_node"
    return f"torchrun {launch} {ctx.local_world_size} -m wavenet_music.cli -- {words}"


def process_device(ctx: Distributed, device: torch.device) -> torch.device:
    """Each process of a CUDA run gets its own GPU, ``cuda:LOCAL_RANK``."""
    if not ctx.enabled or device.type != "cuda":
        return device
    visible = torch.cuda.device_count()
    if ctx.local_world_size > visible:  # said alike by every process, before any waits
        raise UserError(
            f"--nproc_per_node {ctx.local_world_size} needs a GPU for each process but only "
            f"{visible} are visible; lower --nproc_per_node (or train with --device cpu)"
        )
    torch.cuda.set_device(ctx.local_rank)
    return torch.device("cuda", ctx.local_rank)


# what a process says whose peer ended: one killed (SIGKILL, e.g. by the out-of-memory
# killer) left no message of its own, and torchrun's report after the run names it
LOST = (
    "another process of this run stopped (its message, if it left one, is above; torchrun's "
    "report below names its exit code, SIGKILL where it was killed, e.g. for memory); once "
    "that is dealt with, launch the same torchrun command again (with --resume where the run "
    "saved a checkpoint)"
)


@contextmanager
def process_group(
    ctx: Distributed, device: torch.device, timeout: timedelta = STEP_TIMEOUT
) -> Iterator[None]:
    """The default process group for the training run (nothing for a single process), each
    collective waiting up to ``timeout``, and the group the others wait in while rank 0
    works alone (``rank_zero_first``), destroyed on the way out; a clean exit waits for
    all processes first."""
    if not ctx.enabled:
        yield
        return
    backend = "nccl" if device.type == "cuda" else "gloo"
    with signals_end_the_process():  # waiting for the others, nothing to save yet
        dist.init_process_group(backend, rank=ctx.rank, world_size=ctx.world_size, timeout=timeout)
    processes: list = [None] * ctx.world_size  # each rank's (host, pid)
    try:
        _WAITING.append(dist.new_group(backend="gloo", timeout=RANK_ZERO_TIMEOUT))
        dist.all_gather_object(processes, (socket.gethostname(), os.getpid()), _WAITING[0])
        yield
        dist.barrier()
    except KeyboardInterrupt:  # Ctrl-C, or torchrun's SIGTERM once a peer of it ended
        if not local_peer_gone(processes):
            raise
        raise mark_own(UserError(LOST)) from None
    except Exception as exc:  # from here on, a process may fail alone: it says so
        if not (isinstance(exc, RuntimeError) and peer_lost(exc)):
            mark_own(exc)
            raise
        lost = UserError(LOST)
        raise mark_own(lost) from None
    finally:
        _WAITING.clear()
        dist.destroy_process_group()


def lost_peer_behind(interrupt: KeyboardInterrupt) -> UserError | None:
    """The ``LOST`` error an interrupt cut short, else None: torchrun's SIGTERM (sent to
    the survivors once it saw a worker end) can come while the survivor tears its process
    group down on the way out with ``LOST``, and the interrupt took its place ("interrupted",
    1 run in 8 beside another job, where the peer had been killed outright)."""
    behind = interrupt.__context__
    return behind if isinstance(behind, UserError) and str(behind) == LOST else None


def local_peer_gone(processes: Sequence[tuple[str, int] | None]) -> bool:
    """Whether a process of the run on this machine (``processes``: each rank's host name
    and pid) has ended. torchrun, seeing one worker end (killed outright, say, by the
    out-of-memory killer), stops the others with SIGTERM, a ``KeyboardInterrupt`` here;
    where it came before the collective's failure, the survivor said "interrupted", as if
    someone had pressed Ctrl-C, instead of ``LOST``. (Peers on other machines cannot be
    looked at: their loss still reads as an interrupt where the signal comes first.)"""
    here = socket.gethostname()
    for process in processes:
        if process is None or process[0] != here or process[1] == os.getpid():
            continue
        try:
            os.kill(process[1], 0)
        except OSError:  # none (ProcessLookupError), or another user's: a pid reused
            return True
        if _ended(process[1]):
            return True
    return False


def _ended(pid: int) -> bool:
    """Whether ``pid`` is a process that ended and waits to be reaped (Linux's state Z)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[:1] == ["Z"]


# the process group of ``rank_zero_first``'s waits (gloo, on CPU), while a run's group lives
_WAITING: list[dist.ProcessGroup] = []


def peer_lost(exc: RuntimeError) -> bool:
    """``exc`` is a collective's failure because another process of the run ended (torch
    raises gloo's as a plain ``RuntimeError`` naming its transport)."""
    text = str(exc)
    return isinstance(exc, dist.DistError) or "gloo" in text or "NCCL" in text


# what a process says whose peer failed at a step they took together (the peer said why)
PEER_FAILED = "another process of this run failed before training; its message says why"


def agreed(ctx: Distributed, action: Callable[[], T], group: dist.ProcessGroup | None = None) -> T:
    """``action()`` in every process, then whether it failed in any, shared: a step that
    fails in one process ends them all at once, where one left alone would wait in the next
    collective for a peer that is gone (or, where the peer returned, until the process
    group's timeout). Rank 0 says rank 0's error; a failure in other processes alone is
    said by each with its rank, rank 0 saying ``PEER_FAILED``; the rest end quietly.
    ``action`` must not communicate itself: every process calls this together, sharing
    the outcome in ``group`` (None: the run's own)."""
    if not ctx.enabled:
        return action()
    try:
        result = action()
    except BaseException as exc:  # Ctrl-C too: the others must not wait for this one
        _share_failure(ctx, exc, group)
        raise
    _share_failure(ctx, None, group)
    return result


def rank_zero_first(ctx: Distributed, action: Callable[[], T]) -> T:
    """``action()`` in rank 0, then in the others (work rank 0 does once for all, such as
    decoding into the shared cache, that the others then read), each step ``agreed``:
    where it fails in rank 0, the others end without running it. The others wait for it
    up to ``RANK_ZERO_TIMEOUT``, not a step's timeout."""
    waiting = _WAITING[0] if ctx.enabled else None
    if ctx.is_main:
        result = agreed(ctx, action, waiting)
        agreed(ctx, _nothing, waiting)
        return result
    agreed(ctx, _nothing, waiting)
    return agreed(ctx, action, waiting)


def rank_zero_alone(ctx: Distributed, action: Callable[[], object]) -> None:
    """``action()`` in rank 0 alone (a write to the run directory), ``agreed``."""
    agreed(ctx, action if ctx.is_main else _nothing)


def _nothing() -> None:
    return None


def _share_failure(
    ctx: Distributed, failure: BaseException | None, group: dist.ProcessGroup | None = None
) -> None:
    """Whether any process failed, in every process (shared in ``group``): a ``failure``
    of this one is marked for who says it (its caller raises it); without one, where
    another failed, an error."""
    failed = failure is not None
    zero_failed, any_failed = any_rank(ctx, ctx.is_main and failed, failed, group=group)
    if failure is not None:
        if zero_failed and not ctx.is_main:  # the same error, or one that follows from it
            alike(failure)
        return
    if any_failed:
        raise alike(UserError(PEER_FAILED))


def share(ctx: Distributed, batch_size: int) -> int:
    """Windows per process of a global batch of ``batch_size``."""
    if batch_size % ctx.world_size:
        raise UserError(
            f"train.batch_size is the global batch; expected a multiple of the "
            f"{ctx.world_size} processes, got {batch_size}"
        )
    return batch_size // ctx.world_size


def wrap(ctx: Distributed, model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """The module that training calls: ``model`` itself, or its DDP wrapper (which averages
    gradients over the processes and starts them all from rank 0's weights)."""
    if not ctx.enabled:
        return model
    ids = [device.index] if device.type == "cuda" else None
    # The last block's residual convolution feeds nothing that is predicted: unused.
    return torch.nn.parallel.DistributedDataParallel(
        model, device_ids=ids, find_unused_parameters=True
    )


def sum_all(ctx: Distributed, values: Sequence[float]) -> list[float]:
    """Each value summed over the processes (in float64)."""
    return _all_reduce(values, dist.ReduceOp.SUM) if ctx.enabled else list(values)


def max_all(ctx: Distributed, values: Sequence[float]) -> list[float]:
    """Each value's maximum over the processes (in float64)."""
    return _all_reduce(values, dist.ReduceOp.MAX) if ctx.enabled else list(values)


def any_rank(
    ctx: Distributed, *flags: bool, group: dist.ProcessGroup | None = None
) -> tuple[bool, ...]:
    """Each flag, true if it is true in any process: decisions all processes share (in
    ``group``; None: the run's own)."""
    if not ctx.enabled:
        return tuple(flags)
    values = _all_reduce([float(f) for f in flags], dist.ReduceOp.MAX, group)
    return tuple(v > 0 for v in values)


def from_rank_zero(ctx: Distributed, value: int) -> int:
    """Rank 0's ``value`` in every process: a choice rank 0 alone made."""
    if not ctx.enabled:
        return value
    tensor = torch.tensor([value], dtype=torch.int64, device=_collective_device())  # (1,)
    dist.broadcast(tensor, src=0)
    return int(tensor.item())


def _all_reduce(
    values: Sequence[float], op: dist.ReduceOp, group: dist.ProcessGroup | None = None
) -> list[float]:
    device = _collective_device(group)
    tensor = torch.tensor(values, dtype=torch.float64, device=device)  # (N,)
    dist.all_reduce(tensor, op=op, group=group)
    return tensor.tolist()


def _collective_device(group: dist.ProcessGroup | None = None) -> torch.device:
    """Where a collective's tensor in ``group`` lives: nccl takes CUDA tensors alone."""
    nccl = dist.get_backend(group) == "nccl"
    return torch.device("cuda", torch.cuda.current_device()) if nccl else torch.device("cpu")
