"""Phrases a piece shares with other music: is it composed, or replayed from what it learned?

A piece's melody is read as its notes in order of onset (a chord's notes low to high,
drums left out) and kept as the steps between successive pitches in semitones, so that a
phrase played in another key is the same phrase (the composer learns every transposition
of its music). A phrase of n notes shared with other music is a run of n - 1 steps that
also occurs there. Pure Python.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import pairwise

from .midi import Note

Steps = tuple[int, ...]


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
    length are collected the first time a length is asked for, and kept."""

    def __init__(self, pieces: Iterable[Sequence[Note]]) -> None:
        self._steps = [pitch_steps(piece) for piece in pieces]
        self._runs: dict[int, frozenset[Steps]] = {}

    def _of_length(self, n: int) -> frozenset[Steps]:
        if n not in self._runs:
            self._runs[n] = frozenset(r for steps in self._steps for r in runs(steps, n))
        return self._runs[n]

    def longest_shared(self, notes: Sequence[Note]) -> int:
        """Notes in the longest phrase of ``notes`` that the indexed music also plays, in
        any key: 0 for a piece without notes, 1 where no step between two of its notes
        occurs there. Every run inside a shared run is shared, so lengths are tried up
        from 1 until one finds none."""
        steps = pitch_steps(notes)
        if not any(not n.is_drum for n in notes):
            return 0
        n = 0
        while n < len(steps) and not set(runs(steps, n + 1)).isdisjoint(self._of_length(n + 1)):
            n += 1
        return n + 1
