"""Shared phrases: the longest against an independent longest-common-substring count."""

from __future__ import annotations

import random

import pytest

from wavenet_music.notes.midi import Note
from wavenet_music.notes.phrases import PhraseIndex, pitch_steps


def melody(pitches: list[int], start: float = 0.0, step: float = 0.25) -> list[Note]:
    return [Note(start + i * step, start + (i + 1) * step, p) for i, p in enumerate(pitches)]


def longest_common_run(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    """Steps in the longest run common to ``a`` and ``b``, by dynamic programming."""
    best, previous = 0, [0] * (len(b) + 1)
    for x in a:
        current = [0] * (len(b) + 1)
        for j, y in enumerate(b):
            if x == y:
                current[j + 1] = previous[j] + 1
                best = max(best, current[j + 1])
        previous = current
    return best


def test_steps_follow_onsets_chords_low_to_high_without_drums() -> None:
    notes = [
        Note(1.0, 2.0, 67),
        Note(0.0, 1.0, 64),
        Note(0.0, 1.0, 60),  # a chord with the 64: 60 first
        Note(0.5, 0.6, 38, is_drum=True),
        Note(2.0, 3.0, 65),
    ]
    assert pitch_steps(notes) == (4, 3, -2)


def test_a_phrase_copied_in_another_key_is_found_whole() -> None:
    tune = [60, 62, 64, 65, 67, 65, 64, 62, 60, 67]
    index = PhraseIndex([melody([50, 51, *tune, 40, 41])])
    # the first seven notes of the tune a fifth higher, then a note it never steps to
    piece = melody([t + 7 for t in tune[:7]] + [99])
    assert index.longest_shared(piece) == 7
    assert index.longest_shared(melody([60, 63, 58])) == 1  # no step in common
    assert index.longest_shared([]) == 0
    assert index.longest_shared([Note(0, 1, 36, is_drum=True)]) == 0


@pytest.mark.parametrize("seed", range(20))
def test_the_longest_shared_phrase_is_the_longest_common_run(seed: int) -> None:
    rng = random.Random(seed)

    def walk(length: int) -> list[int]:
        pitches = [60]
        for _ in range(length - 1):
            pitches.append(pitches[-1] + rng.choice([-2, -1, 1, 2]))  # a small alphabet
        return pitches

    pieces = [melody(walk(rng.randint(1, 60))) for _ in range(3)]
    piece = melody(walk(rng.randint(2, 80)), start=rng.random())
    steps = pitch_steps(piece)
    expected = max(longest_common_run(steps, pitch_steps(p)) for p in pieces) + 1
    assert PhraseIndex(pieces).longest_shared(piece) == expected


def test_a_step_down_by_one_is_not_a_step_down_by_two() -> None:
    """Runs are looked up by hash, and Python hashes -1 as it hashes -2."""
    index = PhraseIndex([melody([60, 59, 58, 57])])  # steps -1 -1 -1
    assert index.longest_shared(melody([60, 58, 56, 54])) == 1  # steps -2 -2 -2
    assert index.longest_shared(melody([70, 69, 68])) == 3


@pytest.mark.parametrize("length", [1, 2, 3, 64, 65, 500])
def test_a_piece_replayed_whole_reads_its_whole_length(length: int) -> None:
    rng = random.Random(length)
    music = [rng.randint(36, 66) for _ in range(20_000)]  # steps of at most 30
    index = PhraseIndex([melody(music[:9_000]), melody(music[9_000:])])
    start = rng.randint(0, 8_000)
    assert index.longest_shared(melody(music[start : start + length])) == length
    # a step the music never takes (61), after the replayed phrase, ends the phrase
    phrase = music[start : start + length]
    assert index.longest_shared(melody([*phrase, phrase[-1] + 61])) == length
