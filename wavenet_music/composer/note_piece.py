"""The notes side of ``compose``: a composer of note events writes each clip's notes, and
the run's WaveNet plays them.

1. The prime (``read_note_prime``): a MIDI file's notes, or an audio file's transcription
   (its audio also becomes the WaveNet's history), encoded with TIME_SHIFTs up to its end,
   so the piece starts where the prime ends. No prime: the start token alone.
2. Events (``compose_events``): sampled for all clips together, until each clip's events
   span the piece (at most ``MAX_EVENTS_PER_SECOND`` of them: a composer that never moves
   time on ends early, its notes with it), a NOTE_OFF only for a key that is down
   (``event_rules``: else notes hang on to the end of the piece).
3. Notes (``piece_notes``): the prime and the events decoded together (the velocity the
   prime left carries over; the prime's notes all end inside it), the prime's notes left
   out, the rest moved to start at 0 and cut to the piece.
4. The render (``play_notes``): one pass of ``generate`` over the whole piece
   (``playing.play``), steered by the notes' roll and excitation
   (``wavenet.to_audio.pieces_steering``), the WAV rewritten after every ``chunk_seconds``
   of audio.

No sampling calibration applies to events (``config.py``): the temperature is 1 unless
``--temperature`` says otherwise, the hold penalty 0 unless ``--hold-penalty``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..audio.io import check_damage, load_audio_with_damage, mu_law_encode
from ..config import Config
from ..notes.events import STEPS_PER_SECOND as STEPS
from ..notes.events import decode, duration_steps, encode, to_steps, token_steps
from ..notes.features import NoteStore
from ..notes.midi import Note
from ..notes.playable import read_playable
from ..notes.transcribe import require_notes, transcribe_file
from ..runtime.stop import StopRequest
from ..wavenet.model import WaveNet
from ..wavenet.noise_guard import RedrawFn
from ..wavenet.to_audio import note_floors, note_temperatures, pieces_steering
from ..wavenet.windows import feature_store
from .config import PieceConfig
from .event_rules import keys_after_all, keys_at_end
from .model import Composer, continue_tokens, primed_composer
from .playing import ChunkFn, play

MIDI_SUFFIXES = (".mid", ".midi", ".kar", ".smf")  # Standard MIDI Files (.kar: karaoke)
MAX_EVENTS_PER_SECOND = 1000  # ten times a dense piano piece: a composer stuck in place
EVENTS_PER_CHECK = 64  # events sampled between checks of how far each clip has come


@dataclass(frozen=True)
class NotePrime:
    """What a piece of notes continues: event tokens (N,) and the WaveNet's history (P,)
    mu-law classes (None: silence, as before every file in training)."""

    tokens: np.ndarray
    classes: np.ndarray | None = None


def is_midi(path: Path) -> bool:
    """A Standard MIDI File by its name (``MIDI_SUFFIXES``, any case), or, for a file
    that exists, by its first bytes (``MThd``), whatever it is called."""
    if Path(path).suffix.lower() in MIDI_SUFFIXES:
        return True
    try:
        with Path(path).open("rb") as file:
            return file.read(4) == b"MThd"
    except OSError:
        return False


def prime_audio(path: Path, sample_rate: int) -> np.ndarray:
    """``--prime``'s audio (T,) at ``sample_rate``; as for ``generate --seed-audio``,
    non-finite samples are silence, said in a warning, and a file without one finite
    sample is refused (it was continued as silence, without a word)."""
    audio, damage = load_audio_with_damage(path, sample_rate)
    check_damage(path, damage, "the prime", "nothing to continue; pass another --prime")
    return audio


def read_note_prime(path: Path, config: Config) -> NotePrime:
    """A MIDI file's notes (keys on the piano), or an audio file's transcription and its
    last receptive field as history; bad input is one line naming the file."""
    if is_midi(path):
        return NotePrime(encode(read_playable(path)))
    rate, q = config.data.sample_rate, config.model.quantization_channels
    audio = prime_audio(path, rate)
    notes = require_notes(transcribe_file(path), path)
    classes = mu_law_encode(audio[-config.model.receptive_field :], q).astype(np.int64)
    return NotePrime(encode(notes, end=len(audio) / rate), classes)


@torch.no_grad()
def compose_events(
    model: Composer,
    prime: np.ndarray,
    labels: Tensor | None,
    clips: int,
    options: PieceConfig,
    generator: torch.Generator,
    stop: StopRequest | None = None,
    shortest: Tensor | None = None,
) -> list[np.ndarray]:
    """Each clip's events after ``prime`` (N,), up to the one that reaches
    ``options.seconds`` (at most ``MAX_EVENTS_PER_SECOND`` per second); fewer when
    ``stop`` is requested meanwhile. A key comes up only while it is down and, with
    ``shortest`` (clips,), once held that many steps (``event_rules``)."""
    state, last = primed_composer(model, prime, clips, labels)
    keys = keys_at_end(prime, clips, last.device)
    target, cap = to_steps(options.seconds), math.ceil(options.seconds * MAX_EVENTS_PER_SECOND)
    written: list[np.ndarray] = []
    reached = np.zeros(clips, dtype=np.int64)
    while (reached < target).any() and sum(w.shape[1] for w in written) < cap:
        if stop is not None and stop.requested:
            break
        new, last, state = continue_tokens(
            model,
            state,
            last,
            EVENTS_PER_CHECK,
            options.temperature,
            options.top_k,
            generator,
            options.hold_penalty,
            keys,
            shortest,
        )
        keys = keys_after_all(keys, new)
        written.append(new.cpu().numpy())  # (B, EVENTS_PER_CHECK)
        reached += [duration_steps(row) for row in written[-1]]
    if not written:  # shorter than one step of the note grid, or stopped at once
        return [np.zeros(0, dtype=np.int64) for _ in range(clips)]
    events = np.concatenate(written, axis=1)  # (B, N)
    return [row[: _reaching(row, target)] for row in events]


def _reaching(tokens: np.ndarray, target: int) -> int:
    """How many of ``tokens`` it takes to span ``target`` steps (all when they do not)."""
    elapsed = np.cumsum(token_steps(tokens))  # (N,)
    return min(len(tokens), int(np.searchsorted(elapsed, target)) + 1)


def piece_notes(prime: np.ndarray, events: np.ndarray, seconds: float) -> list[Note]:
    """The notes ``events`` (N,) add after ``prime`` (M,), from 0 and cut to ``seconds``."""
    start, end = duration_steps(prime), to_steps(seconds)
    notes = []
    for n in decode(np.concatenate([prime, events])):
        onset, offset = to_steps(n.onset) - start, to_steps(n.offset) - start
        if 0 <= onset < end:
            notes.append(Note(onset / STEPS, min(offset, end) / STEPS, n.pitch, n.velocity))
    return notes


def play_notes(
    wavenet: WaveNet,
    config: Config,
    pieces: list[list[Note]],
    labels: Tensor | None,
    prime: np.ndarray | None,
    options: PieceConfig,
    generator: torch.Generator,
    paths: list[Path] | None = None,
    on_chunk: ChunkFn | None = None,
    on_redraw: RedrawFn | None = None,
    unsteered_rests: Sequence[bool] | None = None,
) -> np.ndarray:
    """Float audio (clips, seconds · rate): each clip plays its notes of ``pieces`` after
    the history ``prime`` (P,) classes (None: silence), in one pass (``playing.play``:
    ``paths``, ``on_chunk`` and ``on_redraw`` as there; ``unsteered_rests`` as
    ``notes_steering`` takes it)."""
    clips = len(pieces)
    history = None if prime is None else torch.from_numpy(prime)[None].repeat(clips, 1)
    return play(
        wavenet,
        config,
        clips,
        options,
        generator,
        paths,
        on_chunk,
        on_redraw,
        prime=history,
        labels=labels,
        **notes_steering(pieces, config, options, unsteered_rests),
    )


def notes_steering(
    pieces: list[list[Note]],
    config: Config,
    options: PieceConfig,
    unsteered_rests: Sequence[bool] | None = None,
) -> dict:
    """What steers the WaveNet through each clip's notes of ``pieces``, as ``generate``'s
    arguments: their roll and excitation (``to_audio.pieces_steering``; each clip's rests
    unsteered where ``unsteered_rests`` says), the floors and temperatures while they
    sound."""
    rate, length = config.data.sample_rate, round(options.seconds * config.data.sample_rate)
    gain, tilt = options.wavenet_excitation_gain, options.wavenet_treble_tilt
    harmonics, rolloff = options.wavenet_heard_harmonics, options.wavenet_heard_rolloff
    features, heard = pieces_steering(
        pieces, config, length, gain, tilt, unsteered_rests, harmonics, rolloff
    )
    temperature, scale = options.wavenet_temperature, options.wavenet_note_temperature_scale
    return {
        "features": features,
        "excitation": heard,
        "silence": NoteStore.silence,
        "floors": note_floors(pieces, length, rate, options.wavenet_floor),
        "temperatures": note_temperatures(pieces, length, rate, temperature, scale),
    }


def note_rolls(pieces: list[list[Note]], config: Config, length: int) -> np.ndarray:
    """The roll (B, K, 176) of each clip's notes over ``length`` samples."""
    store = feature_store(config)
    return np.stack([store.roll(notes, length) for notes in pieces])
