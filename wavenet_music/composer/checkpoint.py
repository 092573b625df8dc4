"""The composer's checkpoints, and the composer and sampling they hold.

Folders written atomically, as the WaveNet's (``wavenet/checkpoint.py``)::

    RUN/composer/step_NNNNNNNN/  model.safetensors (weights + codebook),
                                 state.safetensors (optimizer moments, RNG), meta.json

A composer of note events has no codebook; its meta.json says ``"tokens": "events"`` and
the vocabulary's size. Inference (``compose``, the report) reads checkpoints here; only
training writes them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ..config import UserError
from ..notes.events import VOCAB_SIZE as EVENTS
from ..wavenet import checkpoint as ckpt
from .calibration import Calibration
from .config import ComposerConfig
from .data import COMPOSER
from .model import Composer
from .tokens import Codebook


@dataclass
class ComposerCheckpoint:
    """``model`` holds the weights of the best held-out validation so far (what ``compose``
    uses); the weights training goes on from are ``current.*`` in ``tensors``.
    ``codebook`` None: the composer writes note events."""

    config: ComposerConfig
    step: int
    model: dict[str, torch.Tensor]
    codebook: Codebook | None
    labels: tuple[str, ...]
    context: int
    tensors: dict[str, torch.Tensor]  # optimizer moments, RNG
    meta: dict  # JSON-able training state
    path: Path | None = None

    @property
    def vocab(self) -> int:
        return EVENTS if self.codebook is None else self.codebook.size


def composer_dirs(run_dir: Path) -> list[Path]:
    return ckpt.step_dirs(Path(run_dir) / COMPOSER)


def save_composer(run_dir: Path, c: ComposerCheckpoint, replace: bool = False) -> Path:
    """Written like the WaveNet's checkpoints (``checkpoint.write_step``; ``replace``: over
    a checkpoint of the same step); the codebook travels with the weights."""
    weights = dict(c.model)
    header = {
        "composer": asdict(c.config),
        "labels": list(c.labels),
        "context": c.context,
        "state": c.meta,
    }
    if c.codebook is None:
        header.update(tokens="events", vocab=EVENTS)
    else:
        weights.update(
            {
                f"codebook.{n}": torch.from_numpy(np.ascontiguousarray(getattr(c.codebook, n)))
                for n in ("centroids", "mean", "std")
            }
        )
    folder = Path(run_dir) / COMPOSER
    keep = c.config.keep_checkpoints
    what = "composer checkpoint"
    return ckpt.write_step(folder, c.step, weights, c.tensors, header, keep, what, replace)


def load_composer(run_dir: Path, weights_only: bool = False) -> ComposerCheckpoint:
    """The newest composer checkpoint of a run that verifies (one a crash hid mid-save
    included: ``checkpoint.candidate_dirs``). ``run_dir`` may name one of the run's WaveNet
    checkpoints (``RUN/checkpoints/step_NNNNNNNN``, as ``load_model`` takes it): the run's
    composer then (it was advised to train a composer into the checkpoint's folder)."""
    run_dir = Path(run_dir)
    if (run_dir / "meta.json").is_file() and run_dir.parent.name == ckpt.CHECKPOINTS:
        run_dir = run_dir.parent.parent
    candidates = ckpt.candidate_dirs(run_dir / COMPOSER)
    if not candidates:
        raise UserError(
            f"{run_dir} has no composer yet; train one: wavenet-music train-composer {run_dir}"
        )
    return ckpt.newest_readable(
        candidates, lambda path: _load_dir(path, weights_only), "composer checkpoint", weights_only
    )


def _load_dir(path: Path, weights_only: bool) -> ComposerCheckpoint:
    meta, weights, tensors = ckpt.read_step(path, weights_only, "composer checkpoint")
    try:
        config = ComposerConfig(**meta["composer"])
        codebook = _codebook(meta, weights, config, path)
        labels, context = tuple(meta["labels"]), int(meta["context"])
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"composer checkpoint {path} is unreadable ({exc})") from None
    vocab = EVENTS if codebook is None else codebook.size
    with torch.device("meta"):  # shapes only
        expected = Composer(config, vocab, len(labels), context).state_dict()
    ckpt.require_fit(path, expected, weights, "composer checkpoint")
    return ComposerCheckpoint(
        config,
        int(meta["step"]),
        weights,
        codebook,
        labels,
        context,
        tensors,
        meta.get("state", {}),
        path,
    )


def _codebook(
    meta: dict, weights: dict[str, torch.Tensor], config: ComposerConfig, path: Path
) -> Codebook | None:
    """The checkpoint's codebook (taken out of ``weights``), or None for note events."""
    if meta.get("tokens") == "events":
        if meta.get("vocab") != EVENTS:
            raise UserError(
                f"composer checkpoint {path} writes {meta.get('vocab')} event tokens, this "
                f"version {EVENTS}; train the composer again"
            )
        return None
    book = {n: weights.pop(f"codebook.{n}").numpy() for n in ("centroids", "mean", "std")}
    return Codebook(book["centroids"], book["mean"], book["std"], config.frames_per_token)


def stored_composer_config(run_dir: Path) -> ComposerConfig | None:
    """The config of the run's newest composer checkpoint whose metadata verifies (read
    quietly, without the weights; None without one): the base of a resume's settings."""
    meta = ckpt.newest_meta(Path(run_dir) / COMPOSER)
    try:
        return None if meta is None else ComposerConfig(**meta["composer"])
    except (KeyError, TypeError, ValueError):
        return None


def saved_calibration(c: ComposerCheckpoint) -> Calibration | None:
    """The sampling temperature calibrated for the checkpoint's weights, if any."""
    saved = c.meta.get("calibration")
    return None if saved is None else Calibration.from_dict(saved)


def calibrated_sampling(
    c: ComposerCheckpoint, temperature: float | None, hold_penalty: float | None
) -> tuple[float, float]:
    """(temperature, hold penalty): each as asked, else as calibrated, else 1 and 0."""
    calibration = saved_calibration(c)
    calibrated = (
        (1.0, 0.0) if calibration is None else (calibration.temperature, calibration.hold_penalty)
    )
    return (
        calibrated[0] if temperature is None else temperature,
        calibrated[1] if hold_penalty is None else hold_penalty,
    )


def build_composer(c: ComposerCheckpoint) -> Composer:
    model = Composer(c.config, c.vocab, len(c.labels), c.context)
    model.load_state_dict(c.model)
    return model.eval()
