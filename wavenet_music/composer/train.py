"""Training the composer on a WaveNet run's own music.

The loop is the WaveNet's skeleton (``runtime.training``): windows in, bits per token
down, held-out bits against the unigram and bigram baselines in
``RUN/composer/metrics.jsonl``, Ctrl-C/SIGTERM finish the step and save (checkpoints:
``checkpoint.py``); the best held-out weights are kept (with ``keep_best`` false, the
last validated ones), and ``patience`` validations without a better score end the
training early. A run steered by chroma or log-mel gets
k-means tokens (``data.token_corpus``), a run steered by notes event tokens
(``note_tokens.note_corpus``); the rest is the same.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .. import runs
from ..config import Config, UserError
from ..runtime import threads
from ..runtime.device import resolve_device
from ..runtime.training import Budget, TrainingRun, cosine_schedule
from ..wavenet import checkpoint as ckpt
from .calibration import HOLD_PENALTIES, Calibration, calibrate_sampling
from .checkpoint import (
    ComposerCheckpoint,
    composer_dirs,
    load_composer,
    save_composer,
    saved_calibration,
)
from .config import ComposerConfig
from .data import (
    COMPOSER,
    IGNORE,
    LN2,
    StateFn,
    TokenCorpus,
    bigram_bits,
    held_out_bits,
    recorded_data_root,
    require_local,
    token_corpus,
    training_batch,
    unigram_bits,
)
from .model import Composer
from .note_tokens import note_corpus
from .standing import Standing, trained_words

# --- the loop ----------------------------------------------------------------------------------


@dataclass
class ComposerResult:
    """What a training session ends with; bits are per token (``frames_per_token`` frames,
    or one note event: ``frames_per_token`` and ``round_trip_db`` None)."""

    run_dir: Path
    step: int
    frames_per_token: int | None
    round_trip_db: float | None
    unigram_bits: float
    bigram_bits: float
    bigram_beta: float
    tokens_per_second: float | None = None  # of the training music (mean, for events)
    validation_bits: list[tuple[int, float]] = field(default_factory=list)
    best_bits: float | None = None  # held-out bits of the saved composer (the best)
    calibration: Calibration | None = None  # its sampling temperature
    interrupted: bool = False

    def to_dict(self) -> dict:
        last = self.validation_bits[-1][1] if self.validation_bits else None
        return {
            "run": str(self.run_dir),
            "step": self.step,
            "validation_bits_per_token": self.best_bits,
            "last_validation_bits_per_token": last,
            "unigram_bits_per_token": self.unigram_bits,
            "bigram_bits_per_token": self.bigram_bits,
            "tokens": "k-means" if self.frames_per_token else "note events",
            "frames_per_token": self.frames_per_token,
            "round_trip_db": self.round_trip_db,
            "tokens_per_second": self.tokens_per_second,
            "temperature": None if self.calibration is None else self.calibration.temperature,
            "interrupted": self.interrupted,
        }


def composer_learning_rate(step: int, c: ComposerConfig, elapsed: float = 0.0) -> float:
    """``train.cosine_schedule`` to a tenth of the rate, over ``steps`` or ``minutes``."""
    peak = c.learning_rate
    return cosine_schedule(step, peak, peak / 10, c.warmup_steps, c.steps, c.minutes, elapsed)


class ComposerTrainer(TrainingRun):
    """Owns the composer, its optimizer, its data order and ``RUN/composer``."""

    def __init__(
        self,
        run_dir: Path,
        corpus: TokenCorpus,
        labels: tuple[str, ...],
        config: ComposerConfig,
        context: int,
        quiet: bool = False,
    ) -> None:
        self.run_dir, self.corpus, self.labels, self.config = Path(run_dir), corpus, labels, config
        self.context = context
        self.device = resolve_device(config.device)
        torch.manual_seed(config.seed)
        self.model = Composer(config, corpus.vocab, len(labels), context).to(self.device)
        optimizer = torch.optim.AdamW(
            self.model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
        )
        super().__init__(optimizer, Budget(config.steps, config.minutes), quiet)
        self.rng = np.random.default_rng(config.seed)
        # (bits, weights) compose uses: the best held-out, or with keep_best false the last
        self.best: tuple[float, dict[str, torch.Tensor]] | None = None
        self.lowest: float | None = None  # the best held-out bits so far, for patience
        self.since_best = 0  # validations without a better score
        self.calibration: Calibration | None = None  # of the best weights, when done

    def restore(self, c: ComposerCheckpoint) -> None:
        prefix = "current."
        current = {k[len(prefix) :]: v for k, v in c.tensors.items() if k.startswith(prefix)}
        self.model.load_state_dict(current or c.model)
        if "best_bits" in c.meta:
            self.best = (float(c.meta["best_bits"]), c.model)
            self.lowest = float(c.meta.get("lowest_bits", c.meta["best_bits"]))
            self.since_best = int(c.meta.get("since_best", 0))
        self.rng.bit_generator.state = self.restore_training_state(c)
        self.calibration = saved_calibration(c)
        runs.keep_records_through(self.run_dir / COMPOSER / "metrics.jsonl", c.step)

    def save(self, final: bool = False) -> Path:
        """A checkpoint of this step; ``final`` replaces a periodic one of the same step,
        which predates the last validation's bookkeeping and the calibration."""
        tensors, meta = self.training_state(self.rng.bit_generator.state)
        weights = self.model.state_dict()
        if self.best is not None:  # the best weights for compose, the current ones to go on
            tensors.update({f"current.{k}": v for k, v in weights.items()})
            weights = self.best[1]
            meta.update(best_bits=self.best[0], lowest_bits=self.lowest, since_best=self.since_best)
        if self.calibration is not None:
            meta["calibration"] = self.calibration.to_dict()
        if self.corpus.programs is not None:
            meta["programs"] = list(self.corpus.programs)  # for the MIDI files compose writes
        if self.corpus.shortest_notes is not None:  # how long compose holds a key at least
            meta["shortest_notes"] = list(self.corpus.shortest_notes)
        if self.corpus.rest_levels is not None:  # which labels compose plays on in rests
            meta["rest_levels"] = list(self.corpus.rest_levels)
        checkpoint = ComposerCheckpoint(
            self.config,
            self.step,
            weights,
            self.corpus.codebook,
            self.labels,
            self.context,
            tensors,
            meta,
        )
        return save_composer(self.run_dir, checkpoint, replace=final)

    @property
    def state(self) -> StateFn | None:
        """What a window cut mid-piece starts with: the velocity in force, for a composer
        of note events told to carry it (``carry_velocity``); else nothing."""
        return self.corpus.state if self.config.carry_velocity else None

    def train_step(self) -> float:
        """One update on a random batch; bits per token."""
        self.model.train()
        self.set_learning_rate(composer_learning_rate(self.step, self.config, self.elapsed()))
        inputs, targets, labels = training_batch(
            self.corpus.train,
            self.context,
            self.config.batch_size,
            self.model.start_token,
            self.rng,
            self.state,
        )
        logits = self.model(inputs.to(self.device), labels.to(self.device) if self.labels else None)
        loss = (
            F.cross_entropy(logits.transpose(1, 2), targets.to(self.device), ignore_index=IGNORE)
            / LN2
        )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()
        self.step += 1
        return loss.item()

    def _eta(self) -> str:
        """ ", at most N min left" at this session's pace for a ``steps`` budget."""
        if (left := self.time_left()) is None:
            return ""
        steps, pace = left
        return f", at most {steps * pace / 60:.1f} min left of {self.budget.steps:,} steps"

    def log(self, record: dict) -> None:
        (self.run_dir / COMPOSER).mkdir(parents=True, exist_ok=True)
        runs.append_record(self.run_dir / COMPOSER / "metrics.jsonl", record)

    def validate(self) -> float | None:
        if not self.corpus.validation:
            return None
        return held_out_bits(self.model, self.corpus.validation, self.device, self.state)

    def run(self, result: ComposerResult) -> ComposerResult:
        """The session: Ctrl-C or SIGTERM at any point of it (a step, the final validation
        or calibration) ends it in a checkpoint and the line that says how to resume."""
        with self.session():
            result.interrupted = self.loop(lambda: self._one_step(result))
            if not result.validation_bits or result.validation_bits[-1][0] != self.step:
                self.tolerate_stop(lambda: self._validate(result))
            if not self.stop.requested and self.config.calibration_seconds is not None:
                self.tolerate_stop(self._calibrate_once)
            result.interrupted = result.interrupted or self.stop.requested
            result.calibration = self.calibration
            path = self.save(final=True)
        result.step = self.step
        result.best_bits = None if self.best is None else self.best[0]
        if result.interrupted:
            self.say_stopped(path, f"wavenet-music train-composer {self.run_dir} --resume")
        else:
            self.say_standing(result)
        return result

    def say_standing(self, result: ComposerResult) -> None:
        """Where the composer ``compose`` will use stands against its bigram, in words
        (``standing.trained_words``)."""
        if result.best_bits is None:
            return
        standing = Standing(result.best_bits, result.bigram_bits, self.step)
        unit = "token" if self.corpus.codebook is not None else "note event"
        stalled = self.config.patience is not None and self.since_best >= self.config.patience
        self.say(trained_words(standing, unit, stalled, self.run_dir))

    def _one_step(self, result: ComposerResult) -> None:
        bits = self.train_step()
        if self.step % 10 == 0 or self.step == 1:
            self.log({"step": self.step, "train_bits": bits})
            self.say(f"step {self.step}: {bits:.3f} bits/token{self._eta()}")
        if self.step % self.config.validate_every == 0:
            self._validate(result)
        if self.step % self.config.checkpoint_every == 0:
            self.save()

    def done(self) -> bool:
        """The budget is spent, or ``patience`` validations did not beat the best."""
        return super().done() or self.patience_spent()

    def _calibrate_once(self) -> None:
        if self.calibration is None:  # else it is the calibration of the kept weights
            self.calibrate()
        else:
            self.say("the kept weights did not change: calibration kept")

    def calibrate(self) -> None:
        """Calibrate the sampling (temperature, hold penalty) of the weights ``compose``
        will use; not for note events (``config.py``: it measures decoded frames)."""
        if self.corpus.codebook is None:
            self.say("note events: no sampling calibration (compose samples at temperature 1)")
            return
        model = self.model
        if self.best is not None:
            model = Composer(self.config, self.corpus.vocab, len(self.labels), self.context)
            model.load_state_dict(self.best[1])
        calibration = calibrate_sampling(
            model.to(self.device),
            self.corpus.codebook,
            self.corpus.train,
            len(self.labels),
            self.corpus.frames_per_second,
            self.config.calibration_seconds,
            self.config.calibration_streams,
            self.config.seed,
            hold_penalties=HOLD_PENALTIES if self.config.calibrate_hold_penalty else (0.0,),
        )
        if calibration is None:
            self.say(
                "no sampling calibration: no window of composer.calibration_seconds="
                f"{self.config.calibration_seconds:g} s of the training music gives a "
                "repetition figure (it compares frames 1 s or more apart inside a window: "
                "the windows need over 2 s, and a training recording as long)"
            )
            return
        self.calibration = calibration
        self.log({"step": self.step, "calibration": calibration.to_dict()})
        c = calibration
        repetition, held = c.chosen
        self.say(
            f"sampling temperature {c.temperature:g}, hold penalty {c.hold_penalty:g}: "
            f"composed repetition {repetition:.3f} (training music {c.real_repetition:.3f}), "
            f"hold rate {held:.3f} ({c.real_hold_rate:.3f})"
        )

    def patience_spent(self) -> bool:
        patience = self.config.patience
        if patience is None or self.since_best < patience:
            return False
        self.say(f"held-out bits did not improve in {patience} validations: stopping")
        return True

    def _validate(self, result: ComposerResult) -> None:
        bits = self.validate()
        if bits is None:
            return
        result.validation_bits.append((self.step, bits))
        self.log({"step": self.step, "validation_bits": bits})
        self.say(f"step {self.step}: held-out {bits:.3f} bits/token")
        better = self.lowest is None or bits < self.lowest
        if better:
            self.lowest, self.since_best = bits, 0
        else:
            self.since_best += 1
        if better or not self.config.keep_best:
            weights = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
            self.best = (bits, weights)
            self.calibration = None  # it was for the previous weights


def train_composer(
    run_dir: Path,
    data_root: Path | None,
    config: ComposerConfig,
    resume: bool = False,
    quiet: bool = False,
) -> ComposerResult:
    """Train (or with ``resume`` continue) the composer of the WaveNet run ``run_dir`` on
    the tokens of the run's training split; held-out bits on its validation split. The
    run is locked meanwhile (``runs.run_lock``); a resume continues the stored config with
    ``config``'s budget (``steps``, ``minutes``) and refuses any other change."""
    run_dir = Path(run_dir)
    with runs.run_lock(run_dir):
        return _train_composer(run_dir, data_root, config, resume, quiet)


def _train_composer(
    run_dir: Path, data_root: Path | None, config: ComposerConfig, resume: bool, quiet: bool
) -> ComposerResult:
    wavenet, wave_config = ckpt.load_model(run_dir)
    require_local(wave_config, run_dir)
    ckpt.recover_interrupted(run_dir / COMPOSER)  # a crash may have hidden the newest
    config, previous = composer_config(run_dir, config, resume)
    if previous is not None:
        ckpt.set_aside_newer(run_dir / COMPOSER, previous.step)  # it saves those steps anew
    root = recorded_data_root(run_dir, data_root)
    if wave_config.data.features == "notes":
        corpus = note_corpus(run_dir, root, wave_config, config)
    else:
        corpus = token_corpus(run_dir, root, wavenet, wave_config, config)
    context = previous.context if previous is not None else new_context(corpus, config, wave_config)
    trainer = ComposerTrainer(
        run_dir, corpus, wave_config.model.global_labels, config, context, quiet
    )
    if previous is not None:
        trainer.restore(previous)
    result = baseline_result(run_dir, corpus, config)
    if previous is None:
        trainer.log(
            {"step": 0, **{k: v for k, v in result.to_dict().items() if "bits" in k or "db" in k}}
        )
    with threads.for_training(trainer.device, quiet) as trainer.cpu_threads:  # free CPUs only
        return trainer.run(result)


def composer_config(
    run_dir: Path, config: ComposerConfig, resume: bool
) -> tuple[ComposerConfig, ComposerCheckpoint | None]:
    """The composer's config (the checkpoint's with ``config``'s budget, on resume: any
    other difference is a one-line error naming it) and the checkpoint to resume."""
    previous = None
    if resume:
        previous = load_composer(run_dir)
        budget = ("steps", "minutes")
        what = f"the composer of {run_dir}"
        settings = runs.resumed_settings(what, asdict(previous.config), asdict(config), budget)
        config = ComposerConfig(**settings)
    elif composer_dirs(run_dir):
        raise UserError(f"{run_dir} already has a composer; pass --resume to continue it")
    Budget(config.steps, config.minutes).require()
    return config, previous


def new_context(corpus: TokenCorpus, config: ComposerConfig, wave_config: Config) -> int:
    """Tokens in ``context_seconds``: of fixed length for k-means tokens, at the training
    music's mean rate for note events."""
    if corpus.events_per_second is not None:
        return config.context_events(corpus.events_per_second)
    return config.context_tokens(wave_config.data.sample_rate, wave_config.model.hop_length)


def baseline_result(run_dir: Path, corpus: TokenCorpus, config: ComposerConfig) -> ComposerResult:
    """A result holding the round-trip error and the unigram/bigram held-out bits. With
    transpositions, each baseline is counted from the original music and from all of it,
    and the better held-out score is kept: the composer is measured against the stronger."""
    everything = [s.tokens for s in corpus.train]
    original = [s.tokens for s in corpus.train if s.transposition == 0]
    held = [s.tokens for s in corpus.validation] or original
    size = corpus.vocab
    trains = [original] if len(original) == len(everything) else [original, everything]
    bigram, beta = min(bigram_bits(train, held, size) for train in trains)
    unigram = min(unigram_bits(train, held, size) for train in trains)
    if corpus.codebook is None:
        per_token, rate = None, corpus.events_per_second
    else:
        per_token = config.frames_per_token
        rate = None if corpus.frames_per_second is None else corpus.frames_per_second / per_token
    return ComposerResult(run_dir, 0, per_token, corpus.round_trip_db, unigram, bigram, beta, rate)
