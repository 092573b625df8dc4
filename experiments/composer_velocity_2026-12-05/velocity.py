"""How the composer's notes are struck against how the genre's are: per piece of 30 s (or
window of the genre's training notes), the mean velocity, its spread within the piece and
the velocity changes a second (between successive onsets, in the events' 32 bins).

    python velocity.py RUN DATA OUT.json [--pieces 16] [--seconds 30]

The composer is the one ``compose`` uses; the pieces are events only (no WaveNet)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from wavenet_music.composer.checkpoint import build_composer, load_composer
from wavenet_music.composer.config import PieceConfig
from wavenet_music.composer.note_piece import compose_events, piece_notes
from wavenet_music.composer.note_tokens import note_corpus
from wavenet_music.notes.events import decode, velocity_bin
from wavenet_music.notes.midi import Note
from wavenet_music.wavenet.checkpoint import load_model


def figures(notes: list[Note], seconds: float) -> dict | None:
    """Mean velocity, its SD and the bin changes a second of ``notes`` (None: no note)."""
    if not notes:
        return None
    struck = sorted(notes, key=lambda n: (n.onset, n.pitch))
    velocity = np.array([n.velocity for n in struck], dtype=np.float64)
    bins = np.array([velocity_bin(n.velocity) for n in struck])
    return {
        "mean": float(velocity.mean()),
        "sd": float(velocity.std()),
        "changes_per_s": float(np.count_nonzero(np.diff(bins)) / seconds),
    }


def windows(notes: list[Note], seconds: float) -> list[list[Note]]:
    end = max((n.onset for n in notes), default=0.0)
    return [
        [n for n in notes if start <= n.onset < start + seconds]
        for start in np.arange(0.0, end - seconds / 2, seconds)
    ]


def summary(rows: list[dict]) -> dict:
    table = {k: np.array([r[k] for r in rows]) for k in ("mean", "sd", "changes_per_s")}
    return {
        "count": len(rows),
        **{f"{k}_median": float(np.median(v)) for k, v in table.items()},
        **{f"{k}_p10": float(np.percentile(v, 10)) for k, v in table.items()},
        **{f"{k}_p90": float(np.percentile(v, 90)) for k, v in table.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run", type=Path)
    parser.add_argument("data", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--pieces", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    _, config = load_model(args.run)
    saved = load_composer(args.run, weights_only=True)
    composer = build_composer(saved).eval()
    genres = list(config.model.global_labels)
    corpus = note_corpus(args.run, args.data, config, saved.config)
    result = {"held_out_bits": saved.meta.get("best_bits"), "genres": {}}
    options = PieceConfig(seconds=args.seconds, temperature=1.0, hold_penalty=0.0)  # as compose
    labels = torch.arange(len(genres)).repeat_interleave(args.pieces)
    generator = torch.Generator().manual_seed(0)
    nothing = np.zeros(0, np.int64)
    events = compose_events(composer, nothing, labels, len(labels), options, generator)
    for index, genre in enumerate(genres):
        real = [
            f
            for s in corpus.train
            if s.label == index and s.transposition == 0
            for w in windows(decode(s.tokens), args.seconds)
            if (f := figures(w, args.seconds)) is not None
        ]
        mine = [
            f
            for row, label in zip(events, labels.tolist(), strict=True)
            if label == index
            and (f := figures(piece_notes(np.zeros(0, np.int64), row, args.seconds), args.seconds))
        ]
        result["genres"][genre] = {
            "real": summary(real),
            "composed": summary(mine),
            "composed_pieces": mine,
        }
        print(genre, "real", summary(real), "\n", genre, "composed", summary(mine), flush=True)
    args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
