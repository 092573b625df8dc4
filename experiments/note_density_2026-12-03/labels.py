"""Does the composer use its label? Held-out bits per token of each genre under every label.

The composer's held-out streams (the run's validation split as note events) of each
genre, scored with each label in turn (``composer.data.held_out_bits``): a composer that
tells its genres apart scores a genre's music best under that genre's label; rows that
hardly change across labels mean it plays every genre alike.

    python labels.py RUN DATA
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import torch
from common import add_current, run_composer

from wavenet_music.composer.checkpoint import load_composer
from wavenet_music.composer.data import held_out_bits
from wavenet_music.composer.note_tokens import note_corpus
from wavenet_music.wavenet.checkpoint import load_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("data", type=Path)
    add_current(parser)
    args = parser.parse_args()
    torch.set_num_threads(1)
    _, config = load_model(args.run)
    composer = run_composer(args.run, args.current)
    options = load_composer(args.run, weights_only=True).config
    corpus = note_corpus(args.run, args.data, config, options)
    genres = config.model.global_labels
    print("held-out bits per token; rows: the music's genre, columns: the label given")
    print(f"{'':10s}" + "".join(f"{g:>11s}" for g in genres))
    with torch.no_grad():
        for index, genre in enumerate(genres):
            streams = [s for s in corpus.validation if s.label == index]
            cells = [
                held_out_bits(composer, tuple(replace(s, label=given) for s in streams), "cpu")
                for given in range(len(genres))
            ]
            print(f"{genre:10s}" + "".join(f"{b:11.3f}" for b in cells))


if __name__ == "__main__":
    main()
