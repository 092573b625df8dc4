"""Where the WaveNet's hiss lies: under the notes, or in the rests between them?

The demo check's tightest figure is composed piano's spectral flatness (0.110-0.129 against
the bound 0.14). Flatness is the mean over every frame above -100 dB, so a quiet passage
that hisses counts as much as a loud chord. The sampling floor is applied only where a note
sounds (``to_audio.note_floors``): since composed notes are released, composed pieces have
rests, drawn from the whole distribution.

Per clip, its frames are split by their centre sample into sounding (a note's onset to the
end of its release, ``notes.excitation.sounding``) and rest frames: their share, mean
flatness and level (mean power, dB); and by level: the share and mean flatness of the
frames 0-10, 10-20, 20-30 and over 30 dB below the clip's loudest frame. Clips: the
report's composed pieces (one per label and seed), and the held-out recordings of each
genre played from their own notes (and the recordings themselves). Floor placements:

- ``notes``: the package's (the floor where a note sounds, 0 in rests);
- ``everywhere``: the same floor on every sample of a steered clip (rests too).

``--sounding-temperature T``: the WaveNet's temperature times T where a note sounds
(``PieceConfig.wavenet_note_temperature_scale``, ``render_notes(temperature_scale=)``);
1 by default, the package's sampling before it had the setting.

    python where.py RUN DATA OUT.jsonl [--seeds 0 1] [--seconds 20]
        [--placements notes everywhere] [--what composed held_out]
        [--sounding-temperature T] [--no-f1]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parents[1] / "hanging_notes_2026-12-03"))
from level import arguments, held_out_setup

from wavenet_music.audio.spectral import POWER_FLOOR, power_spectrogram
from wavenet_music.composer import note_piece
from wavenet_music.composer.compose import compose
from wavenet_music.composer.config import PieceConfig
from wavenet_music.notes.excitation import sounding
from wavenet_music.notes.score import follows
from wavenet_music.wavenet import follow
from wavenet_music.wavenet.to_audio import note_floors

N_FFT, HOP = 1024, 256
BANDS = ((0, 10), (10, 20), (20, 30), (30, 200))  # dB below the clip's loudest frame


def floors_everywhere(pieces, length, sample_rate, floor):
    """``note_floors`` with the floor on every sample of a steered clip, rests too."""
    if floor == 0:
        return None
    rows = [np.full(length, floor if notes is not None else 0.0) for notes in pieces]
    return torch.from_numpy(np.stack(rows)).float()


def place(placement: str) -> None:
    """Where the samplers of composed pieces and of note renders put the floor."""
    chosen = note_floors if placement == "notes" else floors_everywhere
    note_piece.note_floors = chosen
    follow.note_floors = chosen


def split_figures(audio: np.ndarray, notes, rate: int) -> dict[str, float | None]:
    """Share, mean flatness and level of the clip's sounding and rest frames (frames at
    -100 dB and below left out, as ``spectral_flatness`` does)."""
    power = power_spectrogram(audio, N_FFT, HOP)  # (F, K)
    arithmetic = power.mean(axis=1)  # (F,)
    geometric = np.exp(np.log(np.maximum(power, POWER_FLOOR)).mean(axis=1))
    flatness = geometric / np.maximum(arithmetic, POWER_FLOOR)
    loud = arithmetic > POWER_FLOOR
    heard = sounding(notes, len(audio) + N_FFT, rate)
    centre = heard[np.arange(len(power)) * HOP + N_FFT // 2]  # (F,)
    row: dict[str, float | None] = {"flatness": float(flatness[loud].mean())}
    for name, frames in (("sounding", centre & loud), ("rest", ~centre & loud)):
        row[f"{name}_share"] = float(frames.sum() / max(loud.sum(), 1))
        row[f"{name}_flatness"] = float(flatness[frames].mean()) if frames.any() else None
        row[f"{name}_db"] = (
            float(10 * np.log10(arithmetic[frames].mean())) if frames.any() else None
        )
    below = 10 * np.log10(arithmetic[loud].max() / np.maximum(arithmetic, POWER_FLOOR))  # (F,)
    for low, high in BANDS:
        frames = loud & (below >= low) & (below < high)
        row[f"below_{low}_share"] = float(frames.sum() / max(loud.sum(), 1))
        row[f"below_{low}_flatness"] = float(flatness[frames].mean()) if frames.any() else None
    return row


def composed_rows(run: Path, seeds: list[int], seconds: float, scale: float):
    for seed in seeds:
        options = PieceConfig(
            seconds=seconds, label="all", seed=seed, wavenet_note_temperature_scale=scale
        )
        piece = compose(run, options)
        for tag, audio, notes in zip(piece.tags, piece.audio, piece.notes, strict=True):
            yield {"what": "composed", "label": tag, "seed": seed}, audio, notes


def held_out_rows(
    run: Path, data: Path, seeds: list[int], seconds: float, recordings: bool, scale: float
):
    model, config, pieces, labels = held_out_setup(run, data, seconds)
    notes = [n for _, _, n in pieces]
    if recordings:
        for i, (genre, audio, n) in enumerate(pieces):
            yield {"what": "recording", "label": genre, "excerpt": i}, audio, n
    for seed in seeds:
        renders = follow.render_notes(
            model, config, notes, seconds, labels, seed, temperature_scale=scale
        )
        for i, ((genre, _, n), audio) in enumerate(zip(pieces, renders, strict=True)):
            yield {"what": "held_out", "label": genre, "excerpt": i, "seed": seed}, audio, n


def main() -> None:
    parser = arguments(__doc__, seconds=20.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--placements", nargs="+", default=["notes", "everywhere"])
    parser.add_argument("--what", nargs="+", default=["composed", "held_out"])
    parser.add_argument("--sounding-temperature", type=float, default=1.0)
    parser.add_argument("--no-f1", action="store_true", help="skip the transcription")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rate = 16000
    with args.out.open("a") as out:
        for first, placement in enumerate(args.placements):
            place(placement)
            sources = []
            if "composed" in args.what:
                sources.append(
                    composed_rows(args.run, args.seeds, args.seconds, args.sounding_temperature)
                )
            if "held_out" in args.what:
                sources.append(
                    held_out_rows(
                        args.run,
                        args.data,
                        args.seeds,
                        args.seconds,
                        first == 0,
                        args.sounding_temperature,
                    )
                )
            for source in sources:
                for key, audio, notes in source:
                    row = {
                        **key,
                        "placement": placement,
                        "sounding_temperature": args.sounding_temperature,
                        **split_figures(audio, notes, rate),
                    }
                    if not args.no_f1 and key["what"] != "recording":
                        steered, _ = follows(notes, audio, rate, 0.0, args.seconds)
                        row["note_f1"] = steered.note_f1
                        row["frame_pitch_class_f1"] = steered.frame_pitch_class_f1
                    if key["what"] == "recording":
                        row["placement"] = None
                    print(json.dumps(row), flush=True)
                    out.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
