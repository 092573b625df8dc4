"""Does the composer compose, or replay the music it learned from? Phrases it shares with it.

Each piece's melody of onsets as pitch steps, in any key (``wavenet_music.notes.phrases``):
the longest phrase it shares with the run's training notes (any genre), and the share of
its runs of 8 / 16 / 32 steps found there. The genre's held-out music (never learned
from, cut into pieces of the same length) is the baseline: what music of the same kind
shares with the training music by idiom and by chance.

    python copying.py RUN DATA OUT.jsonl [--seeds 16] [--seconds 30] [--current]
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from common import add_current, run_composer

from wavenet_music.composer.config import PieceConfig
from wavenet_music.composer.note_piece import compose_events, piece_notes
from wavenet_music.notes.midi import Note
from wavenet_music.notes.phrases import PhraseIndex, pitch_steps, runs
from wavenet_music.report.notes import split_notes
from wavenet_music.wavenet.checkpoint import load_model

LENGTHS = (8, 16, 32)


def measure(index: PhraseIndex, training: list[list[Note]], piece: list[Note]) -> dict:
    steps = pitch_steps(piece)
    record = {"notes": len(piece), "longest": index.longest_shared(piece)}
    for n in LENGTHS:
        mine = list(runs(steps, n))
        known = {r for notes in training for r in runs(pitch_steps(notes), n)}
        record[f"shared_{n}"] = sum(r in known for r in mine) / len(mine) if mine else None
    return record


def cut(segments: list[tuple[list[Note], float]], seconds: float) -> list[list[Note]]:
    """The segments' notes in pieces of ``seconds`` (a last one over half of that kept)."""
    return [
        [n for n in notes if start <= n.onset < start + seconds]
        for notes, length in segments
        for start in np.arange(0.0, length - seconds / 2, seconds)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("data", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=30.0)
    add_current(parser)
    args = parser.parse_args()
    torch.set_num_threads(1)
    _, config = load_model(args.run)
    genres = list(config.model.global_labels)
    training = [n for s in split_notes(args.run, args.data, config, "train").values() for n, _ in s]
    held = split_notes(args.run, args.data, config, "validation")
    index = PhraseIndex(training)
    composer = run_composer(args.run, args.current)
    names = torch.arange(len(genres)).repeat_interleave(args.seeds)  # (genres · seeds,)
    options = PieceConfig(seconds=args.seconds, temperature=1.0, hold_penalty=0.0)
    empty, generator = np.zeros(0, np.int64), torch.Generator().manual_seed(0)
    events = compose_events(composer, empty, names, len(names), options, generator)
    composed = [piece_notes(empty, row, args.seconds) for row in events]
    with args.out.open("w") as out:
        for g, genre in enumerate(genres):
            mine = composed[g * args.seeds : (g + 1) * args.seeds]
            for kind, pieces in (("composed", mine), ("held-out", cut(held[genre], args.seconds))):
                for piece in pieces:
                    record = {"genre": genre, "kind": kind, **measure(index, training, piece)}
                    out.write(json.dumps(record) + "\n")
    summarize(args.out)


def summarize(path: Path) -> None:
    rows = [json.loads(line) for line in path.open()]
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in rows:
        groups[(r["genre"], r["kind"])].append(r)
    shared = " ".join(f"{n:>6}" for n in LENGTHS)
    print(f"{'genre':<10} {'kind':<9} pieces  notes  longest: median    max {shared}")
    for (genre, kind), rs in sorted(groups.items()):
        longest = [r["longest"] for r in rs]
        shares = []
        for n in LENGTHS:
            v = [r[f"shared_{n}"] for r in rs if r[f"shared_{n}"] is not None]
            shares.append(f"{np.mean(v):6.0%}" if v else "     -")
        notes = np.mean([r["notes"] for r in rs])
        print(
            f"{genre:<10} {kind:<9} {len(rs):>6} {notes:>6.0f} {np.median(longest):>15.0f} "
            f"{max(longest):>6} {' '.join(shares)}"
        )


if __name__ == "__main__":
    main()
