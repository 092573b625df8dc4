"""Where a composer stands against its bigram, said by ``train-composer`` as it ends and
by ``compose`` before it composes with one not below it (``composer/standing.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from wavenet_music.composer.standing import Standing, standing_of, trained_words

RECORDS = [
    {"step": 0, "bigram_bits_per_token": 4.4, "unigram_bits_per_token": 7.4},
    {"step": 50, "validation_bits": 5.0},
    {"step": 100, "validation_bits": 3.9},
    {"step": 150, "validation_bits": 4.6},
]


def test_the_standing_is_the_kept_weights_score_against_the_bigram():
    assert standing_of(RECORDS) == Standing(3.9, 4.4, 150)  # the best validation's
    assert standing_of(RECORDS, keep_best=False) == Standing(4.6, 4.4, 150)  # the last's
    assert standing_of(RECORDS).learned and not standing_of(RECORDS, keep_best=False).learned
    assert not Standing(4.4, 4.4, 10).learned  # level with the bigram has learned nothing
    assert standing_of(RECORDS[:1]) is None and standing_of(RECORDS[1:]) is None


@pytest.mark.parametrize(
    ("standing", "stalled", "said"),
    [
        (
            Standing(3.9, 4.4, 150),
            False,
            "the composer: held-out 3.900 bits per note event, 0.500 under a bigram's 4.400 "
            "(each note event guessed from the one before)",
        ),
        (
            Standing(4.6, 4.4, 150),
            False,
            "the composer: held-out 4.600 bits per note event after 150 steps, not below a "
            "bigram's 4.400 (each note event guessed from the one before): it has learned no "
            "more than which note event follows which; train it on: wavenet-music "
            "train-composer runs/x --resume --steps 2000",
        ),
        (
            Standing(4.6, 4.4, 1500),
            True,
            "the composer: held-out 4.600 bits per note event after 1,500 steps, not below a "
            "bigram's 4.400 (each note event guessed from the one before): it has learned no "
            "more than which note event follows which; held-out bits stopped improving, so "
            "more steps will not help: more music will",
        ),
    ],
)
def test_train_composer_ends_saying_where_its_composer_stands(standing, stalled, said):
    assert trained_words(standing, "note event", stalled, Path("runs/x")) == said


def test_the_advice_trains_on_to_twice_the_steps_and_at_least_the_demos_budget():
    assert Standing(5.0, 4.4, 40).advice(Path("r")).endswith("--resume --steps 2000")
    assert Standing(5.0, 4.4, 1500).advice(Path("r")).endswith("--resume --steps 3000")
