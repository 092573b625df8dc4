"""What a composer of note events may write next: a key comes up only while it is down.

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
shares it among the keys that are down, in proportion to the model's probabilities for
them; NOTE_OFFs of keys that are up get none. Every other event keeps its probability
(with no key down there is no NOTE_OFF to write: the other events share its chance in
proportion, as renormalising does).
The state is the (B, 88) boolean of keys down, updated token by token
(``keys_down_after``) by ``notes.events.decode``'s rules.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ..notes.events import KEYS, NOTE_OFF, NOTE_ON, TIME_SHIFT


def no_keys_down(streams: int, device: torch.device | str = "cpu") -> Tensor:
    """(B, 88) False: nothing sounds before the first event."""
    return torch.zeros(streams, KEYS, dtype=torch.bool, device=device)


def keys_down_after(down: Tensor, tokens: Tensor) -> Tensor:
    """The keys down (B, 88) after one token (B,) per stream: a NOTE_ON puts its key down
    (again, if it was: the note is struck anew), a NOTE_OFF lifts it, other events leave
    the keys as they are. ``down`` is not changed."""
    tokens = tokens.to(down.device)
    rows = torch.arange(len(tokens), device=down.device)
    pressed = tokens < NOTE_OFF
    lifted = (tokens >= NOTE_OFF) & (tokens < TIME_SHIFT)
    after = down.clone()
    after[rows[pressed], tokens[pressed] - NOTE_ON] = True
    after[rows[lifted], tokens[lifted] - NOTE_OFF] = False
    return after


def keys_down_after_all(down: Tensor, tokens: Tensor) -> Tensor:
    """The keys down (B, 88) after the tokens (B, N), token by token."""
    for column in tokens.unbind(dim=1):
        down = keys_down_after(down, column)
    return down


def keys_down_at_end(prime: np.ndarray, streams: int, device: torch.device | str) -> Tensor:
    """The keys down (B, 88) after every token of ``prime`` (N,), for ``streams`` streams."""
    tokens = torch.from_numpy(np.asarray(prime, dtype=np.int64))[None].repeat(streams, 1)
    return keys_down_after_all(no_keys_down(streams, device), tokens.to(device))


def release_only_keys_down(logits: Tensor, down: Tensor) -> Tensor:
    """logits (B, V) → logits (B, V) where the NOTE_OFFs of keys that are up are -inf and
    those of keys down share the probability all NOTE_OFFs had (see the module docstring).
    While a key is down, softmax(result) gives every other event the probability
    softmax(logits) gave it."""
    releases = logits[:, NOTE_OFF:TIME_SHIFT]  # (B, 88)
    all_releases = releases.logsumexp(dim=1, keepdim=True)  # (B, 1)
    down_releases = releases.masked_fill(~down, -torch.inf).logsumexp(dim=1, keepdim=True)
    gap = (all_releases - down_releases).nan_to_num(nan=0.0)  # +inf: no key down (masked)
    shared = releases + gap
    out = logits.clone()
    out[:, NOTE_OFF:TIME_SHIFT] = torch.where(down, shared, -torch.inf)
    return out
