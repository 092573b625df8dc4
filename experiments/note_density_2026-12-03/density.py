"""Do the composer's notes have the genre's density? Its sampling against the training notes.

The composer of note events samples at temperature 1 (no calibration applies to events).
For every temperature (and top-k) asked for, it writes ``--seeds`` pieces of ``--seconds``
per genre (the events only: the WaveNet plays nothing here) and sets their notes' figures
(``notes.statistics``) beside those of the genre's training notes, as the report's notes
table does. One JSON line per (temperature, top_k, genre).

    python density.py RUN DATA OUT.jsonl [--temperatures 0.8 0.9 1.0] [--seeds 6]
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import torch
from common import add_current, run_composer

from wavenet_music.composer.config import PieceConfig
from wavenet_music.composer.note_piece import compose_events, piece_notes
from wavenet_music.notes.statistics import note_figures
from wavenet_music.report.notes import genre_note_figures
from wavenet_music.wavenet.checkpoint import load_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("data", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--temperatures", type=float, nargs="+", default=[0.8, 0.9, 1.0])
    parser.add_argument("--top-k", type=int, nargs="+", default=[0])
    parser.add_argument("--seeds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=30.0)
    add_current(parser)
    args = parser.parse_args()
    torch.set_num_threads(1)
    _, config = load_model(args.run)
    genres = list(config.model.global_labels)
    genre = genre_note_figures(args.run, args.data, config)
    composer = run_composer(args.run, args.current)
    labels = torch.arange(len(genres)).repeat_interleave(args.seeds)  # (genres · seeds,)
    with args.out.open("w") as out:
        for top_k in args.top_k:
            for temperature in args.temperatures:
                options = PieceConfig(
                    seconds=args.seconds,
                    temperature=temperature,
                    top_k=top_k or None,
                    hold_penalty=0.0,
                )
                generator = torch.Generator().manual_seed(0)
                empty = np.zeros(0, np.int64)
                events = compose_events(composer, empty, labels, len(labels), options, generator)
                pieces = [piece_notes(empty, row, args.seconds) for row in events]
                for g, name in enumerate(genres):
                    mine = pieces[g * args.seeds : (g + 1) * args.seeds]
                    composed = note_figures(mine, [args.seconds] * len(mine)).to_dict()
                    real = genre[name].to_dict()
                    record = {
                        "temperature": temperature,
                        "top_k": top_k,
                        "genre": name,
                        "composed": composed,
                        "pieces": [note_figures([m], [args.seconds]).to_dict() for m in mine],
                        "real": real,
                        "log_ratio_notes_per_s": math.log(
                            composed["notes_per_second"] / real["notes_per_second"]
                        ),
                        "log_ratio_at_once": math.log(
                            composed["sounding_at_once"] / real["sounding_at_once"]
                        ),
                    }
                    out.write(json.dumps(record) + "\n")
                    out.flush()
                    print(
                        f"T {temperature:g} k {top_k} {name:9s} notes/s "
                        f"{composed['notes_per_second']:5.1f} ({real['notes_per_second']:.1f})"
                        f" at once {composed['sounding_at_once']:5.2f} "
                        f"({real['sounding_at_once']:.2f}) silent "
                        f"{composed['silent_share']:.0%} ({real['silent_share']:.0%}) "
                        f"median {composed['median_length_s']:.2f} "
                        f"({real['median_length_s']:.2f})",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
