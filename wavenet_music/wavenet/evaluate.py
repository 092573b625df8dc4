"""Held-out likelihood: negative log-likelihood in bits per sample over every position.

Deterministic: each file is cut into consecutive windows whose targets tile the whole
file exactly once; the first samples see silence before the file, as in training. A
window holds at least a receptive field of targets, even for a run trained on fewer: each
window recomputes the receptive field before its targets, so windows of 16 targets did 65
times the work of their targets (a minute of music took about 25 minutes).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from ..audio.io import AudioReadError
from ..config import Config, EvaluateConfig, UserError
from ..runs import read_data_record
from ..runtime.device import model_device
from .data import Segment, prepare_corpus
from .discovery import composed, discover, label_positions, make_labeler, relative_name
from .model import WaveNet
from .windows import IGNORE, WindowSource, window_source

LN2 = math.log(2.0)  # nats per bit


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
    model: WaveNet,
    config: Config,
    data: Path,
    batch_size: int = 4,
    quiet: bool = False,
    label: str | None = None,
    say_damage: bool = True,
) -> Evaluation:
    """NLL of every sample of every audio file under ``data`` (a folder or one file).

    A labelled model scores each file under its label (found as in training), or under
    ``label`` for all files when given. With ``say_damage`` False, the NaN and clipping of
    a file decoded for the first time go unsaid: the caller reads the files scored again
    and says it (``evaluate --follow-seconds``; said twice before).
    """
    EvaluateConfig(batch_size=batch_size, label=label)  # checks them as the CLI does
    if label is not None:
        label_positions(config.model.global_labels, [label])  # one line if it is unknown
    elif config.model.global_labels and config.data.labels == "folders" and Path(data).is_file():
        raise UserError(
            f"{data}: one file, and the run has labels ({', '.join(config.model.global_labels)}) "
            "found from folders: pass --label NAME to score it under one"
        )
    spec = None if label is not None else config.data.labels
    if spec is not None and config.model.global_labels:
        check_own_labels(Path(data), config.model.global_labels, spec)
    data_config = replace(config.data, validation_fraction=0.0, labels=spec)
    corpus = prepare_corpus(
        data,
        data_config,
        config.model.quantization_channels,
        config.model.receptive_field,
        quiet=quiet,
        say_damage=say_damage,
    )
    segments = corpus.train if label is None else [replace(s, label=label) for s in corpus.train]
    model.eval()
    source = window_source(config, segments)
    per_file, total_nats, total = {}, 0.0, 0
    samples = sum(s.length for s in source.segments)
    with tqdm(
        total=samples, unit="sample", unit_scale=True, desc="evaluating", disable=quiet
    ) as bar:
        for segment in source.segments:
            nats = segment_nats(model, source, segment, batch_size, bar.update)
            per_file[segment.source] = nats / segment.length / LN2
            total_nats += nats
            total += segment.length
    return Evaluation(total_nats / total / LN2, total, len(per_file), per_file, corpus.skipped)


def check_own_labels(data: Path, known: tuple[str, ...], spec: str) -> None:
    """Files scored under their own labels (``spec``: folders or the run's CSV file): a
    one-line error naming ``--label`` where a file has a label the run does not know (it
    said "train a new run for new labels") or none has a label (a folder of held-out
    recordings loose or under other folder names: every file was skipped as unlabelled)."""
    labeler, names = make_labeler(data, spec), ", ".join(known)
    fix = f"pass --label NAME ({names}) to score every file under one"
    labels, unlabelled = {}, []
    for path in discover(data).files:
        rel = relative_name(path, data)
        try:
            labels.setdefault(composed(labeler(rel)), rel)
        except AudioReadError as exc:
            unlabelled.append(str(exc))
    if unknown := sorted(set(labels) - {composed(x) for x in known}):
        raise UserError(
            f"{data}: label {unknown[0]!r} ({labels[unknown[0]]}) is not one of the run's "
            f"({names}); {fix}, or {_relabel(spec)}"
        )
    if unlabelled and not labels:
        raise UserError(f"{data}: no file has a label (first: {unlabelled[0]}); {fix}")


def _relabel(spec: str) -> str:
    """How to give the files the run's labels themselves (``data.labels``: ``spec``)."""
    return "name its folders by them" if spec == "folders" else f"label its files in {spec}"


def trained_on(run_dir: Path, data: Path, scored: list[str]) -> list[str]:
    """The files among ``scored`` (relative to ``data``, as ``Evaluation.per_file`` names
    them) whose audio, or part of it, the run trained on (its ``data.json`` split); empty
    for a run that recorded no data folder."""
    try:
        record = read_data_record(run_dir)
        root = Path(record["root"])
        trained = {(root / row[0]).resolve() for row in record["train"]}
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return []
    data = Path(data)
    where = (lambda name: data.resolve()) if data.is_file() else (lambda n: (data / n).resolve())
    return [name for name in scored if where(name) in trained]


def window_targets(source: WindowSource) -> int:
    """Targets per evaluation window: the training windows' count, or the receptive field
    where that is more (so at least half of each window's work scores targets), cut to
    whole frames with local conditioning."""
    hop = source.features.hop if source.features is not None else 1
    size = max(source.sample_size, source.receptive_field)
    return max(hop, size - size % hop)  # windows stay on frames


def segment_nats(
    model: WaveNet,
    source: WindowSource,
    segment: Segment,
    batch_size: int,
    progress: Callable[[int], object] | None = None,
) -> float:
    """Summed NLL (nats) of every target of ``segment``: consecutive windows tiling it;
    ``progress`` hears how many of its samples each batch scored."""
    device = model_device(model)
    size = window_targets(source)
    starts = range(source.aligned(segment.start), segment.end, size)
    full = [s for s in starts if s + size <= segment.end]
    groups = [full[i : i + batch_size] for i in range(0, len(full), batch_size)]
    groups += [[s] for s in starts if s + size > segment.end]  # the last, shorter window
    nats = 0.0
    for group in groups:
        n = min(size, segment.end - group[0])
        windows = [source.window(segment, s, n) for s in group]
        inputs = torch.from_numpy(np.stack([w.inputs for w in windows])).to(device)  # (B, RF-1+n)
        targets = torch.from_numpy(np.stack([w.targets for w in windows])).to(device)  # (B, n)
        labels = frames = excitation = None
        if source.label_index:
            labels = torch.full((len(group),), source.label_index[segment.label], device=device)
        if source.features is not None:
            frames = torch.from_numpy(np.stack([w.frames for w in windows]).astype(np.float32))
            frames = frames.to(device)  # (B, F, K + 2)
        if source.excitation:
            excitation = torch.from_numpy(np.stack([w.excitation for w in windows])).to(device)
        logits = model(inputs, labels, frames, excitation)
        nats += F.cross_entropy(logits, targets, ignore_index=IGNORE, reduction="sum").item()
        if progress is not None:
            progress(int((targets != IGNORE).sum()))
    return nats


def loss_bits(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood in bits per sample over the non-ignored targets.

    logits (B, Q, S), targets (B, S)."""
    return F.cross_entropy(logits, targets, ignore_index=IGNORE) / LN2
