"""The notes of a run steered by notes, as the composer's event tokens (``notes/events.py``).

Each segment of the run's split (``data.split_rows``: the split in ``RUN/data.json``)
has the notes the WaveNet was steered by: the notes cache of its recording
(``notes.features.recording_notes``: the score beside it, else its transcription), cut
to the segment and starting at its start. They become one stream of event tokens per
segment; with ``composer.transpose`` every training segment also comes moved by
-5 .. +6 semitones (``TRANSPOSITIONS``), keys that leave the piano dropped. Held-out
segments are never moved. Unlike the k-means codebook nothing is fitted, so nothing is
cached here beyond the notes caches themselves. Each label's instrument (the General MIDI
program its training notes are played by most: the piano for transcriptions) is kept, so
that a composed piece's MIDI file opens in a DAW as its genre's instrument, and so is how
loud each label's music plays in its rests (``rest_levels``): a transcription leaves a pad
or a room without notes, a score's rests are silent.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..audio.io import mu_law_decode
from ..audio.spectral import rms_envelope
from ..config import Config, UserError
from ..notes.events import STEPS_PER_SECOND, decode, encode, transpose
from ..notes.features import read_notes, recording_notes
from ..notes.midi import Note
from ..wavenet.data import cache_root, load_classes
from .config import ComposerConfig
from .data import SplitRow, Stream, TokenCorpus, split_rows

TRANSPOSITIONS = range(-5, 7)  # semitones: every pitch class once, each key moved ≤ 6
# A label's shortest notes: the length 1 in 200 of its training notes is under (the demo
# corpus: its transcriptions' 0.13 s, guitar 0.06, piano 0.08; their very shortest are
# notes cut by a segment's ends)
SHORTEST_PERCENTILE = 0.5
REST_FRAME_S = 0.05  # seconds: the frames a label's levels in its rests and notes are read in


def segment_notes(row: SplitRow, config: Config) -> list[Note]:
    """The notes sounding in the segment ``row``, cut to it, times from its start."""
    rate = config.data.sample_rate
    seconds = len(load_classes(row.cache)) / rate
    notes = read_notes(recording_notes(row.path, seconds, cache_root(config.data)))
    start, end = row.start / rate, row.end / rate
    return [
        replace(n, onset=max(n.onset, start) - start, offset=min(n.offset, end) - start)
        for n in notes
        if n.onset < end and n.offset > start
    ]


def note_streams(rows: list[SplitRow], config: Config, shifts: range | None) -> list[Stream]:
    """A stream of event tokens per segment, per transposition in ``shifts`` (None: the
    notes as they are); streams without tokens are left out."""
    streams = []
    for row in rows:
        notes = segment_notes(row, config)
        for shift in shifts or [0]:
            tokens = encode(transpose(notes, shift))
            source = f"{row.source} {shift:+d} st" if shift else row.source
            if len(tokens):
                streams.append(Stream(source, row.label, tokens, shift))
    return streams


def label_programs(rows: list[SplitRow], config: Config) -> tuple[int, ...]:
    """Per label index (one entry for a run without labels): the General MIDI program
    that plays most of the label's pitched notes in ``rows`` (0, the piano, where none)."""
    labels = max(1, len(config.model.global_labels or ()))
    counts = [Counter[int]() for _ in range(labels)]
    for row in rows:
        counts[max(row.label, 0)].update(
            n.program for n in segment_notes(row, config) if not n.is_drum
        )
    return tuple(c.most_common(1)[0][0] if c else 0 for c in counts)


def shortest_notes(streams: list[Stream], labels: int) -> tuple[float, ...]:
    """Per label index (``labels``, at least one): the seconds under which
    ``SHORTEST_PERCENTILE`` % of its notes in ``streams`` (as their tokens play them, on
    the 10-ms grid) fall; 0 for a label without notes."""
    lengths: list[list[float]] = [[] for _ in range(max(labels, 1))]
    for stream in streams:
        lengths[max(stream.label, 0)] += [n.offset - n.onset for n in decode(stream.tokens)]
    return tuple(
        float(np.floor(np.percentile(x, SHORTEST_PERCENTILE) * STEPS_PER_SECOND + 1e-6))
        / STEPS_PER_SECOND
        if x
        else 0.0
        for x in lengths
    )


def rest_levels(rows: list[SplitRow], config: Config, labels: int) -> tuple[float | None, ...]:
    """Per label index (``labels``, at least one): how loud its music plays where none of
    its notes sounds, in dB against where they do: the median level of its rest frames
    minus that of its note frames (``REST_FRAME_S`` long, over every segment of ``rows``).
    About 0 for music that goes on between its notes (a transcription's pads), -30 or
    lower for a score's silent rests; None for a label without rests or without notes."""
    rests: list[list[np.ndarray]] = [[] for _ in range(max(labels, 1))]
    notes: list[list[np.ndarray]] = [[] for _ in range(max(labels, 1))]
    for row in rows:
        classes = load_classes(row.cache)[row.start : row.end]
        audio = mu_law_decode(np.asarray(classes), config.model.quantization_channels)
        rms = rms_envelope(audio, round(REST_FRAME_S * config.data.sample_rate))  # (frames,)
        levels = 20 * np.log10(rms + 1e-6)  # dB
        sounding = sounding_frames(segment_notes(row, config), len(levels), REST_FRAME_S)
        rests[max(row.label, 0)].append(levels[~sounding])
        notes[max(row.label, 0)].append(levels[sounding])
    gaps = []
    for rest, note in zip(rests, notes, strict=True):
        rest_db, note_db = np.concatenate(rest or [[]]), np.concatenate(note or [[]])
        both = len(rest_db) and len(note_db)
        gaps.append(float(np.median(rest_db) - np.median(note_db)) if both else None)
    return tuple(gaps)


def sounding_frames(notes: list[Note], frames: int, frame_s: float) -> np.ndarray:
    """(frames,) bool: a note of ``notes`` sounds somewhere in the frame."""
    sounding = np.zeros(frames, dtype=bool)
    for n in notes:
        sounding[int(n.onset / frame_s) : int(np.ceil(n.offset / frame_s))] = True
    return sounding


def note_corpus(
    run_dir: Path, data_root: Path, config: Config, composer: ComposerConfig
) -> TokenCorpus:
    """The run's split as event tokens (see the module docstring); a one-line error when
    the training split holds no notes."""
    rows = split_rows(run_dir, data_root, config, "train")
    train = note_streams(rows, config, TRANSPOSITIONS if composer.transpose else None)
    original = [s for s in train if s.transposition == 0]
    if not original:
        raise UserError(f"the training recordings of {run_dir} hold no notes to learn from")
    seconds = sum(row.end - row.start for row in rows) / config.data.sample_rate
    rate = sum(len(s.tokens) for s in original) / seconds
    validation = note_streams(split_rows(run_dir, data_root, config, "validation"), config, None)
    programs = label_programs(rows, config)
    labels = len(config.model.global_labels or ())
    shortest = shortest_notes(original, labels)
    rests = rest_levels(rows, config, labels)
    return TokenCorpus(
        None, tuple(train), tuple(validation), None, None, rate, programs, shortest, rests
    )
