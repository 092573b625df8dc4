"""The demo's composed pieces with and without each label's shortest notes: one piece of
30 s per label and seed (``compose --label all --seed K``), the WaveNet playing them as
compose does; per piece its flatness (finished as its WAV is), note F1 and frame
pitch-class F1 of its transcription against its notes (``report.notes.heard_figures``),
its notes' figures and the falls into noise drawn again. One JSON line per piece.

    python pieces.py RUN OUT.jsonl --shortest 0.13,0.13,0.06,0.08|0 --seeds 1 2 3

``--shortest`` gives each label's shortest notes as train-composer now stores them (a
composer trained before it stored none), or 0 for none (as before). (pieces.jsonl: rows
"... lift-only" were run with the package as kept; rows "0.13,0.13,0.06,0.08" at
8d8ca3c, which also kept a key held under its shortest from being struck again, then with a
flag ``--lift-only`` that took that off.)"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import wavenet_music.composer.compose as compose_module
from wavenet_music.audio.finish import for_listening
from wavenet_music.audio.spectral import spectral_flatness
from wavenet_music.composer.config import PieceConfig
from wavenet_music.report.notes import heard_figures


def with_shortest(values: list[float]) -> None:
    """Every composer loaded has ``values`` as its labels' shortest notes."""
    original = compose_module.load_composer

    def load_composer(*args, **kwargs):
        saved = original(*args, **kwargs)
        saved.meta["shortest_notes"] = values
        return saved

    compose_module.load_composer = load_composer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--shortest", required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    variant = args.shortest + ("" if args.shortest == "0" else " lift-only")
    shortest = None
    if args.shortest != "0":
        with_shortest([float(v) for v in args.shortest.split(",")])
    else:
        shortest = 0.0
    with args.out.open("a") as out:
        for seed in args.seeds:
            options = PieceConfig(
                seconds=args.seconds, label="all", seed=seed, shortest_note=shortest
            )
            piece = compose_module.compose(args.run, options)
            rate = piece.sample_rate
            for k, (tag, audio, notes) in enumerate(
                zip(piece.tags, piece.audio, piece.notes, strict=True)
            ):
                heard = heard_figures([notes], audio[None], rate)
                lengths = np.array([n.offset - n.onset for n in notes]) if notes else np.zeros(1)
                row = {
                    "shortest": variant,
                    "seed": seed,
                    "label": tag,
                    "flatness": float(spectral_flatness(for_listening(audio, rate))),
                    "rms_db": float(10 * np.log10(np.mean(audio**2) + 1e-12)),
                    "note_f1": heard["note_f1"],
                    "frame_pitch_class_f1": heard["frame_pitch_class_f1"],
                    "notes_per_s": len(notes) / args.seconds,
                    "heard_per_s": heard["notes_per_second"],
                    "at_once": float(lengths.sum() / args.seconds),
                    "median_length": float(np.median(lengths)),
                    "falls": sum(1 for r in piece.redraws if r.stream == k),
                    "left_as_noise": sum(
                        1 for r in piece.redraws if r.stream == k and not r.resolved
                    ),
                }
                out.write(json.dumps(row) + "\n")
                out.flush()
                print(row, flush=True)


if __name__ == "__main__":
    main()
