"""Notes as what steers a WaveNet: the piano roll at frame rate and the excitation at
audio rate, both from the notes of a recording.

Where a recording's notes come from (``recording_notes``): the MIDI file beside it with
the same stem is its score (``song.wav`` + ``song.mid``; the name's case aside, ``.mid``
or ``.midi``, or ``song.wav.mid``); otherwise basic-pitch's transcription of it
(``transcribe.py``). Either way they are kept as one ``.npy`` of note rows
(``transcribe.notes_array``) in the data cache. A score's notes that cannot steer its
recording (keys outside the piano, notes starting after the audio ends) are left out with
a warning, once, as the cache is built, as is a score that does not line up with its audio
(late or early, another piece's, or covering a part of it: ``alignment.py``); a score
that cannot be read or holds no pitched note is said and the recording transcribed
instead; a score with no note inside the audio is one line naming it (``UserError``: the
recording is skipped).

``NoteStore`` answers what ``audio.features.FeatureStore`` answers (frames of a window,
features of quantised audio), for notes: the roll's planes are ``ROLL_PLANES`` (the
sounding keys with their velocity, and the onsets), frame ``k`` covering samples
``k * hop .. (k + 1) * hop - 1`` (``roll.piano_roll``). The roll is 0 or a velocity in
every channel, so it is not normalised (a rare key's standard deviation would blow it up
to hundreds), and no notes is 0 (where audio features read ``SILENCE_DB``). With
``model.excitation`` it also gives each window's excitation (``excitation.py``) of the
samples the window predicts: the input sample at ``t`` hears the notes of sample
``t + 1`` (the notes are known ahead, as the frames' look-ahead is).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..audio.features import frame_count
from ..audio.io import mu_law_decode, padded_slice, resample
from ..config import UserError
from ..runs import cached, file_identity, npy_bytes
from ..runtime.console import warn
from .alignment import align, alignment_warning
from .excitation import HARMONICS, RecordingPhases, excitation, note_samples, release_samples
from .midi import PIANO_RANGE, Note, read_score
from .playable import BENT_WHAT, check_notes, named_notes, off_the_keys
from .roll import channel_count, piano_roll
from .transcribe import SAMPLE_RATE, notes_array, notes_from_array, transcribe, transcription_cache

ROLL_PLANES = ("sounding", "onset")
CHANNELS = channel_count(ROLL_PLANES)  # 176
SCORE_SUFFIXES = (".mid", ".midi")  # in any case
SCORE_CACHE = ".score.npy"  # how a score's notes cache ends (a transcription's does not)
UNREAD_SHOWN = 5  # MIDI files named after no recording, named one by one
CACHE_VERSION = 3  # 2: the sustain pedal held, tempo read from every track, notes cut to the
# audio; 3: one note per key at a time, as FluidSynth plays (a restrike ends the note)


# --- where the notes of a recording come from ------------------------------------------


def score_of(recording: Path) -> Path | None:
    """The MIDI file beside ``recording`` named after it: its stem or its whole name with
    ``.mid`` or ``.midi``, the exact spelling first, then in any case (``Take.MID`` beside
    ``take.flac``); None where there is none."""
    for suffix in SCORE_SUFFIXES:
        if (exact := recording.with_suffix(suffix)).is_file():
            return exact
    wanted = {
        f"{name}{suffix}".casefold()
        for name in (recording.stem, recording.name)
        for suffix in SCORE_SUFFIXES
    }
    try:
        names = sorted(os.listdir(recording.parent))
    except OSError:
        return None
    for name in names:
        if name.casefold() in wanted and (recording.parent / name).is_file():
            return recording.parent / name
    return None


def recording_notes(
    recording: Path,
    seconds: float,
    cache_dir: Path,
    audio: Callable[[], tuple[np.ndarray, int]] | None = None,
) -> Path:
    """The cache file of the notes of ``recording`` (``seconds`` long): its score where
    one lies beside it (``score_notes_within``), else its transcription; a score that
    cannot be read or holds no pitched note is said and the recording transcribed. With
    ``audio`` (giving the recording's samples and their rate), a score that does not line
    up with them (late, early, another piece's, a part of it) is said once, as its cache
    is built (``alignment.py``)."""
    score = score_of(recording)
    if score is None:
        return transcription_cache(recording, cache_dir)
    identity = file_identity(score)
    key = [CACHE_VERSION, *identity, round(seconds, 2)]
    digest = hashlib.sha1(json.dumps(key).encode()).hexdigest()[:20]
    target = Path(cache_dir) / f"{score.stem[:40]}-{digest}{SCORE_CACHE}"
    read = None  # (notes, bent notes) of the score, read once
    if not target.exists():
        try:
            read = read_score(score)
            check_notes(read[0], str(score), pitched=True)
        except UserError as exc:  # the score is of no use: the recording still is
            warn(f"{exc}; transcribing {recording.name} instead", above_bars=True)
            return transcription_cache(recording, cache_dir)

    def build() -> bytes:
        played, bent = read or read_score(score)  # read again for a damaged cache file
        notes = score_notes_within(played, str(score), seconds)
        if bent:
            warn(f"{score}: {named_notes(bent, BENT_WHAT)}", above_bars=True)
        if audio is not None and (warning := alignment_warning(str(score), align(*audio(), notes))):
            warn(warning, above_bars=True)
        return npy_bytes(notes_array(notes))

    return cached(target, _checked_rows, build, identity=identity)


def score_notes_within(notes: Sequence[Note], source: str, seconds: float) -> list[Note]:
    """The notes of the score ``source`` that can steer its recording of ``seconds``: keys
    of the piano (drums too: the roll and the excitation pass them by) starting before the
    audio ends, held at most to its end; the rest left out with a warning naming them. A
    score with no note left is a ``UserError`` (it is not this recording's)."""
    low, high = PIANO_RANGE
    outside = [n for n in notes if off_the_keys(n)]
    late = [n for n in notes if n.onset >= seconds and not off_the_keys(n)]
    gone = {id(n) for n in outside + late}
    kept = [_cut(n, seconds) for n in notes if id(n) not in gone]
    if not any(not n.is_drum for n in kept):
        raise UserError(
            f"{source}: no note of the piano's keys starts within the {seconds:.2f} s of its "
            "audio: is it this recording's MIDI file?"
        )
    for left_out, what in (
        (outside, f"outside the piano's keys (MIDI {low}..{high})"),
        (late, f"start after the audio ends ({seconds:.2f} s)"),
    ):
        if left_out:
            warn(f"{source}: {named_notes(left_out, what)}: left out", above_bars=True)
    return kept


def score_sources(
    recordings: Sequence[Path], caches: Sequence[Path], root: Path, exclude: Path | None = None
) -> tuple[str, str | None]:
    """Where the notes of a run's ``recordings`` (under ``root``) come from, as the run
    says it: how many of the notes ``caches`` of its usable ones (``recording_notes``) are
    scores and how many transcriptions; and a warning naming the MIDI files under ``root``
    (nothing under ``exclude``: the run's own) that no recording is named after, which
    are not read (None where none)."""
    played = sum(Path(cache).name.endswith(SCORE_CACHE) for cache in caches)
    left = len(caches) - played
    summary = (
        f"notes: {played} of {len(caches)} recordings play the MIDI file beside them, "
        f"{left} {'is' if left == 1 else 'are'} transcribed"
    )
    claimed = {os.path.realpath(s) for r in recordings if (s := score_of(r)) is not None}
    skip = None if exclude is None else Path(exclude).resolve()
    unread = [
        path.relative_to(root).as_posix()
        for path in sorted(Path(root).rglob("*"))
        if path.suffix.lower() in SCORE_SUFFIXES
        and os.path.realpath(path) not in claimed
        and not (skip is not None and skip in path.resolve().parents)
        and path.is_file()
    ]
    if not unread:
        return summary, None
    shown = ", ".join(unread[:UNREAD_SHOWN]) + (", ..." if len(unread) > UNREAD_SHOWN else "")
    return summary, (
        f"warning: {len(unread)} MIDI file{'s are' if len(unread) > 1 else ' is'} named "
        f"after no recording and not read ({shown}): name each as its recording "
        "(song.flac + song.mid)"
    )


def _cut(note: Note, seconds: float) -> Note:
    return note if note.offset <= seconds else dataclasses.replace(note, offset=seconds)


def _checked_rows(path: Path) -> Path:
    notes_from_array(np.load(path))
    return path


def read_notes(path: Path) -> list[Note]:
    """The notes of a cache file written by ``recording_notes``."""
    return notes_from_array(np.load(path))


# --- the store ----------------------------------------------------------------------------


class NoteStore:
    """The roll and the excitation of the recordings' notes (see the module docstring).
    ``path`` arguments are notes cache files (``recording_notes``)."""

    silence = 0.0  # the roll of no notes
    normalised = False  # 0/1 and velocity channels are fed as they are

    def __init__(
        self,
        sample_rate: int,
        hop: int,
        channels: int,
        classes: int,
        mix: str = "sum",
        harmonics: int = HARMONICS,
    ) -> None:
        if channels != CHANNELS:
            raise UserError(
                f"model.local_channels: notes are a roll of {CHANNELS} channels "
                f"({' and '.join(ROLL_PLANES)} of 88 keys), got {channels}; "
                f"train with --local-channels {CHANNELS}"
            )
        self.sample_rate, self.hop, self.channels, self.classes = (
            sample_rate,
            hop,
            channels,
            classes,
        )
        self.mix = mix  # how the notes sounding at once mix (``excitation.MIXES``)
        self.harmonics = harmonics  # the excitation's harmonics (``excitation.excitation``)
        self._notes: dict[Path, list[Note]] = {}
        self._rolls: dict[Path, np.ndarray] = {}
        self._spans_cache: dict[Path, tuple[np.ndarray | None, int]] = {}

    def notes(self, path: Path) -> list[Note]:
        if path not in self._notes:
            self._notes[path] = read_notes(path)
        return self._notes[path]

    def roll(self, notes: list[Note], samples: int | None = None) -> np.ndarray:
        """(frames, 176) roll of ``notes`` over ``samples`` samples (default: to the last
        offset)."""
        if samples is None:
            last = max((n.offset for n in notes), default=0.0)
            samples = int(np.ceil(last * self.sample_rate)) + 1
        frames = frame_count(samples, self.hop)
        return piano_roll(notes, frames, self.hop, self.sample_rate, ROLL_PLANES)

    def features(self, path: Path) -> np.ndarray:
        """The roll (frames, 176) of the notes in ``path``."""
        if path not in self._rolls:
            self._rolls[path] = self.roll(self.notes(path))
        return self._rolls[path]

    def frames(self, path: Path, first_sample: int, samples: int) -> np.ndarray:
        """Frames (176, K + 2) for ``WaveNet.forward`` over the ``samples`` samples from
        ``first_sample`` (a frame boundary), one context frame on each side."""
        assert first_sample % self.hop == 0, "windows with local conditioning start a frame"
        count = frame_count(samples, self.hop) + 2
        start = first_sample // self.hop - 1
        return padded_slice(self.features(path), start, count, self.silence, np.float32).T

    def excitation(
        self,
        path: Path,
        first_input: int,
        inputs: int,
        recording: RecordingPhases | None = None,
    ) -> np.ndarray:
        """(3, inputs) excitation heard by the inputs ``first_input ..``: that of the
        samples ``first_input + 1 ..``, which they predict; in the phases of
        ``recording`` when given."""
        first, notes = first_input + 1, self.notes(path)
        onsets, longest = self._spans(path)
        if onsets is not None:  # sorted: only the notes that can reach the window, in order
            lo = int(np.searchsorted(onsets, first - longest, side="right"))
            notes = notes[lo : int(np.searchsorted(onsets, first + inputs, side="left"))]
        rate, mix, harmonics = self.sample_rate, self.mix, self.harmonics
        return excitation(notes, first, inputs, rate, recording, mix, harmonics=harmonics)

    def _spans(self, path: Path) -> tuple[np.ndarray | None, int]:
        """(onset samples (N,) when the notes are in onset order, else None; the longest
        span of a note, release included, in samples): what picks a window's notes
        without a pass over the whole piece (the training step calls this per window)."""
        if path not in self._spans_cache:
            spans = [note_samples(n, self.sample_rate) for n in self.notes(path)]
            onsets = np.array([a for a, _ in spans], dtype=np.int64)
            release = release_samples(self.sample_rate)
            longest = max((b + release - a for a, b in spans), default=0)
            ordered = bool(np.all(onsets[1:] >= onsets[:-1]))
            self._spans_cache[path] = (onsets if ordered else None, longest)
        return self._spans_cache[path]

    def of_classes(self, classes: np.ndarray) -> np.ndarray:
        """The roll (K, 176) of mu-law classes (T,): their transcription's notes."""
        audio = mu_law_decode(np.asarray(classes), self.classes)
        notes = transcribe(resample(audio, self.sample_rate, SAMPLE_RATE))
        return self.roll(notes, len(audio))
