"""The excitation gain fitted to a trained run on its held-out recordings (the experiment's
fit, not built into the package: it did not serve the composed pieces, README.md).

The fit renders the first ``FIT_SECONDS`` of the notes of the run's held-out recordings
(its validation files, ``data.json``; up to ``MAX_PIECES``, every label first) at every
gain of ``GAINS``, ``SEEDS`` draws each, as one batch, transcribes the renders
(basic-pitch) and keeps the gain whose renders follow the notes best: the mean note F1
over recordings (each counts once, whatever its number of notes), among the gains whose
renders play no more than ``LOUDER_DB`` over the recordings themselves; within ``F1_TIE``
of the best, the lowest (the nearest to training).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from wavenet_music.audio.io import load_audio
from wavenet_music.config import Config, UserError
from wavenet_music.notes.features import read_notes, recording_notes
from wavenet_music.notes.midi import Note
from wavenet_music.notes.score import score_notes, transcribe_audio
from wavenet_music.runs import read_data_record
from wavenet_music.wavenet.data import cache_root
from wavenet_music.wavenet.discovery import label_positions
from wavenet_music.wavenet.follow import check_plays_notes, render_notes
from wavenet_music.wavenet.model import WaveNet

GAINS = (1.5, 2.0, 3.0, 4.0)  # every model followed better at 1.5 than at 1 (as trained)
SEEDS = 2  # draws of each recording at each gain: one draw's note F1 swings ±0.05
FIT_SECONDS = 10.0
MAX_PIECES = 8
LOUDER_DB = 3.0  # a render this much louder than its recording overshoots
F1_TIE = 0.02


@dataclass(frozen=True)
class GainPoint:
    """The renders at one gain: mean note F1 over the recordings (and draws), and how
    much louder than the recordings they play (mean dB)."""

    gain: float
    note_f1: float
    louder_db: float


@dataclass(frozen=True)
class GainFit:
    """The gain chosen, the step of the weights it was fitted to, the recordings and
    every gain's renders."""

    gain: float
    step: int
    pieces: tuple[str, ...]
    grid: tuple[GainPoint, ...]

    def to_dict(self) -> dict:
        return {
            "gain": self.gain,
            "step": self.step,
            "pieces": list(self.pieces),
            "grid": [[p.gain, p.note_f1, p.louder_db] for p in self.grid],
        }

    @classmethod
    def from_dict(cls, saved: dict) -> GainFit:
        grid = tuple(GainPoint(*(float(v) for v in point)) for point in saved["grid"])
        return cls(float(saved["gain"]), int(saved["step"]), tuple(saved["pieces"]), grid)

    def line(self) -> str:
        """One line: the gain chosen and every gain's figures."""
        points = ", ".join(
            f"{p.gain:g}: {p.note_f1:.2f} ({p.louder_db:+.1f} dB)" for p in self.grid
        )
        return (
            f"excitation gain {self.gain:g} fitted on {len(self.pieces)} held-out recording(s), "
            f"{FIT_SECONDS:g} s each (note F1 by gain: {points})"
        )


def choose_gain(grid: Sequence[GainPoint]) -> float:
    """The gain whose renders follow best among those no more than ``LOUDER_DB`` over the
    recordings (all of them where none is); within ``F1_TIE`` of the best, the lowest."""
    allowed = [p for p in grid if p.louder_db <= LOUDER_DB] or list(grid)
    best = max(p.note_f1 for p in allowed)
    return min(p.gain for p in allowed if p.note_f1 >= best - F1_TIE)


# --- the held-out recordings ---------------------------------------------------------------


@dataclass(frozen=True)
class HeldOut:
    """A held-out recording's first ``FIT_SECONDS`` (from its segment's start): its
    notes, moved to start at 0, its audio and its label."""

    name: str
    notes: list[Note]
    audio: np.ndarray  # (T,) float
    label: str | None


def held_out_pieces(run: Path, config: Config, data: Path | None = None) -> list[HeldOut]:
    """The run's validation recordings with notes in their span, up to ``MAX_PIECES``,
    labels taken in turn (so that every label is heard): read from ``data`` (default: the
    folder the run trained on)."""
    record = read_data_record(run)
    root = Path(data or record.get("root") or "")
    labels = record.get("labels", {})
    rate = config.data.sample_rate
    length = round(FIT_SECONDS * rate)
    by_label: dict[str | None, list[HeldOut]] = {}
    for source, start, end in record.get("validation", []):
        path = root / source
        if not path.is_file():
            raise UserError(
                f"{path}: a held-out recording of {run} is missing; pass --data with the "
                "folder the run trained on"
            )
        audio = load_audio(path, rate)
        cache = recording_notes(path, len(audio) / rate, cache_root(config.data))
        stop = min(int(end), int(start) + length)
        notes = _notes_within(read_notes(cache), int(start) / rate, stop / rate)
        if notes:
            by_label.setdefault(labels.get(source), []).append(
                HeldOut(source, notes, audio[int(start) : stop], labels.get(source))
            )
    return _in_turn(by_label)[:MAX_PIECES]


def _notes_within(notes: list[Note], start: float, end: float) -> list[Note]:
    """The pitched notes starting in [start, end), cut to end there, moved to start at 0."""
    return [
        replace(n, onset=n.onset - start, offset=min(n.offset, end) - start)
        for n in notes
        if start <= n.onset < end and not n.is_drum
    ]


def _in_turn(by_label: dict[str | None, list[HeldOut]]) -> list[HeldOut]:
    """The first of every label, then the second of every label, ..."""
    rounds = max((len(v) for v in by_label.values()), default=0)
    ordered = [by_label[k] for k in sorted(by_label, key=str)]
    return [pieces[i] for i in range(rounds) for pieces in ordered if i < len(pieces)]


# --- the fit ------------------------------------------------------------------------------


def fit_gain(
    model: WaveNet, config: Config, pieces: list[HeldOut], step: int, seed: int = 0
) -> GainFit:
    """Render every piece at every gain of ``GAINS``, ``SEEDS`` times, as one batch, and
    choose (``choose_gain``); see the module docstring."""
    check_plays_notes(config)
    if not pieces:
        raise UserError("no held-out recording holds notes to fit the excitation gain on")
    rate = config.data.sample_rate
    seconds = max(len(p.audio) for p in pieces) / rate
    streams = [(g, p) for g in GAINS for _ in range(SEEDS) for p in pieces]
    labels = None
    if config.model.global_labels:
        names = [p.label for _, p in streams]
        labels = torch.tensor(label_positions(config.model.global_labels, names))
    renders = render_notes(
        model,
        config,
        [p.notes for _, p in streams],
        seconds,
        labels,
        seed,
        excitation_gain=[g for g, _ in streams],
    )
    f1: dict[float, list[float]] = {}
    louder: dict[float, list[float]] = {}
    for (gain, piece), render in zip(streams, renders, strict=True):
        render = render[: len(piece.audio)]
        heard = transcribe_audio(render, rate)
        f1.setdefault(gain, []).append(score_notes(piece.notes, heard, 0.0, seconds).note_f1)
        louder.setdefault(gain, []).append(_db(render) - _db(piece.audio))
    grid = tuple(GainPoint(g, float(np.mean(f1[g])), float(np.mean(louder[g]))) for g in GAINS)
    return GainFit(choose_gain(grid), step, tuple(p.name for p in pieces), grid)


def _db(audio: np.ndarray) -> float:
    """RMS level in dBFS (-120 for silence)."""
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if len(audio) else 0.0
    return 20 * math.log10(max(rms, 1e-6))
