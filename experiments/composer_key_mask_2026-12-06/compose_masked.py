"""Compose 8 ambient pieces of 30 s with the demo's composer and WaveNet, its NOTE_ONs
masked to the keys the ambient recordings' transcriptions strike (the probability of all
NOTE_ONs shared among those keys, as ``composer.event_rules`` shares the releases), or
not.

    python compose_masked.py RUN OUT masked|plain SEED [TRANSCRIPTIONS_GLOB]

TRANSCRIPTIONS_GLOB: the ambient recordings' cached transcriptions (default: the demo's
ambient files in ~/.cache/wavenet-music).
"""

import glob
import sys

import numpy as np
import torch

from wavenet_music.cli import main
from wavenet_music.composer import model as composer_model
from wavenet_music.composer import note_piece
from wavenet_music.notes.events import KEYS, LOWEST_KEY, NOTE_ON

DEFAULT_GLOB = "/root/.cache/wavenet-music/warzone2100_*.notes.npy"


def struck_keys(pattern: str) -> torch.Tensor:
    """(88,) bool: the keys the transcriptions ``pattern`` strike at least once."""
    allowed = torch.zeros(KEYS, dtype=torch.bool)
    for path in glob.glob(pattern):
        for pitch in np.load(path)[:, 2].astype(int):
            allowed[pitch - LOWEST_KEY] = True
    return allowed


def masked(allowed: torch.Tensor):
    """``continue_tokens`` whose model strikes only ``allowed`` keys."""
    original = composer_model.continue_tokens

    def continue_tokens(model, state, last, count, *args, **kwargs):
        step = model.step

        def step_masked(tokens, state):
            logits, state = step(tokens, state)
            strikes = logits[:, NOTE_ON : NOTE_ON + KEYS]
            gap = strikes.logsumexp(1, keepdim=True) - strikes.masked_fill(
                ~allowed, -torch.inf
            ).logsumexp(1, keepdim=True)
            logits = logits.clone()
            logits[:, NOTE_ON : NOTE_ON + KEYS] = torch.where(allowed, strikes + gap, -torch.inf)
            return logits, state

        model.step = step_masked
        try:
            return original(model, state, last, count, *args, **kwargs)
        finally:
            del model.step

    return continue_tokens


if __name__ == "__main__":
    run, out, how, seed = sys.argv[1:5]
    if how == "masked":
        pattern = sys.argv[5] if len(sys.argv) > 5 else DEFAULT_GLOB
        note_piece.continue_tokens = masked(struck_keys(pattern))
    piece = ["--label", "ambient", "--num", "8", "--seconds", "30", "--seed", seed]
    sys.exit(main(["compose", run, *piece, "--out", f"{out}/{how}-{seed}.wav"]))
