"""The composer's checkpoints, and the composer and sampling they hold.

Folders written atomically, as the WaveNet's (``wavenet/checkpoint.py``)::

    RUN/composer/step_NNNNNNNN/  model.safetensors (weights + codebook),
                                 state.safetensors (optimizer moments, RNG), meta.json

Inference (``compose``, the report) reads checkpoints here; only training writes them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ..config import UserError
from ..wavenet import checkpoint as ckpt
from .calibration import Calibration
from .config import ComposerConfig
from .data import COMPOSER
from .model import Composer
from .tokens import Codebook


@dataclass
class ComposerCheckpoint:
    """``model`` holds the weights of the best held-out validation so far (what ``compose``
    uses); the weights training goes on from are ``current.*`` in ``tensors``."""

    config: ComposerConfig
    step: int
    model: dict[str, torch.Tensor]
    codebook: Codebook
    labels: tuple[str, ...]
    context: int
    tensors: dict[str, torch.Tensor]  # optimizer moments, RNG
    meta: dict  # JSON-able training state
    path: Path | None = None


def composer_dirs(run_dir: Path) -> list[Path]:
    return ckpt.step_dirs(Path(run_dir) / COMPOSER)


def save_composer(run_dir: Path, c: ComposerCheckpoint, replace: bool = False) -> Path:
    """Written like the WaveNet's checkpoints (``checkpoint.write_step``; ``replace``: over
    a checkpoint of the same step); the codebook travels with the weights."""
    weights = dict(c.model)
    weights.update(
        {
            f"codebook.{n}": torch.from_numpy(np.ascontiguousarray(getattr(c.codebook, n)))
            for n in ("centroids", "mean", "std")
        }
    )
    header = {
        "composer": asdict(c.config),
        "labels": list(c.labels),
        "context": c.context,
        "state": c.meta,
    }
    folder = Path(run_dir) / COMPOSER
    keep = c.config.keep_checkpoints
    what = "composer checkpoint"
    return ckpt.write_step(folder, c.step, weights, c.tensors, header, keep, what, replace)


def load_composer(run_dir: Path, weights_only: bool = False) -> ComposerCheckpoint:
    """The newest composer checkpoint of a run that verifies (one a crash hid mid-save
    included: ``checkpoint.candidate_dirs``)."""
    candidates = ckpt.candidate_dirs(Path(run_dir) / COMPOSER)
    if not candidates:
        raise UserError(
            f"{run_dir} has no composer yet; train one: wavenet-music train-composer {run_dir}"
        )
    return ckpt.newest_readable(
        candidates, lambda path: _load_dir(path, weights_only), "composer checkpoint"
    )


def _load_dir(path: Path, weights_only: bool) -> ComposerCheckpoint:
    meta, weights, tensors = ckpt.read_step(path, weights_only, "composer checkpoint")
    try:
        config = ComposerConfig(**meta["composer"])
        book = {n: weights.pop(f"codebook.{n}").numpy() for n in ("centroids", "mean", "std")}
        labels, context = tuple(meta["labels"]), int(meta["context"])
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"composer checkpoint {path} is unreadable ({exc})") from None
    codebook = Codebook(book["centroids"], book["mean"], book["std"], config.frames_per_token)
    with torch.device("meta"):  # shapes only
        expected = Composer(config, codebook.size, len(labels), context).state_dict()
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
    model = Composer(c.config, c.codebook.size, len(c.labels), c.context)
    model.load_state_dict(c.model)
    return model.eval()
