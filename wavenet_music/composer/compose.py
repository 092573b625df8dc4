"""Composer → features → WaveNet: one command from nothing (or a prime) to audio.

A run steered by frame features (chroma, log-mel): the composer writes every token of
the piece first (seconds: a token is a few frames), they are decoded to frames, saved
with ``--features-out`` before the WaveNet starts, and the WaveNet plays them in one pass
(``playing.play``: the WAV rewritten after each chunk, falls into noise drawn again),
continuing the prime's audio with the prime's own frames as history.

A run steered by notes (``note_piece.py``): its composer writes note events, every note is
composed first, written as MIDI beside the WAV, and then played the same way.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..audio.features import SILENCE_DB, feature_store
from ..audio.io import mu_law_encode
from ..config import Config, GenerateConfig, UserError
from ..notes.events import STEPS_PER_SECOND as STEPS
from ..notes.midi import Note, write_midi
from ..runs import check_apart, check_target, npy_bytes, write_atomically
from ..runtime.device import free_memory, generation_device, model_device
from ..runtime.stop import Interrupted, StopRequest
from ..wavenet.checkpoint import load_model
from ..wavenet.memory import require_room_for_clips
from ..wavenet.model import WaveNet
from ..wavenet.noise_guard import Redraw
from ..wavenet.to_audio import check_out, clip_paths, clip_plan, refuse_note_settings, threads_for
from .checkpoint import ComposerCheckpoint, build_composer, calibrated_sampling, load_composer
from .config import PieceConfig
from .data import require_local
from .model import Composer, continue_tokens, primed_composer
from .note_piece import (
    NotePrime,
    compose_events,
    is_midi,
    note_rolls,
    piece_notes,
    play_notes,
    prime_audio,
    read_note_prime,
)
from .playing import ChunkFn, play
from .tokens import Codebook

TOKENS_PER_CHECK = 64  # tokens written between checks for Ctrl-C

# --- priming ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prime:
    """What a piece starts from: composer tokens and WaveNet history, aligned so that the
    first composed frame follows the history's last."""

    tokens: np.ndarray  # (N,) tokens of the prime (empty: start of a piece)
    classes: np.ndarray  # (H,) mu-law classes, H = history frames · hop
    frames: np.ndarray  # (1 + H / hop, F) dB: the frame before the history, then its frames


def history_frames(config: Config) -> int:
    """Frames of WaveNet history: enough to cover its receptive field."""
    return math.ceil(config.model.receptive_field / config.model.hop_length)


def read_prime(path: Path, config: Config, codebook: Codebook) -> Prime:
    """The prime's tokens (whole tokens from its start) and the audio just before the end
    of the last whole token as WaveNet history (NaN/inf samples: ``prime_audio``)."""
    hop, h, pool = config.model.hop_length, history_frames(config), codebook.pool
    classes = mu_law_encode(
        prime_audio(path, config.data.sample_rate), config.model.quantization_channels
    )
    needed = math.ceil(h / pool) * pool  # frames: WaveNet's receptive field, whole tokens
    if len(classes) < needed * hop:
        rate = config.data.sample_rate
        raise UserError(
            f"--prime {path}: {len(classes) / rate:.3f} s of audio is too short to continue; "
            f"it needs at least {needed * hop / rate:.3f} s (whole tokens covering "
            "WaveNet's receptive field)"
        )
    features = feature_store(config).of_classes(classes)  # (K, F)
    tokens = codebook.encode(features[: len(classes) // hop])  # (N,)
    end = len(tokens) * pool  # frames the tokens cover
    before = features[end - h - 1] if end > h else np.full(features.shape[1], SILENCE_DB)
    frames = np.concatenate([before[None], features[end - h : end]]).astype(np.float32)
    return Prime(tokens, classes[(end - h) * hop : end * hop].astype(np.int64), frames)


# --- the piece ----------------------------------------------------------------------------------


# A label whose rests read within this of its notes (dB) plays on between them: its rests
# are played unsteered (the demo's transcribed ambient and classical -1 to -4 dB, a score's
# silent rests -25 dB and lower: experiments/ambient_rests_2026-12-05)
SOUNDING_RESTS_DB = -12.0


@dataclass
class Piece:
    """A composed piece. For a run steered by notes, ``features`` is the roll of the
    notes (clips, K, 176), ``tokens`` the events of each clip (as many as it took to
    reach the length: a list of (N_i,)), ``notes`` the notes each clip plays and
    ``midi_paths`` the MIDI files written beside the WAVs. ``features_paths``: the
    ``.npy`` file of each clip's features (``--features-out``, a label in each name)."""

    audio: np.ndarray  # (clips, T) float32
    features: np.ndarray  # (clips, K, F) composed features in dB
    tokens: np.ndarray | list[np.ndarray]  # (clips, N) composed tokens
    tags: list[str]  # per clip: "" or a label
    paths: list[Path] | None = None
    temperature: float = 1.0  # the composer's, as sampled
    hold_penalty: float = 0.0  # the composer's, as sampled
    notes: list[list[Note]] | None = None
    midi_paths: list[Path] | None = None
    features_paths: list[Path] = field(default_factory=list)
    redraws: list[Redraw] = field(default_factory=list)  # falls into noise drawn again
    sample_rate: int = 0  # of ``audio``
    shortest_notes: list[float] | None = None  # per clip: seconds each key was held at least
    unsteered_rests: list[bool] | None = None  # per clip: its rests played unsteered


def compose(
    run_dir: Path,
    options: PieceConfig,
    out: Path | None = None,
    features_out: Path | None = None,
    on_chunk: ChunkFn | None = None,
) -> Piece:
    """Compose ``options.seconds`` of music per clip (one per label asked for).

    With ``out``, the WAV(s) are rewritten after every chunk; ``on_chunk`` gets the audio
    so far (clips, t) after every chunk; ``features_out`` saves the composed features
    (K, F) per clip as ``.npy`` (the format ``generate --features`` reads). A run steered
    by notes composes note events instead (``note_piece.py``) and, with ``out``, writes
    each clip's notes as a MIDI file beside its WAV (``piece.mid``)."""
    for name, suffix, flag in ((out, ".wav", "--out"), (features_out, ".npy", "--features-out")):
        if name is not None:
            check_out(name, suffix, flag)  # as typed, before the models load
    device = generation_device(options.device)
    wavenet, config = load_model(run_dir, device)
    require_local(config, run_dir)
    refuse_note_settings(
        config, options, prefix="wavenet_", composing=("shortest_note", "unsteered_rests")
    )
    require_unsteered(options, config)
    saved = load_composer(run_dir, weights_only=True)
    check_composer(saved, config, run_dir)
    composer = build_composer(saved).to(device)
    temperature, hold_penalty = calibrated_sampling(
        saved, options.temperature, options.hold_penalty
    )
    options = replace(options, temperature=temperature, hold_penalty=hold_penalty)
    labels, tags = clip_plan(config, GenerateConfig(label=options.label, num=options.num))
    prime = checked_prime(options.prime, run_dir, notes=saved.codebook is None)
    paths = None if out is None else clip_paths(out, tags)
    midi_paths = None
    if saved.codebook is None:
        midi_paths = midi_beside(paths, features_out, run_dir)
    features_paths = (
        [] if features_out is None else clip_paths(features_out, tags, ".npy", "--features-out")
    )
    for path in (paths or []) + (midi_paths or []) + features_paths:
        check_target(path)  # a folder or a device fails now, not after the composing
    check_apart((paths or []) + (midi_paths or []) + features_paths, {"--prime": prime})
    length = round(options.seconds * config.data.sample_rate)
    count = "--num" if options.num > 1 else "--label"  # one piece a label: fewer labels
    free = free_memory(torch.device("cpu"))
    require_room_for_clips(config, len(tags), length, free, count, len(tags) // options.num)
    job = Job(
        wavenet,
        config,
        composer,
        labels,
        len(tags),
        options,
        _generators(options.seed, device),
        paths,
        on_chunk,
    )
    with threads_for(len(tags), device):  # few streams: one thread is fastest
        if saved.codebook is None:
            piece = _compose_notes(job, prime, midi_paths, saved.meta)
        else:
            piece = _compose_frames(job, saved.codebook, prime, features_paths)
    piece.tags, piece.paths, piece.sample_rate = tags, paths, config.data.sample_rate
    piece.features_paths = features_paths
    piece.temperature, piece.hold_penalty = options.temperature, options.hold_penalty
    return piece


def midi_beside(
    paths: list[Path] | None, features_out: Path | None, run_dir: Path
) -> list[Path] | None:
    """The MIDI file beside each WAV of a piece of notes (None without WAVs)."""
    if features_out is not None:
        raise UserError(f"{run_dir} composes notes (MIDI beside the WAV); drop --features-out")
    if paths is None:
        return None
    if any(is_midi(p) for p in paths):
        raise UserError(f"--out {paths[0]}: expected a WAV path (the MIDI file goes beside it)")
    return [p.with_suffix(".mid") for p in paths]


def check_composer(saved: ComposerCheckpoint, config: Config, run_dir: Path) -> None:
    """A one-line error unless the composer writes what the run's WaveNet is steered by,
    for its labels."""
    if saved.labels != config.model.global_labels:
        raise UserError(f"the composer of {run_dir} was trained for other labels; retrain it")
    writes_notes = saved.codebook is None
    if writes_notes != (config.data.features == "notes"):
        writes = "note events" if writes_notes else "frame features"
        raise UserError(
            f"the composer of {run_dir} writes {writes}, but its WaveNet is steered by "
            f"{config.data.features}; train the composer again (train-composer)"
        )


def checked_prime(prime: str | None, run_dir: Path, notes: bool) -> Path | None:
    """``--prime`` as a path: a file, and a MIDI file only for a run steered by notes."""
    if prime is None:
        return None
    if not Path(prime).is_file():
        raise UserError(f"--prime {prime} is not a file")
    if is_midi(Path(prime)) and not notes:
        raise UserError(
            f"--prime {prime}: {run_dir} composes frame features, which continue audio; "
            "pass an audio file (a MIDI prime needs a run trained with --preset notes)"
        )
    return Path(prime)


@dataclass(frozen=True)
class Job:
    """What one ``compose`` works with: the models, the clips' labels (B,) or None and
    their count, the options (sampling as resolved), the composer's and the WaveNet's
    random streams, the WAV paths and the chunk callback."""

    wavenet: WaveNet
    config: Config
    composer: Composer
    labels: Tensor | None
    clips: int
    options: PieceConfig
    generators: tuple[torch.Generator, torch.Generator]
    paths: list[Path] | None
    on_chunk: ChunkFn | None


def _compose_notes(
    job: Job,
    prime_path: Path | None,
    midi_paths: list[Path] | None,
    meta: dict | None = None,
) -> Piece:
    """Events → notes (each clip's MIDI file written first, its notes played by the
    instrument of the clip's label: the composer's ``meta["programs"]``, the piano where
    none; each key held at least ``shortest_steps``) → the WaveNet plays them."""
    options, config = job.options, job.config
    meta = meta or {}
    programs = meta.get("programs")
    prime = NotePrime(np.zeros(0, np.int64))
    if prime_path is not None:
        prime = read_note_prime(prime_path, config)
    shortest = shortest_steps(options.shortest_note, meta.get("shortest_notes"), job)
    rests = unsteered_rests(options.unsteered_rests, meta.get("rest_levels"), job)
    with StopRequest() as stop:
        events = compose_events(
            job.composer,
            prime.tokens,
            job.labels,
            job.clips,
            options,
            job.generators[0],
            stop,
            shortest,
        )
    if stop.requested:
        raise Interrupted([])
    notes = [piece_notes(prime.tokens, row, options.seconds) for row in events]
    if programs:  # composers trained before 2026-12-05 kept none
        notes = [
            [replace(n, program=programs[i]) for n in clip]
            for i, clip in zip(label_indices(job), notes, strict=True)
        ]
    for path, clip_notes in zip(midi_paths or [], notes, strict=False):
        write_midi(path, clip_notes, options.seconds)  # first: there on Ctrl-C
    redraws: list[Redraw] = []
    try:
        audio = play_notes(
            job.wavenet,
            config,
            notes,
            job.labels,
            prime.classes,
            options,
            job.generators[1],
            job.paths,
            job.on_chunk,
            redraws.append,
            rests,
        )
    except Interrupted as stopped:  # the notes are whole: say where they are too
        raise Interrupted(stopped.paths, midi_paths) from None
    rolls = note_rolls(notes, config, audio.shape[1])  # (B, K, 176)
    held = None if shortest is None else (shortest / STEPS).tolist()
    return Piece(
        audio,
        rolls,
        events,
        [],
        notes=notes,
        midi_paths=midi_paths,
        redraws=redraws,
        shortest_notes=held,
        unsteered_rests=rests,
    )


def label_indices(job: Job) -> list[int]:
    """Each clip's label index into what the composer stored per label (0 for a run
    without labels)."""
    return [0] * job.clips if job.labels is None else [max(i, 0) for i in job.labels.tolist()]


def tag_labels(tags: list[str]) -> list[str]:
    """The label of each clip's tag: piano-2 → piano."""
    return [re.sub(r"-\d+$", "", tag) for tag in tags]


def shortest_steps(seconds: float | None, by_label: list[float] | None, job: Job) -> Tensor | None:
    """(clips,) the steps each clip's keys stay down at least: ``seconds`` (the
    ``--shortest-note`` given), else the clip's label's of ``by_label`` (what the composer
    stored); None where that is none."""
    if seconds is None and not by_label:
        return None  # a composer trained before it stored its labels' shortest notes
    if seconds is not None:
        per_clip = [seconds] * job.clips
    else:
        per_clip = [by_label[i] for i in label_indices(job)]
    return torch.tensor([round(s * STEPS) for s in per_clip], dtype=torch.long)


def unsteered_rests(chosen: bool | None, by_label: list | None, job: Job) -> list[bool]:
    """Per clip, whether the WaveNet plays its rests unsteered: ``chosen`` (the
    ``--unsteered-rests`` given) for every clip, else where the clip's label's music plays
    on between its notes: its rest level of ``by_label`` (what the composer stored,
    ``note_tokens.rest_levels``) within ``SOUNDING_RESTS_DB`` of its notes. None for a
    composer trained before it stored them, or a WaveNet that never played without notes
    (``train.local_dropout`` 0: its "absent" was never trained; ``require_unsteered``)."""
    if chosen is not None:
        return [chosen] * job.clips
    if not job.config.train.local_dropout > 0:
        return [False] * job.clips
    levels = [None if not by_label else by_label[i] for i in label_indices(job)]
    return [level is not None and level >= SOUNDING_RESTS_DB for level in levels]


def require_unsteered(options: PieceConfig, config: Config) -> None:
    """``--unsteered-rests true`` needs a WaveNet that learned to play without notes."""
    if options.unsteered_rests and not config.train.local_dropout > 0:
        raise UserError(
            "--unsteered-rests true plays rests as the WaveNet plays without notes, but this "
            "run was trained with train.local_dropout 0 (never without them); leave it out, "
            "or train with --local-dropout 0.3"
        )


def rests_words(tags: list[str], unsteered: list[bool]) -> str:
    """ "ambient, classical" : the labels of a piece's clips (``tags``: piano, piano-2 ...)
    whose rests are played unsteered, once each; "" for none."""
    labels = tag_labels(tags)
    return ", ".join(dict.fromkeys(label for label, u in zip(labels, unsteered, strict=True) if u))


def shortest_words(tags: list[str], seconds: list[float]) -> str:
    """ "0.13 s (ambient), 0.06 s (guitar)": each label's shortest notes of a piece's clips
    (``tags``: piano, piano-2 ...), once per label; "0.1 s" where that is one figure."""
    if len(set(seconds)) == 1:
        return f"{seconds[0]:g} s"
    said = dict(zip(tag_labels(tags), seconds, strict=True))
    return ", ".join(f"{s:g} s ({label})" for label, s in said.items())


def _compose_frames(
    job: Job, codebook: Codebook, prime_path: Path | None, features_paths: list[Path]
) -> Piece:
    """Tokens → frames (each clip's written first to ``features_paths``) → the WaveNet
    plays them after the prime (the module docstring)."""
    config, options = job.config, job.options
    prime = None if prime_path is None else read_prime(prime_path, config, codebook)
    length = round(options.seconds * config.data.sample_rate)
    per_token = config.model.hop_length * codebook.pool
    needed = math.ceil((length + config.model.hop_length) / per_token)  # every frame, one ahead
    primed_tokens = np.zeros(0, np.int64) if prime is None else prime.tokens
    with StopRequest() as stop:
        tokens = compose_tokens(job, primed_tokens, needed, stop)  # (clips, N)
    if stop.requested:
        raise Interrupted([])
    features = np.stack([codebook.decode(row) for row in tokens])  # (clips, N · pool, F)
    for path, clip_features in zip(features_paths, features, strict=False):
        _save_npy(path, clip_features)  # first: there on Ctrl-C
    device = model_device(job.wavenet)
    primed = {}  # without a prime the history is silence, as before every file in training
    if prime is not None:  # its audio, and its frames
        primed = {
            "prime": torch.from_numpy(prime.classes)[None].repeat(job.clips, 1),
            "prime_frames": torch.from_numpy(prime.frames.T.copy())[None].repeat(job.clips, 1, 1),
        }
    redraws: list[Redraw] = []
    audio = play(
        job.wavenet,
        config,
        job.clips,
        options,
        job.generators[1],
        job.paths,
        job.on_chunk,
        redraws.append,
        labels=None if job.labels is None else job.labels.to(device),
        features=torch.from_numpy(features.transpose(0, 2, 1).copy()),  # (clips, F, K)
        **primed,
    )
    return Piece(audio, features, tokens, [], redraws=redraws)


@torch.no_grad()
def compose_tokens(job: Job, prime: np.ndarray, count: int, stop: StopRequest) -> np.ndarray:
    """``count`` tokens (clips, count) after ``prime`` (N,), ``TOKENS_PER_CHECK`` at a time;
    fewer when ``stop`` is requested meanwhile."""
    options = job.options
    state, last = primed_composer(job.composer, prime, job.clips, job.labels)
    written: list[np.ndarray] = [np.zeros((job.clips, 0), dtype=np.int64)]
    while sum(w.shape[1] for w in written) < count and not stop.requested:
        new, last, state = continue_tokens(
            job.composer,
            state,
            last,
            min(TOKENS_PER_CHECK, count - sum(w.shape[1] for w in written)),
            options.temperature,
            options.top_k,
            job.generators[0],
            options.hold_penalty,
        )
        written.append(new.cpu().numpy())
    return np.concatenate(written, axis=1)


def _generators(seed: int | None, device: torch.device) -> tuple[torch.Generator, torch.Generator]:
    """Separate streams for the composer and WaveNet, so each is reproducible alone."""
    pair = (torch.Generator(device=device), torch.Generator(device=device))
    for offset, generator in enumerate(pair):
        if seed is None:
            generator.seed()
        else:
            generator.manual_seed(seed + offset)
    return pair


def _save_npy(path: Path, array: np.ndarray) -> None:
    write_atomically(path, npy_bytes(array))
