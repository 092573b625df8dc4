"""Phrases a piece shares with other music: is it composed, or replayed from what it learned?

A piece's melody is read as its notes in order of onset (a chord's notes low to high,
drums left out) and kept as the steps between successive pitches in semitones, so that a
phrase played in another key is the same phrase (the composer learns every transposition
of its music). A phrase of n notes shared with other music is a run of n - 1 steps that
also occurs there. Pure Python and numpy.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import pairwise

import numpy as np

from .midi import Note

Steps = tuple[int, ...]
# added to every step before runs are hashed: Python hashes -1 as -2, so runs that differ
# only there would read as one; steps of MIDI keys lie within ±127
POSITIVE = 128


def pitch_steps(notes: Sequence[Note]) -> Steps:
    """The semitone steps between successive notes of ``notes`` in order of onset (a
    chord low to high), drums left out."""
    pitches = [p for _, p in sorted((n.onset, n.pitch) for n in notes if not n.is_drum)]
    return tuple(b - a for a, b in pairwise(pitches))


def runs(steps: Steps, n: int) -> Iterable[Steps]:
    """Every run of ``n`` consecutive steps of ``steps``."""
    return (steps[i : i + n] for i in range(len(steps) - n + 1))


class PhraseIndex:
    """The phrases of a body of music, to look a piece's phrases up in. The runs of each
    length asked for are kept as their sorted 64-bit hashes (8 bytes a run, whatever the
    length; two different runs could read as one with a chance of about one in 2^64 /
    the runs kept)."""

    def __init__(self, pieces: Iterable[Sequence[Note]]) -> None:
        self._steps = [_positive(pitch_steps(piece)) for piece in pieces]
        self._runs: dict[int, np.ndarray] = {}

    def _of_length(self, n: int) -> np.ndarray:
        if n not in self._runs:
            hashes = (hash(r) for steps in self._steps for r in runs(steps, n))
            self._runs[n] = np.unique(np.fromiter(hashes, np.int64))
        return self._runs[n]

    def _shares(self, steps: Steps, n: int) -> bool:
        """Whether a run of ``n`` of ``steps`` occurs here."""
        mine = np.fromiter((hash(r) for r in runs(steps, n)), np.int64)
        return bool(np.isin(mine, self._of_length(n)).any())

    def longest_shared(self, notes: Sequence[Note]) -> int:
        """Notes in the longest phrase of ``notes`` that the indexed music also plays, in
        any key: 0 for a piece without notes, 1 where no step between two of its notes
        occurs there. Every run inside a shared run is shared, so the lengths tried
        double until one is not shared, then halve the gap: a piece replayed whole costs
        a few dozen look-ups, not one per note."""
        if all(n.is_drum for n in notes):
            return 0
        steps = _positive(pitch_steps(notes))
        shared, unknown = 0, 1  # a run of ``shared`` steps occurs here; of ``unknown``, ask
        while unknown <= len(steps) and self._shares(steps, unknown):
            shared, unknown = unknown, 2 * unknown
        not_shared = min(unknown, len(steps) + 1)  # not shared, or longer than the piece
        while not_shared - shared > 1:
            middle = (shared + not_shared) // 2
            if self._shares(steps, middle):
                shared = middle
            else:
                not_shared = middle
        return shared + 1


def _positive(steps: Steps) -> Steps:
    return tuple(s + POSITIVE for s in steps)
