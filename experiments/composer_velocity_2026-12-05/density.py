"""How dense and how silent each run's composed pieces are: 32 pieces of 30 s a genre,
events only (the composer ``compose`` uses, temperature 1).

    python density.py RUN [RUN ...]
"""

from __future__ import annotations

import sys

import numpy as np
import torch

from wavenet_music.composer.checkpoint import build_composer, load_composer
from wavenet_music.composer.config import PieceConfig
from wavenet_music.composer.note_piece import compose_events, piece_notes
from wavenet_music.notes.statistics import note_figures

PIECES, SECONDS = 32, 30.0


def main() -> None:
    torch.set_num_threads(1)
    options = PieceConfig(seconds=SECONDS, temperature=1.0, hold_penalty=0.0)
    nothing = np.zeros(0, np.int64)
    for run in sys.argv[1:]:
        composer = build_composer(load_composer(run, weights_only=True)).eval()
        labels = torch.arange(4).repeat_interleave(PIECES)
        generator = torch.Generator().manual_seed(1)
        events = compose_events(composer, nothing, labels, len(labels), options, generator)
        for genre in range(4):
            figures = [
                note_figures([piece_notes(nothing, row, SECONDS)], [SECONDS])
                for row, label in zip(events, labels.tolist(), strict=True)
                if label == genre
            ]
            rate = np.array([f.notes_per_second for f in figures])
            silent = np.array([f.silent_share for f in figures])
            print(
                f"{run} {genre} notes a second {rate.mean():.2f} ± "
                f"{rate.std() / len(rate) ** 0.5:.2f}, silent {silent.mean():.2f} "
                f"(over half silent: {(silent > 0.5).sum()} of {len(silent)})"
            )


if __name__ == "__main__":
    main()
