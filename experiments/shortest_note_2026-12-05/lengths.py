"""How long the composer holds its notes against the genre's music: per genre, the
10th-90th percentiles of note length, the share over 5 s (keys left down), notes a second
and notes sounding at once, over ``--pieces`` pieces of 30 s composed as events only (no
WaveNet), with each label's shortest notes (``event_rules``) or without (``--none``).

    python lengths.py RUN DATA [--pieces 16] [--none] [--seed 0]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from wavenet_music.composer.checkpoint import build_composer, load_composer
from wavenet_music.composer.config import PieceConfig
from wavenet_music.composer.note_piece import compose_events, piece_notes
from wavenet_music.composer.note_tokens import note_corpus
from wavenet_music.notes.events import STEPS_PER_SECOND, decode
from wavenet_music.notes.midi import Note
from wavenet_music.wavenet.checkpoint import load_model

PERCENTILES = (10, 25, 50, 75, 90)
SECONDS = 30.0


def row(name: str, pieces: list[list[Note]], seconds: float) -> str:
    lengths = np.array([n.offset - n.onset for p in pieces for n in p])
    at_once = lengths.sum() / (seconds * len(pieces))
    cells = " ".join(f"{v:.2f}" for v in np.percentile(lengths, PERCENTILES))
    return (
        f"{name:22s} n={len(lengths):5d} lengths p{'/'.join(map(str, PERCENTILES))}: {cells}"
        f"  over 5 s {np.mean(lengths > 5):.2%}  notes/s {len(lengths) / seconds / len(pieces):.2f}"
        f"  at once {at_once:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run", type=Path)
    parser.add_argument("data", type=Path)
    parser.add_argument("--pieces", type=int, default=16)
    parser.add_argument("--none", action="store_true", help="no shortest notes (as before)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    _, config = load_model(args.run)
    saved = load_composer(args.run, weights_only=True)
    composer = build_composer(saved).eval()
    genres = list(config.model.global_labels)
    corpus = note_corpus(args.run, args.data, config, saved.config)
    print("shortest notes", dict(zip(genres, corpus.shortest_notes, strict=True)))
    labels = torch.arange(len(genres)).repeat_interleave(args.pieces)
    shortest = None
    if not args.none:
        per_label = torch.tensor([round(s * STEPS_PER_SECOND) for s in corpus.shortest_notes])
        shortest = per_label[labels]
    options = PieceConfig(seconds=SECONDS, temperature=1.0, hold_penalty=0.0)  # as compose
    generator = torch.Generator().manual_seed(args.seed)
    nothing = np.zeros(0, np.int64)
    events = compose_events(
        composer, nothing, labels, len(labels), options, generator, shortest=shortest
    )
    for index, genre in enumerate(genres):
        real = [decode(s.tokens) for s in corpus.train if s.label == index and s.transposition == 0]
        seconds = sum(max((n.offset for n in p), default=0) for p in real) / len(real)
        print(row(f"{genre} music", real, seconds))
        mine = [
            piece_notes(nothing, r, SECONDS)
            for r, label in zip(events, labels.tolist(), strict=True)
            if label == index
        ]
        print(row(f"{genre} composed", mine, SECONDS))


if __name__ == "__main__":
    main()
