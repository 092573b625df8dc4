"""How a composer of note events releases its keys, with and without the event rule.

Composes ``--clips`` pieces of ``--seconds`` per label from RUN's composer (temperature 1,
as the report does), once sampling freely and once with ``composer.event_rules`` (a
NOTE_OFF only for a key that is down), from the same seed, and prints per label: NOTE_ONs,
NOTE_OFFs that lift a key that is down and those that lift one already up (no-ops), the
model's mean probability of a NOTE_OFF for keys down and for keys up, the notes sounding
at once on average (polyphony), the 99th percentile of note lengths, the share of notes
over 5 s and the keys still down at the end. Then the same figures of the notes the
composer learned from (the run's training recordings, whole).

    python releases.py RUN DATA OUT.json [--clips 3] [--seconds 30] [--seed 0]
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import torch
from level import arguments, note_figures

from wavenet_music.audio.io import load_audio
from wavenet_music.composer.checkpoint import build_composer, load_composer
from wavenet_music.composer.event_rules import keys_down_after, no_keys_down, release_only_keys_down
from wavenet_music.composer.model import primed_composer, sample_tokens
from wavenet_music.notes import events
from wavenet_music.notes.features import read_notes, recording_notes
from wavenet_music.wavenet.checkpoint import load_model
from wavenet_music.wavenet.data import cache_root


@torch.no_grad()
def compose(model, labels: torch.Tensor, seconds: float, seed: int, rule: bool) -> dict:
    """Token rows and per-stream counts of one batch of pieces."""
    streams = len(labels)
    generator = torch.Generator().manual_seed(seed)
    state, last = primed_composer(model, np.zeros(0, np.int64), streams, labels)
    down = no_keys_down(streams)
    now, target = np.zeros(streams, dtype=np.int64), events.to_steps(seconds)
    tokens: list[list[int]] = [[] for _ in range(streams)]
    counts = {k: np.zeros(streams) for k in ("ons", "lifts", "no_ops", "p_down", "p_up")}
    while (now < target).any():
        logits, state = model.step(last, state)
        p = torch.softmax(logits.double(), dim=1)[:, events.NOTE_OFF : events.TIME_SHIFT]
        if rule:
            logits = release_only_keys_down(logits, down)
        last = sample_tokens(logits, 1.0, None, generator)
        for b, token in enumerate(last.tolist()):
            if now[b] >= target:
                continue
            tokens[b].append(token)
            counts["p_down"][b] += float(p[b][down[b]].sum())
            counts["p_up"][b] += float(p[b][~down[b]].sum())
            if events.TIME_SHIFT <= token < events.VELOCITY:
                now[b] += token - events.TIME_SHIFT + 1
            elif events.NOTE_OFF <= token < events.TIME_SHIFT:
                counts["lifts" if down[b, token - events.NOTE_OFF] else "no_ops"][b] += 1
            elif token < events.NOTE_OFF:
                counts["ons"][b] += 1
        down = keys_down_after(down, last)
    return {"tokens": tokens, "counts": counts, "down_at_end": down.sum(dim=1).numpy()}


def main() -> None:
    parser = arguments(__doc__, seconds=30.0)
    parser.add_argument("--clips", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    saved = load_composer(args.run, weights_only=True)
    model = build_composer(saved).eval()
    _, config = load_model(args.run)
    names = list(saved.labels)
    labels = torch.arange(len(names)).repeat_interleave(args.clips)
    results: dict = {}
    for rule in (False, True):
        out = compose(model, labels, args.seconds, args.seed, rule)
        for i, name in enumerate(names):
            rows = range(i * args.clips, (i + 1) * args.clips)
            pieces = [
                [
                    replace(n, offset=min(n.offset, args.seconds))
                    for n in events.decode(out["tokens"][b])
                    if n.onset < args.seconds
                ]
                for b in rows
            ]
            figures = {k: float(v[list(rows)].sum()) for k, v in out["counts"].items()}
            steps = sum(len(out["tokens"][b]) for b in rows)
            figures["p_down"] /= steps
            figures["p_up"] /= steps
            figures["down_at_end_per_piece"] = float(out["down_at_end"][list(rows)].mean())
            figures.update(note_figures(pieces, [args.seconds] * len(pieces)))
            results.setdefault(name, {})["rule" if rule else "free"] = figures
    for name in names:
        pieces, seconds = [], []
        for path in sorted((args.data / name).glob("*.flac")):
            length = len(load_audio(path, config.data.sample_rate)) / config.data.sample_rate
            notes = read_notes(recording_notes(path, length, cache_root(config.data)))
            pieces.append([n for n in notes if not n.is_drum])
            seconds.append(length)
        results[name]["recordings"] = note_figures(pieces, seconds)
    for name in names:
        for kind, figures in results[name].items():
            print(f"{name:10s} {kind:10s} " + " ".join(f"{k} {v:.3g}" for k, v in figures.items()))
    args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
