"""Why do the demo's composed pieces play quieter than their genre? The WaveNet or the notes?

For every genre, the held-out (validation) audio of the demo run, cut into back-to-back
excerpts of ``--seconds``, is played
again from their own notes (score or transcription) by the run's WaveNet, as the report
plays composed notes (sampling floor, jump limit), and compared with the recordings they
came from: if the renders of real notes are as quiet as the composed pieces, the WaveNet
plays notes quietly; if they match their recordings, the composed notes are the cause.
Beside it, the notes themselves: notes per second, velocity, polyphony, pitch, of the real
excerpts and of the report's composed pieces (their ``.mid`` files).

    python level.py RUN DATA OUT.json [--seconds 20] [--seeds 0 1]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from wavenet_music.audio.io import load_audio
from wavenet_music.audio.spectral import clip_statistics, shape_and_level
from wavenet_music.notes.features import read_notes, recording_notes
from wavenet_music.notes.midi import Note, read_midi
from wavenet_music.runs import read_data_record
from wavenet_music.wavenet.checkpoint import load_model
from wavenet_music.wavenet.data import cache_root
from wavenet_music.wavenet.discovery import label_positions
from wavenet_music.wavenet.follow import render_notes

GENRES = ("ambient", "classical", "guitar", "piano")


def excerpt_notes(notes: list[Note], start: float, seconds: float) -> list[Note]:
    """The notes sounding in ``start .. start + seconds``, moved to start at 0 and cut."""
    out = []
    for n in notes:
        if n.is_drum or n.offset <= start or n.onset >= start + seconds:
            continue
        onset = max(0.0, n.onset - start)
        offset = min(seconds, n.offset - start)
        if offset > onset:
            out.append(Note(onset, offset, n.pitch, n.velocity, n.program))
    return out


def note_figures(pieces: list[list[Note]], seconds: list[float]) -> dict[str, float]:
    """Notes per second, notes sounding at once (polyphony), mean velocity and pitch, the
    99th percentile of note lengths and the share over 5 s, of ``pieces`` lasting
    ``seconds`` each."""
    notes = [n for p in pieces for n in p]
    lengths = np.array([n.offset - n.onset for n in notes])
    total = sum(seconds)
    return {
        "notes_per_s": len(notes) / total,
        "polyphony": float(lengths.sum() / total),
        "velocity": float(np.mean([n.velocity for n in notes])) if notes else 0.0,
        "pitch": float(np.mean([n.pitch for n in notes])) if notes else 0.0,
        "length_p99_s": float(np.percentile(lengths, 99)) if notes else 0.0,
        "over_5_s_percent": float(100 * (lengths > 5).mean()) if notes else 0.0,
    }


def arguments(doc: str, seconds: float) -> argparse.ArgumentParser:
    """The arguments every script here takes: RUN DATA OUT [--seconds]."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("data", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--seconds", type=float, default=seconds)
    return parser


def held_out_excerpts(
    run: Path, data: Path, config, seconds: float
) -> list[tuple[str, np.ndarray, list[Note]]]:
    """(genre, audio, notes) of back-to-back ``seconds`` excerpts of the run's validation
    segments, genre by genre, each with its notes moved to start at 0."""
    rate = config.data.sample_rate
    length = round(seconds * rate)
    excerpts: dict[str, list[tuple[np.ndarray, list[Note]]]] = {g: [] for g in GENRES}
    for source, start, end in read_data_record(run)["validation"]:
        path = data / source
        audio = load_audio(path, rate)
        notes = read_notes(recording_notes(path, len(audio) / rate, cache_root(config.data)))
        for at in range(start, end - length + 1, length):  # back to back
            excerpts[source.split("/")[0]].append(
                (audio[at : at + length], excerpt_notes(notes, at / rate, seconds))
            )
    return [(g, audio, notes) for g in GENRES for audio, notes in excerpts[g]]


def held_out_setup(run: Path, data: Path, seconds: float):
    """(model, config, pieces, labels): RUN's WaveNet, its held-out excerpts
    (``held_out_excerpts``) and each excerpt's label index (len(pieces),)."""
    model, config = load_model(run)
    pieces = held_out_excerpts(run, data, config, seconds)
    labels = torch.tensor(label_positions(config.model.global_labels, [g for g, _, _ in pieces]))
    return model, config, pieces, labels


def mean_statistic(clips: list[np.ndarray], key: str, rate: int) -> float | None:
    """The mean of one ``clip_statistics`` figure over ``clips`` (None without clips)."""
    if not clips:
        return None
    return float(np.mean([clip_statistics(a, rate)[key] for a in clips]))


def main() -> None:
    parser = arguments(__doc__, seconds=20.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--report", default="report", help="the report folder in RUN")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, config, pieces, labels = held_out_setup(args.run, args.data, args.seconds)
    rate = config.data.sample_rate
    results: dict[str, dict] = {}
    renders = {
        seed: render_notes(model, config, [n for _, _, n in pieces], args.seconds, labels, seed)
        for seed in args.seeds
    }
    composed_notes = {
        g: [read_midi(p) for p in sorted((args.run / args.report).glob(f"{g}-composed-*.mid"))]
        for g in GENRES
    }
    for g in GENRES:
        index = [i for i, (genre, _, _) in enumerate(pieces) if genre == g]
        real = [pieces[i][1] for i in index]
        rendered = [renders[s][i] for s in args.seeds for i in index]
        shape, level = shape_and_level(rendered, real, rate)
        wavs = sorted((args.run / args.report).glob(f"{g}-composed-*.wav"))
        composed = [load_audio(p, rate) for p in wavs]
        c_shape, c_level = shape_and_level(composed, real, rate) if composed else (None, None)
        results[g] = {
            "excerpts": len(index),
            "render_vs_recording": {"shape_db": shape, "level_db": level},
            "composed_vs_recording": {"shape_db": c_shape, "level_db": c_level},
            **{
                f"{kind}_{key}": mean_statistic(clips, key, rate)
                for kind, clips in (
                    ("render", rendered),
                    ("composed", composed),
                    ("recording", real),
                )
                for key in ("rms_db", "flatness")
            },
            "real_notes": note_figures([pieces[i][2] for i in index], [args.seconds] * len(index)),
            "composed_notes": note_figures(composed_notes[g], [30.0] * len(composed_notes[g]))
            if composed_notes[g]
            else None,
            "composed_files": len(composed_notes[g]),
        }
        print(g, json.dumps(results[g]), flush=True)
    args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
