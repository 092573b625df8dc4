"""Which events make the density? Each kind of event per second, composed and real.

The genre's training notes encoded as events (``notes.events.encode``) against 16
composed pieces of 30 s per genre (temperature 1, seed 0, as ``density.py``): note-ons,
note-offs, time shifts and velocity changes per second, and the mean time shift.

    python events.py RUN DATA [--seeds 16]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from common import add_current, run_composer

from wavenet_music.composer.config import PieceConfig
from wavenet_music.composer.data import split_rows
from wavenet_music.composer.note_piece import compose_events
from wavenet_music.composer.note_tokens import segment_notes
from wavenet_music.notes.events import NOTE_OFF, TIME_SHIFT, VELOCITY, encode, token_steps
from wavenet_music.wavenet.checkpoint import load_model


def event_rates(tokens: np.ndarray) -> str:
    """Each kind of event per second of ``tokens`` and the mean time shift, in words."""
    steps = token_steps(tokens)
    seconds = steps.sum() / 100
    shifts = (tokens >= TIME_SHIFT) & (tokens < VELOCITY)
    kinds = {
        "on": tokens < NOTE_OFF,
        "off": (tokens >= NOTE_OFF) & (tokens < TIME_SHIFT),
        "shift": shifts,
        "velocity": tokens >= VELOCITY,
    }
    rates = " ".join(f"{name} {mask.sum() / seconds:5.1f}" for name, mask in kinds.items())
    return f"per s: {rates}; mean shift {steps[shifts].mean():.1f} steps of 10 ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("data", type=Path)
    parser.add_argument("--seeds", type=int, default=16)
    add_current(parser)
    args = parser.parse_args()
    torch.set_num_threads(1)
    _, config = load_model(args.run)
    genres = config.model.global_labels
    composer = run_composer(args.run, args.current)
    labels = torch.arange(len(genres)).repeat_interleave(args.seeds)
    options = PieceConfig(seconds=30.0, temperature=1.0, hold_penalty=0.0)
    empty = np.zeros(0, np.int64)
    generator = torch.Generator().manual_seed(0)
    events = compose_events(composer, empty, labels, len(labels), options, generator)
    rows = split_rows(args.run, args.data, config, "train")
    for index, genre in enumerate(genres):
        real = [encode(segment_notes(row, config)) for row in rows if row.label == index]
        composed = events[index * args.seeds : (index + 1) * args.seeds]
        print(f"{genre:9s} real     {event_rates(np.concatenate(real))}")
        print(f"{genre:9s} composed {event_rates(np.concatenate(composed))}")


if __name__ == "__main__":
    main()
