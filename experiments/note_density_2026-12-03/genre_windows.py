"""How much does the genre's own density vary? Its training notes in back-to-back windows.

Each training segment of RUN is cut into back-to-back windows of ``--seconds`` (as long as
the composed pieces ``density.py`` writes); prints, per genre, the range and median of
notes per second and of notes sounding at once over those windows.

    python genre_windows.py RUN DATA [--seconds 30]
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np

from wavenet_music.composer.data import split_rows
from wavenet_music.composer.note_tokens import segment_notes
from wavenet_music.notes.statistics import note_figures
from wavenet_music.wavenet.checkpoint import load_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("data", type=Path)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    _, config = load_model(args.run)
    rate, length = config.data.sample_rate, args.seconds
    for index, genre in enumerate(config.model.global_labels):
        rates, at_once = [], []
        for row in split_rows(args.run, args.data, config, "train"):
            if row.label != index:
                continue
            notes = segment_notes(row, config)
            for start in np.arange(0, (row.end - row.start) / rate - length + 1e-9, length):
                window = [
                    replace(
                        n,
                        onset=max(n.onset, start) - start,
                        offset=min(n.offset, start + length) - start,
                    )
                    for n in notes
                    if n.onset < start + length and n.offset > start
                ]
                figures = note_figures([window], [length])
                rates.append(figures.notes_per_second)
                at_once.append(figures.sounding_at_once)
        r, a = np.array(rates), np.array(at_once)
        print(
            f"{genre}: {len(r)} windows, notes per s {r.min():.1f}-{r.max():.1f} "
            f"(median {np.median(r):.1f}), at once {a.min():.1f}-{a.max():.1f} "
            f"(median {np.median(a):.1f})"
        )


if __name__ == "__main__":
    main()
