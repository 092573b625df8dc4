"""What the page shows: clips (generated, real excerpts, baselines) and how they were timed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..audio.io import AUDIO_EXTENSIONS, AudioReadError, load_audio, trim_silence
from ..config import Config, UserError
from ..notes.midi import Note
from ..runs import file_identity, read_data_record
from ..runtime.console import warn
from ..wavenet.data import cached_classes, fingerprint
from ..wavenet.discovery import label_of, make_labeler

EXCERPT_CANDIDATES = 6  # random positions an excerpt is the loudest of
EXCERPT_TRIES = 64  # positions drawn, those overlapping an excerpt already taken left out


@dataclass(frozen=True)
class Speed:
    """Wall time of generating ``streams`` clips of ``samples`` samples together."""

    streams: int
    samples: int  # per stream
    wall_seconds: float
    sample_rate: int
    device: str

    @property
    def samples_per_second(self) -> float:
        """All streams together."""
        return self.streams * self.samples / self.wall_seconds

    @property
    def real_time_factor(self) -> float:
        """Wall seconds per second of audio (each stream): below 1 is faster than real time."""
        return self.wall_seconds / (self.samples / self.sample_rate)


@dataclass(frozen=True)
class HeldOut:
    bits_per_sample: float
    source: str  # how it was measured, for the page
    per_label: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Row:
    """One clip of the page."""

    name: str
    kind: str  # "real", "generated", "untrained" or "noise"
    audio: np.ndarray  # (T,)
    source: str = ""  # where a real excerpt comes from: "piano/x.flac at 0:12.3"
    tag: str = ""  # the badge on the page; "" = the kind's usual one
    notes: tuple[Note, ...] | None = None  # the notes a composed clip plays (notes runs)


# --- labels and real excerpts -------------------------------------------------------------


def segment_label(source: str, data_root: Path | None) -> str:
    """First folder of ``source``; for files at the top, the data folder's name, else "all"."""
    if label_of(source):
        return label_of(source)
    if data_root is None:
        return "all"
    folder = data_root.parent if data_root.is_file() else data_root
    return folder.name or "all"


def run_label(run_dir: Path, data_root: Path | None) -> str:
    """The one label of an unconditioned run: its training files' folder, or "all"."""
    train = read_data_record(run_dir)["train"]
    labels = {segment_label(source, data_root) for source, _, _ in train}
    return labels.pop() if len(labels) == 1 else "all"


def run_labels(run_dir: Path, data_root: Path | None, config: Config) -> list[str]:
    """A conditioned run's labels, in the model's order; else ``[run_label(...)]``."""
    return list(config.model.global_labels) or [run_label(run_dir, data_root)]


def labeler(config: Config, data_root: Path | None) -> Callable[[str], str]:
    """``source -> label`` as the run labelled its files: ``data.labels`` (folders or a CSV
    manifest) for a conditioned run, else ``segment_label``."""
    if config.data.labels is None:
        return lambda source: segment_label(source, data_root)
    return make_labeler(data_root or Path(), config.data.labels)


def real_excerpts(
    run_dir: Path,
    data_root: Path,
    label: str,
    count: int,
    length: int,
    config: Config,
    seed: int,
    split: str = "train",
) -> list[Row]:
    """``count`` excerpts of ``length`` samples from the run's ``split`` ("train" or
    "validation") segments of ``label`` ("all": any), each the loudest of a few random
    positions (no silent intros), no two overlapping: each from another recording while
    there are recordings left, then from a part of one not yet heard (fewer excerpts
    where the music is too short for ``count``)."""
    label_of_source = labeler(config, data_root)
    segments = [
        (source, start, end)
        for source, start, end in read_data_record(run_dir)[split]
        if label in ("all", label_of_source(source))
        and source_path(data_root, source).is_file()
        and end - start >= length
    ]
    rng = np.random.default_rng(seed)
    decoded: dict[str, np.ndarray] = {}
    heard: dict[str, list[int]] = {}  # each source's excerpt starts so far
    excerpts: list[Row] = []
    while segments and len(excerpts) < count:
        fresh = [k for k, (source, *_) in enumerate(segments) if source not in heard]
        pool = fresh or list(range(len(segments)))
        weights = np.array([segments[k][2] - segments[k][1] for k in pool], dtype=np.float64)
        k = pool[rng.choice(len(pool), p=weights / weights.sum())]
        source, start, end = segments[k]
        taken = heard.setdefault(source, [])
        starts = rng.integers(start, end - length + 1, size=EXCERPT_TRIES)
        starts = [int(s) for s in starts if all(abs(s - t) >= length for t in taken)]
        if not starts:
            segments.pop(k)  # too little of it left unheard
            continue
        if source not in decoded and changed_since_training(run_dir, data_root, source, config):
            segments = [segment for segment in segments if segment[0] != source]
            continue
        if source not in decoded:
            decoded[source] = _decode(source_path(data_root, source), config)
        audio = decoded[source]
        at = max(starts[:EXCERPT_CANDIDATES], key=lambda s: power(audio[s : s + length]))
        taken.append(at)
        where = f"{source} at {_minutes(at / config.data.sample_rate)}"
        tag = "held out" if split == "validation" else ""
        excerpts.append(
            Row(f"real {len(excerpts) + 1}", "real", audio[at : at + length], where, tag)
        )
    return excerpts


def check_data_root(run_dir: Path, data_root: Path, needed: bool = False) -> None:
    """A one-line error unless ``data_root`` holds the run's training data: at least one
    file of its split (a file must be the one the run was trained on). Without the check,
    a wrong ``--data`` would silently leave the page without real music. ``needed``: the
    report cannot go without the data (it re-synthesises held-out excerpts), so leaving
    out ``--data`` is no way out of a lost split."""
    try:
        split = read_data_record(run_dir)
        sources = {s for part in ("train", "validation") for s, _, _ in split[part]}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else f"not the split training wrote: {exc!r}"
        todo = (
            "restore the file (this run's report re-synthesises held-out excerpts)"
            if needed
            else "leave out --data, or restore the file"
        )
        raise UserError(
            f"{run_dir}/data.json ({why}): the report's real excerpts and held-out score "
            f"need the run's split; {todo}"
        ) from None
    hint = "pass the folder the run was trained on"
    if split.get("root"):
        hint += f" (it was trained on {split['root']})"
    if not data_root.exists():
        raise UserError(f"--data {data_root} does not exist; {hint}")
    if data_root.is_file() and (
        data_root.suffix.lower() not in AUDIO_EXTENSIONS or sources - {data_root.name}
    ):
        raise UserError(f"--data {data_root} is a file, not the run's training data; {hint}")
    if sources and not any(source_path(data_root, s).is_file() for s in sources):
        raise UserError(
            f"--data {data_root} holds none of the run's {len(sources)} training files "
            f"(such as {min(sources)}); {hint}"
        )


_CHANGED: dict[tuple, bool] = {}  # changed_since_training's answers, said once a file


def changed_since_training(run_dir: Path, data_root: Path, source: str, config: Config) -> bool:
    """Whether the file ``source`` under ``data_root`` is no longer the audio the run
    trained on: its cached classes' fingerprint (``wavenet.data.fingerprint``, decoded
    again where the file changed) is not the one ``RUN/data.json`` recorded, or it cannot be
    decoded now; said on stderr once a file. Its excerpts and its part of the held-out
    score are then left out: they were of other music, or empty (a real excerpt of 0 s,
    "piano/b.wav at 0:02.6", where the file was now shorter). A run that recorded no
    fingerprint (trained before they were recorded): never."""
    recorded = read_data_record(run_dir).get("fingerprints", {}).get(source)
    path = source_path(data_root, source)
    if recorded is None or not path.is_file():
        return False
    q, data = config.model.quantization_channels, config.data
    key = (*file_identity(path), recorded, data.sample_rate, data.silence_threshold, q)
    if key not in _CHANGED:
        try:
            now = fingerprint(cached_classes(path, data, q, say_damage=False))
            why = "" if now == recorded else f"changed since {run_dir} was trained on it"
        except AudioReadError as exc:
            why = f"cannot be decoded now ({str(exc).removeprefix(f'{path}: ')})"
        if why:
            warn(
                f"report: {source} {why}; its real excerpts and held-out score are "
                "left out (pass the data the run was trained on)"
            )
        _CHANGED[key] = bool(why)
    return _CHANGED[key]


def source_path(data_root: Path, source: str) -> Path:
    return data_root / source if data_root.is_dir() else data_root


def power(audio: np.ndarray) -> float:
    return float(np.mean(np.square(audio, dtype=np.float64)))


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"


def _decode(path: Path, config: Config) -> np.ndarray:
    """The audio as training saw it (resampled, trimmed if the run trimmed)."""
    audio = load_audio(path, config.data.sample_rate)
    threshold = config.data.silence_threshold
    return audio if threshold is None else trim_silence(audio, threshold)


def white_noise(length: int, rms: float, seed: int) -> np.ndarray:
    """Gaussian white noise (length,) of the given RMS, clipped to [-1, 1]."""
    noise = np.random.default_rng(seed).standard_normal(length) * rms
    return np.clip(noise, -1.0, 1.0).astype(np.float32)
