"""Does the WaveNet play the notes it is given? Rendered, transcribed and compared.

Teacher forcing lets a WaveNet predict the present from its past, so its loss hardly
rewards listening to its notes (a public replication's WaveNet "doesn't respond to midi
input at all"): whether the audio follows the notes is measured here directly. For each
held-out recording with notes (its score beside it, else its transcription), the first
``seconds`` of its notes are rendered, the render is transcribed with basic-pitch, and
``notes.score`` compares the transcription with the notes, beside:

- the ceiling: the real recording, transcribed the same way;
- the chance floor: the render against the notes moved by 1..11 semitones;
- unsteered: the same model without notes (runs trained with ``train.local_dropout``),
  i.e. plain WaveNet, scored against the same notes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from ..audio.io import AudioReadError, check_damage, load_audio_with_damage, mu_law_decode
from ..config import (
    MAX_JUMP,
    NOTE_EXCITATION_GAIN,
    NOTE_FLOOR,
    NOTE_HEARD_HARMONICS,
    NOTE_HEARD_ROLLOFF,
    NOTE_TEMPERATURE_SCALE,
    NOTE_TREBLE_TILT,
    Config,
    UserError,
)
from ..notes.features import NoteStore, read_notes, recording_notes
from ..notes.midi import Note
from ..notes.score import NoteScores, follows, score_notes, transcribe_audio
from ..runtime.console import warn
from ..runtime.device import model_device, on_generation_device
from .data import cache_root
from .discovery import find_audio_files, label_of, label_positions
from .generate import generate
from .model import WaveNet
from .to_audio import note_floors, note_temperatures, pieces_steering


@dataclass(frozen=True)
class Following:
    """How one render followed its notes (``NoteScores`` each)."""

    piece: str
    notes: int  # notes scored (onsets in the rendered span)
    steered: NoteScores  # the render of the notes, against them
    floor: NoteScores  # the same render against transposed notes: chance
    ceiling: NoteScores  # the real recording, transcribed, against its notes
    unsteered: NoteScores | None  # the model without notes, against them

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Recording:
    """A recording to follow, read once: its length and the audio its ceiling hears."""

    path: Path
    seconds: float  # the whole recording's
    head: np.ndarray  # (<= seconds · rate,) float32: its first seconds followed


def piece_notes(path: Path, config: Config, seconds: float, audio_seconds: float) -> list[Note]:
    """The notes of the recording ``path`` (``audio_seconds`` long; score beside it, else
    transcription) that start in its first ``seconds``, cut to end there."""
    cache = recording_notes(path, audio_seconds, cache_root(config.data))
    return [
        replace(n, offset=min(n.offset, seconds))
        for n in read_notes(cache)
        if n.onset < seconds and not n.is_drum
    ]


@torch.no_grad()
def render_notes(
    model: WaveNet,
    config: Config,
    pieces: list[list[Note] | None],
    seconds: float,
    labels: torch.Tensor | None = None,
    seed: int = 0,
    temperature: float = 1.0,
    floor: float = NOTE_FLOOR,
    temperature_scale: float = NOTE_TEMPERATURE_SCALE,
    excitation_gain: float | Sequence[float] = NOTE_EXCITATION_GAIN,
    treble_tilt: float = NOTE_TREBLE_TILT,
    heard_harmonics: int = NOTE_HEARD_HARMONICS,
    heard_rolloff: float = NOTE_HEARD_ROLLOFF,
) -> np.ndarray:
    """Float audio (len(pieces), seconds · rate) of each piece's notes, as one batch; a
    piece of None is unsteered (absent features, nothing heard). ``floor``: the sampling
    floor while a note sounds (``to_audio.note_floors``); ``temperature_scale``: the
    temperature's factor there (``to_audio.note_temperatures``); ``excitation_gain``: how
    many times as loud as in training the notes are heard, one for all or each piece's
    (``to_audio.pieces_steering``); ``treble_tilt``: dB an octave louder above G4;
    ``heard_harmonics``: each note's harmonics heard (0: as in training), at
    ``1 / h ** heard_rolloff`` (1: as in training)."""
    model = on_generation_device(model)  # evaluate may have put it on a GPU
    rate = config.data.sample_rate
    length = round(seconds * rate)
    features, heard = pieces_steering(
        pieces,
        config,
        length,
        excitation_gain,
        treble_tilt,
        None,
        heard_harmonics,
        heard_rolloff,
    )
    generator = torch.Generator(device=model_device(model)).manual_seed(seed)
    classes = generate(
        model,
        length,
        len(pieces),
        temperature=temperature,
        generator=generator,
        labels=labels,
        features=features,  # (B, 176, K)
        excitation=heard,  # (B, E, length) or None
        silence=NoteStore.silence,
        floors=note_floors(pieces, length, rate, floor),
        temperatures=note_temperatures(pieces, length, rate, temperature, temperature_scale),
        max_jump=MAX_JUMP,
    )
    return mu_law_decode(classes.cpu().numpy(), config.model.quantization_channels)


def follow_notes(
    model: WaveNet,
    config: Config,
    data: Path,
    seconds: float = 10.0,
    seed: int = 0,
    label: str | None = None,
    temperature: float = 1.0,
    floor: float = NOTE_FLOOR,
    temperature_scale: float = NOTE_TEMPERATURE_SCALE,
    excitation_gain: float = NOTE_EXCITATION_GAIN,
    treble_tilt: float = NOTE_TREBLE_TILT,
    heard_harmonics: int = NOTE_HEARD_HARMONICS,
    heard_rolloff: float = NOTE_HEARD_ROLLOFF,
    paths: list[Path] | None = None,
) -> list[Following]:
    """Render the first ``seconds`` of the notes of every recording under ``data`` (or of
    ``paths`` among them: those a likelihood scored, say) and score how well each render
    follows them (see the module docstring)."""
    check_plays_notes(config)
    paths = find_audio_files(Path(data)) if paths is None else paths
    if not paths:
        raise UserError(f"no audio files under {data}")
    rate = config.data.sample_rate
    recordings = _finite(paths, rate, seconds)
    notes = [piece_notes(r.path, config, seconds, r.seconds) for r in recordings]
    recordings, notes = _with_notes(recordings, notes, seconds)
    paths = [r.path for r in recordings]
    labels = _labels(config, data, paths, label)
    unsteered = config.train.local_dropout > 0
    pieces: list[list[Note] | None] = [*notes, *([None] * len(notes) if unsteered else [])]
    both = None if labels is None else torch.cat([labels, labels] if unsteered else [labels])
    renders = render_notes(
        model,
        config,
        pieces,
        seconds,
        both,
        seed,
        temperature,
        floor,
        temperature_scale,
        excitation_gain,
        treble_tilt,
        heard_harmonics,
        heard_rolloff,
    )
    results = []
    for k, (recording, reference) in enumerate(zip(recordings, notes, strict=True)):
        steered, floor = follows(reference, renders[k], rate, 0.0, seconds)
        ceiling = score_notes(reference, transcribe_audio(recording.head, rate), 0.0, seconds)
        plain = None
        if unsteered:
            plain, _ = follows(reference, renders[len(paths) + k], rate, 0.0, seconds)
        name = recording.path.name
        results.append(Following(name, len(reference), steered, floor, ceiling, plain))
    return results


class NothingToFollow(UserError):
    """No recording holds notes to follow: the likelihood beside it still stands."""


def _finite(paths: list[Path], rate: int, seconds: float) -> list[Recording]:
    """``paths`` read once each; as training says it (``check_damage``), NaN/inf samples
    are silence, said in a warning per file, and a file without one finite sample (it was
    followed as silence, without a word) is skipped, the skipped counted in one warning.
    ``NothingToFollow`` when no file is left."""
    kept, empty = [], []
    for path in paths:
        audio, damage = load_audio_with_damage(path, rate)  # (T,)
        try:
            check_damage(path, damage, "the recording followed", "nothing to follow")
        except AudioReadError:
            empty.append(path.name)
            continue
        kept.append(Recording(path, len(audio) / rate, audio[: round(seconds * rate)].copy()))
    if not kept:
        raise NothingToFollow(
            f"none of the {len(empty)} recording(s) holds a finite sample to follow "
            f"(all NaN or infinite: {_few(empty)})"
        )
    if empty:
        warn(
            f"{len(empty)} recording(s) hold no finite sample (all NaN or infinite), "
            f"nothing to follow, skipped: {_few(empty)}"
        )
    return kept


def _few(names: list[str]) -> str:
    """The first three of ``names``, and "..." for the rest."""
    return ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")


def _with_notes(
    recordings: list[Recording], notes: list[list[Note]], seconds: float
) -> tuple[list[Recording], list[list[Note]]]:
    """The recordings with notes in their first ``seconds``: one without any has nothing
    to follow (its scores would read 0.00, its real ceiling too); said, and skipped.
    ``NothingToFollow`` (one line) when none has any."""
    kept = [(r, n) for r, n in zip(recordings, notes, strict=True) if n]
    missing = [r.path.name for r, n in zip(recordings, notes, strict=True) if not n]
    shown = _few(missing)
    if not kept:
        raise NothingToFollow(
            f"none of the {len(missing)} recording(s) holds notes in its first {seconds:g} s "
            f"to follow ({shown})"
        )
    if missing:
        warn(
            f"{len(missing)} recording(s) hold no notes in their first {seconds:g} s, "
            f"nothing to follow, skipped: {shown}"
        )
    return [r for r, _ in kept], [n for _, n in kept]


def check_plays_notes(config: Config) -> None:
    """A one-line error unless the run was trained on notes."""
    if config.data.features != "notes" or config.model.local_channels is None:
        features = config.data.features if config.model.local_channels else "none"
        raise UserError(
            f"following notes needs a run trained on notes (this one's features: {features}); "
            "train one with --preset notes"
        )


def _labels(
    config: Config, data: Path, paths: list[Path], label: str | None
) -> torch.Tensor | None:
    known = config.model.global_labels
    if not known:
        return None
    root = Path(data)
    names = [
        label or label_of(p.relative_to(root).as_posix() if root.is_dir() else p.name)
        for p in paths
    ]
    if not all(names):
        raise UserError(f"this run is labelled ({', '.join(known)}): pass --label NAME")
    return torch.tensor(label_positions(known, names))


def mean_scores(results: list[Following], part: str) -> dict[str, float]:
    """The mean of each F1 of ``part`` (steered, floor, ceiling, unsteered) over pieces."""
    rows = [getattr(r, part) for r in results if getattr(r, part) is not None]
    names = ("note_f1", "pitch_class_f1", "frame_pitch_class_f1")
    return {n: float(np.mean([getattr(s, n) for s in rows])) for n in names} if rows else {}
