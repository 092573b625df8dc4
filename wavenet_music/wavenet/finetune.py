"""Fine-tuning: a new run that starts from another run's weights.

``train(DATA, NEW, config, init_from=SOURCE)`` (``wavenet-music train DATA --run NEW
--init-from SOURCE``) builds NEW's model as a fresh run would, then copies SOURCE's weights
into it:

- SOURCE is a run directory (its newest checkpoint that verifies) or one checkpoint folder
  ``RUN/checkpoints/step_NNNNNNNN``. It is only read: nothing under it is written.
- The architecture must be the same: every ``ModelConfig`` field but the labels, and
  ``data.sample_rate`` (the dilations count samples); with local conditioning also what a
  frame means (``model.hop_length``, the feature kind ``data.features``, ``data.n_fft``).
  A difference is one error naming the field, both values and what to do.
- Global-conditioning labels come from the new data, as in any run: a label SOURCE knows
  keeps its learned embedding rows, a new label keeps the fresh model's (initialised as a
  new model would be), a label only SOURCE knows is dropped. Labels on one side only is
  an error.
- Local-feature normalisation (mean and deviation per channel) is recomputed from the new
  data, as any run does: the upsampler then sees standardised features of the music it is
  fine-tuned on, and generation uses the same statistics (they are saved with the weights).
- Everything else starts afresh: Adam's moments, step 0, the warm-up and decay of the
  learning rate over the new budget, the data order.
- ``NEW/init_from.json`` records where the weights came from: ``{"init_from": SOURCE as
  given, "checkpoint": the folder read, "step": its step}``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import torch

from ..config import Config, ModelConfig, UserError
from ..runs import write_atomically
from . import checkpoint as ckpt
from .model import WaveNet

RECORD = "init_from.json"
# Buffers recomputed from the new data rather than copied (see the module docstring).
NORMALISATION = ("upsample.feature_mean", "upsample.feature_std")
LOCAL_FEATURES = ("model.hop_length", "data.features", "data.n_fft")  # what frames mean
ARCHITECTURE = (  # every other model setting but the labels, and the rate dilations count in
    *(
        name
        for name in (f"model.{f.name}" for f in dataclasses.fields(ModelConfig))
        if name not in ("model.global_labels", *LOCAL_FEATURES)
    ),
    "data.sample_rate",
)


def check_not_resuming(resume: bool) -> None:
    if resume:
        raise UserError(
            "--init-from starts a new run from another run's weights and --resume continues "
            "this run's own: pass one of them"
        )


def read_source(init_from: Path) -> ckpt.Checkpoint:
    """The weights and config of a run's newest readable checkpoint, or of one checkpoint
    folder (no optimizer state: fine-tuning starts a fresh one)."""
    path = source_path(init_from)
    if (path / "meta.json").is_file():
        return ckpt.load_dir(path, weights_only=True)
    return ckpt.load(path, weights_only=True)


def source_config(init_from: Path) -> Config:
    """The config of the checkpoint ``read_source`` reads, read quietly from its meta.json
    (the weights, and any warning about a damaged checkpoint, come once: at ``load_source``);
    where that cannot be read, ``read_source``'s one-line error."""
    path = source_path(init_from)
    try:
        if (path / "meta.json").is_file():
            return Config.from_dict(json.loads((path / "meta.json").read_text())["config"])
        stored = ckpt.stored_config(path)
    except (OSError, KeyError, TypeError, ValueError):
        stored = None
    return stored if stored is not None else read_source(path).config


def source_path(init_from: Path) -> Path:
    """``init_from`` checked: a run (its ``checkpoints/`` folder stands for it) or one of
    its checkpoint folders; anything else is a one-line error saying what it is."""
    path = Path(init_from)
    expected = "expected a run directory or a checkpoint folder (RUN/checkpoints/step_NNNNNNNN)"
    if path.is_file():
        raise UserError(f"--init-from {path}: a file; {expected}")
    if not path.is_dir():
        raise UserError(f"--init-from {path}: {expected}, got nothing there")
    if path.name == ckpt.CHECKPOINTS and not (path / "meta.json").is_file():
        path = path.parent  # RUN/checkpoints: its run
    if (path / "meta.json").is_file():
        if _is_composer(path):
            raise UserError(
                f"--init-from {path}: a composer checkpoint; fine-tuning starts a WaveNet "
                f"from a WaveNet's: {expected}"
            )
        return path
    if any(_is_composer(step) for step in ckpt.step_dirs(path)):
        raise UserError(
            f"--init-from {path}: a composer's checkpoints; fine-tuning starts a WaveNet "
            f"from a WaveNet's: name its run ({path.parent}) or one of the run's "
            f"{ckpt.CHECKPOINTS}/step_NNNNNNNN"
        )
    if not (path / ckpt.CHECKPOINTS).is_dir():
        raise UserError(
            f"--init-from {path}: not a trained run (no {ckpt.CHECKPOINTS}/ in it); {expected}"
        )
    return path


def _is_composer(step_dir: Path) -> bool:
    try:
        return "composer" in json.loads((step_dir / "meta.json").read_text())
    except (OSError, ValueError):
        return False  # read_source says what is wrong with it


def inherited_config(source: Config) -> Config:
    """The source's config without its training budget: the base of a fine-tuning run's
    config (the budget belongs to the new run: ``--steps`` or ``--minutes``)."""
    return dataclasses.replace(
        source, train=dataclasses.replace(source.train, steps=None, minutes=None)
    )


def load_source(init_from: Path, run_dir: Path, config: Config, resume: bool) -> ckpt.Checkpoint:
    """The checkpoint a new run at ``run_dir`` with ``config`` starts from, checked: not a
    resume, not the source's own directory, the same architecture, labels on both sides
    or on neither."""
    check_not_resuming(resume)
    source = read_source(init_from)
    source_run = Path(source.path).resolve()  # step_NNNNNNNN, or its run
    if source_run.parent.name == ckpt.CHECKPOINTS:
        source_run = source_run.parent.parent
    new = Path(run_dir).resolve()
    if new == source_run or source_run in new.parents:
        raise UserError(
            f"--run {run_dir} is inside the source run {source_run}, which is never "
            "written: choose a --run outside it"
        )
    check_compatible(source.config, config)
    return source


def check_compatible(source: Config, config: Config) -> None:
    """One error for the first setting that keeps ``source``'s weights from fitting a run
    with ``config``."""
    local = config.model.local_channels is not None
    fields = (*ARCHITECTURE, *(LOCAL_FEATURES if local else ()))
    for name in fields:
        had, wants = _setting(source, name), _setting(config, name)
        if had != wants:
            raise UserError(
                f"--init-from: {name} is {_show(had)} in the source but {_show(wants)} in "
                "the new run; fine-tuning needs the source's architecture: drop the setting "
                "that changes it (without --preset the source's config is the default) or "
                "train from scratch"
            )
    _check_labels(source, config)


def _check_labels(source: Config, config: Config) -> None:
    known = list(source.model.global_labels)
    if known and config.data.labels is None:
        raise UserError(
            f"--init-from: the source is conditioned on labels {known} but the new run has "
            "none (data.labels is null); train with --labels folders (or a CSV file)"
        )
    if not known and config.data.labels is not None:
        raise UserError(
            f"--init-from: the new run has labels (data.labels={config.data.labels}) but the "
            "source was trained without them; drop --labels (--labels null) or train from scratch"
        )


def _setting(config: Config, dotted: str):
    section, key = dotted.split(".")
    return getattr(getattr(config, section), key)


def _show(value) -> str:
    return json.dumps(list(value) if isinstance(value, tuple) else value)


def initial_weights(
    fresh: dict[str, torch.Tensor],
    source: dict[str, torch.Tensor],
    source_labels: tuple[str, ...],
    labels: tuple[str, ...],
) -> dict[str, torch.Tensor]:
    """A fine-tuning run's first weights: ``source``'s, except the normalisation buffers
    (``fresh``'s) and the label embeddings (``fresh``'s rows, with each label that
    ``source`` knows taking its row from ``source``)."""
    if set(fresh) != set(source):
        different = sorted(set(fresh) ^ set(source))[0]
        raise UserError(f"--init-from: the source's weights do not fit its config ({different})")
    rows = [(labels.index(x), source_labels.index(x)) for x in labels if x in source_labels]
    weights = {}
    for name, tensor in fresh.items():
        if name in NORMALISATION:
            weights[name] = tensor
        elif name.endswith("label_embedding.weight"):  # (labels, 2 * dilation_channels)
            weights[name] = tensor.clone()
            for new, old in rows:
                weights[name][new] = source[name][old]
        else:
            weights[name] = source[name]
    return weights


def start_from(model: WaveNet, source: ckpt.Checkpoint) -> None:
    """Copy ``source``'s weights into ``model``, a new run's freshly built model whose
    feature statistics are already set, in place (an optimizer built on it stays valid)."""
    fresh = model.state_dict()
    weights = initial_weights(
        fresh, source.model, source.config.model.global_labels, model.config.global_labels
    )
    model.load_state_dict(weights)


def record(run_dir: Path, init_from: Path, source: ckpt.Checkpoint) -> None:
    """``RUN/init_from.json``: where the new run's weights came from (written once, before
    the first step; a resume of the new run leaves it as it is)."""
    path = Path(run_dir) / RECORD
    where = {"init_from": Path(init_from).resolve(), "checkpoint": Path(str(source.path)).resolve()}
    facts = {**{k: str(v) for k, v in where.items()}, "step": source.step}  # from any folder
    write_atomically(path, json.dumps(facts, indent=1) + "\n")
