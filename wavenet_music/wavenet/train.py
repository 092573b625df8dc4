"""The training loop: windows in, bits per sample down, checkpoints out (into a run
directory: run_dir.py; the skeleton every trainer shares: ``runtime.training``).

``train.precision=bf16`` runs the forward pass under ``torch.autocast`` in bfloat16 (on
CPU and CUDA); the weights, their gradients, Adam's moments, the loss and validation stay
float32, so checkpoints do not change. Under ``torchrun`` the run is data-parallel over
the processes (see distributed.py): ``train.batch_size`` is the global batch.
"""

from __future__ import annotations

import contextlib
import math
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from .. import runs
from ..audio.features import normalisation
from ..config import Config, TrainConfig, UserError
from ..runtime import threads
from ..runtime.console import alike, say, warn
from ..runtime.device import free_memory, resolve_device
from ..runtime.stop import StopRequest, terminate_as_interrupt
from ..runtime.training import Budget, TrainingRun, cosine_schedule, emulated_bf16_note
from . import checkpoint as ckpt
from . import distributed, finetune, kernels, memory
from .board import Board
from .data import Corpus
from .distributed import SINGLE, Distributed
from .evaluate import LN2, loss_bits
from .model import WaveNet
from .run_dir import (
    WARMUP_ADVICE,
    agreed_resume,
    budget_spent,
    claim_run_dir,
    corpus_config,
    prepare_run_dir,
    process_corpus,
    run_config,
    unprepared_if_stopped,
    warmup_warning,
)
from .windows import IGNORE, Batch, WindowSampler, WindowSource, validation_picks, window_source

ESTIMATE_AFTER = 20  # steps of a session before it estimates the time of the rest


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    train_bits: list[float] = field(default_factory=list)  # per logged step
    validation_bits: list[tuple[int, float]] = field(default_factory=list)
    # with train.local_dropout: validation with the features withheld (unsteered)
    unsteered_bits: list[tuple[int, float]] = field(default_factory=list)
    samples_per_second: float = 0.0
    interrupted: bool = False


def spent_result(run_dir: Path, step: int) -> TrainResult:
    """The result of a resume with nothing to train: the run at ``step``, with the last
    validations its log holds up to it (the summary read null)."""
    result = TrainResult(run_dir, step)
    for record in runs.read_metrics(run_dir):
        if record.get("step", step + 1) > step:
            continue
        if "validation_bits" in record:
            result.validation_bits[:] = [(record["step"], record["validation_bits"])]
        if "validation_unsteered_bits" in record:
            result.unsteered_bits[:] = [(record["step"], record["validation_unsteered_bits"])]
    return result


def learning_rate(step: int, config: TrainConfig, elapsed: float = 0.0) -> float:
    """``cosine_schedule`` to ``min_learning_rate`` over ``decay_steps`` (default: the
    ``steps`` budget), or over the ``minutes`` budget."""
    c = config
    steps = c.decay_steps or c.steps
    return cosine_schedule(
        step, c.learning_rate, c.min_learning_rate, c.warmup_steps, steps, c.minutes, elapsed
    )


# --- the run -------------------------------------------------------------------------------


class Trainer(TrainingRun):
    """Owns the model, optimizer, data sampler and run directory of one training run (of
    this process's part of it, under torchrun: only rank 0 writes)."""

    def __init__(
        self,
        config: Config,
        corpus: Corpus,
        run_dir: Path,
        quiet: bool = False,
        dist: Distributed = SINGLE,
    ) -> None:
        self.config, self.run_dir, self.dist = config, Path(run_dir), dist
        self.device = distributed.process_device(dist, resolve_device(config.train.device))
        self.share = distributed.share(dist, config.train.batch_size)  # windows per process
        torch.manual_seed(config.train.seed)
        self.model = WaveNet(config.model).to(self.device)
        self.network: torch.nn.Module = self.model  # what training calls (``connect``)
        optimizer = torch.optim.Adam(self.model.parameters(), lr=config.train.learning_rate)
        budget = Budget(config.train.steps, config.train.minutes)
        super().__init__(optimizer, budget, quiet)
        self.sampler = WindowSampler(
            window_source(config, corpus.train, training=True),
            config.train.seed,
            config.train.local_dropout,
            config.train.input_noise,
            config.train.input_noise_relative,
        )
        with torch.no_grad():
            set_feature_statistics(self.model, self.sampler.source)  # resume overwrites
        self.validation = None
        if corpus.validation:
            source = window_source(config, corpus.validation)
            picks = validation_picks(
                source.segments, config.train.validation_windows, config.data.sample_size
            )
            self.validation = (source, picks)
        self.agreed_elapsed = 0.0  # the same in every process: the learning rate uses it
        self.skipped_steps = 0  # non-finite steps skipped in this session
        self.bad_in_a_row = 0
        self.last_targets = 0  # loss samples of the global batch of the last step
        self.samples = 0  # loss samples of this session
        self.board = Board(self.run_dir)

    def connect(self) -> None:
        """Train through the data-parallel wrapper (``distributed.wrap``), which starts every
        process from rank 0's weights: a collective, so every process calls it together
        once its trainer is built and its first weights are set."""
        self.network = distributed.wrap(self.dist, self.model, self.device)

    # state ---------------------------------------------------------------------------------

    def restore(self, checkpoint: ckpt.Checkpoint) -> None:
        """Continue exactly where ``checkpoint`` left off: weights, moments, data order, RNG;
        the logs of steps after it (a kill after the checkpoint) are dropped, as they will
        be trained and logged again."""
        self.model.load_state_dict(checkpoint.model)
        self.sampler.set_state(self.restore_training_state(checkpoint))
        if self.dist.is_main:
            runs.keep_records_through(self.run_dir / "metrics.jsonl", checkpoint.step)
            self.board.purge_step = checkpoint.step + 1

    def save(self) -> Path | None:
        """Write a checkpoint (rank 0 only; the others return None)."""
        if not self.dist.is_main:
            return None
        tensors, meta = self.training_state(self.sampler.state())
        checkpoint = ckpt.Checkpoint(self.config, self.step, self.model.state_dict(), tensors, meta)
        return ckpt.save(self.run_dir, checkpoint, self.config.train.keep_checkpoints)

    # one step ------------------------------------------------------------------------------

    def train_step(self, batch: Batch) -> float:
        """One update from this process's share of the global batch; returns the loss in
        bits over the global batch. A non-finite loss or gradient leaves the weights and
        optimizer untouched (the step is counted as skipped, by every process)."""
        self.model.train()
        self.set_learning_rate(learning_rate(self.step, self.config.train, self.agreed_elapsed))
        inputs, targets = batch.inputs.to(self.device), batch.targets.to(self.device)
        with self.autocast():
            logits = self.network(inputs, *self._conditioning(batch))  # (B, Q, S)
        loss, bits = self._global_loss(loss_bits(logits.float(), targets), targets)
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        loss.backward()  # even when not finite: DDP expects a backward after every forward
        clip = self.config.train.grad_clip or math.inf
        norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip)
        if not (math.isfinite(bits) and torch.isfinite(norm)):
            self.optimizer.zero_grad(set_to_none=True)
            return bits if not math.isfinite(bits) else math.nan
        self.optimizer.step()
        return bits

    def autocast(self) -> torch.autocast:
        """bf16 autocast for ``train.precision=bf16`` (a no-op context for float32)."""
        bf16 = self.config.train.precision == "bf16"
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=bf16)

    def _global_loss(self, loss: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, float]:
        """(the loss to differentiate, its value in bits over the global batch). Each
        process's mean is weighted by its share of the targets (shares may differ where a
        window runs past a file's end), so DDP's average of the gradients is the gradient
        of the global mean, as in a single process."""
        count, bits = int((targets != IGNORE).sum()), loss.item()
        if not self.dist.enabled:
            self.last_targets = count
            return loss, bits
        total, all_count = distributed.sum_all(self.dist, [bits * count, count])
        self.last_targets = int(all_count)
        return loss * (count * self.dist.world_size / all_count), total / all_count

    @torch.no_grad()
    def validate(self, withheld: bool = False) -> float | None:
        """Bits per sample over the fixed validation windows (the same every time), in
        float32 whatever the training precision; ``withheld``: with their local features
        withheld (unsteered). Every process scores its share of the windows (all must call
        this together)."""
        if self.validation is None:
            return None
        self.model.eval()
        source, picks = self.validation
        mine = picks[self.dist.rank :: self.dist.world_size]
        total, count = 0.0, 0
        for i in range(0, len(mine), self.share):
            if self._cut_short():
                return None
            chunk = mine[i : i + self.share]
            batch = source.batch(chunk, np.ones(len(chunk), bool) if withheld else None)
            targets = batch.targets.to(self.device)
            logits = self.model(batch.inputs.to(self.device), *self._conditioning(batch))
            total += F.cross_entropy(logits, targets, ignore_index=IGNORE, reduction="sum").item()
            count += int((targets != IGNORE).sum())
        total, count = distributed.sum_all(self.dist, [total, count])
        return total / max(count, 1) / LN2

    def _cut_short(self) -> bool:
        """A stop was requested: skip the rest of a validation (one process only: processes
        of a torchrun score windows until the end, so that their sums still meet)."""
        return self.stop.requested and not self.dist.enabled

    # the loop ------------------------------------------------------------------------------

    def run(self) -> TrainResult:
        """The session: Ctrl-C or SIGTERM at any point of it (the first validation, a step,
        the final validation) ends it in a checkpoint and the line that says how to resume."""
        result = TrainResult(self.run_dir, self.step)
        self.samples = 0
        with self.session():
            try:
                if self.step == 0:  # the untrained baseline starts every curve
                    self.tolerate_stop(lambda: self._validate(result))
                steps = self.config.train.steps
                bar = tqdm(
                    total=steps,
                    initial=self.step,
                    unit="step",
                    disable=self.quiet,
                    dynamic_ncols=True,
                )
                with bar:
                    result.interrupted = self.loop(lambda: self._one_step(result, bar))
            except FileNotFoundError as exc:  # a cache file, opened when first needed
                raise self._lost_data(exc) from None
            self._finish(result)
        return result

    def _one_step(self, result: TrainResult, bar: tqdm) -> None:
        batch = self.sampler.next_batch(
            self.config.train.batch_size, self.dist.rank, self.dist.world_size
        )
        bits = self.train_step(batch)
        if not math.isfinite(bits):
            self._skip_step(bits)
            return
        self.bad_in_a_row = 0
        self.samples += self.last_targets
        rate = self.samples / max(time.monotonic() - self.session_start, 1e-9)
        result.samples_per_second = rate
        bar.update(1)
        bar.set_postfix(bits=f"{bits:.3f}", samples_s=f"{rate:,.0f}")
        if self.step - self.first_step == ESTIMATE_AFTER:
            self._say_estimate()
        self._after_step(bits, result)

    def _lost_data(self, exc: FileNotFoundError) -> UserError:
        """The error for training data that vanished mid-run (a cache folder deleted by a
        cleaner or a user freeing disk), after saving the steps trained so far: the model
        is fine, and a resume decodes the data again. Under torchrun nothing is saved (the
        other processes would wait for this one)."""
        what = f"{exc.filename}: decoded training data is gone (its cache deleted?)"
        resume = f"{self._resume_command()} decodes it again"
        if self.dist.enabled:
            return UserError(f"{what}; {resume} from the last checkpoint")
        path = self.save()
        return UserError(f"{what}; step {self.step} saved ({path}); {resume}")

    def _say_estimate(self) -> None:
        """After the first steps of a session, how long the rest of the steps budget will
        take at the speed measured so far (validations included)."""
        if (left := self.time_left()) is not None:
            steps, per_step = left
            self.say(
                f"about {steps * per_step / 60:.1f} min for the remaining {steps:,} steps on "
                f"this machine ({per_step:.2f} s per step so far)"
            )

    def stopping(self, stop: StopRequest) -> tuple[bool, bool]:
        """(budget spent, stop requested), true when true in any process: all processes
        stop after the same step (a process that stopped alone would leave the others
        waiting for it forever)."""
        [self.agreed_elapsed] = distributed.max_all(self.dist, [self.elapsed()])
        return distributed.any_rank(self.dist, self.done(), stop.requested)

    def _skip_step(self, bits: float) -> None:
        """Count a non-finite step; too many in a row end the run without a new checkpoint."""
        self.skipped_steps += 1
        self.bad_in_a_row += 1
        self.log({"step": self.step, "skipped_steps": self.skipped_steps})
        limit = self.config.train.max_bad_steps
        if self.bad_in_a_row >= limit:
            newest = ckpt.checkpoint_dirs(self.run_dir)
            kept = f"the last good checkpoint is {newest[-1]}" if newest else "no checkpoint yet"
            raise alike(  # every process takes the decision on the global loss
                UserError(
                    f"loss or gradient was {bits} for {limit} steps in a row (step {self.step}); "
                    f"{kept}; lower train.learning_rate or check the data"
                )
            )

    def _after_step(self, bits: float, result: TrainResult) -> None:
        t = self.config.train
        if self.step % t.log_every == 0 or self.step == 1:
            result.train_bits.append(bits)
            self.log(
                {
                    "step": self.step,
                    "train_bits": bits,
                    "lr": self.optimizer.param_groups[0]["lr"],
                    "samples_per_second": result.samples_per_second,
                }
            )
        if self.step % t.validate_every == 0:
            self._validate(result)
        if self.step % t.checkpoint_every == 0:
            self.save()
        if t.audio_every is not None and self.step % t.audio_every == 0 and self.dist.is_main:
            self.board.snippets(self.model, self.config, self.sampler.source, self.step)

    def _validate(self, result: TrainResult) -> None:
        bits = self.validate()
        if bits is None:  # no validation split, or cut short by a stop request
            return
        result.validation_bits.append((self.step, bits))
        self.log({"step": self.step, "validation_bits": bits})
        if self.config.train.local_dropout > 0:
            unsteered = self.validate(withheld=True)
            if unsteered is not None:
                result.unsteered_bits.append((self.step, unsteered))
                self.log({"step": self.step, "validation_unsteered_bits": unsteered})

    def _finish(self, result: TrainResult) -> None:
        stale = not result.validation_bits or result.validation_bits[-1][0] != self.step
        if stale and not result.interrupted:  # an interrupted run saves at once
            self.tolerate_stop(lambda: self._validate(result))
        result.interrupted = result.interrupted or self.stop.requested
        path = self.save()
        result.step = self.step
        self.board.close()
        if result.interrupted:
            self.say_stopped(path, self._resume_command())
        elif self.cut_short():  # said even when quiet: the result is not what was asked
            steps = self.config.train.steps
            print(
                f"under-trained: the time cap (train.minutes={self.config.train.minutes:g}) "
                f"stopped training at step {self.step:,} of {steps:,}; expect a worse model; "
                f"continue with: {self._resume_command()} --steps {steps}",
                file=sys.stderr,
            )
        elif not self.quiet:
            print(f"finished at step {self.step}; checkpoint {path}", file=sys.stderr)

    def _resume_command(self) -> str:
        """How to go on with this run, launched as it was (under torchrun, torchrun's line
        with the run's number of processes), on the data folder it recorded: a line that
        works as printed."""
        data = runs.recorded_data_root(self.run_dir)
        words = (shlex.quote(data) if data else "DATA", "--run", shlex.quote(str(self.run_dir)))
        return distributed.train_command(*words, "--resume", ctx=self.dist)

    # logging -------------------------------------------------------------------------------

    def log(self, record: dict) -> None:
        """The metrics log and TensorBoard (rank 0 only)."""
        if not self.dist.is_main:
            return
        runs.append_record(self.run_dir / "metrics.jsonl", record)
        self.board.scalars(record)

    def _conditioning(self, batch: Batch) -> tuple[torch.Tensor | None, ...]:
        """(labels, frames, excitation) of a batch on the training device."""
        return tuple(
            None if part is None else part.to(self.device)
            for part in (batch.labels, batch.frames, batch.excitation)
        )


# --- entry point ------------------------------------------------------------------------------


def train(
    data_root: Path,
    run_dir: Path,
    config: Config,
    resume: bool = False,
    quiet: bool = False,
    init_from: Path | None = None,
    warmup_advice: str = WARMUP_ADVICE,
) -> TrainResult:
    """Train on the recordings under ``data_root`` into ``run_dir``.

    With ``resume``, the config comes from the run's newest checkpoint, except for the
    training budget (``train.steps``, ``train.minutes``) which ``config`` may extend; any
    other difference in ``config``, or a ``data_root`` other than the one the run
    recorded, is a one-line error naming it. One process per run: the run directory is
    locked while training (``runs.run_lock``).
    With ``init_from`` (a run directory or one checkpoint folder; not with ``resume``), a
    new run starts from that run's weights (see finetune.py): ``config`` must keep its
    architecture; ``finetune.inherited_config(finetune.source_config(init_from))``
    is the source's config without its budget, the base the CLI overrides.
    Launched by torchrun, this process is one of ``WORLD_SIZE`` data-parallel ones; each
    says what it has to say, and the CLI lets rank 0 alone be heard (``runtime.console``).
    ``warmup_advice``: what the warning of a warm-up longer than the budget advises.
    """
    run_dir = Path(run_dir)
    source = None
    if init_from is not None:
        source = finetune.load_source(init_from, run_dir, config, resume)
    dist = distributed.from_env()
    with (  # SIGTERM before the steps: as Ctrl-C, the lock and an empty run removed
        terminate_as_interrupt(),
        runs.run_lock(run_dir) if dist.is_main else contextlib.nullcontext(),
    ):
        if dist.is_main:
            ckpt.remove_unfinished(run_dir)  # a crash may have hidden the newest checkpoint
            if not resume:
                claim_run_dir(run_dir)
        asked, (config, checkpoint) = config, run_config(run_dir, config, resume)
        distributed.share(dist, config.train.batch_size)  # the global batch fits, before decoding
        if checkpoint is not None:
            runs.require_same_data(run_dir, data_root)
        device = distributed.process_device(dist, resolve_device(config.train.device))
        on_this_device = dist.local_world_size if device.type == "cpu" else 1
        memory.require_room_for_training(  # before decoding: a step too large is refused
            config, device, free_memory(device), on_this_device, dist.world_size
        )
        # From here on a step that one process takes alone, or that may fail in one, is
        # ``agreed``: the others end with it rather than wait for it (distributed.py).
        with distributed.process_group(dist, device):
            if checkpoint is not None:  # every process goes on from rank 0's choice
                config, checkpoint = agreed_resume(dist, run_dir, config, checkpoint, asked)
                if (spent := budget_spent(run_dir, checkpoint, config)) is not None:
                    print(spent, file=sys.stderr)  # every process alike: all return
                    return spent_result(run_dir, checkpoint.step)
                distributed.rank_zero_alone(  # the steps after it are trained and saved again
                    dist, lambda: ckpt.set_aside_newer(run_dir / ckpt.CHECKPOINTS, checkpoint.step)
                )
            _warn_before_training(config, device, quiet, warmup_advice)
            corpus = process_corpus(data_root, config, quiet, dist, run_dir)
            config = distributed.agreed(
                dist,
                lambda: corpus_config(
                    run_dir, config, corpus, resumed=checkpoint is not None, data_root=data_root
                ),
            )
            with unprepared_if_stopped(run_dir, fresh=dist.is_main and checkpoint is None):
                distributed.rank_zero_alone(
                    dist, lambda: _prepare(run_dir, data_root, config, corpus, init_from, source)
                )
                trainer = distributed.agreed(  # one line where it fails in every process
                    dist, lambda: Trainer(config, corpus, run_dir, quiet=quiet, dist=dist)
                )
                distributed.agreed(dist, lambda: _start(trainer, checkpoint, source))
                trainer.connect()
            with threads.for_training(device, quiet) as trainer.cpu_threads:  # free CPUs only
                return trainer.run()


def _warn_before_training(
    config: Config, device: torch.device, quiet: bool, warmup_advice: str
) -> None:
    """A warm-up longer than the budget (unless ``quiet``), bf16 emulated on this CPU."""
    if not quiet and (warning := warmup_warning(config, warmup_advice)) is not None:
        say(warning)
    bf16 = emulated_bf16_note(config.train.precision, device, kernels.cpu_flags())
    if bf16:
        warn(bf16)


def _prepare(
    run_dir: Path,
    data_root: Path,
    config: Config,
    corpus: Corpus,
    init_from: Path | None,
    source: ckpt.Checkpoint | None,
) -> None:
    """The run directory's records of the run (rank 0's to write)."""
    prepare_run_dir(run_dir, data_root, config, corpus)
    if source is not None:
        finetune.record(run_dir, init_from, source)


def _start(
    trainer: Trainer, checkpoint: ckpt.Checkpoint | None, source: ckpt.Checkpoint | None
) -> None:
    """The first weights: the resumed ``checkpoint``'s, or a fine-tuning ``source``'s."""
    if checkpoint is not None:
        trainer.restore(checkpoint)
    elif source is not None:
        finetune.start_from(trainer.model, source)


def set_feature_statistics(model: WaveNet, source: WindowSource) -> None:
    """The upsampler normalises features with the training set's mean and deviation
    (notes are fed as they are: mean 0, deviation 1)."""
    if source.features is None or not source.features.normalised:
        return
    hop = source.features.hop
    parts = [
        source.features.features(s.feature_source)[s.start // hop : -(-s.end // hop)]
        for s in source.segments
    ]
    mean, std = normalisation(parts)
    model.upsample.feature_mean.copy_(torch.from_numpy(mean))
    model.upsample.feature_std.copy_(torch.from_numpy(std))
