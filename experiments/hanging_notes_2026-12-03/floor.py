"""The note floor on real notes: the held-out audio of each genre (back-to-back excerpts of
``--seconds``, as ``level.py``) played from its own notes by RUN's WaveNet at each floor,
per genre: spectral flatness, RMS, level against the recordings, note F1 and frame
pitch-class F1 of the transcribed render against the notes.

    python floor.py RUN DATA OUT.json [--floors 0.002 0.0035] [--seeds 0 1]
"""

from __future__ import annotations

import json

import numpy as np
import torch
from level import GENRES, arguments, held_out_setup, mean_statistic

from wavenet_music.audio.spectral import shape_and_level
from wavenet_music.notes.score import follows
from wavenet_music.wavenet.follow import render_notes


def main() -> None:
    parser = arguments(__doc__, seconds=20.0)
    parser.add_argument("--floors", type=float, nargs="+", default=[0.002, 0.0035])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, config, pieces, labels = held_out_setup(args.run, args.data, args.seconds)
    rate = config.data.sample_rate
    notes = [n for _, _, n in pieces]
    results: dict = {}
    for floor in args.floors:
        renders = [
            render_notes(model, config, notes, args.seconds, labels, seed, floor=floor)
            for seed in args.seeds
        ]
        for g in GENRES:
            index = [i for i, (genre, _, _) in enumerate(pieces) if genre == g]
            rendered = [r[i] for r in renders for i in index]
            scores = [
                follows(notes[i], r[i], rate, 0.0, args.seconds)[0] for r in renders for i in index
            ]
            _, level = shape_and_level(rendered, [pieces[i][1] for i in index], rate)
            row = {
                "flatness": mean_statistic(rendered, "flatness", rate),
                "rms_db": mean_statistic(rendered, "rms_db", rate),
                "level_vs_recording_db": level,
                "note_f1": float(np.mean([s.note_f1 for s in scores])),
                "frame_pitch_class_f1": float(np.mean([s.frame_pitch_class_f1 for s in scores])),
            }
            results.setdefault(g, {})[f"{floor:g}"] = row
            print(g, floor, json.dumps(row), flush=True)
    args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
