"""The composer: a causal transformer that writes the intermediate representation.

WaveNet hears 64 ms (``tiny``) to 0.64 s (``reference``) of the past; the composer hears
20 s or more of the local-conditioning features, as tokens (``tokens.py``), and writes new
ones autoregressively; WaveNet renders them (``compose.py``). Its settings are one frozen
``ComposerConfig``, stored in its checkpoint.

Positions are relative (ALiBi, Press et al. 2022): head h adds ``-slope_h · distance`` to
its attention scores, with slopes 2^(-8h / (H - 1)) for h = 1 .. H - 1 and 0 for the last
head, which attends by content alone over the whole context (where repetition across tens
of seconds lives). Relative positions make a sliding key/value cache exact: ``step``
attends to the last ``context`` positions, as ``forward(..., window=context)`` does::

    token (+ label) embedding → [LayerNorm → attention → LayerNorm → MLP] × L → LayerNorm → logits
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .composer_config import ComposerConfig

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

    def forward(
        self, x: Tensor, past: tuple[Tensor, Tensor] | None = None, window: int | None = None
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """x (B, T, C), past keys/values (B, H, S, C/H) → (B, T, C) and keys/values with
        x's appended (B, H, S + T, C/H)."""
        b, t, c = x.shape
        q, k, v = (
            part.view(b, t, self.heads, c // self.heads).transpose(1, 2)  # (B, H, T, C/H)
            for part in self.qkv(x).split(c, dim=2)
        )
        if past is not None:
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
        bias = alibi_bias(self.slopes, t, k.shape[2], window).to(q.dtype)  # (H, T, S)
        drop = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=drop)
        return self.out(y.transpose(1, 2).reshape(b, t, c)), (k, v)


class Block(nn.Module):
    """Pre-norm transformer block: x + attention(LN(x)), then x + MLP(LN(x))."""

    def __init__(self, width: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.attention = SelfAttention(width, heads, dropout)
        self.mlp = nn.Sequential(
            nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width), nn.Dropout(dropout)
        )
        self.drop = nn.Dropout(dropout)

    def forward(
        self, x: Tensor, past: tuple[Tensor, Tensor] | None = None, window: int | None = None
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        y, cache = self.attention(self.norm1(x), past, window)
        x = x + self.drop(y)
        return x + self.mlp(self.norm2(x)), cache


@dataclass
class ComposerState:
    """The sliding key/value cache of ``Composer.step``: per block (B, H, S ≤ context - 1,
    C/H) keys and values of the newest tokens fed, and the clips' labels (B,) or None."""

    keys: list[Tensor | None]
    values: list[Tensor | None]
    labels: Tensor | None = None


class Composer(nn.Module):
    """Next-token logits over ``vocab`` tokens; token ``vocab`` is the start of a piece."""

    def __init__(self, config: ComposerConfig, vocab: int, labels: int, context: int) -> None:
        super().__init__()
        self.config, self.vocab, self.context = config, vocab, context
        w = config.width
        self.embed = nn.Embedding(vocab + 1, w)
        self.label_embed = nn.Embedding(labels, w) if labels else None
        self.blocks = nn.ModuleList(
            Block(w, config.heads, config.dropout) for _ in range(config.layers)
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
        n = len(self.blocks)
        return ComposerState([None] * n, [None] * n, labels)

    def step(self, tokens: Tensor, state: ComposerState) -> tuple[Tensor, ComposerState]:
        """tokens (B,) or (B, T) → logits (B, vocab) for the token after the last one.

        Every layer attends to the newest ``context`` positions (the cache keeps
        ``context - 1``): exactly ``forward(all tokens so far, window=context)``. Within the
        first ``context`` tokens that is the plain forward pass, as in training; beyond, the
        cached keys carry their own earlier context, so the horizon grows with depth
        (sliding-window attention). Feed T > 1 only from an empty cache, T ≤ context."""
        tokens = tokens[:, None] if tokens.dim() == 1 else tokens  # (B, T)
        x = self.embed_inputs(tokens, state.labels)  # (B, T, C)
        keep = self.context - 1
        for i, block in enumerate(self.blocks):
            past = None if state.keys[i] is None else (state.keys[i], state.values[i])
            x, (k, v) = block(x, past)
            state.keys[i], state.values[i] = (
                (k[:, :, -keep:], v[:, :, -keep:]) if keep else (None, None)
            )
        return self.head(self.norm(x[:, -1])), state  # (B, V)


def sample_tokens(
    logits: Tensor,
    temperature: float,
    top_k: int | None,
    generator: torch.Generator | None,
    previous: Tensor | None = None,
    hold_penalty: float = 0.0,
) -> Tensor:
    """logits (B, V) → tokens (B,): the ``top_k`` most likely (all when None), softmax at
    ``temperature``; temperature 0 takes the most likely. ``hold_penalty`` is subtracted
    from the logit of the ``previous`` token (B,) first: a token that would only hold the
    sound as it is becomes ``exp(hold_penalty)`` times less likely against the others."""
    logits = logits.double()
    if hold_penalty and previous is not None:
        previous = previous.to(logits.device)
        rows = torch.arange(len(previous), device=logits.device)
        held = previous < logits.shape[1]  # the start token holds nothing
        logits = logits.clone()
        logits[rows[held], previous[held]] -= hold_penalty
    if temperature == 0:
        return logits.argmax(dim=1)
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
    temperature: float,
    top_k: int | None,
    generator: torch.Generator | None,
    hold_penalty: float = 0.0,
) -> tuple[Tensor, Tensor, ComposerState]:
    """Sample ``count`` tokens after ``last`` (B,) (fed first). Returns the tokens
    (B, count), the last one, and the state."""
    out = []
    for _ in range(count):
        logits, state = model.step(last, state)
        last = sample_tokens(logits, temperature, top_k, generator, last, hold_penalty).to(
            last.device
        )
        out.append(last)
    return torch.stack(out, dim=1), last, state
