"""The composer's data: a WaveNet run's own music as tokens, baselines, held-out bits.

Everything lives inside the run directory::

    RUN/composer/tokens-KEY.npz      the k-means codebook of the run's training split
    RUN/composer/metrics.jsonl       train and held-out bits per token, baselines
    RUN/composer/step_NNNNNNNN/      model.safetensors (weights + codebook),
                                     state.safetensors (optimizer, RNG), meta.json (sha256)

The tokens come from the same files, split and features the WaveNet was trained on: the
split recorded in ``RUN/data.json`` (``split_rows``), features of the cached mu-law audio,
normalised with the WaveNet's statistics (here), or the notes of a run steered by notes
as event tokens (``note_tokens.py``, no codebook). Baselines, training windows and
held-out bits are the same for both.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..audio.features import feature_store
from ..config import Config, UserError
from ..notes.events import VOCAB_SIZE as EVENTS
from ..notes.events import velocity_in_force
from ..runs import cached, read_data_record
from ..wavenet.data import cached_classes
from ..wavenet.discovery import make_labeler
from ..wavenet.evaluate import LN2
from ..wavenet.model import WaveNet
from ..wavenet.windows import IGNORE
from .config import ComposerConfig
from .model import Composer
from .tokens import Codebook, fit_codebook, round_trip_db

COMPOSER = "composer"
TOKENS_FORMAT = 1


# --- the run's music as tokens -------------------------------------------------------------


@dataclass(frozen=True)
class Stream:
    """The tokens of one segment of the split, with its label index (-1: no labels)."""

    source: str
    label: int
    tokens: np.ndarray  # (N,) int64
    transposition: int = 0  # semitones the segment's pitch classes were rotated up


StateFn = Callable[[np.ndarray, int], int | None]  # the state token in force at a position


@dataclass(frozen=True)
class TokenCorpus:
    """Token streams of the run's split. ``codebook`` None: note events (no round trip
    in dB, no frames), with the training music's mean ``events_per_second``."""

    codebook: Codebook | None
    train: tuple[Stream, ...]
    validation: tuple[Stream, ...]
    round_trip_db: float | None  # validation features → tokens → features, RMS dB
    frames_per_second: float | None  # feature frames per second of audio
    events_per_second: float | None = None
    programs: tuple[int, ...] | None = None  # per label: the General MIDI program it plays
    shortest_notes: tuple[float, ...] | None = None  # per label: seconds (note_tokens)
    rest_levels: tuple[float | None, ...] | None = None  # per label: dB (note_tokens)

    @property
    def vocab(self) -> int:
        return EVENTS if self.codebook is None else self.codebook.size

    @property
    def state(self) -> StateFn | None:
        """What a window cut mid-piece starts with (``in_force``): note events' velocity;
        frame tokens carry no state."""
        return velocity_in_force if self.codebook is None else None


def require_local(config: Config, run_dir: Path) -> None:
    if config.model.local_channels is None:
        raise UserError(
            f"{run_dir} was trained without local conditioning, which the composer writes; "
            "train a run with --local-channels 80 (and --hop-length 256)"
        )


def recorded_data_root(run_dir: Path, data_root: Path | None) -> Path:
    """``data_root``, else the folder the run recorded in data.json (key ``root``)."""
    if data_root is not None:
        return Path(data_root)
    recorded = read_data_record(run_dir).get("root")
    if recorded is None:
        raise UserError(
            f"{run_dir} does not record its data folder; pass --data DIR (the folder it "
            "was trained on)"
        )
    return Path(recorded)


@dataclass(frozen=True)
class SplitRow:
    """One segment of the run's split: samples ``start .. end - 1`` of the cached classes
    ``cache`` of the recording ``path``, its label index (-1: no labels)."""

    source: str
    path: Path
    cache: Path
    label: int
    start: int
    end: int


def split_rows(run_dir: Path, data_root: Path, config: Config, part: str) -> list[SplitRow]:
    """Every segment of the run's ``part`` ("train" or "validation") split, as recorded
    in ``RUN/data.json``, found under ``data_root``."""
    try:
        rows = read_data_record(run_dir)[part]
    except (OSError, KeyError, json.JSONDecodeError):
        raise UserError(f"{run_dir}/data.json is missing or unreadable; is it a run?") from None
    labels, labeler = config.model.global_labels, make_labeler(data_root, config.data.labels)
    out = []
    for source, start, end in rows:
        path = data_root / source if data_root.is_dir() else data_root
        if not path.is_file():
            where = "does not exist" if not data_root.exists() else f"holds no {source}"
            raise UserError(
                f"{data_root} {where}, a recording of the run's split: pass --data the folder "
                "the run was trained on"
            )
        cache = cached_classes(path, config.data, config.model.quantization_channels)
        label = labels.index(labeler(source)) if labels else -1
        out.append(SplitRow(source, path, cache, label, start, end))
    return out


def split_features(
    run_dir: Path, data_root: Path, config: Config, part: str
) -> list[tuple[str, int, np.ndarray]]:
    """(source, label index, features (K, F) in dB) of every segment of the run's
    ``part`` ("train" or "validation") split."""
    store, hop = feature_store(config), config.model.hop_length
    return [
        (
            row.source,
            row.label,
            np.asarray(store.features(row.cache)[row.start // hop : row.end // hop], np.float32),
        )
        for row in split_rows(run_dir, data_root, config, part)
    ]


def token_corpus(
    run_dir: Path, data_root: Path, wavenet: WaveNet, config: Config, composer: ComposerConfig
) -> TokenCorpus:
    """The run's split as tokens; cached in ``RUN/composer`` (k-means runs once)."""
    segments = split_features(run_dir, data_root, config, "train")
    if composer.transpose:
        train = transposed(segments, config)
    else:
        train = [(source, label, f, 0) for source, label, f in segments]
    validation = split_features(run_dir, data_root, config, "validation")
    mean = wavenet.upsample.feature_mean.cpu().numpy()
    std = wavenet.upsample.feature_std.cpu().numpy()
    path = Path(run_dir) / COMPOSER / f"tokens-{_token_key(run_dir, composer, mean, std)}.npz"

    def read(saved_path: Path) -> Codebook:
        with np.load(saved_path, allow_pickle=False) as saved:
            return Codebook(saved["centroids"], mean, std, composer.frames_per_token)

    def fit() -> bytes:
        codebook = fit_codebook(
            [f for _, _, f, _ in train],
            mean,
            std,
            composer.codebook_size,
            composer.frames_per_token,
            composer.kmeans_iterations,
            composer.seed,
        )
        buffer = io.BytesIO()
        np.savez(buffer, centroids=codebook.centroids)
        return buffer.getvalue()

    codebook = cached(path, read, fit)  # k-means runs once; a damaged file runs it again
    held = [f for _, _, f in validation] or [f for _, _, f in train]
    error = round_trip_db(
        np.concatenate([f[: len(f) // codebook.pool * codebook.pool] for f in held]), codebook
    )
    rate = config.data.sample_rate / config.model.hop_length
    return TokenCorpus(
        codebook,
        tuple(Stream(s, lab, codebook.encode(f), t) for s, lab, f, t in train),
        tuple(Stream(s, lab, codebook.encode(f)) for s, lab, f in validation),
        error,
        rate,
    )


def transposed(
    segments: list[tuple[str, int, np.ndarray]], config: Config
) -> list[tuple[str, int, np.ndarray, int]]:
    """Every (source, label, chroma (K, 12)) segment in all 12 transpositions, as (source,
    label, chroma, shift): pitch class c of the copy shifted by ``shift`` semitones is
    pitch class c - shift of the original."""
    if config.data.features != "chroma":
        raise UserError(
            f"composer.transpose rotates pitch classes, but this run is steered by "
            f"{config.data.features} features; pass --transpose false or train on chroma"
        )
    return [
        (f"{source} {shift:+d} st" if shift else source, label, np.roll(f, shift, axis=1), shift)
        for source, label, f in segments
        for shift in range(12)
    ]


def _token_key(run_dir: Path, c: ComposerConfig, mean: np.ndarray, std: np.ndarray) -> str:
    settings = [TOKENS_FORMAT, c.codebook_size, c.frames_per_token, c.kmeans_iterations, c.seed]
    if c.transpose:
        settings.append("transpose")
    digest = hashlib.sha1(json.dumps(settings).encode())
    digest.update((Path(run_dir) / "data.json").read_bytes())
    digest.update(mean.tobytes() + std.tobytes())
    return digest.hexdigest()[:12]


# --- baselines ---------------------------------------------------------------------------------


def unigram_bits(train: list[np.ndarray], held: list[np.ndarray], vocab: int) -> float:
    """Bits per token of ``held`` under add-one smoothed unigram counts of ``train``."""
    counts = np.bincount(np.concatenate(train), minlength=vocab) + 1.0  # (V,)
    logp = np.log2(counts / counts.sum())
    tokens = np.concatenate(held)
    return float(-logp[tokens].mean())


def bigram_bits(train: list[np.ndarray], held: list[np.ndarray], vocab: int) -> tuple[float, float]:
    """Bits per token of ``held`` under bigram counts of ``train`` (the start of a piece is
    a context of its own), smoothed towards the add-one unigram with prior weight β:
    ``P(b | a) = (c(a, b) + β P(b)) / (c(a) + β)``. β ∈ {0.1, 1, 10, 100, 1000} is chosen
    on ``held`` itself, which favours the baseline. Returns (bits, β)."""
    unigram = np.bincount(np.concatenate(train), minlength=vocab) + 1.0
    unigram /= unigram.sum()  # (V,)
    pairs = np.zeros((vocab + 1, vocab))  # row ``vocab``: the start
    for tokens in train:
        np.add.at(pairs, (np.append(vocab, tokens[:-1]), tokens), 1.0)
    prev = np.concatenate([np.append(vocab, t[:-1]) for t in held])
    nxt = np.concatenate(held)
    best = (math.inf, 0.0)
    for beta in (0.1, 1.0, 10.0, 100.0, 1000.0):
        p = (pairs[prev, nxt] + beta * unigram[nxt]) / (pairs[prev].sum(axis=1) + beta)
        best = min(best, (float(-np.log2(p).mean()), beta))
    return best


# --- windows and held-out likelihood -----------------------------------------------------------


def with_start(stream: Stream, start_token: int) -> np.ndarray:
    """A piece as the composer reads it: the start token, then its tokens (N + 1,)."""
    return np.concatenate([[start_token], stream.tokens])


def in_force(
    window: np.ndarray, tokens: np.ndarray, first: int, state: StateFn | None
) -> np.ndarray:
    """``window`` (inputs cut at ``first`` of ``tokens``) with its first token replaced by
    the state token in force after it (``state``: note events' velocity), so that a window
    cut mid-piece knows what a listener has heard: how hard the keys are struck. As it is
    where the window starts with the piece, or no state is in force."""
    if state is None or first == 0 or len(window) == 0:
        return window
    token = state(tokens, first)
    if token is None:
        return window
    return np.concatenate([[token], window[1:]])


def training_batch(
    streams: tuple[Stream, ...],
    context: int,
    size: int,
    start_token: int,
    rng: np.random.Generator,
    state: StateFn | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random windows: inputs (B, T), targets (B, T) (IGNORE past a short piece's end),
    labels (B,); a piece chosen in proportion to its length, the start uniform; a window
    cut mid-piece starts with the state in force (``in_force``)."""
    lengths = np.array([len(s.tokens) + 1 for s in streams], dtype=np.float64)
    inputs = np.full((size, context), start_token, dtype=np.int64)
    targets = np.full((size, context), IGNORE, dtype=np.int64)
    labels = np.zeros(size, dtype=np.int64)
    for row, index in enumerate(rng.choice(len(streams), size=size, p=lengths / lengths.sum())):
        tokens = with_start(streams[index], start_token)
        first = int(rng.integers(0, max(1, len(tokens) - context) + 1))
        window = tokens[first : first + context + 1]
        inputs[row, : len(window) - 1] = in_force(window[:-1], tokens, first, state)
        targets[row, : len(window) - 1] = window[1:]
        labels[row] = streams[index].label
    return torch.from_numpy(inputs), torch.from_numpy(targets), torch.from_numpy(labels)


@torch.no_grad()
def held_out_bits(
    model: Composer,
    streams: tuple[Stream, ...],
    device: torch.device,
    state: StateFn | None = None,
) -> float:
    """Bits per token over every token of ``streams``; each prediction hears at least
    half a context (windows of ``context`` tokens, ``context // 2`` apart), a window cut
    mid-piece the state in force (``in_force``), as in training."""
    model.eval()
    total, count = 0.0, 0
    stride = max(1, model.context // 2)
    for stream in streams:
        sequence = with_start(stream, model.start_token)  # (N + 1,)
        tokens = torch.from_numpy(sequence).to(device)
        labels = None if stream.label < 0 else torch.tensor([stream.label], device=device)
        for end in range(1, len(tokens), stride):
            stop = min(end + stride, len(tokens))  # score targets end .. stop - 1
            first = max(0, stop - 1 - model.context)
            window = sequence[first : stop - 1]
            if end - 1 > first:  # the first input predicts no scored target: it may carry state
                window = in_force(window, sequence, first, state)
            inputs = torch.from_numpy(np.ascontiguousarray(window)).to(device)
            logits = model(inputs[None], labels)[0, end - 1 - first :]
            total += F.cross_entropy(logits, tokens[end:stop], reduction="sum").item()
            count += stop - end
    return total / max(count, 1) / LN2
