"""From a folder of recordings to training windows.

Files are found recursively, decoded once into a cache of mu-law classes (one ``.npy`` per
file, memory-mapped, so hours of audio train without sitting in RAM), split into training
and validation by file (by time for a folder holding a single file), and cut into windows
of ``receptive_field + sample_size`` samples. Samples before a file's start read as
silence, so the first samples of every file are trained too.
"""

from __future__ import annotations

import csv
import dataclasses
import errno
import hashlib
import json
import os
import sys
import unicodedata
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from tqdm import tqdm

from ..audio.features import FeatureStore
from ..audio.features import feature_store as audio_feature_store
from ..audio.io import (
    AUDIO_EXTENSIONS,
    UNDECODED_EXTENSIONS,
    AudioReadError,
    mu_law_decode,
    mu_law_encode,
    padded_slice,
    silence_class,
    write_training_classes,
)
from ..config import Config, DataConfig, UserError, read_user_text
from ..notes.excitation import RecordingPhases
from ..notes.features import NoteStore, recording_notes
from ..runs import read_data_record

CACHE_VERSION = 1
UNMATCHED_SHOWN = 10  # label-manifest rows without their file, named one by one


@dataclass(frozen=True)
class Segment:
    """Target positions ``start .. end - 1`` of one cached file."""

    source: str  # path relative to the data root, for messages and the split record
    label: str  # first folder level under the data root ("" for files at the top)
    cache: Path  # the file's mu-law classes, (T,) uint8/uint16 .npy
    start: int
    end: int
    notes: Path | None = None  # with data.features=notes: its notes (notes.features)

    @property
    def length(self) -> int:
        return self.end - self.start

    @property
    def feature_source(self) -> Path:
        """What its local-conditioning features are computed from: its notes, else its
        audio."""
        return self.cache if self.notes is None else self.notes


@dataclass(frozen=True)
class Corpus:
    train: tuple[Segment, ...]
    validation: tuple[Segment, ...]
    skipped: tuple[tuple[str, str], ...]  # (file, reason)

    def summary(self) -> dict:
        """What ``RUN/data.json`` records: the split, each file's label, the skipped files."""
        return {
            "train": [[s.source, s.start, s.end] for s in self.train],
            "validation": [[s.source, s.start, s.end] for s in self.validation],
            "labels": {s.source: s.label for s in self.train + self.validation},
            "skipped": [list(item) for item in self.skipped],
        }


def require_recorded_split(run_dir: Path, corpus: Corpus) -> None:
    """A resumed run trains on the split it recorded in ``RUN/data.json`` (files, labels,
    segments): a data folder that changed since is a one-line error saying how, so that no
    validation file is trained on. A run that recorded no split passes."""
    try:
        recorded = read_data_record(run_dir)
        changes = split_changes(recorded, corpus.summary())
    except (OSError, ValueError, TypeError, AttributeError):
        return
    if changes:
        raise UserError(
            f"{recorded.get('root') or 'the data folder'} changed since {run_dir} recorded "
            f"its split in data.json: {changes}; put the folder back as it was, or start a new "
            f"run from these weights with --init-from {run_dir}"
        )


def split_changes(recorded: dict, now: dict) -> str:
    """How the split ``now`` (``Corpus.summary``) differs from ``recorded``: ``""`` when it
    does not, else e.g. ``8 files added (x/f4.wav, x/f5.wav, x/f6.wav, ...), 1 changed
    (x/f3.wav)``. Labels are compared where ``recorded`` has them."""
    before, after = _split_rows(recorded), _split_rows(now)
    if "labels" not in recorded:
        after = {file: rows[:-1] for file, rows in after.items()}
        before = {file: rows[:-1] for file, rows in before.items()}
    kinds = (
        ("added", sorted(after.keys() - before.keys())),
        ("removed", sorted(before.keys() - after.keys())),
        ("changed", sorted(f for f in before.keys() & after.keys() if before[f] != after[f])),
    )
    return ", ".join(f"{_count(files)} {kind} ({_first(files)})" for kind, files in kinds if files)


def _split_rows(record: dict) -> dict[str, tuple]:
    """``file -> (its (part, start, end) segments, its label)`` of a split record."""
    rows: dict[str, list] = {}
    for part in ("train", "validation"):
        for source, start, end in record[part]:
            rows.setdefault(source, []).append((part, int(start), int(end)))
    labels = record.get("labels", {})
    return {file: (*sorted(segments), labels.get(file)) for file, segments in rows.items()}


def _count(files: list[str]) -> str:
    return f"{len(files)} file{'s' if len(files) > 1 else ''}"


def _first(files: list[str], shown: int = 3) -> str:
    return ", ".join(files[:shown]) + (", ..." if len(files) > shown else "")


# --- discovery and caching --------------------------------------------------------------


class Discovery(NamedTuple):
    """What ``discover`` found under a data folder."""

    files: list[Path]  # the audio files to decode, each real file once
    skipped: list[tuple[str, str]]  # (file, reason): repeats of a file and broken links
    undecoded: dict[str, int]  # extension -> files of audio this tool cannot decode


def find_audio_files(root: Path, exclude: Path | None = None) -> list[Path]:
    """All audio files under ``root``, symlinks followed, each real file once (``discover``)."""
    return discover(root, exclude).files


def discover(root: Path, exclude: Path | None = None) -> Discovery:
    """The audio files under ``root`` (a folder, or one file), in name order, symlinked
    folders and files followed. A file reached twice (through a symlinked folder or file)
    is kept once, under its real path where it has one, and the repeats are skipped; a
    link to a folder above it (a loop) is not followed; nothing under ``exclude`` (the
    run's own folder) is read."""
    root = Path(root)
    if not root.exists():
        raise UserError(f"data folder {root} does not exist; pass a folder of recordings")
    if root.is_file():
        return Discovery([root] if _is_audio(root) else [], [], _undecoded([root]))
    entries, aliases = _walk(root, exclude)
    audio = [path for path in entries if _is_audio(path)]
    broken = [(_relative(p, root), _link_problem(p)) for p in audio if not p.exists()]
    files, repeats = _unique_files([p for p in audio if p.is_file()], root)
    repeats += _alias_repeats(aliases, files, root)
    return Discovery(files, broken + repeats, _undecoded(entries))


def _walk(root: Path, exclude: Path | None) -> tuple[list[Path], list[tuple[Path, Path]]]:
    """Every file entry under ``root``, each folder walked once, and the symlinked folders
    not walked because they repeat one that is: ``(alias, the folder it repeats)``."""
    walked = {os.path.realpath(d): Path(d) for d, _, _ in os.walk(root)}  # the real folders
    skip = os.path.realpath(exclude) if exclude is not None else None
    entries, aliases = [], []
    for folder, dirs, names in os.walk(root, followlinks=True):
        here, kept = os.path.realpath(folder), []
        for name in sorted(dirs):
            path = Path(folder, name)
            real = os.path.realpath(path)
            if _within(real, skip) or _within(here, real):
                continue  # the run's folder, or a loop
            if path.is_symlink() and real in walked:
                aliases.append((path, walked[real]))
                continue
            walked.setdefault(real, path)
            kept.append(name)
        dirs[:] = kept
        entries += [Path(folder, name) for name in sorted(names)]
    return entries, aliases


def _within(path: str, folder: str | None) -> bool:
    return folder is not None and (path == folder or path.startswith(folder + os.sep))


def _unique_files(paths: list[Path], root: Path) -> tuple[list[Path], list[tuple[str, str]]]:
    """Each real file once, by preference not through a symlink; the repeats skipped."""
    first: dict[str, Path] = {}
    for path in sorted(paths, key=lambda p: p.is_symlink()):  # stable: name order kept
        first.setdefault(os.path.realpath(path), path)
    kept = [p for p in paths if first[os.path.realpath(p)] == p]
    repeats = [
        (_relative(p, root), f"same file as {_relative(first[os.path.realpath(p)], root)}")
        for p in paths
        if first[os.path.realpath(p)] != p
    ]
    return kept, repeats


def _alias_repeats(
    aliases: list[tuple[Path, Path]], files: list[Path], root: Path
) -> list[tuple[str, str]]:
    """The files a symlinked folder would have repeated, each as skipped."""
    return [
        (_relative(alias / path.relative_to(folder), root), f"same file as {_relative(path, root)}")
        for alias, folder in aliases
        for path in files
        if folder in path.parents
    ]


def _is_audio(path: Path) -> bool:
    return path.suffix.lower() in AUDIO_EXTENSIONS


def _undecoded(paths: list[Path]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for path in paths:
        if path.suffix.lower() in UNDECODED_EXTENSIONS:
            counts[path.suffix.lower()] = counts.get(path.suffix.lower(), 0) + 1
    return counts


def _link_problem(path: Path) -> str:
    try:
        path.stat()
    except OSError as exc:
        return "symlink loop" if exc.errno == errno.ELOOP else "broken link"
    return "not found"


def cache_root(config: DataConfig) -> Path:
    if config.cache_dir is not None:
        return Path(config.cache_dir).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "wavenet-music"


def cached_classes(path: Path, config: DataConfig, quantization_channels: int) -> Path:
    """Decode ``path`` once into mu-law classes; return the ``.npy`` cache file.

    The cache key covers the file's identity (path, size, modification time) and every
    setting that changes the decoded classes, so an edited file is decoded again; a
    damaged cache file is reported and decoded again (as ``runs.cached`` does). Decoding
    goes a block at a time, straight into the file (``write_training_classes``: memory
    stays flat however long the recording), and warns, one line each, of non-finite
    samples replaced and of clipping (``damage_notes``).
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
    dtype = np.uint8 if quantization_channels <= 256 else np.uint16

    def check(cache: Path) -> Path:
        classes = load_classes(cache)
        if classes.ndim != 1 or classes.dtype != dtype:
            raise ValueError(f"expected ({dtype.__name__},) classes, got {classes.dtype}")
        return cache

    if target.exists():  # runs.cached, for a file written in blocks
        try:
            return check(target)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            tqdm.write(
                f"warning: cache file {target} is damaged ({type(exc).__name__}: {exc}); "
                "building it again",
                file=sys.stderr,
            )
    notes = write_training_classes(
        path,
        target,
        config.sample_rate,
        quantization_channels,
        dtype,
        config.silence_threshold,
        hint="; set data.cache_dir to a writable folder",
    )
    for note in notes:  # said once: on the next run the cache holds the file
        tqdm.write(f"warning: {path}: {note}", file=sys.stderr)
    return check(target)


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
    exclude: Path | None = None,
) -> Corpus:
    """Discover (``discover``: nothing under ``exclude``), decode (cached), label and split
    the recordings under ``root``.

    Files that cannot be decoded, are shorter than ``min_samples`` (the receptive field),
    hold no sound, repeat another file or lack a label when labels are asked for are
    skipped and counted (named one by one unless ``quiet``); files of audio the tool cannot
    decode are counted. A corpus with nothing usable is an error. Unless ``quiet``, a split
    with a validation share (``data.validation_fraction`` > 0) is summed up in one line.
    """
    root = Path(root)
    found = discover(root, exclude)
    _report_undecoded(found.undecoded)
    if not found.files and not found.skipped:
        raise UserError(
            f"no audio files ({', '.join(AUDIO_EXTENSIONS)}) found under {root}"
            + _undecoded_hint(found.undecoded)
        )
    labeler = make_labeler(root, config.labels)
    _report_unmatched_rows(config.labels, [_relative(p, root) for p in found.files], root, quiet)
    usable, skipped = _decode_all(
        found.files, root, labeler, config, quantization_channels, min_samples, quiet
    )
    skipped = found.skipped + skipped
    total = len(found.files) + len(found.skipped)
    _report_skipped(skipped, total, quiet)
    if not usable:
        raise UserError(
            f"none of the {total} audio files under {root} is usable "
            f"(first problem: {skipped[0][0]}: {skipped[0][1]})"
        )
    train, validation = split(usable, config.validation_fraction)
    if not quiet and config.validation_fraction > 0:
        print(split_line(train, validation, config.sample_rate), file=sys.stderr)
    return Corpus(tuple(train), tuple(validation), tuple(skipped))


def _decode_all(
    paths: list[Path],
    root: Path,
    labeler,
    config: DataConfig,
    quantization_channels: int,
    min_samples: int,
    quiet: bool,
) -> tuple[list[Segment], list[tuple[str, str]]]:
    """The usable segments of ``paths``, and the files skipped with their reasons."""
    usable: list[Segment] = []
    skipped: list[tuple[str, str]] = []
    for path in tqdm(paths, desc="decoding", unit="file", disable=quiet or len(paths) < 4):
        rel = _relative(path, root)
        try:
            segment = whole_file(path, rel, labeler(rel), config, quantization_channels)
            usable.append(usable_segment(segment, config, quantization_channels, min_samples))
        except (AudioReadError, OSError) as exc:
            skipped.append((rel, _reason(exc)))
    return usable, skipped


def usable_segment(
    segment: Segment, config: DataConfig, quantization_channels: int, min_samples: int
) -> Segment:
    """``segment``, unless it is shorter than ``min_samples`` or silent throughout (an
    ``AudioReadError`` saying which)."""
    threshold = config.silence_threshold
    if segment.length == 0 and threshold is not None:
        raise AudioReadError(
            f"{segment.source}: data.silence_threshold={threshold} trimmed it to 0 samples "
            "(no part is that loud); lower it"
        )
    if segment.length < min_samples:
        trimmed = f" after data.silence_threshold={threshold}" if threshold is not None else ""
        raise AudioReadError(
            f"{segment.source}: {segment.length} samples{trimmed}, shorter than the receptive "
            f"field ({min_samples})"
        )
    if _is_silent(load_classes(segment.cache), silence_class(quantization_channels)):
        raise AudioReadError(f"{segment.source}: no sound (digital silence throughout)")
    return segment


def _is_silent(classes: np.ndarray, silence: int, block: int = 1 << 20) -> bool:
    """Every class is ``silence`` (read block by block: music stops at the first)."""
    return all(not np.any(classes[i : i + block] != silence) for i in range(0, len(classes), block))


def whole_file(
    path: Path, rel: str, label: str, config: DataConfig, quantization_channels: int
) -> Segment:
    """The segment of all of the recording ``path`` (``rel`` under the data folder), its
    classes cached and, with ``data.features`` notes, its notes."""
    cache = cached_classes(path, config, quantization_channels)
    samples = len(load_classes(cache))
    notes = None
    if config.features == "notes":
        try:
            notes = recording_notes(path, samples / config.sample_rate, cache_root(config))
        except UserError as exc:  # a bad score: skipped and counted like a bad recording
            raise AudioReadError(f"{rel}: {exc}") from None
    return Segment(rel, label, cache, 0, samples, notes)


def make_labeler(root: Path, spec: str | None):
    """``relative path -> label``: the first folder level (also when labels are off, for the
    per-folder split), or a CSV manifest of ``file,label`` rows. A file the labels do not
    cover raises ``AudioReadError`` (it is skipped and counted like an unreadable file)."""
    if spec is None:
        return label_of
    if spec == "folders":
        return _folder_label
    mapping = read_label_manifest(Path(spec), root)

    def from_manifest(rel: str) -> str:
        if rel not in mapping:
            raise AudioReadError(f"{rel}: no label in {spec}")
        return mapping[rel]

    return from_manifest


def _folder_label(rel: str) -> str:
    label = label_of(rel)
    if not label:
        raise AudioReadError(f"{rel}: not inside a label folder (data.labels=folders)")
    problem = label_problem(label)
    if problem:
        raise UserError(f"folder {label!r} {problem}: rename the folder (data.labels=folders)")
    return label


def label_problem(label: str) -> str:
    """Why ``label`` cannot name a label (``generate --label`` splits at commas, takes
    ``all`` for every label and names files after labels), or ``""``."""
    if label == "all":
        return "is 'all', which --label takes for every label"
    bad = sorted({c for c in label if c in ",/\\" or unicodedata.category(c) == "Cc"})
    if bad:
        return f"holds {', '.join(map(repr, bad))}, which --label or a file name cannot"
    return ""


def read_label_manifest(path: Path, root: Path) -> dict[str, str]:
    """CSV rows ``file,label`` (a header row ``file,label`` is allowed); files relative to
    the data folder. A file given two labels is an error; repeating a row is harmless."""
    return {file: label for file, (label, _) in read_label_rows(path).items()}


def read_label_rows(path: Path) -> dict[str, tuple[str, int]]:
    """``file -> (label, line number)`` of the manifest ``path`` (see read_label_manifest)."""
    text = read_user_text(path, "data.labels: label file").removeprefix("\ufeff")  # Excel's BOM
    rows = list(csv.reader(text.splitlines()))
    found: dict[str, tuple[str, int]] = {}
    for number, row in enumerate(rows, 1):
        if not row or row[0].strip().lower() == "file":
            continue
        if len(row) < 2 or not row[1].strip():
            raise UserError(f"{path}:{number}: expected file,label, got {','.join(row)!r}")
        file, label = Path(row[0].strip()).as_posix(), row[1].strip()
        if label_problem(label):
            raise UserError(f"{path}:{number}: the label {label!r} {label_problem(label)}")
        first, line = found.setdefault(file, (label, number))
        if first != label:
            raise UserError(
                f"{path}: lines {line} and {number} both label {file}, as {first!r} and "
                f"{label!r}; keep the row with the right label"
            )
    if not found:
        raise UserError(f"data.labels: {path} holds no file,label rows")
    return found


def _report_unmatched_rows(spec: str | None, found: Sequence[str], root: Path, quiet: bool) -> None:
    """Warn about manifest rows naming no audio file under ``root`` (a typo there would
    otherwise lose the label unnoticed; not an error: one manifest may cover more files
    than this folder, e.g. the held-out folder ``evaluate`` reads). With ``quiet``, only
    their count."""
    if spec in (None, "folders"):
        return
    names = set(found)
    rows = read_label_rows(Path(spec)).items()
    unmatched = [(line, file) for file, (_, line) in rows if file not in names]
    for line, file in [] if quiet else unmatched[:UNMATCHED_SHOWN]:
        print(
            f"warning: {spec}:{line}: {file} is not an audio file under {root}; "
            "its label is unused",
            file=sys.stderr,
        )
    if len(unmatched) > 1 or (quiet and unmatched):
        print(
            f"warning: {len(unmatched)} of {len(rows)} rows of {spec} name no audio file "
            f"under {root}",
            file=sys.stderr,
        )


def split(segments: Sequence[Segment], fraction: float) -> tuple[list[Segment], list[Segment]]:
    """Deterministic train/validation split, label by label (so every label is validated):
    whole files where a label has several (chosen by a hash of their path), the last
    ``fraction`` of the time where it has one."""
    groups: dict[str, list[Segment]] = {}
    for segment in segments:
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
        if cut <= s.start:
            raise UserError(
                f"data.validation_fraction={fraction} leaves no training audio in {s.source} "
                f"({s.length} samples, the only file of its folder); lower it"
            )
        return [dataclasses.replace(s, start=0, end=cut)], [dataclasses.replace(s, start=cut)]
    # fsencode: the name's bytes, also for a name that is not UTF-8 (a surrogate escape)
    ranked = sorted(segments, key=lambda s: hashlib.sha1(os.fsencode(s.source)).hexdigest())
    n_val = min(len(ranked) - 1, max(1, round(len(ranked) * fraction)))
    validation = sorted(ranked[:n_val], key=lambda s: s.source)
    return sorted(ranked[n_val:], key=lambda s: s.source), validation


def label_positions(known: Sequence[str], names: Sequence[str]) -> list[int]:
    """The index of each of ``names`` among a model's labels ``known``; a one-line error
    naming the first label the run does not know."""
    unknown = [name for name in names if name not in known]
    if unknown:
        listed = ", ".join(known) or "none (it was trained without labels)"
        raise UserError(f"unknown label {unknown[0]!r}; this run knows: {listed}")
    return [list(known).index(name) for name in names]


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
    """Each skipped file (unless ``quiet``), then their count (always: files left out of
    training are never silent)."""
    if not skipped:
        return
    for name, reason in [] if quiet else skipped:
        print(f"skipped {name}: {reason}", file=sys.stderr)
    first = f" (first: {skipped[0][0]}: {skipped[0][1]}; without --quiet each is named)"
    print(f"skipped {len(skipped)} of {total} audio files{first if quiet else ''}", file=sys.stderr)


def _report_undecoded(undecoded: dict[str, int]) -> None:
    if undecoded:
        print(f"ignored {_undecoded_files(undecoded)}", file=sys.stderr)


def _undecoded_hint(undecoded: dict[str, int]) -> str:
    return f"; it holds {_undecoded_files(undecoded)}" if undecoded else ""


def _undecoded_files(undecoded: dict[str, int]) -> str:
    """``10 files with unsupported extensions (.aac, .m4a): convert them to flac or wav``."""
    kinds = ", ".join(sorted(undecoded))
    return (
        f"{sum(undecoded.values())} files with unsupported extensions ({kinds}): "
        "convert them to flac or wav"
    )


def split_line(train: Sequence[Segment], validation: Sequence[Segment], rate: int) -> str:
    """``training on 9 files (4.5 min), validating on 1 (30 s)``."""

    def amount(segments: Sequence[Segment]) -> tuple[int, str]:
        seconds = sum(s.length for s in segments) / rate
        return len({s.source for s in segments}), _duration(seconds)

    (n_train, t_train), (n_val, t_val) = amount(train), amount(validation)
    files = "file" if n_train == 1 else "files"
    return f"training on {n_train} {files} ({t_train}), validating on {n_val} ({t_val})"


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min" if seconds < 3600 else f"{seconds / 3600:.1f} h"


# --- windows ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Batch:
    inputs: torch.Tensor  # (B, receptive_field - 1 + S) classes
    targets: torch.Tensor  # (B, S) classes; IGNORE where no real sample is to be predicted
    labels: torch.Tensor | None = None  # (B,) global-conditioning label indices
    frames: torch.Tensor | None = None  # (B, F, K + 2) local-conditioning frames
    excitation: torch.Tensor | None = None  # (B, E, receptive_field - 1 + S) heard notes


class Window(NamedTuple):
    """One window of ``WindowSource.window``."""

    inputs: np.ndarray  # (RF - 1 + n,) classes
    targets: np.ndarray  # (n,) classes, IGNORE outside the segment
    frames: np.ndarray | None  # (F, K + 2) local-conditioning frames
    excitation: np.ndarray | None  # (E, RF - 1 + n) what each input hears of the notes


IGNORE = -1
ConditioningStore = FeatureStore | NoteStore


class WindowSource:
    """Cuts training windows from segments; owns the memory maps.

    With ``labels`` (the model's global-conditioning labels), batches carry each window's
    label index; with ``features`` (local conditioning), its frames, and windows start on
    a frame boundary; with ``excitation`` (notes), what every input hears of the notes."""

    def __init__(
        self,
        segments: Iterable[Segment],
        receptive_field: int,
        sample_size: int,
        silence: int,
        labels: Sequence[str] = (),
        features: ConditioningStore | None = None,
        excitation: bool = False,
        quantization_channels: int = 256,
        excitation_phase: str = "onset",
    ) -> None:
        self.segments = tuple(segments)
        if not self.segments:
            raise UserError("no audio to cut windows from")
        self.label_index = {label: i for i, label in enumerate(labels)}
        unknown = {s.label for s in self.segments} - set(self.label_index) if labels else set()
        if unknown:
            raise UserError(
                f"labels {sorted(unknown)} are not among the model's labels "
                f"{list(labels)}; train a new run for new labels"
            )
        self.receptive_field = receptive_field
        self.sample_size = sample_size
        self.silence = silence
        self.features = features
        if excitation and not isinstance(features, NoteStore):
            raise UserError(
                "model.excitation: the excitation is made of notes; train with --features notes"
            )
        self.excitation = excitation
        self.excitation_phase = excitation_phase
        self.quantization_channels = quantization_channels
        self._arrays: dict[Path, np.ndarray] = {}
        self._phases: dict[Path, RecordingPhases] = {}

    def classes(self, segment: Segment) -> np.ndarray:
        if segment.cache not in self._arrays:
            self._arrays[segment.cache] = load_classes(segment.cache)
        return self._arrays[segment.cache]

    def window(self, segment: Segment, target_start: int, targets: int | None = None) -> Window:
        """The window whose ``n`` targets are samples ``target_start ..`` of ``segment``."""
        n = self.sample_size if targets is None else targets
        rf = self.receptive_field
        classes = self.classes(segment)
        window = padded_slice(classes, target_start - rf, rf + n, self.silence, np.int64)
        target = window[rf:].copy()
        positions = np.arange(target_start, target_start + n)
        target[(positions < segment.start) | (positions >= segment.end)] = IGNORE
        frames = excitation = None
        if self.features is not None:
            source = segment.feature_source
            frames = self.features.frames(source, target_start - rf, rf - 1 + n)
        if self.excitation:
            first_input, inputs = target_start - rf, rf - 1 + n
            recording = self.recording_phases(segment)
            excitation = self.features.excitation(segment.notes, first_input, inputs, recording)
        return Window(window[:-1], target, frames, excitation)

    def recording_phases(self, segment: Segment) -> RecordingPhases | None:
        """Unless ``excitation_phase`` is onset, the phases of ``segment``'s recording (its
        mu-law classes decoded; silence outside it) that the excitation takes; else None
        (phase 0 at each onset, as in generation)."""
        if self.excitation_phase == "onset":
            return None
        if segment.cache not in self._phases:
            classes, silence = self.classes(segment), self.silence

            def read(first: int, count: int) -> np.ndarray:  # (count,) samples from first
                window = padded_slice(classes, first, count, silence, np.int64)
                return mu_law_decode(window, self.quantization_channels)

            rate, way = self.features.sample_rate, self.excitation_phase
            self._phases[segment.cache] = RecordingPhases(read, rate, way)
        return self._phases[segment.cache]

    def aligned(self, target_start: int) -> int:
        """With local conditioning, the nearest earlier start whose input starts a frame."""
        if self.features is None:
            return target_start
        return target_start - (target_start - self.receptive_field) % self.features.hop

    def batch(
        self,
        picks: Sequence[tuple[int, int]],
        withheld: np.ndarray | None = None,
        noise: np.ndarray | None = None,
        relative: bool = False,
    ) -> Batch:
        """Windows for ``(segment index, target start)`` pairs, stacked. Where ``withheld``
        (bool per pick) is set, the frames are NaN (absent: see ``model.LocalUpsampler``)
        and the excitation silent; ``noise`` (B, RF - 1 + S) is added to the inputs'
        waveform (``noisy_inputs``; with ``relative``, scaled by each window's RMS)."""
        windows = [self.window(self.segments[i], self.aligned(start)) for i, start in picks]
        inputs = np.stack([w.inputs for w in windows])  # (B, RF - 1 + S)
        if noise is not None:
            inputs = noisy_inputs(inputs, noise, self.quantization_channels, relative)
        labels = frames = excitation = None
        if self.label_index:
            labels = torch.tensor([self.label_index[self.segments[i].label] for i, _ in picks])
        if self.features is not None:
            stacked = np.stack([w.frames for w in windows]).astype(np.float32)  # (B, F, K + 2)
            if withheld is not None:
                stacked[withheld] = np.nan
            frames = torch.from_numpy(stacked)
        if self.excitation:
            heard = np.stack([w.excitation for w in windows])  # (B, E, RF - 1 + S)
            if withheld is not None:
                heard[withheld] = 0.0
            excitation = torch.from_numpy(heard)
        targets = np.stack([w.targets for w in windows])  # (B, S)
        return Batch(
            torch.from_numpy(inputs), torch.from_numpy(targets), labels, frames, excitation
        )


def noisy_inputs(
    inputs: np.ndarray, noise: np.ndarray, quantization_channels: int, relative: bool = False
) -> np.ndarray:
    """Classes (B, T) whose waveform has ``noise`` (B, T) added (with ``relative``, times
    each row's RMS level), quantised again (clipped to [-1, 1]). Training on a corrupted
    history (targets clean) makes the model lean on its conditioning, which is never
    corrupted, instead of continuing its past alone."""
    wave = mu_law_decode(inputs, quantization_channels)  # (B, T)
    if relative:
        noise = noise * np.sqrt(np.mean(wave**2, axis=1, keepdims=True))  # (B, T)
    wave = wave + noise
    return mu_law_encode(np.clip(wave, -1.0, 1.0), quantization_channels).astype(inputs.dtype)


class WindowSampler:
    """Random training windows: a segment chosen in proportion to its length, then a target
    start uniform over the segment; with local conditioning, each window's features are
    withheld with probability ``withhold``; with ``input_noise``, each steered window's
    inputs get Gaussian noise of a standard deviation drawn from [0, input_noise] (of full
    scale, or with ``relative`` of the window's RMS level). Withheld windows stay clean:
    without features the model can only continue its past, so it learns that from a true
    past, as a plain WaveNet. Its random state is saved in checkpoints."""

    def __init__(
        self,
        source: WindowSource,
        seed: int,
        withhold: float = 0.0,
        input_noise: float = 0.0,
        relative: bool = False,
    ) -> None:
        self.source = source
        lengths = np.array([s.length for s in source.segments], dtype=np.float64)
        self.weights = lengths / lengths.sum()
        self.rng = np.random.default_rng(seed)
        self.withhold = withhold if source.features is not None else 0.0
        self.input_noise = input_noise
        self.relative = relative

    def next_batch(self, batch_size: int, rank: int = 0, world_size: int = 1) -> Batch:
        """The next ``batch_size`` windows, or with ``world_size`` processes the ``rank``-th
        consecutive share of them: every process draws all the picks (so their random
        states stay equal) and cuts only its own windows."""
        if batch_size % world_size or not 0 <= rank < world_size:
            raise ValueError(
                f"expected a batch divisible by world_size and 0 <= rank < world_size, "
                f"got batch {batch_size}, rank {rank}, world_size {world_size}"
            )
        picks = []
        for index in self.rng.choice(len(self.weights), size=batch_size, p=self.weights):
            segment = self.source.segments[index]
            last = max(segment.start, segment.end - self.source.sample_size)
            picks.append((int(index), int(self.rng.integers(segment.start, last + 1))))
        withheld = noise = None
        if self.withhold > 0:  # drawn only then: runs without it keep their data order
            withheld = self.rng.random(batch_size) < self.withhold
        if self.input_noise > 0:  # the same
            std = self.rng.uniform(0.0, self.input_noise, size=(batch_size, 1))  # (B, 1)
            length = self.source.receptive_field - 1 + self.source.sample_size
            noise = std * self.rng.standard_normal((batch_size, length))  # (B, RF - 1 + S)
            if withheld is not None:  # unsteered windows read a clean history: plain WaveNet
                noise[withheld] = 0.0
        mine = slice(rank * batch_size // world_size, (rank + 1) * batch_size // world_size)
        rows = (_rows(withheld, mine), _rows(noise, mine))
        return self.source.batch(picks[mine], *rows, self.relative)

    def state(self) -> dict:
        return self.rng.bit_generator.state

    def set_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state


def _rows(values: np.ndarray | None, rows: slice) -> np.ndarray | None:
    return None if values is None else values[rows]


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


def window_source(config: Config, segments, training: bool = False) -> WindowSource:
    """Windows of the model's receptive field + ``sample_size`` targets, with the model's
    conditioning (labels, local-conditioning frames, the notes' excitation). Only
    ``training`` windows hear the excitation in the recording's phase
    (``train.excitation_phase``); validation and evaluation hear what generation hears."""
    return WindowSource(
        segments,
        config.model.receptive_field,
        config.data.sample_size,
        silence_class(config.model.quantization_channels),
        config.model.global_labels,
        feature_store(config),
        config.model.excitation,
        config.model.quantization_channels,
        config.train.excitation_phase if training else "onset",
    )


def feature_store(config: Config) -> ConditioningStore | None:
    """The run's local-conditioning features (audio features, or notes), or None without
    local conditioning; a one-line error for settings that do not fit together."""
    m, d = config.model, config.data
    if m.excitation and (d.features != "notes" or m.local_channels is None):
        raise UserError(
            "model.excitation: the excitation is made of notes; train with --features notes "
            "(and --local-channels 176), or --preset notes"
        )
    if m.local_channels is None:
        return None
    if d.features != "notes":
        return audio_feature_store(config)
    if d.silence_threshold is not None:
        raise UserError(
            "data.silence_threshold: trimming silence would move the audio away from its "
            "notes; set it to null with --features notes"
        )
    return NoteStore(d.sample_rate, m.hop_length, m.local_channels, m.quantization_channels)
