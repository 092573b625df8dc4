"""Does a stronger label make each genre's composed notes more its own? Guidance, untrained.

The composer within a kind tells genres apart by only 0.1-0.24 bits a token
(``../note_density_2026-12-03``): composed piano drifts toward guitar (fewer notes, few
velocity changes), ambient toward classical. Classifier-free guidance (Ho & Salimans
2022) sharpens a label: logits = u + s (c - u), c under the label, u without it. This
composer was never trained without a label, so "without" is approximated here by the
mean of its label embeddings (a genre in between), or by the other genre of its kind
(``--against sibling``: contrast piano with guitar, ambient with classical). Scale 1 is
the composer as it is. 16 pieces of 30 s per genre, temperature 1, seed 0, events only.

``--within``: guidance only chooses among the keys of a note-on and among velocities;
each kind of event (note-on, note-off, time shift, velocity) keeps the probability the
label gives it, so the density and the note lengths are the composer's own.

    python guidance.py RUN DATA OUT.jsonl [--scales 1 1.5 2 3] [--against mean|sibling]
        [--within]
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path

import numpy as np
import torch
from common import run_composer
from torch import Tensor, nn

from wavenet_music.composer.config import PieceConfig
from wavenet_music.composer.model import Composer, ComposerState
from wavenet_music.composer.note_piece import compose_events, piece_notes
from wavenet_music.notes.events import NOTE_OFF, VELOCITY, VOCAB_SIZE
from wavenet_music.notes.phrases import PhraseIndex
from wavenet_music.notes.statistics import note_figures
from wavenet_music.report.notes import genre_note_figures, split_notes
from wavenet_music.wavenet.checkpoint import load_model

CHOICES = (slice(0, NOTE_OFF), slice(VELOCITY, VOCAB_SIZE))  # which key, which velocity
SIBLING = {"ambient": "classical", "classical": "ambient", "guitar": "piano", "piano": "guitar"}


class Guided(nn.Module):
    """``composer``'s steps with each clip's logits pushed away from those of ``against``
    (B,) label rows (index ``labels``: the mean embedding) by ``scale``."""

    def __init__(
        self, composer: Composer, scale: float, against: Tensor, within: bool = False
    ) -> None:
        super().__init__()
        self.composer = copy.deepcopy(composer)
        table = self.composer.label_embed.weight.data  # (L, C)
        embed = nn.Embedding(table.shape[0] + 1, table.shape[1])
        embed.weight.data = torch.cat([table, table.mean(0, keepdim=True)])
        self.composer.label_embed = embed
        self.scale, self.against, self.within = scale, against, within
        self.start_token, self.context = composer.start_token, composer.context

    def initial_state(self, labels: Tensor) -> ComposerState:
        return self.composer.initial_state(torch.cat([labels, self.against]))

    def step(self, tokens: Tensor, state: ComposerState) -> tuple[Tensor, ComposerState]:
        logits, state = self.composer.step(torch.cat([tokens, tokens]), state)
        c, u = logits.log_softmax(-1).chunk(2)  # (B, V) each
        if not self.within:
            return u + self.scale * (c - u), state
        out = c.clone()
        for kind in CHOICES:  # guided choice inside the kind, the kind's mass from c
            guided = u[:, kind] + self.scale * (c[:, kind] - u[:, kind])
            mass = c[:, kind].logsumexp(-1, keepdim=True)
            out[:, kind] = guided.log_softmax(-1) + mass
        return out, state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("data", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0, 1.5, 2.0, 3.0])
    parser.add_argument("--against", choices=["mean", "sibling"], default="mean")
    parser.add_argument(
        "--within", action="store_true", help="guide only which key, which velocity"
    )
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    _, config = load_model(args.run)
    genres = list(config.model.global_labels)
    genre = genre_note_figures(args.run, args.data, config)
    training = split_notes(args.run, args.data, config, "train")
    index = PhraseIndex(n for segments in training.values() for n, _ in segments)
    composer = run_composer(args.run)
    labels = torch.arange(len(genres)).repeat_interleave(args.seeds)  # (genres · seeds,)
    if args.against == "mean":
        against = torch.full_like(labels, len(genres))
    else:
        against = torch.tensor([genres.index(SIBLING[genres[i]]) for i in labels.tolist()])
    options = PieceConfig(seconds=30.0, temperature=1.0, hold_penalty=0.0)
    empty = np.zeros(0, np.int64)
    with args.out.open("w") as out:
        for scale in args.scales:
            model = Guided(composer, scale, against, args.within).eval()
            generator = torch.Generator().manual_seed(args.seed)
            events = compose_events(model, empty, labels, len(labels), options, generator)
            for g, name in enumerate(genres):
                rows = events[g * args.seeds : (g + 1) * args.seeds]
                pieces = [piece_notes(empty, row, 30.0) for row in rows]
                figures = note_figures(pieces, [30.0] * len(pieces))
                velocity = sum(int((row >= VELOCITY).sum()) for row in rows) / (30.0 * len(rows))
                record = {
                    "against": args.against,
                    "within": args.within,
                    "seed": args.seed,
                    "low_pitch": figures.low_pitch,
                    "high_pitch": figures.high_pitch,
                    "real_low_pitch": genre[name].low_pitch,
                    "real_high_pitch": genre[name].high_pitch,
                    "scale": scale,
                    "genre": name,
                    "notes_per_second": figures.notes_per_second,
                    "sounding_at_once": figures.sounding_at_once,
                    "silent_share": figures.silent_share,
                    "velocity_per_second": velocity,
                    "longest_shared": max(index.longest_shared(p) for p in pieces),
                    "real_notes_per_second": genre[name].notes_per_second,
                    "real_sounding_at_once": genre[name].sounding_at_once,
                }
                out.write(json.dumps(record) + "\n")
                out.flush()
                print(
                    f"{args.against} ×{scale:g} {name:9s} notes/s {figures.notes_per_second:5.1f} "
                    f"({genre[name].notes_per_second:.1f}) at once {figures.sounding_at_once:.2f} "
                    f"({genre[name].sounding_at_once:.2f}) silent {figures.silent_share:.0%} "
                    f"velocity/s {velocity:.1f} longest shared {record['longest_shared']} "
                    f"keys {figures.low_pitch:.0f}-{figures.high_pitch:.0f} "
                    f"({genre[name].low_pitch:.0f}-{genre[name].high_pitch:.0f})",
                    flush=True,
                )


if __name__ == "__main__":
    main()
