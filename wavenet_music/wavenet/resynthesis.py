"""Re-synthesis (the vocoder use of local conditioning): audio → features → new audio.

A locally conditioned WaveNet re-renders recordings from their features alone: each
excerpt's features are computed exactly as in training (from its mu-law classes), and
all excerpts are sampled together as one batch, each under its own label if the run has
labels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..audio.features import feature_store
from ..audio.io import mu_law_decode, mu_law_encode
from ..config import Config, UserError
from ..runtime.device import model_device
from ..runtime.threads import for_generation
from .data import label_positions
from .generate import generate
from .model import WaveNet


def excerpt_features(excerpts: Sequence[np.ndarray], config: Config) -> torch.Tensor:
    """Features (N, F, K) of N equally long float excerpts (T,), K = ceil(T / hop)."""
    store = feature_store(config)
    if store is None:
        raise UserError("this run was trained without local conditioning: nothing to re-render")
    q = config.model.quantization_channels
    per_excerpt = [store.of_classes(mu_law_encode(np.asarray(e), q)) for e in excerpts]  # (K, F)
    return torch.from_numpy(np.stack(per_excerpt).transpose(0, 2, 1).copy())


def label_indices(config: Config, labels: Sequence[str] | None, count: int) -> torch.Tensor | None:
    """(count,) indices of ``labels`` in the run's label set; None for an unlabelled run."""
    known = config.model.global_labels
    if not known:
        return None
    if labels is None or len(labels) != count:
        raise UserError(f"this run is conditioned on labels ({', '.join(known)}): one per excerpt")
    return torch.tensor(label_positions(known, labels))


@torch.inference_mode()
def resynthesize(
    model: WaveNet,
    config: Config,
    excerpts: Sequence[np.ndarray],
    labels: Sequence[str] | None = None,
    seed: int = 0,
    temperature: float = 1.0,
) -> np.ndarray:
    """Re-render N excerpts of T samples each from their features; returns (N, T) float."""
    lengths = {len(e) for e in excerpts}
    if len(lengths) != 1:
        raise ValueError(f"excerpts must be equally long, got lengths {sorted(lengths)}")
    device = model_device(model)
    features = excerpt_features(excerpts, config).to(device)  # (N, F, K)
    generator = torch.Generator(device=device).manual_seed(seed)
    with for_generation(len(excerpts), device):  # torch's default: every core, even busy ones
        classes = generate(
            model,
            lengths.pop(),
            len(excerpts),
            temperature=temperature,
            generator=generator,
            labels=label_indices(config, labels, len(excerpts)),
            features=features,
        )  # (N, T)
    return mu_law_decode(classes.cpu().numpy(), config.model.quantization_channels)
