"""The event rules of composing notes: a NOTE_OFF lifts only a key that is down, held at
least the shortest notes' steps, and the chance of a release stays the model's
(``composer.event_rules``)."""

from __future__ import annotations

import numpy as np
import torch

from wavenet_music.composer.config import ComposerConfig, PieceConfig
from wavenet_music.composer.event_rules import (
    keys_after_all,
    keys_at_end,
    no_keys_down,
    release_only_keys_down,
)
from wavenet_music.composer.model import Composer
from wavenet_music.composer.note_piece import compose_events
from wavenet_music.notes.events import (
    KEYS,
    NOTE_OFF,
    NOTE_ON,
    TIME_SHIFT,
    VOCAB_SIZE,
    encode,
)
from wavenet_music.notes.midi import Note


def keys_down_by_last_event(tokens: np.ndarray) -> set[int]:
    """Independently of the code under test: a key is down when its last NOTE_ON comes
    after its last NOTE_OFF (key indices 0..87)."""
    down = set()
    for key in range(KEYS):
        ons = np.flatnonzero(tokens == NOTE_ON + key)
        offs = np.flatnonzero(tokens == NOTE_OFF + key)
        if len(ons) and (not len(offs) or ons[-1] > offs[-1]):
            down.add(key)
    return down


def test_the_keys_down_follow_every_event():
    rng = np.random.default_rng(0)
    # few keys, so that keys go down, come up and are struck again
    keys = rng.integers(0, 6, size=(3, 400))
    kinds = rng.integers(0, 3, size=(3, 400))
    tokens = np.where(kinds == 0, NOTE_ON + keys, np.where(kinds == 1, NOTE_OFF + keys, 180))
    for n in (1, 7, 400):
        down = keys_after_all(no_keys_down(3), torch.from_numpy(tokens[:, :n])).down
        for row in range(3):
            assert set(np.flatnonzero(down[row].numpy()).tolist()) == keys_down_by_last_event(
                tokens[row, :n]
            )


def test_a_prime_leaves_down_the_keys_it_has_not_lifted():
    held = [Note(0.0, 0.5, 60, 80), Note(0.1, 2.0, 64, 80)]
    prime = encode(held)[:-1]  # the last NOTE_OFF (of 64) cut off
    keys = keys_at_end(prime, 2, "cpu")
    assert keys.down.shape == keys.held.shape == (2, KEYS)
    assert [np.flatnonzero(row.numpy()).tolist() for row in keys.down] == [[64 - 21]] * 2
    assert (keys.held[:, 64 - 21] == 190).all()  # struck at 0.1 s, the prime ends at 2.0
    assert not keys_at_end(encode(held), 1, "cpu").down.any()


def test_releases_go_to_the_keys_down_with_the_models_chance_of_a_release():
    torch.manual_seed(0)
    logits = 3 * torch.randn(3, VOCAB_SIZE, dtype=torch.float64)
    down = no_keys_down(3).down
    down[0, [10, 40, 41]] = True
    down[1, 87] = True  # row 2: no key down
    p, q = torch.softmax(logits, 1), torch.softmax(release_only_keys_down(logits, down), 1)
    releases = slice(NOTE_OFF, TIME_SHIFT)
    others = torch.ones(VOCAB_SIZE, dtype=torch.bool)
    others[releases] = False
    for row in (0, 1):
        torch.testing.assert_close(q[row, others], p[row, others])  # untouched
        torch.testing.assert_close(q[row, releases].sum(), p[row, releases].sum())
        assert (q[row, releases][~down[row]] == 0).all()
    # among the keys down, the model's own proportions
    ratio = q[0, NOTE_OFF + 10] / q[0, NOTE_OFF + 40]
    torch.testing.assert_close(ratio, p[0, NOTE_OFF + 10] / p[0, NOTE_OFF + 40])
    torch.testing.assert_close(q[1, NOTE_OFF + 87], p[1, releases].sum())
    # no key down: no release; the rest renormalised in proportion
    assert (q[2, releases] == 0).all()
    torch.testing.assert_close(q[2, others], p[2, others] / p[2, others].sum())
    assert torch.isfinite(release_only_keys_down(logits, down)[:, others]).all()


def test_composed_events_never_lift_a_key_that_is_up():
    """An untrained composer writes NOTE_OFFs for any key (about 88 in 308 events): left
    alone most would lift keys that are up and its notes would never end."""
    torch.manual_seed(0)
    model = Composer(ComposerConfig(layers=1, heads=2, width=16), VOCAB_SIZE, 0, 64).eval()
    with torch.no_grad():  # many releases, so that the rule has work to do
        model.head.bias[NOTE_OFF:TIME_SHIFT] += 1.0
    prime = encode([Note(0.0, 1.0, 60, 80), Note(0.0, 1.0, 67, 80)])[:-2]  # both still down
    options = PieceConfig(seconds=3.0, temperature=1.0, hold_penalty=0.0)
    generator = torch.Generator().manual_seed(0)
    rows = compose_events(model, prime, None, 4, options, generator)
    lifted = 0
    for row in rows:
        sequence = np.concatenate([prime, row])
        for at in range(len(prime), len(sequence)):
            token = sequence[at]
            if NOTE_OFF <= token < TIME_SHIFT:
                assert token - NOTE_OFF in keys_down_by_last_event(sequence[:at]), at
                lifted += 1
    assert lifted >= 20  # the rule was exercised
    # the prime's two held keys may be lifted by the piece: they are down when it starts
    assert any(NOTE_OFF + 60 - 21 in row or NOTE_OFF + 67 - 21 in row for row in rows)


def held_steps_by_events(tokens: np.ndarray, key: int) -> int:
    """Independently of the code under test: the steps of TIME_SHIFT since ``key``'s last
    NOTE_ON, 0 where it is up (a TIME_SHIFT token t moves time on t - TIME_SHIFT + 1)."""
    if key not in keys_down_by_last_event(tokens):
        return 0
    since = np.flatnonzero(tokens == NOTE_ON + key)[-1]
    shifts = [int(t) for t in tokens[since:] if TIME_SHIFT <= t < TIME_SHIFT + 100]
    return sum(t - TIME_SHIFT + 1 for t in shifts)


def test_each_key_counts_the_steps_since_it_was_struck():
    rng = np.random.default_rng(1)
    keys = rng.integers(0, 5, size=(2, 300))
    kinds = rng.integers(0, 4, size=(2, 300))
    shifts = TIME_SHIFT + rng.integers(0, 100, size=(2, 300))  # 1-100 steps
    tokens = np.where(kinds == 0, NOTE_ON + keys, np.where(kinds == 1, NOTE_OFF + keys, shifts))
    tokens[:, ::7] = VOCAB_SIZE - 1  # a VELOCITY now and then: no time
    for n in (1, 50, 300):
        held = keys_after_all(no_keys_down(2), torch.from_numpy(tokens[:, :n])).held
        for row in range(2):
            assert held[row, :5].tolist() == [
                held_steps_by_events(tokens[row, :n], key) for key in range(5)
            ]
        assert not held[:, 5:].any()


def test_a_release_goes_to_the_keys_held_long_enough():
    """The model wants the key just struck up; held under ``shortest`` it may not come
    up, and the chance of a release goes to the key held longer."""
    c4, e4 = 60 - 21, 64 - 21  # key indices
    # C4 struck, 195 steps, E4 struck, 5 steps: both still down
    prime = np.array([NOTE_ON + c4, TIME_SHIFT + 99, TIME_SHIFT + 94, NOTE_ON + e4, TIME_SHIFT + 4])
    keys = keys_at_end(prime, 1, "cpu")
    assert keys.held[0, c4] == 200 and keys.held[0, e4] == 5
    logits = torch.zeros(1, VOCAB_SIZE, dtype=torch.float64)
    logits[0, NOTE_OFF + e4] = 10.0  # lift the key just struck
    liftable = keys.liftable(torch.tensor([10]))
    assert np.flatnonzero(liftable[0].numpy()).tolist() == [c4]
    p, q = torch.softmax(logits, 1), torch.softmax(release_only_keys_down(logits, liftable), 1)
    assert q[0, NOTE_OFF + e4] == 0
    torch.testing.assert_close(q[0, NOTE_OFF + c4], p[0, NOTE_OFF:TIME_SHIFT].sum())
    assert keys.liftable(None).equal(keys.down)  # no minimum: every key down
    assert keys.liftable(torch.tensor([5])).equal(keys.down)


def test_composed_keys_stay_down_at_least_the_shortest_steps():
    """The untrained composer lifts most keys within a few steps; held at least 12 steps
    (per stream: 0 for the last), no key of the first three streams comes up sooner."""
    torch.manual_seed(0)
    model = Composer(ComposerConfig(layers=1, heads=2, width=16), VOCAB_SIZE, 0, 64).eval()
    with torch.no_grad():
        model.head.bias[NOTE_OFF:TIME_SHIFT] += 1.0
    options = PieceConfig(seconds=3.0, temperature=1.0, hold_penalty=0.0)
    shortest = torch.tensor([12, 12, 12, 0])
    nothing = np.zeros(0, np.int64)
    rows = compose_events(
        model, nothing, None, 4, options, torch.Generator().manual_seed(0), shortest=shortest
    )
    lengths = [  # steps each key lifted had been held, per stream
        [
            held_steps_by_events(row[:at], t - NOTE_OFF)
            for at, t in enumerate(row)
            if NOTE_OFF <= t < TIME_SHIFT
        ]
        for row in rows
    ]
    assert all(min(lifted) >= 12 for lifted in lengths[:3]), [min(x) for x in lengths]
    assert sum(len(x) for x in lengths[:3]) >= 10  # the rule was exercised
    assert min(lengths[3]) < 12  # without it, shorter notes
