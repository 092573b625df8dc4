"""Held-out likelihood: negative log-likelihood in bits per sample over every position.

Deterministic: each file is cut into consecutive windows whose targets tile the whole
file exactly once; the first samples see silence before the file, as in training.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .config import Config
from .data import Segment, WindowSource, prepare_corpus
from .model import WaveNet
from .train import LN2


@dataclass(frozen=True)
class Evaluation:
    bits_per_sample: float
    samples: int
    files: int
    per_file: dict[str, float]  # bits per sample of each file
    skipped: tuple[tuple[str, str], ...]

    def to_dict(self) -> dict:
        return {
            "bits_per_sample": self.bits_per_sample,
            "samples": self.samples,
            "files": self.files,
            "per_file": self.per_file,
            "skipped": [list(s) for s in self.skipped],
        }


@torch.no_grad()
def evaluate(
    model: WaveNet, config: Config, data: Path, batch_size: int = 4, quiet: bool = False
) -> Evaluation:
    """NLL of every sample of every audio file under ``data`` (a folder or one file)."""
    data_config = replace(config.data, validation_fraction=0.0)
    corpus = prepare_corpus(
        data,
        data_config,
        config.model.quantization_channels,
        config.model.receptive_field,
        quiet=quiet,
    )
    model.eval()
    source = WindowSource(
        corpus.train,
        config.model.receptive_field,
        config.data.sample_size,
        config.model.quantization_channels // 2,
    )
    per_file, total_nats, total = {}, 0.0, 0
    for segment in source.segments:
        nats = segment_nats(model, source, segment, batch_size)
        per_file[segment.source] = nats / segment.length / LN2
        total_nats += nats
        total += segment.length
    return Evaluation(total_nats / total / LN2, total, len(per_file), per_file, corpus.skipped)


def segment_nats(model: WaveNet, source: WindowSource, segment: Segment, batch_size: int) -> float:
    """Summed NLL (nats) of every target of ``segment``: consecutive windows tiling it."""
    device = next(model.parameters()).device
    size = source.sample_size
    starts = range(segment.start, segment.end, size)
    full = [s for s in starts if s + size <= segment.end]
    groups = [full[i : i + batch_size] for i in range(0, len(full), batch_size)]
    groups += [[s] for s in starts if s + size > segment.end]  # the last, shorter window
    nats = 0.0
    for group in groups:
        n = min(size, segment.end - group[0])
        pairs = [source.window(segment, s, n) for s in group]
        inputs = torch.from_numpy(np.stack([p[0] for p in pairs])).to(device)  # (B, RF-1+n)
        targets = torch.from_numpy(np.stack([p[1] for p in pairs])).to(device)  # (B, n)
        nats += F.cross_entropy(model(inputs), targets, reduction="sum").item()
    return nats
