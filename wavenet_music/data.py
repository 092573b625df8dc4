"""From a folder of recordings to training windows.

Files are found recursively, decoded once into a cache of mu-law classes (one ``.npy`` per
file, memory-mapped, so hours of audio train without sitting in RAM), split into training
and validation by file (by time for a folder holding a single file), and cut into windows
of ``receptive_field + sample_size`` samples. Samples before a file's start read as
silence, so the first samples of every file are trained too.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from .audio import AUDIO_EXTENSIONS, AudioReadError, load_audio, mu_law_encode, trim_silence
from .config import DataConfig, UserError

CACHE_VERSION = 1


@dataclass(frozen=True)
class Segment:
    """Target positions ``start .. end - 1`` of one cached file."""

    source: str  # path relative to the data root, for messages and the split record
    label: str  # first folder level under the data root ("" for files at the top)
    cache: Path  # the file's mu-law classes, (T,) uint8/uint16 .npy
    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class Corpus:
    train: tuple[Segment, ...]
    validation: tuple[Segment, ...]
    skipped: tuple[tuple[str, str], ...]  # (file, reason)

    def summary(self) -> dict:
        return {
            "train": [[s.source, s.start, s.end] for s in self.train],
            "validation": [[s.source, s.start, s.end] for s in self.validation],
            "skipped": [list(item) for item in self.skipped],
        }


# --- discovery and caching --------------------------------------------------------------


def find_audio_files(root: Path) -> list[Path]:
    """All audio files under ``root``, symlinked folders included, each folder once (no loops)."""
    root = Path(root)
    if not root.exists():
        raise UserError(f"data folder {root} does not exist; pass a folder of recordings")
    if root.is_file():
        return [root] if root.suffix.lower() in AUDIO_EXTENSIONS else []
    found, seen = [], {os.path.realpath(root)}
    for folder, dirs, files in os.walk(root, followlinks=True):
        real = [os.path.realpath(os.path.join(folder, d)) for d in dirs]
        dirs[:] = sorted(d for d, r in zip(dirs, real, strict=True) if r not in seen)
        seen.update(real)
        for name in sorted(files):
            path = Path(folder) / name
            if path.suffix.lower() in AUDIO_EXTENSIONS and path.is_file():
                found.append(path)
    return found


def cache_root(config: DataConfig) -> Path:
    if config.cache_dir is not None:
        return Path(config.cache_dir).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "wavenet-music"


def cached_classes(path: Path, config: DataConfig, quantization_channels: int) -> Path:
    """Decode ``path`` once into mu-law classes; return the ``.npy`` cache file.

    The cache key covers the file's identity (path, size, modification time) and every
    setting that changes the decoded classes, so an edited file is decoded again.
    """
    stat = path.stat()
    key = json.dumps(
        [
            CACHE_VERSION,
            str(path.resolve()),
            stat.st_size,
            stat.st_mtime_ns,
            config.sample_rate,
            config.silence_threshold,
            quantization_channels,
        ]
    )
    digest = hashlib.sha1(key.encode()).hexdigest()[:20]
    target = cache_root(config) / f"{path.stem[:40]}-{digest}.npy"
    if target.exists():
        return target
    audio = load_audio(path, config.sample_rate)
    if config.silence_threshold is not None:
        audio = trim_silence(audio, config.silence_threshold)
    dtype = np.uint8 if quantization_channels <= 256 else np.uint16
    classes = mu_law_encode(audio, quantization_channels).astype(dtype)
    _atomic_save(target, classes)
    return target


def _atomic_save(target: Path, array: np.ndarray) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as handle:
            np.save(handle, array)
        os.replace(tmp, target)
    except OSError as exc:
        raise UserError(
            f"cannot write the audio cache {target.parent}: {exc.strerror}; "
            "set data.cache_dir to a writable folder"
        ) from None


def load_classes(cache: Path) -> np.ndarray:
    """The cached classes, memory-mapped (nothing is read until a window needs it)."""
    return np.load(cache, mmap_mode="r")


# --- the corpus and its split -------------------------------------------------------------


def prepare_corpus(
    root: Path,
    config: DataConfig,
    quantization_channels: int,
    min_samples: int,
    quiet: bool = False,
) -> Corpus:
    """Discover, decode (cached) and split the recordings under ``root``.

    Files that cannot be decoded or are shorter than ``min_samples`` (the receptive field)
    are skipped, listed and counted; a corpus with nothing usable is an error.
    """
    root = Path(root)
    paths = find_audio_files(root)
    if not paths:
        raise UserError(f"no audio files ({', '.join(AUDIO_EXTENSIONS)}) found under {root}")
    usable: list[tuple[Path, Path, int]] = []
    skipped: list[tuple[str, str]] = []
    for path in tqdm(paths, desc="decoding", unit="file", disable=quiet or len(paths) < 4):
        try:
            cache = cached_classes(path, config, quantization_channels)
        except (AudioReadError, OSError) as exc:
            skipped.append((_relative(path, root), _reason(exc)))
            continue
        n = len(load_classes(cache))
        if n < min_samples:
            skipped.append(
                (
                    _relative(path, root),
                    f"{n} samples, shorter than the receptive field ({min_samples})",
                )
            )
            continue
        usable.append((path, cache, n))
    _report_skipped(skipped, len(paths), quiet)
    if not usable:
        raise UserError(
            f"none of the {len(paths)} audio files under {root} is usable "
            f"(first problem: {skipped[0][0]}: {skipped[0][1]})"
        )
    train, validation = split(usable, root, config.validation_fraction)
    return Corpus(tuple(train), tuple(validation), tuple(skipped))


def split(
    files: Sequence[tuple[Path, Path, int]], root: Path, fraction: float
) -> tuple[list[Segment], list[Segment]]:
    """Deterministic train/validation split, folder by folder (so every label is validated):
    whole files where a folder has several (chosen by a hash of their path), the last
    ``fraction`` of the time where it has one."""
    groups: dict[str, list[Segment]] = {}
    for path, cache, n in files:
        rel = _relative(path, root)
        segment = Segment(rel, label_of(rel), cache, 0, n)
        groups.setdefault(segment.label, []).append(segment)
    train: list[Segment] = []
    validation: list[Segment] = []
    for label in sorted(groups):
        t, v = _split_group(groups[label], fraction)
        train += t
        validation += v
    return train, validation


def _split_group(segments: list[Segment], fraction: float) -> tuple[list[Segment], list[Segment]]:
    if fraction == 0:
        return segments, []
    if len(segments) == 1:
        s = segments[0]
        cut = s.end - max(1, round(s.length * fraction))
        return [Segment(s.source, s.label, s.cache, 0, cut)], [
            Segment(s.source, s.label, s.cache, cut, s.end)
        ]
    ranked = sorted(segments, key=lambda s: hashlib.sha1(s.source.encode()).hexdigest())
    n_val = min(len(ranked) - 1, max(1, round(len(ranked) * fraction)))
    validation = sorted(ranked[:n_val], key=lambda s: s.source)
    return sorted(ranked[n_val:], key=lambda s: s.source), validation


def label_of(relative: str) -> str:
    """``piano/bach/x.ogg`` → ``piano``; a file at the top of the data folder → ``""``."""
    parts = Path(relative).parts
    return parts[0] if len(parts) > 1 else ""


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix() if root.is_dir() else path.name
    except ValueError:
        return str(path)


def _reason(exc: BaseException) -> str:
    text = str(exc)
    return text.split(": ", 1)[1] if ": " in text else (text or type(exc).__name__)


def _report_skipped(skipped: list[tuple[str, str]], total: int, quiet: bool) -> None:
    if quiet or not skipped:
        return
    for name, reason in skipped:
        print(f"skipped {name}: {reason}", file=sys.stderr)
    print(f"skipped {len(skipped)} of {total} audio files", file=sys.stderr)


# --- windows ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Batch:
    inputs: torch.Tensor  # (B, receptive_field - 1 + S) classes
    targets: torch.Tensor  # (B, S) classes; IGNORE where no real sample is to be predicted


IGNORE = -1


def read_window(classes: np.ndarray, start: int, length: int, silence: int) -> np.ndarray:
    """``classes[start : start + length]`` with silence where the range leaves the file."""
    out = np.full(length, silence, dtype=np.int64)
    lo, hi = max(start, 0), min(start + length, len(classes))
    if hi > lo:
        out[lo - start : hi - start] = classes[lo:hi]
    return out


class WindowSource:
    """Cuts training windows from segments; owns the memory maps."""

    def __init__(
        self, segments: Iterable[Segment], receptive_field: int, sample_size: int, silence: int
    ) -> None:
        self.segments = tuple(segments)
        if not self.segments:
            raise UserError("no audio to cut windows from")
        self.receptive_field = receptive_field
        self.sample_size = sample_size
        self.silence = silence
        self._arrays: dict[Path, np.ndarray] = {}

    def classes(self, segment: Segment) -> np.ndarray:
        if segment.cache not in self._arrays:
            self._arrays[segment.cache] = load_classes(segment.cache)
        return self._arrays[segment.cache]

    def window(
        self, segment: Segment, target_start: int, targets: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Input (RF - 1 + n,) and targets (n,) predicting ``target_start ..`` of ``segment``."""
        n = self.sample_size if targets is None else targets
        rf = self.receptive_field
        window = read_window(self.classes(segment), target_start - rf, rf + n, self.silence)
        target = window[rf:].copy()
        target[np.arange(target_start, target_start + n) >= segment.end] = IGNORE
        return window[:-1], target

    def batch(self, picks: Sequence[tuple[int, int]]) -> Batch:
        """Windows for ``(segment index, target start)`` pairs, stacked."""
        pairs = [self.window(self.segments[i], start) for i, start in picks]
        return Batch(
            torch.from_numpy(np.stack([p[0] for p in pairs])),
            torch.from_numpy(np.stack([p[1] for p in pairs])),
        )


class WindowSampler:
    """Random training windows: a segment chosen in proportion to its length, then a target
    start uniform over the segment. Its random state is saved in checkpoints."""

    def __init__(self, source: WindowSource, seed: int) -> None:
        self.source = source
        lengths = np.array([s.length for s in source.segments], dtype=np.float64)
        self.weights = lengths / lengths.sum()
        self.rng = np.random.default_rng(seed)

    def next_batch(self, batch_size: int) -> Batch:
        picks = []
        for index in self.rng.choice(len(self.weights), size=batch_size, p=self.weights):
            segment = self.source.segments[index]
            last = max(segment.start, segment.end - self.source.sample_size)
            picks.append((int(index), int(self.rng.integers(segment.start, last + 1))))
        return self.source.batch(picks)

    def state(self) -> dict:
        return self.rng.bit_generator.state

    def set_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state


def validation_picks(
    segments: Sequence[Segment], count: int, sample_size: int
) -> list[tuple[int, int]]:
    """``count`` windows spread evenly over all validation positions (deterministic)."""
    total = sum(s.length for s in segments)
    picks = []
    for k in range(count):
        position = int((k + 0.5) * total / count)
        for index, segment in enumerate(segments):
            if position < segment.length:
                start = min(segment.start + position, max(segment.start, segment.end - sample_size))
                picks.append((index, start))
                break
            position -= segment.length
    return sorted(set(picks))
