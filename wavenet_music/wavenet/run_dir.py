"""A run directory, and the config a training starts or resumes with in it.

A run directory holds everything about a run::

    RUN/config.yaml        the full config (the checkpoint holds it too)
    RUN/data.json          the train/validation split and the skipped files
    RUN/metrics.jsonl      one JSON line per logged step / validation
    RUN/checkpoints/       step_NNNNNNNN folders (see checkpoint.py)
    RUN/tensorboard/       TensorBoard event files
    RUN/init_from.json     where a fine-tuned run's first weights came from (finetune.py)
    RUN/composer/          the composer, when one is trained (composer/train.py)
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from .. import runs
from ..config import Config, UserError, dump_yaml
from ..runtime.training import Budget
from . import checkpoint as ckpt
from . import distributed
from .data import Corpus, prepare_corpus
from .distributed import Distributed


def run_config(
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
    Budget(config.train.steps, config.train.minutes).require()
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


def process_corpus(data_root: Path, config: Config, quiet: bool, dist: Distributed) -> Corpus:
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


def prepare_run_dir(run_dir: Path, data_root: Path, config: Config, corpus: Corpus) -> None:
    """``config.yaml`` and ``data.json`` (the split, and the data folder a resume must use)."""
    data = {"root": str(Path(data_root).resolve()), **corpus.summary()}
    runs.write_atomically(run_dir / "config.yaml", dump_yaml(config))
    runs.write_atomically(run_dir / "data.json", json.dumps(data, indent=1))
