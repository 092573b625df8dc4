"""Composer → features → WaveNet, streaming: one command from nothing (or a prime) to audio.

Tokens are sampled one chunk ahead of the audio; each chunk is decoded to features and
handed to a ``StreamingRenderer``, which renders every sample whose frame and next frame
are known (the upsampler hears one frame ahead), and the partial WAV is rewritten after
each chunk. So the first seconds can be heard long before the piece is finished.

The renderer is the incremental WaveNet (compiled where it builds) with explicit state;
recomputing its per-frame conditioning when frames arrive makes it exactly
``generate.generate`` over the whole feature sequence (tested sample for sample).

A run steered by notes takes the other road (``note_piece.py``): its composer writes note
events, every note is composed first (seconds), written as MIDI beside the WAV, and then
played by the WaveNet in one pass that rewrites the WAV after each chunk.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..audio.features import SILENCE_DB, feature_store
from ..audio.io import load_audio, mu_law_decode, mu_law_encode, silence_class
from ..config import Config, GenerateConfig, UserError
from ..notes.midi import Note, write_midi
from ..runs import check_apart, check_target, npy_bytes, write_atomically
from ..runtime.device import generation_device, model_device
from ..runtime.stop import Interrupted, StopRequest
from ..wavenet.checkpoint import load_model
from ..wavenet.compiled import RUN_STEPS, CompiledWaveNet, generation_step
from ..wavenet.generate import uniform_rows
from ..wavenet.model import WaveNet
from ..wavenet.noise_guard import Redraw
from ..wavenet.to_audio import clip_paths, clip_plan, rewrite_due, threads_for, write_clips
from .checkpoint import ComposerCheckpoint, build_composer, calibrated_sampling, load_composer
from .config import PieceConfig
from .data import require_local
from .model import Composer, continue_tokens, primed_composer
from .note_piece import (
    ChunkFn,
    NotePrime,
    compose_events,
    is_midi,
    note_rolls,
    piece_notes,
    play_notes,
    read_note_prime,
)
from .tokens import Codebook

# --- rendering features as they arrive ------------------------------------------------------------


class StreamingRenderer:
    """WaveNet audio from features that arrive in chunks.

    The timeline of frames is: one context frame, the history's frames (the history is
    ``H`` samples, a whole number of frames), then every frame added. A sample is rendered
    once its own frame and the next are known."""

    def __init__(
        self,
        model: WaveNet,
        history: Tensor,
        history_frames: np.ndarray,
        labels: Tensor | None,
        temperature: float,
        generator: torch.Generator,
        engine: str = "auto",
    ) -> None:
        """history (B, H) classes; history_frames (B, 1 + H / hop, F) in dB: the context
        frame before the history, then its frames; ``engine`` as for ``generate``."""
        self.model, self.fast = model, generation_step(model, engine, "float32")
        self.history, self.labels = history, labels
        self.frames = [np.asarray(history_frames, dtype=np.float32)]
        self.temperature, self.generator = temperature, generator
        self.state, self.x = None, history[:, -1]
        self.hop = model.config.hop_length
        self.rendered = 0  # samples after the history

    def add(self, features: np.ndarray) -> None:
        """Append frames (B, K, F) in dB."""
        self.frames.append(np.asarray(features, dtype=np.float32))

    def renderable(self) -> int:
        """Samples that can be rendered now."""
        known = sum(f.shape[1] for f in self.frames) - 1  # frames after the context frame
        added = known - self.history.shape[1] // self.hop
        return max(0, (added - 1) * self.hop - self.rendered)

    @torch.inference_mode()
    def render(self, samples: int, stop: StopRequest | None = None) -> Tensor:
        """The next ``samples`` classes (B, samples); at most ``renderable()``. Fewer when
        ``stop`` is requested meanwhile (checked between samples, or runs of them)."""
        assert samples <= self.renderable(), "render: frames not composed yet"
        device = self.history.device
        timeline = np.concatenate(self.frames, axis=1).transpose(0, 2, 1)  # (B, F, K + 2)
        frames = torch.from_numpy(np.ascontiguousarray(timeline)).to(device)
        if self.state is None:
            self.state = self.fast.initial_state(self.model, self.history, self.labels, frames)
        else:
            self.state = self.fast.with_frames(self.model, self.state, frames)
        if isinstance(self.fast, CompiledWaveNet):
            out = self._run(samples, stop)
        else:
            out = self._steps(samples, stop)
        self.rendered += out.shape[1]
        return out

    def _run(self, samples: int, stop: StopRequest | None) -> Tensor:
        """The compiled engine: ``RUN_STEPS`` samples a C++ call (the same draws as a step
        at a time: the generator's numbers in the same order); ``stop`` heard between runs."""
        B, drawn = self.history.shape[0], self.temperature != 0
        parts = []
        for start in range(0, samples, RUN_STEPS):
            if stop is not None and stop.requested:
                break
            n = min(RUN_STEPS, samples - start)
            u = uniform_rows(self.generator, B, n, self.x.device, drawn)
            rows = zip(itertools.repeat(None), itertools.repeat(None), u)  # no floors, one heat
            parts.append(self.fast.run(self.state, self.x, n, self.temperature, rows))
            self.x = parts[-1][:, -1]
        return torch.cat(parts, dim=1) if parts else self.history[:, :0]

    def _steps(self, samples: int, stop: StopRequest | None) -> Tensor:
        """The eager step (on a GPU, too: the graph engine generates whole pieces only)."""
        out = torch.empty(self.history.shape[0], samples, dtype=torch.long, device=self.x.device)
        for t in range(samples):
            if stop is not None and stop.requested:
                return out[:, :t]
            logits, self.state = self.fast.step(self.x, self.state)
            self.x = self.fast.sample(logits, self.temperature, self.generator).to(out.device)
            out[:, t] = self.x
        return out


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


def silent_prime(config: Config) -> Prime:
    """Silence, as before every file in training."""
    h, hop = history_frames(config), config.model.hop_length
    silence = silence_class(config.model.quantization_channels)
    frames = np.full((1 + h, config.model.local_channels), SILENCE_DB, np.float32)
    return Prime(np.zeros(0, np.int64), np.full(h * hop, silence, np.int64), frames)


def read_prime(path: Path, config: Config, codebook: Codebook) -> Prime:
    """The prime's tokens (whole tokens from its start) and the audio just before the end
    of the last whole token as WaveNet history."""
    hop, h, pool = config.model.hop_length, history_frames(config), codebook.pool
    classes = mu_law_encode(
        load_audio(path, config.data.sample_rate), config.model.quantization_channels
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


@dataclass
class Piece:
    """A composed piece. For a run steered by notes, ``features`` is the roll of the
    notes (clips, K, 176), ``tokens`` the events of each clip (as many as it took to
    reach the length: a list of (N_i,)), ``notes`` the notes each clip plays and
    ``midi_paths`` the MIDI files written beside the WAVs."""

    audio: np.ndarray  # (clips, T) float32
    features: np.ndarray  # (clips, K, F) composed features in dB
    tokens: np.ndarray | list[np.ndarray]  # (clips, N) composed tokens
    tags: list[str]  # per clip: "" or a label
    paths: list[Path] | None = None
    temperature: float = 1.0  # the composer's, as sampled
    hold_penalty: float = 0.0  # the composer's, as sampled
    notes: list[list[Note]] | None = None
    midi_paths: list[Path] | None = None
    redraws: list[Redraw] = field(default_factory=list)  # falls into noise drawn again
    sample_rate: int = 0  # of ``audio``


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
    device = generation_device(options.device)
    wavenet, config = load_model(run_dir, device)
    require_local(config, run_dir)
    saved = load_composer(run_dir, weights_only=True)
    check_composer(saved, config, run_dir)
    composer = build_composer(saved).to(device)
    temperature, hold_penalty = calibrated_sampling(
        saved, options.temperature, options.hold_penalty
    )
    options = replace(options, temperature=temperature, hold_penalty=hold_penalty)
    labels, tags = clip_plan(config, GenerateConfig(label=options.label))
    prime = checked_prime(options.prime, run_dir, notes=saved.codebook is None)
    paths = None if out is None else clip_paths(out, tags)
    midi_paths = None
    if saved.codebook is None:
        midi_paths = midi_beside(paths, features_out, run_dir)
    features_paths = [] if features_out is None else clip_paths(features_out, tags, ".npy")
    for path in (paths or []) + (midi_paths or []) + features_paths:
        check_target(path)  # a folder or a device fails now, not after the composing
    check_apart((paths or []) + (midi_paths or []) + features_paths, {"--prime": prime})
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
            piece = _compose_notes(job, prime, midi_paths, saved.meta.get("programs"))
        else:
            piece = _stream(job, saved.codebook, prime)
    piece.tags, piece.paths, piece.sample_rate = tags, paths, config.data.sample_rate
    piece.temperature, piece.hold_penalty = options.temperature, options.hold_penalty
    for path, features in zip(features_paths, piece.features, strict=False):
        _save_npy(path, features)
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
    programs: list[int] | None = None,
) -> Piece:
    """Events → notes (each clip's MIDI file written first, its notes played by the
    instrument of the clip's label: ``programs``, the piano where none) → the WaveNet
    plays them."""
    options, config = job.options, job.config
    prime = NotePrime(np.zeros(0, np.int64))
    if prime_path is not None:
        prime = read_note_prime(prime_path, config)
    with StopRequest() as stop:
        events = compose_events(
            job.composer, prime.tokens, job.labels, job.clips, options, job.generators[0], stop
        )
    if stop.requested:
        raise Interrupted([])
    notes = [piece_notes(prime.tokens, row, options.seconds) for row in events]
    if programs:  # composers trained before 2026-12-05 kept none
        indices = [0] * len(notes) if job.labels is None else job.labels.tolist()
        notes = [
            [replace(n, program=programs[max(i, 0)]) for n in clip]
            for i, clip in zip(indices, notes, strict=True)
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
        )
    except Interrupted as stopped:  # the notes are whole: say where they are too
        raise Interrupted(stopped.paths, midi_paths) from None
    rolls = note_rolls(notes, config, audio.shape[1])  # (B, K, 176)
    return Piece(audio, rolls, events, [], notes=notes, midi_paths=midi_paths, redraws=redraws)


def _stream(job: Job, codebook: Codebook, prime_path: Path | None) -> Piece:
    """Tokens → frames → the streaming renderer, chunk by chunk (the module docstring)."""
    wavenet, config, composer, options = job.wavenet, job.config, job.composer, job.options
    labels, clips, paths, on_chunk = job.labels, job.clips, job.paths, job.on_chunk
    prime = silent_prime(config)
    if prime_path is not None:
        prime = read_prime(prime_path, config, codebook)
    device = model_device(wavenet)
    rate, hop, q = (
        config.data.sample_rate,
        config.model.hop_length,
        config.model.quantization_channels,
    )
    length = round(options.seconds * rate)
    per_token = hop * codebook.pool
    needed = math.ceil((length + hop) / per_token)  # tokens: every frame plus one ahead
    chunk = max(1, math.ceil(options.chunk_seconds * rate / per_token))
    composer_rng, wavenet_rng = job.generators
    state, last = primed_composer(composer, prime.tokens, clips, labels)
    history = torch.from_numpy(prime.classes)[None].repeat(clips, 1).to(device)
    renderer = StreamingRenderer(
        wavenet,
        history,
        np.repeat(prime.frames[None], clips, axis=0),
        None if labels is None else labels.to(device),
        options.wavenet_temperature,
        wavenet_rng,
    )
    tokens, audio, written = [], [], 0  # written: samples in the partial WAVs
    with StopRequest() as stop:
        while sum(a.shape[1] for a in audio) < length:
            if sum(t.shape[1] for t in tokens) < needed:
                count = min(chunk, needed - sum(t.shape[1] for t in tokens))
                new, last, state = continue_tokens(
                    composer,
                    state,
                    last,
                    count,
                    options.temperature,
                    options.top_k,
                    composer_rng,
                    options.hold_penalty,
                )
                tokens.append(new.cpu().numpy())
                renderer.add(np.stack([codebook.decode(row) for row in tokens[-1]]))
            todo = min(length - sum(a.shape[1] for a in audio), renderer.renderable())
            audio.append(renderer.render(todo, stop).cpu().numpy())
            so_far = mu_law_decode(np.concatenate(audio, axis=1), q)  # (clips, t)
            done = so_far.shape[1] >= length or stop.requested
            due = rewrite_due(so_far.shape[1], written, 1)  # each chunk while it is short
            if paths is not None and (done or due):
                write_clips(paths, so_far, rate)
                written = so_far.shape[1]
            if stop.requested:  # the audio so far is written: stop here
                raise Interrupted(paths or [])
            if on_chunk is not None:
                on_chunk(so_far)
    all_tokens = np.concatenate(tokens, axis=1)  # (clips, N)
    features = np.stack([codebook.decode(row) for row in all_tokens])  # (clips, N · pool, F)
    return Piece(so_far, features, all_tokens, [])


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
