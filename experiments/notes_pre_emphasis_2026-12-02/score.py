"""Note following of a notes run's renders, with the run's audio pre-emphasised or not,
and what the renders lack against the real recordings.

    python score.py CHECKPOINT --held DIR [--de-emphasis] [--seeds 0,1] [--temperature T]
                    [--floor F] [--json OUT]

Renders the first 10 s of every held-out piece's notes from silence (one batch per
seed), undoes the pre-emphasis of ``prep.py`` when ``--de-emphasis`` (the run learned
emphasised audio), transcribes with basic-pitch and scores against the notes as
``wavenet.follow`` does (note F1 at 50 ms, pitch-class F1, frame pitch-class F1). Beside
the scores, three measures of the render and of the real recording (DIR's audio, taken
as it is, so pass the original recordings):

- recall: the share of the notes found (50-ms onsets), all, and above C5 (MIDI 72);
- treble: median share of the spectrum at the fundamental (3 bins) 30-130 ms after
  the onsets of the notes above C5;
- flatness: median spectral flatness of the frames (noise 0.56, real piano about 0.002);
- attack: positive spectral flux at the notes' onsets over its median.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import mir_eval
import numpy as np
import scipy.signal
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from prep import COEFFICIENT, GAIN  # noqa: E402

from wavenet_music.audio.io import load_audio  # noqa: E402
from wavenet_music.notes.midi import Note  # noqa: E402
from wavenet_music.notes.score import score_notes, transcribe_audio  # noqa: E402
from wavenet_music.wavenet.checkpoint import load_dir  # noqa: E402
from wavenet_music.wavenet.discovery import find_audio_files  # noqa: E402
from wavenet_music.wavenet.follow import piece_notes, render_notes  # noqa: E402
from wavenet_music.wavenet.model import WaveNet  # noqa: E402

RATE, SECONDS, TREBLE = 16000, 10.0, 72
N_FFT, HOP = 2048, 256


def de_emphasis(y: np.ndarray) -> np.ndarray:
    """The inverse of ``prep.pre_emphasis``."""
    return scipy.signal.lfilter([1.0], [1.0, -COEFFICIENT], y / GAIN)


def power(audio: np.ndarray) -> np.ndarray:
    frames = np.lib.stride_tricks.sliding_window_view(np.pad(audio, (0, N_FFT)), N_FFT)[::HOP]
    frames = frames[: len(audio) // HOP]
    return np.abs(np.fft.rfft(frames * np.hanning(N_FFT), axis=1)) ** 2  # (T, F)


def measures(audio: np.ndarray, notes: list[Note]) -> dict[str, float]:
    spec = power(audio)
    total = spec.sum(axis=1) + 1e-12
    floor = spec[:, 5:] + 1e-12
    flatness = np.exp(np.log(floor).mean(axis=1)) / floor.mean(axis=1)
    shares = []
    for n in notes:
        if n.pitch >= TREBLE:
            b = round(440 * 2 ** ((n.pitch - 69) / 12) * N_FFT / RATE)
            t0 = int((n.onset + 0.03) * RATE / HOP)
            if t0 + 6 < len(spec):
                shares.append(np.mean(spec[t0 : t0 + 6, b - 1 : b + 2].sum(1) / total[t0 : t0 + 6]))
    flux = np.maximum(np.diff(np.log(spec + 1e-10), axis=0), 0).mean(axis=1)
    at = [int(n.onset * RATE / HOP) for n in notes]
    attack = np.mean([flux[max(i - 1, 0) : i + 3].max() for i in at if i + 3 < len(flux)])
    estimate = transcribe_audio(audio, RATE)
    recall = [_recall([n for n in notes if keep(n)], estimate) for keep in (_any, _treble)]
    return {
        "recall": recall[0],
        "treble_recall": recall[1],
        "treble": float(np.median(shares)),
        "flatness": float(np.median(flatness)),
        "attack": float(attack / np.median(flux)),
    }


def _any(n: Note) -> bool:
    return True


def _treble(n: Note) -> bool:
    return n.pitch >= TREBLE


def _recall(reference: list[Note], estimate: list[Note]) -> float:
    def arrays(notes: list[Note]) -> tuple[np.ndarray, np.ndarray]:
        spans = np.array([[n.onset, max(n.offset, n.onset + 1e-3)] for n in notes]).reshape(-1, 2)
        return spans, np.array([440 * 2 ** ((n.pitch - 69) / 12) for n in notes])

    matched = mir_eval.transcription.match_notes(
        *arrays(reference), *arrays(estimate), onset_tolerance=0.05, offset_ratio=None
    )
    return len(matched) / max(len(reference), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--held", type=Path, required=True)
    parser.add_argument("--de-emphasis", action="store_true")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--temperature", type=float, default=1.0, help="WaveNet sampling")
    parser.add_argument(
        "--floor", type=float, default=0.0, help="sampling floor while notes sound (0: as recorded)"
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(2)
    saved = load_dir(args.checkpoint, weights_only=True)
    model = WaveNet(saved.config.model)
    model.load_state_dict(saved.model)
    model.eval()
    paths = find_audio_files(args.held)
    notes = [piece_notes(p, saved.config, SECONDS) for p in paths]
    rows = []
    for path, reference in zip(paths, notes, strict=True):
        real = load_audio(path, RATE)[: int(SECONDS * RATE)]
        rows.append({"piece": path.stem, "kind": "real", **measures(real, reference)})
    for seed in (int(s) for s in args.seeds.split(",")):
        renders = render_notes(
            model,
            saved.config,
            notes,
            SECONDS,
            seed=seed,
            temperature=args.temperature,
            floor=args.floor,
        )
        for path, reference, audio in zip(paths, notes, renders, strict=True):
            audio = de_emphasis(audio) if args.de_emphasis else audio
            scores = score_notes(reference, transcribe_audio(audio, RATE), 0.0, SECONDS)
            row = {"piece": path.stem, "kind": f"render seed {seed}", **vars(scores)}
            rows.append({**row, **measures(audio, reference)})
            print(json.dumps(rows[-1]), flush=True)
    names = ("note_f1", "pitch_class_f1", "frame_pitch_class_f1", "recall", "treble_recall")
    names += ("treble", "flatness", "attack")
    print("| piece | kind | " + " | ".join(names) + " |")
    print("|---|---|" + "---:|" * len(names))
    for row in rows:
        cells = " | ".join(f"{row[n]:.3f}" if n in row else "" for n in names)
        print(f"| {row['piece']} | {row['kind']} | {cells} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
