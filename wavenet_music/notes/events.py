"""Notes as a sequence of events: the MIDI-like vocabulary of "This time with feeling"
(Oore et al. 2018) and Music Transformer (Huang et al. 2019), for the 88 piano keys.

Token ids, in this order (``VOCAB_SIZE`` = 308)::

    NOTE_ON    0 ..  87   a key (A0 = MIDI 21 .. C8 = 108) goes down
    NOTE_OFF  88 .. 175   the key comes up
    TIME_SHIFT 176 .. 275 time moves on by 1 .. 100 steps of 10 ms (longer gaps: several)
    VELOCITY 276 .. 307   later NOTE_ONs strike at velocity bin 0 .. 31 (4 velocities a bin)

``encode`` quantises onsets and offsets to the 10-ms grid (a note lasts at least one
step; a note ends where the next note of its key starts), writes at every step the
NOTE_OFFs before the NOTE_ONs, and a VELOCITY only where the bin changes. ``decode``
reads any sequence of tokens: a NOTE_OFF of a key that is up is ignored, a NOTE_ON of a
key that is down ends the sounding note there, notes still down at the end end there, a
note that would last no time is left out, and NOTE_ONs before any VELOCITY strike at
``DEFAULT_VELOCITY``. Drum notes and keys outside the piano are not encoded; decoded
notes are piano notes (program 0). Pure Python and numpy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import overload

import numpy as np

from .midi import PIANO_RANGE, Note, sort_notes

LOWEST_KEY, HIGHEST_KEY = PIANO_RANGE
KEYS = HIGHEST_KEY - LOWEST_KEY + 1  # 88
STEPS_PER_SECOND = 100  # time steps of 10 ms
MAX_SHIFT = 100  # steps one TIME_SHIFT moves (1 s)
VELOCITY_BINS = 32
VELOCITY_WIDTH = 4  # MIDI velocities per bin: bin b holds 4b .. 4b + 3
DEFAULT_VELOCITY = 64

NOTE_ON = 0
NOTE_OFF = NOTE_ON + KEYS  # 88
TIME_SHIFT = NOTE_OFF + KEYS  # 176: a shift of 1 step
VELOCITY = TIME_SHIFT + MAX_SHIFT  # 276
VOCAB_SIZE = VELOCITY + VELOCITY_BINS  # 308


# --- single tokens --------------------------------------------------------------------------


def velocity_bin(velocity: int) -> int:
    """MIDI velocity 1..127 → bin 0..31."""
    return min(VELOCITY_BINS - 1, max(0, velocity) // VELOCITY_WIDTH)


def bin_velocity(bin_: int) -> int:
    """Bin 0..31 → the MIDI velocity at its middle, 2..126 (in the bin again)."""
    return max(1, bin_ * VELOCITY_WIDTH + VELOCITY_WIDTH // 2)


def to_steps(seconds: float) -> int:
    """Seconds → the nearest 10-ms step (halves round up, so ``to_steps`` is monotone)."""
    return math.floor(seconds * STEPS_PER_SECOND + 0.5)


def is_note_on(token: int) -> bool:
    return NOTE_ON <= token < NOTE_OFF


def is_note_off(token: int) -> bool:
    return NOTE_OFF <= token < TIME_SHIFT


def is_time_shift(token: int) -> bool:
    return TIME_SHIFT <= token < VELOCITY


# --- notes → tokens ---------------------------------------------------------------------------


def quantised(notes: Sequence[Note]) -> list[tuple[int, int, int, int]]:
    """The piano notes of ``notes`` as (onset step, offset step, pitch, velocity bin),
    sorted by onset then pitch: each lasts at least one step and ends no later than the
    next onset of its key; of two onsets of a key in one step the longer note is kept."""
    rows = sorted(
        (on, max(to_steps(n.offset), on + 1), n.pitch, velocity_bin(n.velocity))
        for n in notes
        if not n.is_drum and LOWEST_KEY <= n.pitch <= HIGHEST_KEY
        for on in [to_steps(n.onset)]
    )
    kept: list[list[int] | None] = []
    sounding: dict[int, int] = {}  # pitch → index in kept of its latest note
    for on, off, pitch, bin_ in rows:
        previous = sounding.get(pitch)
        if previous is not None and (row := kept[previous]) is not None and row[1] > on:
            kept[previous] = None if row[0] == on else [row[0], on, pitch, row[3]]
        sounding[pitch] = len(kept)
        kept.append([on, off, pitch, bin_])
    return sorted((r[0], r[1], r[2], r[3]) for r in kept if r is not None)


def encode(notes: Sequence[Note], end: float | None = None) -> np.ndarray:
    """The event tokens (N,) int64 of ``notes`` (see the module docstring); with ``end``
    (seconds), TIME_SHIFTs follow the last event up to it."""
    events = sorted(
        (step, kind, pitch, bin_)
        for on, off, pitch, bin_ in quantised(notes)
        for step, kind in ((off, 0), (on, 1))  # at one step: NOTE_OFFs first
    )
    tokens: list[int] = []
    now, current_bin = 0, None
    for step, kind, pitch, bin_ in events:
        tokens += shifts(step - now)
        now = step
        if kind == 0:
            tokens.append(NOTE_OFF + pitch - LOWEST_KEY)
            continue
        if bin_ != current_bin:
            tokens.append(VELOCITY + bin_)
            current_bin = bin_
        tokens.append(NOTE_ON + pitch - LOWEST_KEY)
    if end is not None:
        tokens += shifts(to_steps(end) - now)
    return np.asarray(tokens, dtype=np.int64)


def shifts(steps: int) -> list[int]:
    """TIME_SHIFT tokens that move ``steps`` (≥ 0) steps: whole seconds, then the rest."""
    whole, rest = divmod(max(0, steps), MAX_SHIFT)
    return [TIME_SHIFT + MAX_SHIFT - 1] * whole + ([TIME_SHIFT + rest - 1] if rest else [])


# --- tokens → notes ---------------------------------------------------------------------------


def decode(tokens: Sequence[int] | np.ndarray) -> list[Note]:
    """The notes of any sequence of event tokens (see the module docstring for the rules),
    sorted by onset then pitch. A token outside the vocabulary is a ``ValueError``."""
    notes: list[Note] = []
    down: dict[int, tuple[int, int]] = {}  # pitch → (onset step, velocity)
    now, velocity = 0, bin_velocity(velocity_bin(DEFAULT_VELOCITY))

    def release(pitch: int) -> None:
        onset, strike = down.pop(pitch)
        if now > onset:
            notes.append(Note(onset / STEPS_PER_SECOND, now / STEPS_PER_SECOND, pitch, strike))

    for token in np.asarray(tokens, dtype=np.int64).tolist():
        if not 0 <= token < VOCAB_SIZE:
            raise ValueError(f"event token: expected 0 .. {VOCAB_SIZE - 1}, got {token}")
        if token >= VELOCITY:
            velocity = bin_velocity(token - VELOCITY)
        elif token >= TIME_SHIFT:
            now += token - TIME_SHIFT + 1
        elif token >= NOTE_OFF:
            if (pitch := token - NOTE_OFF + LOWEST_KEY) in down:
                release(pitch)
        else:
            pitch = token - NOTE_ON + LOWEST_KEY
            if pitch in down:
                release(pitch)
            down[pitch] = (now, velocity)
    for pitch in list(down):
        release(pitch)
    return sort_notes(notes)


def velocity_in_force(tokens: np.ndarray, position: int) -> int | None:
    """The VELOCITY token in force at ``position`` of ``tokens`` (N,): the last one at or
    before it; None where none is (NOTE_ONs there strike at ``DEFAULT_VELOCITY``). Tokens
    past the vocabulary (a composer's start token) are not velocities."""
    before = np.asarray(tokens[: position + 1])
    set_at = np.flatnonzero((before >= VELOCITY) & (before < VOCAB_SIZE))
    return None if len(set_at) == 0 else int(tokens[set_at[-1]])


def token_steps(tokens: Sequence[int] | np.ndarray) -> np.ndarray:
    """(N,) the steps each of ``tokens`` moves time on: 1..100 for a TIME_SHIFT, else 0."""
    t = np.asarray(tokens, dtype=np.int64)
    return np.where((t >= TIME_SHIFT) & (t < VELOCITY), t - TIME_SHIFT + 1, 0)


def duration_steps(tokens: Sequence[int] | np.ndarray) -> int:
    """The time ``tokens`` span: the sum of their TIME_SHIFTs, in steps."""
    return int(token_steps(tokens).sum())


# --- transposition ------------------------------------------------------------------------------


@overload
def transpose(music: np.ndarray, semitones: int) -> np.ndarray: ...
@overload
def transpose(music: Sequence[Note], semitones: int) -> list[Note]: ...


def transpose(music, semitones):
    """Notes (a sequence of ``Note``) or event tokens (an array) moved by ``semitones``;
    keys that leave the piano are dropped (their NOTE_ON and NOTE_OFF tokens). Drum notes
    stay as they are."""
    if isinstance(music, np.ndarray):
        return _transpose_tokens(music, semitones)
    return [
        n if n.is_drum else replace(n, pitch=n.pitch + semitones)
        for n in music
        if n.is_drum or LOWEST_KEY <= n.pitch + semitones <= HIGHEST_KEY
    ]


def _transpose_tokens(tokens: np.ndarray, semitones: int) -> np.ndarray:
    tokens = np.asarray(tokens, dtype=np.int64)
    keyed = tokens < TIME_SHIFT  # NOTE_ON or NOTE_OFF
    base = np.where(tokens < NOTE_OFF, NOTE_ON, NOTE_OFF)  # (N,)
    key = tokens - base + semitones  # (N,) 0..87 when still on the piano
    kept = ~keyed | ((key >= 0) & (key < KEYS))
    moved = np.where(keyed, base + key, tokens)
    return moved[kept]
