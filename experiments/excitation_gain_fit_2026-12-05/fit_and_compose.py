"""Does a gain fitted on a run's held-out recordings serve its composed pieces?

For each run: the fit (``fit.py``: held-out recordings' first 10 s rendered at
gains 1.5, 2, 3 and 4, two draws each, note F1 by transcription); then the demo report's
composed MIDI files (3 pieces × 30 s a genre, the same notes for every run) rendered at
each gain, as evaluate renders (``follow.render_notes``: no noise guard), and scored
against their MIDI (note F1, mean per genre and over genres).

    python fit_and_compose.py REPORT_DIR DATA RUN [RUN ...]
"""

import sys
import time
from pathlib import Path

import numpy as np
import torch
from fit import GAINS, fit_gain, held_out_pieces

from wavenet_music.notes.midi import read_midi
from wavenet_music.notes.score import follows
from wavenet_music.wavenet.checkpoint import load, load_model
from wavenet_music.wavenet.discovery import label_positions
from wavenet_music.wavenet.follow import render_notes

report, data = Path(sys.argv[1]), Path(sys.argv[2])
mids = sorted(report.glob("*-composed-*.mid"))
genres = [m.name.split("-")[0] for m in mids]
SECONDS = 30.0
for run in map(Path, sys.argv[3:]):
    model, config = load_model(run)
    step = load(run, weights_only=True).step
    start = time.time()
    fit = fit_gain(model, config, held_out_pieces(run, config, data), step)
    print(f"{run.name}: {fit.line()} -> {fit.gain:g} [{time.time() - start:.0f} s]", flush=True)
    pieces = [read_midi(m) for m in mids]
    labels = torch.tensor(label_positions(config.model.global_labels, genres))
    start = time.time()
    renders = render_notes(
        model,
        config,
        pieces * len(GAINS),
        SECONDS,
        labels.repeat(len(GAINS)),
        excitation_gain=[g for g in GAINS for _ in mids],
    )
    rate = config.data.sample_rate
    for i, gain in enumerate(GAINS):
        f1: dict[str, list[float]] = {}
        for k, (notes, genre) in enumerate(zip(pieces, genres, strict=True)):
            scores, _ = follows(notes, renders[i * len(mids) + k], rate, 0.0, SECONDS)
            f1.setdefault(genre, []).append(scores.note_f1)
        means = {g: float(np.mean(v)) for g, v in sorted(f1.items())}
        row = ", ".join(f"{g} {v:.2f}" for g, v in means.items())
        mark = " <- fitted" if gain == fit.gain else ""
        mean = np.mean(list(means.values()))
        print(f"  composed at gain {gain:g}: note F1 {row}; mean {mean:.3f}{mark}", flush=True)
    print(f"  [composed renders and scoring {time.time() - start:.0f} s]", flush=True)
