"""A listening report for a trained run: one folder, ``index.html`` and its files beside it.

For every label (genre folder) the page pairs each generated clip with a real excerpt of
the same length from the training data, both as an ``<audio>`` player and a log-mel
spectrogram, and compares them, an untrained model's clip and white noise in a table of
``audio_stats``. Then the learning curves, the held-out likelihood, the generation speed
and the config. Plain HTML and CSS with relative links: it opens from disk, offline.
"""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from .. import checkpoint as ckpt
from ..config import Config, GenerateConfig
from ..data import Segment, cached_classes
from ..evaluate import segment_nats
from ..generate import generate_audio
from ..model import WaveNet
from ..train import LN2, read_metrics, resolve_device, window_source
from .clips import (
    HeldOut,
    Speed,
    labeler,
    real_excerpts,
    run_label,
    run_labels,
    run_split,
    source_path,
)
from .figures import add_spectrograms
from .page import write_report

__all__ = [
    "HeldOut",
    "Speed",
    "add_spectrograms",
    "held_out_bits",
    "real_excerpts",
    "report_main",
    "run_label",
    "timed_generation",
    "write_report",
]

# --- from a run to a report ----------------------------------------------------------------


def report_main(
    run_dir: Path,
    data_root: Path | None,
    out_dir: Path,
    clips: int = 4,
    seconds: float = 4.0,
    seed: int = 0,
    evaluate_seconds: float = 60.0,
) -> Path:
    """Load the run, generate ``clips`` clips of ``seconds`` (timed) and one from an untrained
    model of the same config, measure the held-out likelihood on up to ``evaluate_seconds``
    of validation audio, write the page; return the path of ``index.html``."""
    run_dir = Path(run_dir)
    data_root = None if data_root is None else Path(data_root)
    model, config = ckpt.load_model(run_dir, resolve_device("auto"))
    which = "all" if config.model.global_labels else None  # every label, ``clips`` each
    options = GenerateConfig(seconds=seconds, num=clips, seed=seed, label=which)
    generated, speed = timed_generation(model, config, options)  # (labels · clips, T)
    with torch.random.fork_rng(devices=[]):  # seeded weights, the caller's RNG untouched
        torch.manual_seed(seed)
        fresh = WaveNet(config.model).to(next(model.parameters()).device).eval()
    baseline = generate_audio(
        fresh, config, GenerateConfig(seconds=seconds, seed=seed, label=which), progress=False
    )  # (labels, T)
    labels = run_labels(run_dir, data_root, config)
    return write_report(
        run_dir,
        data_root,
        out_dir,
        {name: generated[i * clips : (i + 1) * clips] for i, name in enumerate(labels)},
        untrained={name: baseline[i] for i, name in enumerate(labels)},
        speed=speed,
        held_out=held_out_bits(model, config, run_dir, data_root, evaluate_seconds),
        seed=seed,
    )


def timed_generation(
    model: WaveNet, config: Config, options: GenerateConfig
) -> tuple[np.ndarray, Speed]:
    """``generate_audio`` (num, T) and how fast it ran."""
    start = time.perf_counter()
    audio = generate_audio(model, config, options, progress=False)  # (num, T)
    wall = time.perf_counter() - start
    device = str(next(model.parameters()).device)
    return audio, Speed(audio.shape[0], audio.shape[1], wall, config.data.sample_rate, device)


def held_out_bits(
    model: WaveNet,
    config: Config,
    run_dir: Path,
    data_root: Path | None,
    max_seconds: float = 60.0,
) -> HeldOut | None:
    """NLL over the run's validation segments (the first ``max_seconds`` of each label),
    exactly the held-out samples; without the data, the last validation in metrics.jsonl."""
    segments = _validation_segments(run_dir, data_root, config, max_seconds)
    if segments:
        source = window_source(config, segments)
        nats: dict[str, float] = defaultdict(float)
        samples: dict[str, int] = defaultdict(int)
        with torch.no_grad():
            for segment in segments:
                nats[segment.label] += segment_nats(model, source, segment, batch_size=4)
                samples[segment.label] += segment.length
        bits = sum(nats.values()) / sum(samples.values()) / LN2
        per_label = {label: nats[label] / samples[label] / LN2 for label in sorted(nats)}
        files = len({s.source for s in segments})
        how = f"{sum(samples.values()):,} validation samples of {files} file(s)"
        return HeldOut(bits, how, per_label)
    logged = [m for m in read_metrics(run_dir) if "validation_bits" in m]
    if not logged:
        return None
    last = logged[-1]
    return HeldOut(last["validation_bits"], f"validation windows at step {last['step']:,}")


def _validation_segments(
    run_dir: Path, data_root: Path | None, config: Config, max_seconds: float
) -> list[Segment]:
    if data_root is None:
        return []
    budget: dict[str, int] = defaultdict(lambda: int(max_seconds * config.data.sample_rate))
    label_of_source = labeler(config, data_root)
    segments = []
    for source, start, end in run_split(run_dir)["validation"]:
        path, label = source_path(data_root, source), label_of_source(source)
        if budget[label] <= 0 or not path.is_file():
            continue
        cache = cached_classes(path, config.data, config.model.quantization_channels)
        end = min(end, start + budget[label])
        segments.append(Segment(source, label, cache, start, end))
        budget[label] -= end - start
    return segments
