"""From a folder of recordings to the corpus: its segments, cached and split.

The files and their labels come from ``discovery``; each file is decoded once into a cache
of mu-law classes (one ``.npy`` per file, memory-mapped, so hours of audio train without
sitting in RAM), and the corpus is split into training and validation by file (by time for
a folder holding a single file). A resumed run keeps to the split it recorded. ``windows``
cuts the segments into training windows.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import sys
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..audio.cache_blocks import write_training_classes
from ..audio.io import AUDIO_EXTENSIONS, AudioReadError, mu_law_decode, silence_class
from ..config import DataConfig, UserError
from ..notes.features import recording_notes, score_sources
from ..runs import (
    file_identity,
    read_data_record,
    record_source,
    remove_stale_temporaries,
    survey_cache,
)
from ..runtime.console import say, warn
from .discovery import (
    discover,
    make_labeler,
    relative_name,
    report_skipped,
    report_undecoded,
    report_unmatched_rows,
    undecoded_hint,
)

CACHE_VERSION = 1
HELD_OUT_SLACK = 2.0  # a label's held-out share past this many times the fraction is said


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
        """What ``RUN/data.json`` records: the split, each file's label and fingerprint,
        the skipped files."""
        return {
            "train": [[s.source, s.start, s.end] for s in self.train],
            "validation": [[s.source, s.start, s.end] for s in self.validation],
            "labels": {s.source: s.label for s in self.train + self.validation},
            "fingerprints": self.fingerprints,
            "skipped": [list(item) for item in self.skipped],
        }

    @functools.cached_property
    def fingerprints(self) -> dict[str, str]:
        """``file -> fingerprint`` of its cached classes (``fingerprint``), read once: a
        resume compares them with the record, then writes the record again."""
        caches = {s.source: s.cache for s in self.train + self.validation}
        return {source: fingerprint(cache) for source, cache in caches.items()}


def require_recorded_split(run_dir: Path, corpus: Corpus, data_root: Path) -> None:
    """A resumed run trains on the split it recorded in ``RUN/data.json`` (files, labels,
    segments, fingerprints of their audio): a data folder ``data_root`` (``corpus``'s, as
    the user named it: the one recorded, or the one it moved to) that changed since is a
    one-line error saying how, so that no validation file is trained on and the curves go
    on describing the same music. A run that recorded no split passes."""
    now = corpus.summary()  # outside: a cache that cannot be read is no unreadable record
    try:
        changes = split_changes(read_data_record(run_dir), now)
    except (OSError, ValueError, TypeError, AttributeError):
        return
    if changes:
        raise UserError(
            f"{data_root} changed since {run_dir} recorded its split in data.json: {changes}; "
            "put the folder back as it was, or start a new run from these weights with "
            f"--init-from {run_dir}"
        )


def split_changes(recorded: dict, now: dict) -> str:
    """How the split ``now`` (``Corpus.summary``) differs from ``recorded``: ``""`` when it
    does not, else e.g. ``8 files added (x/f4.wav, x/f5.wav, x/f6.wav, ...), 1 changed
    (x/f3.wav: same length, different audio)``. Labels and fingerprints are compared where
    ``recorded`` has them (runs trained before they were recorded have not)."""
    before, after = _split_rows(recorded), _split_rows(now)
    if "labels" not in recorded:
        after = {file: rows[:-1] for file, rows in after.items()}
        before = {file: rows[:-1] for file, rows in before.items()}
    prints = recorded.get("fingerprints", {}), now.get("fingerprints", {})
    kinds = (
        ("added", sorted(after.keys() - before.keys())),
        ("removed", sorted(before.keys() - after.keys())),
        ("changed", _changed(before, after, *prints)),
    )
    return ", ".join(f"{_count(files)} {kind} ({_first(files)})" for kind, files in kinds if files)


def _changed(before: dict, after: dict, printed: dict, prints: dict) -> list[str]:
    """The files of both ``before`` and ``after`` (``_split_rows``) whose segments or label
    differ, and those whose audio alone does (a mix exported again with an edit): their
    fingerprint ``printed`` (recorded) is not the one in ``prints`` (now)."""
    changed = []
    for file in sorted(before.keys() & after.keys()):
        if before[file] != after[file]:
            changed.append(file)
        elif file in printed and file in prints and printed[file] != prints[file]:
            changed.append(f"{file}: same length, different audio")
    return changed


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


# --- the cache ----------------------------------------------------------------------------


def cache_root(config: DataConfig) -> Path:
    if config.cache_dir is not None:
        return Path(config.cache_dir).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "wavenet-music"


# a cache folder holding this much in stale entries is said as a corpus is decoded
STALE_NOTE_BYTES = 1 << 30


def stale_cache_note(config: DataConfig, bound: int | None = None) -> str | None:
    """One line where the cache folder holds ``bound`` (``STALE_NOTE_BYTES``) bytes or
    more of entries whose source changed or is gone (``runs.survey_cache``): how much,
    and what frees it."""
    folder = cache_root(config)
    held = sum(survey_cache(folder).stale.values())
    if held < (STALE_NOTE_BYTES if bound is None else bound):
        return None
    named = "" if config.cache_dir is None else f" --cache-dir {folder}"
    return (
        f"note: the cache {folder} holds {held / 2**30:.1f} GiB of decodes of recordings "
        f"changed or gone since; `wavenet-music cache --prune{named}` frees it (while no "
        "other command is running)"
    )


def cached_classes(
    path: Path, config: DataConfig, quantization_channels: int, say_damage: bool = True
) -> Path:
    """Decode ``path`` once into mu-law classes; return the ``.npy`` cache file.

    The cache key covers the file's identity (``runs.file_identity``) and every
    setting that changes the decoded classes, so an edited file is decoded again; a
    damaged cache file is reported and decoded again (as ``runs.cached`` does). Decoding
    goes a block at a time, straight into the file (``write_training_classes``: memory
    stays flat however long the recording), and warns, one line each, of non-finite
    samples replaced and of clipping (``damage_notes``), unless ``say_damage`` is False:
    the caller reads the file again and says it (``evaluate --follow-seconds``).
    """
    settings = [config.sample_rate, config.silence_threshold, quantization_channels]
    identity = file_identity(path)
    key = json.dumps([CACHE_VERSION, *identity, *settings])
    digest = hashlib.sha1(key.encode()).hexdigest()[:20]
    target = cache_root(config) / f"{path.stem[:40]}-{digest}.npy"
    dtype = np.uint8 if quantization_channels <= 256 else np.uint16

    def check(cache: Path) -> Path:
        classes = load_classes(cache)
        if classes.ndim != 1 or classes.dtype != dtype:
            raise ValueError(f"expected ({dtype.__name__},) classes, got {classes.dtype}")
        record_source(cache, identity)
        return cache

    if target.exists():  # runs.cached, for a file written in blocks
        try:
            return check(target)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            warn(
                f"cache file {target} is damaged ({type(exc).__name__}: {exc}); building it again",
                above_bars=True,
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
    for note in notes if say_damage else []:  # said once: next time the cache holds it
        warn(f"{path}: {note}", above_bars=True)
    return check(target)


def load_classes(cache: Path) -> np.ndarray:
    """The cached classes, memory-mapped (nothing is read until a window needs it)."""
    return np.load(cache, mmap_mode="r")


def fingerprint(cache: Path, block: int = 1 << 24) -> str:
    """A digest of the cached classes ``cache`` (read ``block`` at a time): what a run
    trains on of a recording, so that one exported again with other audio of the same
    length is told apart. The classes, not the file's bytes: a tenth of a 44.1 kHz stereo
    WAV's at 16 kHz (5 minutes: about 4 ms, against 55 ms for the WAV's bytes), the same
    for a folder moved or copied (the cache is decoded again, to the same classes)."""
    classes = load_classes(cache)
    digest = hashlib.sha1()
    for start in range(0, len(classes), block):
        digest.update(classes[start : start + block])
    return digest.hexdigest()[:20]


# --- the corpus and its split -------------------------------------------------------------


def prepare_corpus(
    root: Path,
    config: DataConfig,
    quantization_channels: int,
    min_samples: int,
    quiet: bool = False,
    exclude: Path | None = None,
    say_damage: bool = True,
) -> Corpus:
    """Discover (``discover``: nothing under ``exclude``), decode (cached), label and split
    the recordings under ``root``.

    Files that cannot be decoded, are shorter than ``min_samples`` (the receptive field),
    hold no sound, repeat another file or lack a label when labels are asked for are
    skipped and counted (named one by one unless ``quiet``); files of audio the tool cannot
    decode are counted. A corpus with nothing usable is an error. Unless ``quiet``, a split
    with a validation share (``data.validation_fraction`` > 0) is summed up in one line.
    ``say_damage``: as ``cached_classes`` takes it.
    """
    root = Path(root)
    found = discover(root, exclude)
    report_undecoded(found.undecoded, found.apple_double)
    if not found.files and not found.skipped:
        raise UserError(
            f"no audio files ({', '.join(AUDIO_EXTENSIONS)}) found under {root}"
            + undecoded_hint(found.undecoded)
        )
    labeler = make_labeler(root, config.labels)
    report_unmatched_rows(config.labels, [relative_name(p, root) for p in found.files], root, quiet)
    usable, skipped = _decode_all(
        found.files, root, labeler, config, quantization_channels, min_samples, quiet, say_damage
    )
    skipped = found.skipped + skipped
    total = len(found.files) + len(found.skipped)
    report_skipped(skipped, total, quiet)
    if config.features == "notes" and root.is_dir():
        caches = [s.notes for s in usable if s.notes is not None]
        summary, unread = score_sources(found.files, caches, root, exclude)
        for line in ([] if quiet else [summary]) + ([unread] if unread else []):
            say(line)
    if not usable:
        raise UserError(
            f"none of the {total} audio files under {root} is usable "
            f"(first problem: {skipped[0][0]}: {skipped[0][1]})"
        )
    train, validation = split(usable, config.validation_fraction)
    if not quiet and config.validation_fraction > 0:
        print(split_line(train, validation, config.sample_rate), file=sys.stderr)
    for line in lopsided_split(train, validation, config.validation_fraction, config.sample_rate):
        warn(line)
    return Corpus(tuple(train), tuple(validation), tuple(skipped))


def _decode_all(
    paths: list[Path],
    root: Path,
    labeler,
    config: DataConfig,
    quantization_channels: int,
    min_samples: int,
    quiet: bool,
    say_damage: bool,
) -> tuple[list[Segment], list[tuple[str, str]]]:
    """The usable segments of ``paths``, and the files skipped with their reasons (the
    cache folder first freed of what killed decoders left: ``remove_stale_temporaries``)."""
    remove_stale_temporaries(cache_root(config))
    if not quiet and (note := stale_cache_note(config)) is not None:
        print(note, file=sys.stderr)
    usable: list[Segment] = []
    skipped: list[tuple[str, str]] = []
    for path in tqdm(paths, desc="decoding", unit="file", disable=quiet or len(paths) < 4):
        rel = relative_name(path, root)
        try:
            segment = whole_file(path, rel, labeler(rel), config, quantization_channels, say_damage)
            usable.append(usable_segment(segment, config, quantization_channels, min_samples))
        except (AudioReadError, OSError) as exc:
            skipped.append((rel, _reason(exc, (str(path), rel))))
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
    if segment.length == 0:  # a header and nothing after it: cut short, or empty
        raise AudioReadError(
            f"{segment.source}: no samples decoded (the file is cut short or empty)"
        )
    if segment.length < min_samples:
        trimmed = f" after data.silence_threshold={threshold}" if threshold is not None else ""
        raise AudioReadError(
            f"{segment.source}: {segment.length} samples{trimmed}, shorter than the receptive "
            f"field ({min_samples})"
        )
    if _is_silent(load_classes(segment.cache), silence_class(quantization_channels)):
        raise AudioReadError(  # a constant level is silence once its DC offset is removed
            f"{segment.source}: no sound (silence, or one constant level, throughout)"
        )
    return segment


def _is_silent(classes: np.ndarray, silence: int, block: int = 1 << 20) -> bool:
    """Every class is ``silence`` (read block by block: music stops at the first)."""
    return all(not np.any(classes[i : i + block] != silence) for i in range(0, len(classes), block))


def whole_file(
    path: Path,
    rel: str,
    label: str,
    config: DataConfig,
    quantization_channels: int,
    say_damage: bool = True,
) -> Segment:
    """The segment of all of the recording ``path`` (``rel`` under the data folder), its
    classes cached and, with ``data.features`` notes, its notes."""
    cache = cached_classes(path, config, quantization_channels, say_damage)
    samples = len(load_classes(cache))
    notes = None
    if config.features == "notes":

        def audio() -> tuple[np.ndarray, int]:  # what a score's alignment is checked on
            return mu_law_decode(load_classes(cache), quantization_channels), config.sample_rate

        try:
            seconds = samples / config.sample_rate
            notes = recording_notes(path, seconds, cache_root(config), audio)
        except UserError as exc:  # a bad score: skipped and counted like a bad recording
            raise AudioReadError(f"{rel}: {exc}") from None
    return Segment(rel, label, cache, 0, samples, notes)


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


def lopsided_split(
    train: Sequence[Segment], validation: Sequence[Segment], fraction: float, rate: int
) -> list[str]:
    """A line for each label whose held-out files hold more than ``HELD_OUT_SLACK`` times
    ``fraction``, and more than half, of its audio: the split holds out whole files (by
    count, so that a label's pieces are validated unseen), and one long recording among
    short clips leaves training little (a 3-hour one beside nine 2-s clips: 18 s)."""
    lines = []
    for label in sorted({s.label for s in validation}):
        held = sum(s.length for s in validation if s.label == label)
        kept = sum(s.length for s in train if s.label == label)
        share = held / max(held + kept, 1)
        if share > max(HELD_OUT_SLACK * fraction, 0.5):
            where = f"folder {label!r}" if label else "the data folder's top"
            lines.append(
                f"{where}: {share:.0%} of its audio is held out for validation "
                f"({_duration(held / rate)}), {_duration(kept / rate)} left to train on: "
                "its held-out file is most of its music; cut that recording into parts, or "
                "give it a folder of its own"
            )
    return lines


def _reason(exc: BaseException, names: Sequence[str]) -> str:
    """Why a file was skipped: ``exc``'s message less the file's name it begins with (one of
    ``names``; a name may hold ": " itself, as in ``Track 1: Intro.wav``); an ``OSError``'s
    reason alone (its message ends in the path)."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc)
    for name in names:
        if text.startswith(f"{name}: "):
            return text[len(name) + 2 :]
    return text or type(exc).__name__


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
