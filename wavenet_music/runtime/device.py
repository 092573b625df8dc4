"""Where a job runs: the device a setting names, and the device a model is on."""

from __future__ import annotations

import torch

from ..config.checks import UserError


def resolve_device(name: str) -> torch.device:
    """The device ``name`` (auto, cpu, cuda, cuda:N) means here; a one-line error for one
    this machine does not have."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"train.device={name} but CUDA is not available; use cpu or auto")
    try:
        return torch.device(name)
    except RuntimeError:
        raise UserError(f"train.device: expected auto, cpu, cuda or cuda:N, got {name!r}") from None


def model_device(model: torch.nn.Module) -> torch.device:
    """The device of ``model``'s parameters."""
    return next(model.parameters()).device
