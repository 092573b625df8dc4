"""What the event rule changes in the audio: pieces composed and played with and without it.

For each seed, ``compose`` writes one piece per label of RUN (as the report does), once as
the package now samples (a NOTE_OFF only for a key that is down) and once as before (any
NOTE_OFF; the rule is switched off here by dropping ``keys_down`` on its way to
``continue_tokens``). Per piece: polyphony of its notes, spectral flatness and RMS of its
audio, and how well the audio follows its notes (basic-pitch transcription against them:
note F1 and frame pitch-class F1, ``notes.score.follows``), with the chance floor (the
notes transposed).

    python pieces.py RUN OUT.jsonl [--seeds 0 1] [--seconds 20] [--samplings rule free]
        [--floor F]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import torch

from wavenet_music.audio.spectral import clip_statistics
from wavenet_music.composer import note_piece
from wavenet_music.composer.compose import compose
from wavenet_music.composer.config import PieceConfig
from wavenet_music.notes.score import follows

RATE = 16000
with_rule = note_piece.continue_tokens


def without_rule(*args, **kwargs):
    """``continue_tokens`` as before the rule: ``keys_down`` (its last argument) dropped."""
    return with_rule(*args[:8], **kwargs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--samplings", nargs="+", default=["rule", "free"])
    parser.add_argument("--floor", type=float, default=None, help="--wavenet-floor")
    args = parser.parse_args()
    torch.set_num_threads(1)
    with args.out.open("a") as out:
        for seed in args.seeds:
            for rule in args.samplings:
                note_piece.continue_tokens = with_rule if rule == "rule" else without_rule
                options = PieceConfig(seconds=args.seconds, label="all", seed=seed)
                if args.floor is not None:
                    options = replace(options, wavenet_floor=args.floor)
                piece = compose(args.run, options)
                for tag, audio, notes in zip(piece.tags, piece.audio, piece.notes, strict=True):
                    stats = clip_statistics(audio, RATE)
                    steered, floor = follows(notes, audio, RATE, 0.0, args.seconds)
                    row = {
                        "seed": seed,
                        "sampling": rule,
                        "floor": options.wavenet_floor,
                        "label": tag,
                        "notes": len(notes),
                        "polyphony": sum(n.offset - n.onset for n in notes) / args.seconds,
                        "flatness": stats["flatness"],
                        "rms_db": stats["rms_db"],
                        "note_f1": steered.note_f1,
                        "frame_pitch_class_f1": steered.frame_pitch_class_f1,
                        "chance_frame_pitch_class_f1": floor.frame_pitch_class_f1,
                    }
                    print(json.dumps(row), flush=True)
                    out.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
