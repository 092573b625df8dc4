"""Re-synthesis (the vocoder use of local conditioning): audio → features → new audio.

A locally conditioned WaveNet re-renders recordings from their features alone: each
excerpt's features are computed exactly as in training (from its mu-law classes), and
all excerpts are sampled together as one batch, each under its own label if the run has
labels. A run trained on notes plays each excerpt's transcription (its notes heard and
seen, as in training on recordings without a score).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..audio.io import mu_law_decode, mu_law_encode
from ..config import MAX_JUMP, Config, UserError
from ..notes.score import transcribe_audio
from ..runtime.device import model_device
from ..runtime.threads import for_generation
from .discovery import label_positions
from .follow import render_notes
from .generate import generate
from .model import WaveNet
from .windows import feature_store


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
    if config.data.features == "notes" and config.model.local_channels is not None:
        return _replayed_notes(model, config, excerpts, labels, seed, temperature)
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
            max_jump=MAX_JUMP,
        )  # (N, T)
    return mu_law_decode(classes.cpu().numpy(), config.model.quantization_channels)


def _replayed_notes(
    model: WaveNet,
    config: Config,
    excerpts: Sequence[np.ndarray],
    labels: Sequence[str] | None,
    seed: int,
    temperature: float,
) -> np.ndarray:
    """A notes run re-renders excerpts from their transcriptions: (N, T) float."""
    rate = config.data.sample_rate
    pieces = [transcribe_audio(np.asarray(e), rate) for e in excerpts]
    seconds = len(excerpts[0]) / rate
    with for_generation(len(excerpts), model_device(model)):
        indices = label_indices(config, labels, len(excerpts))
        return render_notes(model, config, pieces, seconds, indices, seed, temperature)
