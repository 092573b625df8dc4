"""The demo's composed pieces with their rests played as composed (the roll silent) and as
"notes withheld" (the roll absent where no key is down: the WaveNet plays there as it does
unsteered), one piece of 30 s per label and seed (``compose --label all --seed K``); per
piece its level, flatness (finished as its WAV is), note F1 and frame pitch-class F1 of its
transcription against its notes (``report.notes.heard_figures``), its level where notes
sound and in its rests. One JSON line per piece.

    python pieces.py RUN DATA OUT.jsonl --rests composed|absent --seeds 1 2 3 4

Levels are of the finished audio (``audio/finish.py``: no infrasound, which a WaveNet's
wander fills with up to half of full scale); ``distance``, ``shape`` and ``level`` are the
report's long-term log-mel figures (``audio.spectral.shape_and_level``) against eight
30-s excerpts of the genre's recordings, finished alike."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from wavenet_music.audio.finish import for_listening
from wavenet_music.audio.io import load_audio
from wavenet_music.audio.spectral import shape_and_level, spectral_flatness
from wavenet_music.composer.compose import compose
from wavenet_music.composer.config import PieceConfig
from wavenet_music.report.notes import heard_figures

sys.path.insert(0, str(Path(__file__).parent))
import absent_rests  # noqa: E402  (patches the steering when asked: --rests absent)
from rests import levels  # noqa: E402


def genre_excerpts(data: Path, label: str, rate: int, seconds: float, count: int = 8) -> list:
    """``count`` excerpts of ``seconds`` from the genre's recordings, evenly spaced, finished."""
    audio = np.concatenate([load_audio(f, rate) for f in sorted((data / label).glob("*.flac"))])
    size = int(seconds * rate)
    starts = np.linspace(0, len(audio) - size, count).astype(int)
    return [for_listening(audio[s : s + size], rate) for s in starts]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run", type=Path)
    parser.add_argument("data", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--rests", choices=("composed", "absent"), required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4])
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    if args.rests == "absent":
        absent_rests.patch()
    real: dict[str, list] = {}
    with args.out.open("a") as out:
        for seed in args.seeds:
            piece = compose(args.run, PieceConfig(seconds=args.seconds, label="all", seed=seed))
            rate = piece.sample_rate
            for k, (tag, audio, notes) in enumerate(
                zip(piece.tags, piece.audio, piece.notes, strict=True)
            ):
                heard = heard_figures([notes], audio[None], rate)
                finished = for_listening(audio, rate)
                if tag not in real:
                    real[tag] = genre_excerpts(args.data, tag, rate, args.seconds)
                shape, level = shape_and_level([finished], real[tag], rate)
                row = {
                    "rests": args.rests,
                    "seed": seed,
                    "label": tag,
                    "flatness": float(spectral_flatness(finished)),
                    "rms_db": float(10 * np.log10(np.mean(finished**2) + 1e-12)),
                    "shape_db": shape,
                    "level_db": level,
                    "note_f1": heard["note_f1"],
                    "frame_pitch_class_f1": heard["frame_pitch_class_f1"],
                    "heard_per_s": heard["notes_per_second"],
                    "levels": levels(finished, rate, notes),
                    "falls": sum(1 for r in piece.redraws if r.stream == k),
                }
                out.write(json.dumps(row) + "\n")
                out.flush()
                print(row, flush=True)


if __name__ == "__main__":
    main()
