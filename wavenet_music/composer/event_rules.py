"""What a composer of note events may write next: a key comes up only while it is down,
and only once it has been held as long as the label's shortest notes.

The composer learns from windows cut anywhere in a piece, where a NOTE_OFF often lifts a
key pressed before the window began: it learns that a NOTE_OFF may lift a key it never saw
go down. After the demo's 700 steps it hardly tells the keys it holds from the others: in
30-s pieces it gave NOTE_OFFs of keys that were up about as much probability as those of
keys that were down (ambient, classical), and wrote a third of its NOTE_OFFs for keys that
were up. ``decode`` ignores those, so notes were never released: 16-19 keys still down at
the end of every piece, 12-15 notes sounding at once where the music holds 1-4
(``experiments/hanging_notes_2026-12-03``).

A piece written from its start (or after a prime) knows which keys are down, so sampling
keeps the model's chance of a release, the probability of all NOTE_OFFs together, and
shares it among the keys that may come up, in proportion to the model's probabilities for
them; NOTE_OFFs of the others get none. Every other event keeps its probability (with no
key that may come up there is no NOTE_OFF to write: the other events share its chance in
proportion, as renormalising does).

Which key it lifts it tells no better: the demo's composer (2,000 steps) gave the key it
had just struck as much of the release as the key held for seconds, so a quarter of its
ambient and classical notes lasted 30-70 ms where their music holds none under 130 ms, and
the notes it meant to end hung on (16 pieces of 30 s a genre: 0.9-1.4% over 5 s, the music
0.04-0.7%). So a key comes up only once held for ``shortest`` steps, the length under which
1 in 200 of the label's training notes fall (``composer.note_tokens.shortest_notes``): the
release goes to the keys held longer, and the composed notes' median lengths come within
0.03 s of the music's (``experiments/shortest_note_2026-12-05``). A key may still be struck
again at once (which ends its note too): forbidding that as well crowded the pieces (the
other events share its chance) and the WaveNet played them worse.
The state (``Keys``): the keys down and the steps each has been held, updated token by
token (``keys_after``) by ``notes.events.decode``'s rules.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ..notes.events import KEYS, NOTE_OFF, NOTE_ON, TIME_SHIFT, VELOCITY


@dataclass(frozen=True)
class Keys:
    """The keyboard of each stream after the events so far: the keys down (B, 88) bool and
    the steps each has been held since it was struck (B, 88) int64, 0 for a key up."""

    down: Tensor
    held: Tensor

    def liftable(self, shortest: Tensor | None) -> Tensor:
        """(B, 88): the keys a NOTE_OFF may lift, those down and held at least
        ``shortest`` (B,) steps (None: every key down)."""
        if shortest is None:
            return self.down
        return self.down & (self.held >= shortest.to(self.held.device)[:, None])


def no_keys_down(streams: int, device: torch.device | str = "cpu") -> Keys:
    """Nothing sounds before the first event."""
    down = torch.zeros(streams, KEYS, dtype=torch.bool, device=device)
    return Keys(down, torch.zeros(streams, KEYS, dtype=torch.long, device=device))


def keys_after(keys: Keys, tokens: Tensor) -> Keys:
    """The keyboard after one token (B,) per stream: a NOTE_ON puts its key down (again,
    if it was: the note is struck anew, held from 0), a NOTE_OFF lifts it, a TIME_SHIFT
    adds its steps to every key down, other events leave it as it is. ``keys`` is not
    changed."""
    tokens = tokens.to(keys.down.device)
    rows = torch.arange(len(tokens), device=tokens.device)
    pressed = tokens < NOTE_OFF
    lifted = (tokens >= NOTE_OFF) & (tokens < TIME_SHIFT)
    steps = torch.where((tokens >= TIME_SHIFT) & (tokens < VELOCITY), tokens - TIME_SHIFT + 1, 0)
    down, held = keys.down.clone(), keys.held + steps[:, None] * keys.down  # (B, 88) each
    down[rows[pressed], tokens[pressed] - NOTE_ON] = True
    held[rows[pressed], tokens[pressed] - NOTE_ON] = 0
    down[rows[lifted], tokens[lifted] - NOTE_OFF] = False
    held[rows[lifted], tokens[lifted] - NOTE_OFF] = 0
    return Keys(down, held)


def keys_after_all(keys: Keys, tokens: Tensor) -> Keys:
    """The keyboard after the tokens (B, N), token by token."""
    for column in tokens.unbind(dim=1):
        keys = keys_after(keys, column)
    return keys


def keys_at_end(prime: np.ndarray, streams: int, device: torch.device | str) -> Keys:
    """The keyboard after every token of ``prime`` (N,), for ``streams`` streams."""
    tokens = torch.from_numpy(np.asarray(prime, dtype=np.int64))[None].repeat(streams, 1)
    return keys_after_all(no_keys_down(streams, device), tokens.to(device))


def release_only_keys_down(logits: Tensor, down: Tensor) -> Tensor:
    """logits (B, V) → logits (B, V) where the NOTE_OFFs of keys not in ``down`` (B, 88),
    the keys that may come up (``Keys.liftable``), are -inf and those of keys in it share
    the probability all NOTE_OFFs had (see the module docstring). While a key may come up,
    softmax(result) gives every other event the probability softmax(logits) gave it."""
    releases = logits[:, NOTE_OFF:TIME_SHIFT]  # (B, 88)
    all_releases = releases.logsumexp(dim=1, keepdim=True)  # (B, 1)
    down_releases = releases.masked_fill(~down, -torch.inf).logsumexp(dim=1, keepdim=True)
    gap = (all_releases - down_releases).nan_to_num(nan=0.0)  # +inf: no key down (masked)
    shared = releases + gap
    out = logits.clone()
    out[:, NOTE_OFF:TIME_SHIFT] = torch.where(down, shared, -torch.inf)
    return out
