"""The composer: a causal transformer that writes the intermediate representation.

WaveNet hears 64 ms (``tiny``) to 0.64 s (``reference``) of the past; the composer hears
20 s or more of the local-conditioning features, as tokens (``tokens.py``), and writes new
ones autoregressively; WaveNet renders them (``compose.py``). Its settings are one frozen
``ComposerConfig``, stored in its checkpoint.

Positions are relative (ALiBi, Press et al. 2022): head h adds ``-slope_h · distance`` to
its attention scores, with slopes 2^(-8h / (H - 1)) for h = 1 .. H - 1 and 0 for the last
head, which attends by content alone over the whole context (where repetition across tens
of seconds lives). Relative positions make a sliding key/value cache exact, and let it
be a ring written in place (a key's bias is its distance, whatever its slot): ``step``
attends to the last ``context`` positions, as ``forward(..., window=context)`` does::

    token (+ label) embedding → [LayerNorm → attention → LayerNorm → MLP] × L → LayerNorm → logits
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..runtime.device import model_device
from .config import ComposerConfig
from .event_rules import Keys, keys_after, release_only_keys_down

# --- attention with relative (ALiBi) positions ------------------------------------------------


def alibi_slopes(heads: int) -> Tensor:
    """(H,) slopes 2^(-8 h / (H - 1)) for h = 1 .. H - 1, then 0 (a content-only head)."""
    if heads == 1:
        return torch.zeros(1)
    powers = torch.arange(1, heads, dtype=torch.float32) * 8.0 / (heads - 1)
    return torch.cat([2.0**-powers, torch.zeros(1)])


def alibi_bias(slopes: Tensor, queries: int, keys: int, window: int | None = None) -> Tensor:
    """(H, T, S) additive attention bias: the ``queries`` newest of ``keys`` positions attend
    to keys at distance 0 ≤ d < ``window`` (None: any) with ``-slope · d``, never to the
    future or beyond the window (-inf)."""
    query_pos = torch.arange(keys - queries, keys, device=slopes.device)[:, None]  # (T, 1)
    distance = (query_pos - torch.arange(keys, device=slopes.device)[None]).float()  # (T, S)
    bias = -slopes[:, None, None] * distance  # (H, T, S)
    outside = distance < 0 if window is None else (distance < 0) | (distance >= window)
    return bias.masked_fill(outside, float("-inf"))


class SelfAttention(nn.Module):
    def __init__(self, width: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)
        self.register_buffer("slopes", alibi_slopes(heads), persistent=False)

    def project(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """x (B, T, C) → queries, keys and values, each (B, H, T, C/H)."""
        b, t, c = x.shape
        q, k, v = (
            part.view(b, t, self.heads, c // self.heads).transpose(1, 2)  # (B, H, T, C/H)
            for part in self.qkv(x).split(c, dim=2)
        )
        return q, k, v

    def forward(self, x: Tensor, window: int | None = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """x (B, T, C) → (B, T, C), and x's keys and values (B, H, T, C/H)."""
        b, t, c = x.shape
        q, k, v = self.project(x)  # (B, H, T, C/H) each
        # (1, H, T, T): torch's fused (flash) CPU kernel takes a 4-D mask, and no dropout
        bias = alibi_bias(self.slopes, t, t, window).to(q.dtype)[None]
        drop = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=drop)
        return self.out(y.transpose(1, 2).reshape(b, t, c)), (k, v)

    def step(self, x: Tensor, keys: Tensor, values: Tensor, slot: int, distance: Tensor) -> Tensor:
        """One new token x (B, 1, C) → (B, 1, C), for inference (no dropout). Its key and
        value are written in place into ``slot`` of the rings ``keys``/``values``
        (B, H, W, C/H); it attends to their first S slots, ``distance`` (S,) behind it.
        The query alone is scaled and only the S filled slots are read: no copy of the
        cache (attention is order-free once each key's bias is its own distance)."""
        b, _, c = x.shape
        q, k, v = self.project(x)  # (B, H, 1, C/H) each
        keys[:, :, slot], values[:, :, slot] = k[:, :, 0], v[:, :, 0]  # (B, H, C/H)
        s = len(distance)
        bias = (-self.slopes[:, None, None] * distance).to(q.dtype)  # (H, 1, S)
        scale = q.shape[-1] ** -0.5
        scores = (q * scale) @ keys[:, :, :s].transpose(-1, -2) + bias  # (B, H, 1, S)
        y = torch.softmax(scores, dim=-1) @ values[:, :, :s]  # (B, H, 1, C/H)
        return self.out(y.transpose(1, 2).reshape(b, 1, c))


class Block(nn.Module):
    """Pre-norm transformer block: x + attention(LN(x)), then x + MLP(LN(x))."""

    def __init__(self, width: int, heads: int, dropout: float, attention_dropout: float) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.attention = SelfAttention(width, heads, attention_dropout)
        self.mlp = nn.Sequential(
            nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width), nn.Dropout(dropout)
        )
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, window: int | None = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """x (B, T, C) → (B, T, C), and x's keys and values (B, H, T, C/H)."""
        y, keys_values = self.attention(self.norm1(x), window)
        return self.feed_forward(x, y), keys_values

    def step(self, x: Tensor, keys: Tensor, values: Tensor, slot: int, distance: Tensor) -> Tensor:
        """One new token x (B, 1, C) → (B, 1, C), attending to the rings as
        ``SelfAttention.step``."""
        return self.feed_forward(
            x, self.attention.step(self.norm1(x), keys, values, slot, distance)
        )

    def feed_forward(self, x: Tensor, attended: Tensor) -> Tensor:
        """The residual of attention, then of the MLP: (B, T, C) → (B, T, C)."""
        x = x + self.drop(attended)
        return x + self.mlp(self.norm2(x))


def to_ring(x: Tensor, capacity: int) -> Tensor:
    """Keys or values (B, H, T, C/H) of positions 0 .. T - 1 → a ring (B, H, capacity, C/H)
    holding the newest ``capacity`` of them, position p in slot p % capacity."""
    b, h, t, d = x.shape
    ring = x.new_zeros(b, h, capacity, d)
    newest = torch.arange(max(0, t - capacity), t, device=x.device)  # (min(T, capacity),)
    ring[:, :, newest % capacity] = x[:, :, newest]
    return ring


def ring_distances(position: int, capacity: int, device: torch.device) -> Tensor:
    """(S,) how far behind ``position`` lies each filled slot 0 .. S - 1 of a ring of
    ``capacity`` slots whose newest entry is ``position`` (position p sits in slot
    p % capacity; S = min(position + 1, capacity))."""
    slots = torch.arange(min(position + 1, capacity), device=device)
    return ((position - slots) % capacity).float()


@dataclass
class ComposerState:
    """The key/value cache of ``Composer.step``, written in place: per block, rings
    (B, H, context, C/H) of the keys and values of the newest ``context`` tokens fed
    (position p in slot p % context; empty lists before the first step), the number of
    tokens fed so far, and the clips' labels (B,) or None."""

    keys: list[Tensor]
    values: list[Tensor]
    labels: Tensor | None = None
    fed: int = 0


class Composer(nn.Module):
    """Next-token logits over ``vocab`` tokens; token ``vocab`` is the start of a piece."""

    def __init__(self, config: ComposerConfig, vocab: int, labels: int, context: int) -> None:
        super().__init__()
        self.config, self.vocab, self.context = config, vocab, context
        w = config.width
        self.embed = nn.Embedding(vocab + 1, w)
        self.label_embed = nn.Embedding(labels, w) if labels else None
        self.blocks = nn.ModuleList(
            Block(w, config.heads, config.dropout, config.attention_dropout)
            for _ in range(config.layers)
        )
        self.norm = nn.LayerNorm(w)
        self.head = nn.Linear(w, vocab)

    @property
    def start_token(self) -> int:
        return self.vocab

    def embed_inputs(self, tokens: Tensor, labels: Tensor | None) -> Tensor:
        """tokens (B, T), labels (B,) → (B, T, C)."""
        if (labels is None) != (self.label_embed is None):
            raise ValueError("pass labels exactly when the composer has labels")
        x = self.embed(tokens)  # (B, T, C)
        return x if labels is None else x + self.label_embed(labels)[:, None]

    def forward(
        self, tokens: Tensor, labels: Tensor | None = None, window: int | None = None
    ) -> Tensor:
        """tokens (B, T) → logits (B, T, vocab); logits[:, t] predicts token t + 1. Training
        windows are T ≤ context long; ``window`` limits attention to the last ``window``
        positions (as ``step`` does with ``context``)."""
        x = self.embed_inputs(tokens, labels)
        for block in self.blocks:
            x, _ = block(x, window=window)
        return self.head(self.norm(x))  # (B, T, V)

    def initial_state(self, labels: Tensor | None = None) -> ComposerState:
        return ComposerState([], [], labels)

    def step(self, tokens: Tensor, state: ComposerState) -> tuple[Tensor, ComposerState]:
        """tokens (B,) or (B, T) → logits (B, vocab) for the token after the last one; the
        state is updated in place and returned.

        Every layer attends to the newest ``context`` positions (the new token and the
        cache's ``context - 1`` before it): exactly ``forward(all tokens so far,
        window=context)``. Within the first ``context`` tokens that is the plain forward
        pass, as in training; beyond, the cached keys carry their own earlier context, so
        the horizon grows with depth (sliding-window attention). The first step may feed
        any T (a prime); later steps feed one token each, in O(context) per step."""
        tokens = tokens[:, None] if tokens.dim() == 1 else tokens  # (B, T)
        x = self.embed_inputs(tokens, state.labels)  # (B, T, C)
        if state.fed == 0:
            x = self.prime(x, state)
        elif tokens.shape[1] == 1:
            x = self.advance(x, state)
        else:
            raise ValueError(
                f"expected one token per clip after the first step, got {tokens.shape[1]}"
            )
        return self.head(self.norm(x[:, -1])), state  # (B, V)

    def prime(self, x: Tensor, state: ComposerState) -> Tensor:
        """The first step: x (B, T, C) embedded → (B, T, C), filling the empty rings."""
        for block in self.blocks:
            x, (k, v) = block(x, window=self.context)  # k, v (B, H, T, C/H)
            state.keys.append(to_ring(k, self.context))  # (B, H, context, C/H)
            state.values.append(to_ring(v, self.context))
        state.fed = x.shape[1]
        return x

    def advance(self, x: Tensor, state: ComposerState) -> Tensor:
        """A later step: one token x (B, 1, C) embedded → (B, 1, C), written into slot
        fed % context of every ring."""
        position = state.fed
        distance = ring_distances(position, self.context, x.device)  # (S,)
        for block, keys, values in zip(self.blocks, state.keys, state.values, strict=True):
            x = block.step(x, keys, values, position % self.context, distance)
        state.fed = position + 1
        return x


def sample_tokens(
    logits: Tensor,
    temperature: float | Tensor,
    top_k: int | None,
    generator: torch.Generator | None,
    previous: Tensor | None = None,
    hold_penalty: float | Tensor = 0.0,
) -> Tensor:
    """logits (B, V) → tokens (B,): the ``top_k`` most likely (all when None), softmax at
    ``temperature``; temperature 0 takes the most likely. ``hold_penalty`` is subtracted
    from the logit of the ``previous`` token (B,) first: a token that would only hold the
    sound as it is becomes ``exp(hold_penalty)`` times less likely against the others.
    Both may be a number or one value per row (B,) (rows then need temperatures > 0)."""
    logits = logits.double()
    penalty = torch.as_tensor(hold_penalty, dtype=logits.dtype, device=logits.device)
    if previous is not None and bool((penalty != 0).any()):
        previous = previous.to(logits.device)
        rows = torch.arange(len(previous), device=logits.device)
        held = previous < logits.shape[1]  # the start token holds nothing
        penalty = penalty.expand(len(previous))  # (B,)
        logits = logits.clone()
        logits[rows[held], previous[held]] -= penalty[held]
    if not isinstance(temperature, Tensor) and temperature == 0:
        return logits.argmax(dim=1)
    if isinstance(temperature, Tensor):
        temperature = temperature.to(logits)[:, None]  # (B, 1)
    logits = logits / temperature
    if top_k is not None and top_k < logits.shape[1]:
        threshold = logits.topk(top_k, dim=1).values[:, -1:]  # (B, 1)
        logits = logits.masked_fill(logits < threshold, float("-inf"))
    probs = torch.softmax(logits, dim=1)  # (B, V)
    return torch.multinomial(probs, 1, generator=generator)[:, 0]


@torch.no_grad()
def continue_tokens(
    model: Composer,
    state: ComposerState,
    last: Tensor,
    count: int,
    temperature: float | Tensor,
    top_k: int | None,
    generator: torch.Generator | None,
    hold_penalty: float | Tensor = 0.0,
    keys: Keys | None = None,
    shortest: Tensor | None = None,
) -> tuple[Tensor, Tensor, ComposerState]:
    """Sample ``count`` tokens after ``last`` (B,) (fed first). Returns the tokens
    (B, count), the last one, and the state. With ``keys``, the keyboard once ``last`` is
    played, the tokens are note events that lift only keys that are down and, with
    ``shortest`` (B,), held at least that many steps (``event_rules``; the caller's
    ``keys`` is not changed)."""
    out = []
    for _ in range(count):
        logits, state = model.step(last, state)
        if keys is not None:
            logits = release_only_keys_down(logits, keys.liftable(shortest).to(logits.device))
        last = sample_tokens(logits, temperature, top_k, generator, last, hold_penalty).to(
            last.device
        )
        if keys is not None:
            keys = keys_after(keys, last)
        out.append(last)
    return torch.stack(out, dim=1), last, state


def primed_composer(
    model: Composer, prime: np.ndarray, clips: int, labels: Tensor | None
) -> tuple[ComposerState, Tensor]:
    """The composer's state after the start token and the last tokens of ``prime`` (N,)
    (what fits its context), and the token to feed next (B,), for ``clips`` clips."""
    sequence = np.concatenate([[model.start_token], prime])[-model.context :]
    tokens = torch.from_numpy(sequence).long()[None].repeat(clips, 1)  # (B, T)
    device = model_device(model)
    state = model.initial_state(None if labels is None else labels.to(device))
    if tokens.shape[1] > 1:
        _, state = model.step(tokens[:, :-1].to(device), state)
    return state, tokens[:, -1].to(device)
