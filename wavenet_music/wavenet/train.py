"""The training loop: windows in, bits per sample down, checkpoints out.

A run directory holds everything about a run::

    RUN/config.yaml        the full config (the checkpoint holds it too)
    RUN/data.json          the train/validation split and the skipped files
    RUN/metrics.jsonl      one JSON line per logged step / validation
    RUN/checkpoints/       step_NNNNNNNN folders (see checkpoint.py)
    RUN/tensorboard/       TensorBoard event files
    RUN/init_from.json     where a fine-tuned run's first weights came from (finetune.py)

``train.precision=bf16`` runs the forward pass under ``torch.autocast`` in bfloat16 (on
CPU and CUDA); the weights, their gradients, Adam's moments, the loss and validation stay
float32, so checkpoints do not change. Under ``torchrun`` the run is data-parallel over
the processes (see distributed.py): ``train.batch_size`` is the global batch.
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from .. import runs
from ..audio.features import normalisation, read_frames
from ..audio.io import mu_law_decode
from ..config import Config, TrainConfig, UserError, dump_yaml
from ..runtime import threads
from ..runtime.device import resolve_device
from ..runtime.stop import StopRequest
from ..runtime.training import cosine_schedule
from . import checkpoint as ckpt
from . import distributed, finetune, kernels
from .data import (
    IGNORE,
    Batch,
    Corpus,
    WindowSampler,
    WindowSource,
    prepare_corpus,
    validation_picks,
    window_source,
)
from .distributed import SINGLE, Distributed
from .evaluate import LN2, loss_bits
from .generate import generate
from .model import WaveNet

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


def learning_rate(step: int, config: TrainConfig, elapsed: float = 0.0) -> float:
    """``cosine_schedule`` to ``min_learning_rate`` over ``decay_steps`` (default: the
    ``steps`` budget), or over the ``minutes`` budget."""
    c = config
    steps = c.decay_steps or c.steps
    return cosine_schedule(
        step, c.learning_rate, c.min_learning_rate, c.warmup_steps, steps, c.minutes, elapsed
    )


# --- the run -------------------------------------------------------------------------------


class Trainer:
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
        self.config = config
        self.run_dir = Path(run_dir)
        self.dist = dist
        self.quiet = quiet or not dist.is_main
        self.device = distributed.process_device(dist, resolve_device(config.train.device))
        self.share = distributed.share(dist, config.train.batch_size)  # windows per process
        torch.manual_seed(config.train.seed)
        self.model = WaveNet(config.model).to(self.device)
        self.network = distributed.wrap(dist, self.model, self.device)  # what training calls
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.train.learning_rate)
        self.sampler = WindowSampler(
            window_source(config, corpus.train), config.train.seed, config.train.local_dropout
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
        self.step = 0
        self.elapsed_before = 0.0  # training seconds of earlier sessions of this run
        self.agreed_elapsed = 0.0  # the same in every process: the learning rate uses it
        self.skipped_steps = 0  # non-finite steps skipped in this session
        self.bad_in_a_row = 0
        self.last_targets = 0  # loss samples of the global batch of the last step
        self.session_start = time.monotonic()
        self._writer = None

    # state ---------------------------------------------------------------------------------

    def restore(self, checkpoint: ckpt.Checkpoint) -> None:
        """Continue exactly where ``checkpoint`` left off: weights, moments, data order, RNG."""
        self.model.load_state_dict(checkpoint.model)
        self.optimizer.load_state_dict(
            ckpt.unflatten_optimizer(checkpoint.tensors, checkpoint.meta["optimizer"])
        )
        self.sampler.set_state(checkpoint.meta["sampler"])
        torch.set_rng_state(checkpoint.tensors["rng.torch"])
        self.step = checkpoint.step
        self.elapsed_before = float(checkpoint.meta.get("elapsed", 0.0))

    def elapsed(self) -> float:
        return self.elapsed_before + time.monotonic() - self.session_start

    def save(self) -> Path | None:
        """Write a checkpoint (rank 0 only; the others return None)."""
        if not self.dist.is_main:
            return None
        tensors, optimizer_rest = ckpt.flatten_optimizer(self.optimizer.state_dict())
        tensors["rng.torch"] = torch.get_rng_state()
        meta = {
            "optimizer": optimizer_rest,
            "sampler": self.sampler.state(),
            "elapsed": self.elapsed(),
        }
        checkpoint = ckpt.Checkpoint(self.config, self.step, self.model.state_dict(), tensors, meta)
        return ckpt.save(self.run_dir, checkpoint, self.config.train.keep_checkpoints)

    # one step ------------------------------------------------------------------------------

    def train_step(self, batch: Batch) -> float:
        """One update from this process's share of the global batch; returns the loss in
        bits over the global batch. A non-finite loss or gradient leaves the weights and
        optimizer untouched (the step is counted as skipped, by every process)."""
        self.model.train()
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate(self.step, self.config.train, self.agreed_elapsed)
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
            chunk = mine[i : i + self.share]
            batch = source.batch(chunk, np.ones(len(chunk), bool) if withheld else None)
            targets = batch.targets.to(self.device)
            logits = self.model(batch.inputs.to(self.device), *self._conditioning(batch))
            total += F.cross_entropy(logits, targets, ignore_index=IGNORE, reduction="sum").item()
            count += int((targets != IGNORE).sum())
        total, count = distributed.sum_all(self.dist, [total, count])
        return total / max(count, 1) / LN2

    # the loop ------------------------------------------------------------------------------

    def done(self) -> bool:
        t = self.config.train
        if t.steps is not None and self.step >= t.steps:
            return True
        return t.minutes is not None and self.elapsed() >= t.minutes * 60

    def run(self) -> TrainResult:
        result = TrainResult(self.run_dir, self.step)
        self.session_start = time.monotonic()
        samples, first = 0, self.step
        bar = tqdm(
            total=self.config.train.steps,
            initial=self.step,
            unit="step",
            disable=self.quiet,
            dynamic_ncols=True,
        )
        if self.step == 0:
            self._validate(result)  # the untrained baseline starts every curve
        try:
            with StopRequest() as stop:
                while not any(stopping := self._agreed_stop(stop)):
                    batch = self.sampler.next_batch(
                        self.config.train.batch_size, self.dist.rank, self.dist.world_size
                    )
                    bits = self.train_step(batch)
                    if not math.isfinite(bits):
                        self._skip_step(bits)
                        continue
                    self.bad_in_a_row = 0
                    samples += self.last_targets
                    rate = samples / max(time.monotonic() - self.session_start, 1e-9)
                    result.samples_per_second = rate
                    bar.update(1)
                    bar.set_postfix(bits=f"{bits:.3f}", samples_s=f"{rate:,.0f}")
                    if self.step - first == ESTIMATE_AFTER:
                        self._say_estimate(ESTIMATE_AFTER)
                    self._after_step(bits, result)
                result.interrupted = stopping[1]
        except KeyboardInterrupt:  # a second Ctrl-C: stop mid-step, still save
            result.interrupted = True
        finally:
            bar.close()
        self._finish(result)
        return result

    def _say_estimate(self, steps_done: int) -> None:
        """After the first steps of a session, how long the rest of the steps budget will
        take at the speed measured so far (validations included)."""
        steps = self.config.train.steps
        if steps is None or self.quiet:
            return
        per_step = (time.monotonic() - self.session_start) / steps_done
        left = (steps - self.step) * per_step
        tqdm.write(
            f"about {left / 60:.1f} min for the remaining {steps - self.step:,} steps on this "
            f"machine ({per_step:.2f} s per step so far)",
            file=sys.stderr,
        )

    def _agreed_stop(self, stop: StopRequest) -> tuple[bool, ...]:
        """(budget spent, stop requested), true when true in any process: all processes
        stop after the same step (a process that stopped alone would leave the others
        waiting for it forever)."""
        [self.agreed_elapsed] = distributed.max_all(self.dist, [self.elapsed()])
        return distributed.any_rank(self.dist, self.done(), stop.requested)

    def _skip_step(self, bits: float) -> None:
        """Count a non-finite step; too many in a row end the run without a new checkpoint."""
        self.skipped_steps += 1
        self.bad_in_a_row += 1
        self._log({"step": self.step, "skipped_steps": self.skipped_steps})
        limit = self.config.train.max_bad_steps
        if self.bad_in_a_row >= limit:
            newest = ckpt.checkpoint_dirs(self.run_dir)
            kept = f"the last good checkpoint is {newest[-1]}" if newest else "no checkpoint yet"
            raise UserError(
                f"loss or gradient was {bits} for {limit} steps in a row (step {self.step}); "
                f"{kept}; lower train.learning_rate or check the data"
            )

    def _after_step(self, bits: float, result: TrainResult) -> None:
        t = self.config.train
        if self.step % t.log_every == 0 or self.step == 1:
            result.train_bits.append(bits)
            self._log(
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
            self._log_audio()

    def _validate(self, result: TrainResult) -> None:
        bits = self.validate()
        if bits is not None:
            result.validation_bits.append((self.step, bits))
            self._log({"step": self.step, "validation_bits": bits})
        if bits is not None and self.config.train.local_dropout > 0:
            unsteered = self.validate(withheld=True)
            result.unsteered_bits.append((self.step, unsteered))
            self._log({"step": self.step, "validation_unsteered_bits": unsteered})

    def _finish(self, result: TrainResult) -> None:
        stale = not result.validation_bits or result.validation_bits[-1][0] != self.step
        if stale and not result.interrupted:  # an interrupted run saves at once
            self._validate(result)
        path = self.save()
        result.step = self.step
        if self._writer is not None:
            self._writer.close()
        if not self.dist.is_main:
            return
        if result.interrupted:  # said even when quiet: the user must know how to go on
            print(
                f"stopped at step {self.step}; checkpoint {path}; resume with: "
                f"wavenet-music train DATA --run {self.run_dir} --resume",
                file=sys.stderr,
            )
        elif self.cut_short():  # said even when quiet: the result is not what was asked
            steps = self.config.train.steps
            print(
                f"under-trained: the time cap (train.minutes={self.config.train.minutes:g}) "
                f"stopped training at step {self.step:,} of {steps:,}; expect a worse model; "
                f"continue with: wavenet-music train DATA --run {self.run_dir} --resume "
                f"--steps {steps}",
                file=sys.stderr,
            )
        elif not self.quiet:
            print(f"finished at step {self.step}; checkpoint {path}", file=sys.stderr)

    def cut_short(self) -> bool:
        """True when a ``minutes`` cap ended training before its ``steps`` budget."""
        steps = self.config.train.steps
        return steps is not None and self.step < steps

    # logging -------------------------------------------------------------------------------

    @property
    def writer(self):
        if self._writer is None:
            from torch.utils.tensorboard import SummaryWriter  # slow import, only when used

            self._writer = SummaryWriter(str(self.run_dir / "tensorboard"))
        return self._writer

    def _log(self, record: dict) -> None:
        if not self.dist.is_main:
            return
        runs.append_record(self.run_dir / "metrics.jsonl", record)
        step = record["step"]
        for key, value in record.items():
            if key != "step":
                self.writer.add_scalar(_TB_NAMES.get(key, key), value, step)

    def _snippet_features(self, length: int, clips: int) -> torch.Tensor | None:
        """Local models' snippets re-render the start of the first training file."""
        store = self.sampler.source.features
        if store is None:
            return None
        frames = -(-length // store.hop)
        first = store.features(self.sampler.source.segments[0].cache)
        features = read_frames(np.asarray(first, dtype=np.float32), 0, frames)  # (K, F)
        return torch.from_numpy(features.T.copy())[None].repeat(clips, 1, 1)

    def _conditioning(self, batch: Batch) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """(labels, frames) of a batch on the training device."""
        labels = None if batch.labels is None else batch.labels.to(self.device)
        frames = None if batch.frames is None else batch.frames.to(self.device)
        return labels, frames

    def _log_audio(self) -> None:
        """A snippet per label (one for an unconditioned model), as one batch."""
        rate, labels = self.config.data.sample_rate, self.config.model.global_labels
        generator = torch.Generator(device=self.device).manual_seed(self.config.train.seed)
        self.model.eval()
        length = int(self.config.train.audio_seconds * rate)
        classes = generate(
            self.model,
            length,
            num=max(1, len(labels)),
            generator=generator,
            labels=torch.arange(len(labels)) if labels else None,
            features=self._snippet_features(length, max(1, len(labels))),
        )
        audio = mu_law_decode(classes.cpu().numpy(), self.config.model.quantization_channels)
        from ..audio.figures import add_spectrograms  # matplotlib, only when snippets are logged

        clips = dict(zip(labels or ("generated",), audio, strict=True))
        for name, clip in clips.items():
            tag = f"generated/{name}" if labels else "generated"
            self.writer.add_audio(tag, torch.from_numpy(clip)[None], self.step, rate)
        add_spectrograms(self.writer, clips, rate, self.step)


_TB_NAMES = {
    "train_bits": "bits_per_sample/train",
    "validation_bits": "bits_per_sample/validation",
    "validation_unsteered_bits": "bits_per_sample/validation_unsteered",
    "lr": "learning_rate",
    "samples_per_second": "speed/loss_samples_per_second",
}


# --- entry point ------------------------------------------------------------------------------


def train(
    data_root: Path,
    run_dir: Path,
    config: Config,
    resume: bool = False,
    quiet: bool = False,
    init_from: Path | None = None,
) -> TrainResult:
    """Train on the recordings under ``data_root`` into ``run_dir``.

    With ``resume``, the config comes from the run's newest checkpoint, except for the
    training budget (``train.steps``, ``train.minutes``) which ``config`` may extend; any
    other difference in ``config``, or a ``data_root`` other than the one the run
    recorded, is a one-line error naming it. One process per run: the run directory is
    locked while training (``runs.run_lock``).
    With ``init_from`` (a run directory or one checkpoint folder; not with ``resume``), a
    new run starts from that run's weights (see finetune.py): ``config`` must keep its
    architecture; ``finetune.inherited_config(finetune.read_source(init_from).config)``
    is the source's config without its budget, the base the CLI overrides.
    Launched by torchrun, this process is one of ``WORLD_SIZE`` data-parallel ones.
    """
    run_dir = Path(run_dir)
    source = None
    if init_from is not None:
        source = finetune.load_source(init_from, run_dir, config, resume)
    dist = distributed.from_env()
    with runs.run_lock(run_dir) if dist.is_main else contextlib.nullcontext():
        if dist.is_main:
            ckpt.remove_unfinished(run_dir)  # a crash may have hidden the newest checkpoint
        config, checkpoint = _run_config(run_dir, config, resume)
        if checkpoint is not None:
            runs.require_same_data(run_dir, data_root)
            if dist.is_main:  # the steps after it are trained and saved again
                ckpt.set_aside_newer(run_dir / ckpt.CHECKPOINTS, checkpoint.step)
        device = distributed.process_device(dist, resolve_device(config.train.device))
        if dist.is_main and (note := emulated_bf16_note(config.train.precision, device)):
            print(f"warning: {note}", file=sys.stderr)
        with distributed.process_group(dist, device):
            corpus = _prepare_corpus(data_root, config, quiet, dist)
            if checkpoint is None:
                config = with_corpus_labels(config, corpus)
            if dist.is_main:
                _prepare_run_dir(run_dir, data_root, config, corpus)
                if source is not None:
                    finetune.record(run_dir, init_from, source)
            trainer = Trainer(config, corpus, run_dir, quiet=quiet, dist=dist)
            if checkpoint is not None:
                trainer.restore(checkpoint)
            elif source is not None:
                finetune.start_from(trainer.model, source)
            with threads.for_training(device, quiet or not dist.is_main):  # free CPUs only
                return trainer.run()


NATIVE_BF16 = ("avx512_bf16", "amx_bf16")  # CPU flags of bfloat16 arithmetic in hardware


def emulated_bf16_note(precision: str, device: torch.device, flags: str | None = None) -> str:
    """What to know when bf16 training runs on a CPU without bfloat16 arithmetic (``flags``:
    its instruction-set flags, ``kernels.cpu_flags()``): autocast then converts every
    operand in software: a ``tiny`` step took 10x float32's (Zen 4 held to AVX2,
    2026-12-02); empty where that is not so."""
    if precision != "bf16" or device.type != "cpu":
        return ""
    if any(flag in NATIVE_BF16 for flag in (flags or kernels.cpu_flags()).split()):
        return ""
    return (
        "train.precision=bf16 on a CPU without bfloat16 arithmetic (no avx512_bf16 or "
        "amx_bf16) is emulated, about 10x slower than float32; use --precision float32"
    )


def _run_config(
    run_dir: Path, config: Config, resume: bool
) -> tuple[Config, ckpt.Checkpoint | None]:
    """The run's config (the checkpoint's, on resume) and the checkpoint to resume."""
    checkpoint = None
    if resume:
        checkpoint = ckpt.load(run_dir)
        config = resumed_config(run_dir, checkpoint.config, config)
    elif ckpt.checkpoint_dirs(run_dir):
        raise UserError(
            f"{run_dir} already holds checkpoints; pass --resume to continue it "
            "or choose a new --run"
        )
    if config.train.steps is None and config.train.minutes is None:
        raise UserError("no training budget: pass --steps N or --minutes M")
    if config.train.local_dropout and config.model.local_channels is None:
        raise UserError(
            "train.local_dropout withholds local features, but this run has none: "
            "set model.local_channels (e.g. --local-channels 80) or drop it"
        )
    return config, checkpoint


def resumed_config(run_dir: Path, stored: Config, asked: Config) -> Config:
    """The checkpoint's config ``stored`` with the budget (``train.steps``,
    ``train.minutes``) of ``asked``; any other setting of ``asked`` that differs is a
    one-line error naming it (``runs.resumed_settings``). Labels come from the data: an
    ``asked`` without them takes the run's."""
    if not asked.model.global_labels:
        labels = stored.model.global_labels
        asked = replace(asked, model=replace(asked.model, global_labels=labels))
    flat = runs.resumed_settings(
        str(run_dir), _flat(stored), _flat(asked), ("train.steps", "train.minutes")
    )
    t = replace(stored.train, steps=flat["train.steps"], minutes=flat["train.minutes"])
    return replace(stored, train=t)


def _flat(config: Config) -> dict:
    return {f"{s}.{k}": v for s, values in config.to_dict().items() for k, v in values.items()}


def _prepare_corpus(data_root: Path, config: Config, quiet: bool, dist: Distributed) -> Corpus:
    """Rank 0 decodes the audio (into the cache) first; the other processes then read it."""
    if not dist.is_main:
        distributed.barrier(dist)
    corpus = prepare_corpus(
        data_root,
        config.data,
        config.model.quantization_channels,
        config.model.receptive_field,
        quiet=quiet or not dist.is_main,
    )
    if dist.is_main:
        distributed.barrier(dist)
    return corpus


def with_corpus_labels(config: Config, corpus: Corpus) -> Config:
    """Global conditioning on: the model's labels are the corpus's, sorted."""
    if config.data.labels is None:
        if config.model.global_labels:
            raise UserError(
                "model.global_labels is set but data.labels is null; set "
                "data.labels=folders (or a CSV file) to train with labels"
            )
        return config
    labels = tuple(sorted({s.label for s in corpus.train + corpus.validation}))
    return replace(config, model=replace(config.model, global_labels=labels))


def set_feature_statistics(model: WaveNet, source: WindowSource) -> None:
    """The upsampler normalises features with the training set's mean and deviation."""
    if source.features is None:
        return
    hop = source.features.hop
    parts = [
        source.features.features(s.cache)[s.start // hop : -(-s.end // hop)]
        for s in source.segments
    ]
    mean, std = normalisation(parts)
    model.upsample.feature_mean.copy_(torch.from_numpy(mean))
    model.upsample.feature_std.copy_(torch.from_numpy(std))


def _prepare_run_dir(run_dir: Path, data_root: Path, config: Config, corpus: Corpus) -> None:
    """``config.yaml`` and ``data.json`` (the split, and the data folder a resume must use)."""
    data = {"root": str(Path(data_root).resolve()), **corpus.summary()}
    runs.write_atomically(run_dir / "config.yaml", dump_yaml(config))
    runs.write_atomically(run_dir / "data.json", json.dumps(data, indent=1))
