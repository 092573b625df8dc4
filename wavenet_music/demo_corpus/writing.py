"""Writing the corpus: FLAC clips (with their notes as MIDI), the manifest and the attribution."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile as sf

from ..notes.midi import Note, write_midi
from .sources import PEAK, Clip

# --- writing ----------------------------------------------------------------------------


def write_clip(
    staging: Path,
    clip: Clip,
    audio: np.ndarray,
    sample_rate: int,
    notes: Sequence[Note] | None = None,
) -> Clip:
    """Normalise the peak to -1 dBFS and write ``clip.file`` as 16-bit FLAC, and ``notes``
    (when given) as the MIDI file ``clip.notes_file``."""
    peak = float(np.max(np.abs(audio), initial=0.0))
    if peak > 0:
        audio = audio * (PEAK / peak)
    (staging / clip.genre).mkdir(exist_ok=True)
    sf.write(staging / clip.file, audio, sample_rate, subtype="PCM_16", format="FLAC")
    if notes is not None:
        if clip.notes_file is None:
            raise ValueError(f"expected a notes_file for the notes of {clip.file}, got None")
        write_midi(staging / clip.notes_file, notes)
    return clip


def write_manifest(path: Path, clips: Sequence[Clip]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["genre", "file", "source", "licence", "seconds"])
        writer.writerows([c.genre, c.file, c.source, c.licence, f"{c.seconds:.3f}"] for c in clips)


def write_attribution(path: Path, clips: Sequence[Clip]) -> None:
    lines = [
        "# Demo corpus: sources and licences",
        "",
        "Every file is an excerpt, mixed to mono, resampled and peak-normalised to -1 dBFS.",
        "Scores: music21 corpus encodings of public-domain works (see music21/corpus/license.txt).",
        "Soundfont: FluidR3_GM by Frank Wen and contributors, MIT licence (fluid-soundfont-gm).",
        "Wesnoth: The Battle for Wesnoth soundtrack, GPL-2.0-or-later (wesnoth-1.16-music).",
        "Warzone 2100: *Aftermath Soundtrack*, © 2021-2022 LupusMechanicus, CC BY-SA 3.0",
        "(https://creativecommons.org/licenses/by-sa/3.0/) or any later version, or",
        "GPL-2.0-or-later, at your choice (warzone2100-music). These excerpts are changed",
        "as described above and may be shared under the same licence.",
    ]
    if any(c.notes_file for c in clips):
        lines += [
            "Each rendered score's clip has its notes beside it as MIDI (`<name>.mid`): the",
            "notes FluidSynth played, moved earlier by the silence trimmed from the render's",
            "start and cut at the clip's end, so they line up with the audio.",
        ]
    for genre in dict.fromkeys(c.genre for c in clips):
        lines += ["", f"## {genre}", ""]
        lines += [f"- `{c.file}`: {c.credit}{_notes(c)}" for c in clips if c.genre == genre]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _notes(clip: Clip) -> str:
    return f"; notes in `{clip.notes_file}`" if clip.notes_file else ""


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
