"""Composed pieces whose rests play unsteered, drawn at a lower temperature there.

python probe.py RUN REPORT SECONDS SEED OUT.jsonl REST_SCALE [REST_SCALE ...]

Plays the first SECONDS of every REPORT/LABEL-composed-N.mid of the labels whose rests the
report played unsteered (ambient, classical), as the report does (its gain, tilt,
harmonics, floor, jump limit, 0.3 of the temperature while notes sound, the noise guard,
the rests unsteered) but the temperature times REST_SCALE where no note sounds (the
package: 1), the draws' seed SEED. Appends a line per label and scale to OUT.jsonl: what
reaches the ear (report.notes.heard_figures), the spectral flatness of the finished clips,
of their frames under notes and of their rest frames, those frames' levels, and the shape
and level against the genre's real excerpts in the report. The per-label loop is
``../note_temperature_lower_2026-12-06/probe.py``'s, with the frames split added (a lab
record stands alone: copied, not imported).
"""

import glob
import json
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

import wavenet_music.composer.note_piece as note_piece
from wavenet_music.audio.finish import for_listening
from wavenet_music.audio.spectral import (
    frame_flatness,
    frame_level_db,
    shape_and_level,
    spectral_flatness,
)
from wavenet_music.composer.config import PieceConfig
from wavenet_music.notes.midi import read_midi
from wavenet_music.report.notes import heard_figures
from wavenet_music.wavenet.checkpoint import load_model
from wavenet_music.wavenet.to_audio import sounding_rows

LABELS = ("ambient", "classical")


def rest_temperatures(rest_scale: float):
    """note_temperatures with the rests drawn at temperature · rest_scale."""

    def temperatures(pieces, length, rate, temperature, scale):
        heard = sounding_rows(pieces, length, rate)  # (B, length)
        return torch.where(heard, temperature * scale, temperature * rest_scale).float()

    return temperatures


def frames_split(audio: np.ndarray, notes, rate: int) -> dict:
    """Flatness and level (dB) of the frames where a note sounds and of the others."""
    flat, level = frame_flatness(audio), frame_level_db(audio)  # (F,)
    centres = (np.arange(len(flat)) * 256 + 512) / rate
    under = np.zeros(len(flat), bool)
    for n in notes:
        under |= (centres >= n.onset) & (centres < n.offset)
    out = {}
    for name, part in (("notes", under), ("rests", ~under)):
        part = part & np.isfinite(flat)
        out[name] = (part.mean(), np.mean(flat[part]), np.mean(level[part])) if part.any() else None
    return out


def main() -> None:
    run, report, seconds = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])
    seed, out = int(sys.argv[4]), Path(sys.argv[5])
    torch.set_num_threads(1)
    model, config = load_model(run)
    rate = config.data.sample_rate
    mids = [m for lab in LABELS for m in sorted(glob.glob(str(report / f"{lab}-composed-*.mid")))]
    labels = [Path(m).name.split("-composed-")[0] for m in mids]
    pieces = [[n for n in read_midi(Path(m)) if n.onset < seconds] for m in mids]
    index = torch.tensor([config.model.global_labels.index(lab) for lab in labels])
    options = PieceConfig(seconds=seconds, label="all")
    for arg in sys.argv[6:]:
        note_piece.note_temperatures = rest_temperatures(float(arg))
        falls = []
        audio = note_piece.play_notes(
            model,
            config,
            pieces,
            index,
            None,
            options,
            torch.Generator().manual_seed(seed),
            on_redraw=falls.append,
            unsteered_rests=[True] * len(pieces),
        )
        finished = np.stack([for_listening(a, rate) for a in audio])
        for label in LABELS:
            rows = [i for i, lab in enumerate(labels) if lab == label]
            heard = heard_figures([pieces[i] for i in rows], audio[rows], rate)
            real = [
                sf.read(p, dtype="float32")[0][: audio.shape[1]]
                for p in sorted(glob.glob(str(report / f"{label}-real-*.wav")))
            ]
            shape, level = shape_and_level(list(finished[rows]), real, rate)
            split = [frames_split(finished[i], pieces[i], rate) for i in rows]
            line = {
                "rest_scale": float(arg),
                "seed": seed,
                "label": label,
                "note_f1": heard["note_f1"],
                "frame_pc_f1": heard["frame_pitch_class_f1"],
                "flatness": float(np.mean([spectral_flatness(finished[i]) for i in rows])),
                "rest_share": float(np.mean([s["rests"][0] for s in split if s["rests"]])),
                "rest_flatness": float(np.mean([s["rests"][1] for s in split if s["rests"]])),
                "rest_level_db": float(np.mean([s["rests"][2] for s in split if s["rests"]])),
                "note_flatness": float(np.mean([s["notes"][1] for s in split if s["notes"]])),
                "note_level_db": float(np.mean([s["notes"][2] for s in split if s["notes"]])),
                "shape_db": shape,
                "level_db": level,
                "falls": sum(f.stream in rows for f in falls),
                "left_as_noise": sum(f.stream in rows and not f.resolved for f in falls),
            }
            print(json.dumps(line), flush=True)
            with out.open("a") as f:
                f.write(json.dumps(line) + "\n")


if __name__ == "__main__":
    main()
