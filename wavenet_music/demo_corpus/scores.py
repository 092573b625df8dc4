"""Scores rendered to audio: music21 → MIDI → FluidSynth, in parallel processes."""

from __future__ import annotations

import subprocess
import tempfile
from collections import deque
from collections.abc import Generator, Iterable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import soundfile as sf

from ..audio.io import loud_range, mix_to_mono, resample
from ..notes.midi import Note, read_midi

if TYPE_CHECKING:
    from music21 import stream
from .sources import (
    GM_PROGRAM,
    MIN_CLIP_S,
    PIECE_CAP_S,
    RENDER_GAIN,
    RENDER_RATE,
    RENDER_TIMEOUT_S,
    SCORE_LICENCE,
    SILENCE,
    SOUNDFONT,
    Clip,
    Piece,
)
from .writing import write_clip


@dataclass(frozen=True)
class Render:
    """A rendered score: (T,) mono audio at the corpus rate and the notes it plays, in
    seconds from the audio's first sample (the MIDI that was rendered, aligned)."""

    audio: np.ndarray
    notes: tuple[Note, ...]


def score_genre(
    renders: Generator[tuple[Piece, Render | None], None, None],
    staging: Path,
    genre: str,
    target_s: float,
    sample_rate: int,
) -> tuple[list[Clip], int]:
    """Write renders in list order until the genre holds ``target_s`` seconds."""
    program, clips, skipped, remaining = GM_PROGRAM[genre], [], 0, target_s
    for piece, render in renders:
        if render is None:
            skipped += 1
            continue
        audio = render.audio[: round(remaining * sample_rate)]
        notes = excerpt_notes(render.notes, 0.0, len(audio) / sample_rate)
        seconds = round(len(audio) / sample_rate, 3)
        credit = (
            f"{piece.composer}, *{piece.title}* (music21 corpus `{piece.path}`), rendered with"
            f" FluidSynth and FluidR3_GM (Frank Wen, MIT) as General MIDI program {program};"
            f" first {seconds:.1f} s"
        )
        stem = f"{genre}/{piece.path.replace('/', '_').lower()}"
        source = f"music21:{piece.path}"
        clip = Clip(genre, f"{stem}.flac", source, SCORE_LICENCE, seconds, credit, f"{stem}.mid")
        clips.append(write_clip(staging, clip, audio, sample_rate, notes))
        remaining -= clip.seconds
        if remaining < MIN_CLIP_S:
            break
    renders.close()  # cancels the renders still queued
    return clips, skipped


def ordered_renders(
    pool: ProcessPoolExecutor,
    window: int,
    pieces: Sequence[Piece],
    genre: str,
    target_s: float,
    sample_rate: int,
) -> Generator[tuple[Piece, Render | None], None, None]:
    """Yield renders in list order, keeping ``window`` of them in flight.

    Consuming in list order keeps the corpus deterministic whatever the timing; the small
    window bounds the work wasted once the genre is full.
    """
    args = (GM_PROGRAM[genre], min(PIECE_CAP_S, target_s), sample_rate)
    todo = iter(pieces)
    pending: deque[tuple[Piece, Future]] = deque()
    try:
        while True:
            while len(pending) < window and (piece := next(todo, None)) is not None:
                pending.append((piece, pool.submit(render_piece, piece, *args)))
            if not pending:
                return
            piece, future = pending.popleft()
            yield piece, future.result()
    finally:
        for _, future in pending:
            future.cancel()


def render_piece(piece: Piece, program: int, max_s: float, sample_rate: int) -> Render | None:
    """Score → MIDI (every part on ``program``) → FluidSynth → mono at ``sample_rate``,
    with the MIDI's notes moved earlier by the silence trimmed from the render's start.

    Returns None when music21 cannot turn the score into MIDI (badly formed repeats are
    the usual cause); at most ``max_s`` seconds after trimming the render's silence.
    """
    from music21.exceptions21 import Music21Exception

    with tempfile.TemporaryDirectory(prefix="demo-corpus-") as tmp:
        midi, wav = Path(tmp) / "piece.mid", Path(tmp) / "piece.wav"
        try:
            _write_midi(piece.path, program, max_s, midi)
        except Music21Exception:
            return None
        _run_fluidsynth(midi, wav)
        frames, rate = sf.read(wav, dtype="float32", always_2d=True)  # (T, 2)
        notes = read_midi(midi)
    mono = mix_to_mono(frames)
    start, end = loud_range(mono, SILENCE)  # trim_silence's range, so the notes can follow
    end = min(end, start + round(max_s * rate))
    kept = excerpt_notes(notes, start / rate, end / rate)  # seconds: the same at any rate
    return Render(resample(mono[start:end], rate, sample_rate), tuple(kept))


def excerpt_notes(notes: Iterable[Note], start: float, end: float) -> list[Note]:
    """The notes sounding between ``start`` and ``end`` seconds, timed from ``start``: a
    note starting at or after ``end`` is dropped, one still sounding there is shortened,
    one sounding at ``start`` begins at 0."""
    return [
        replace(n, onset=max(0.0, n.onset - start), offset=min(n.offset, end) - start)
        for n in notes
        if n.onset < end and n.offset > start
    ]


def _write_midi(corpus_path: str, program: int, max_s: float, midi: Path) -> None:
    from music21 import corpus, instrument

    score = _first_seconds(corpus.parse(corpus_path), max_s)
    for part in score.parts:
        for old in part.recurse().getElementsByClass(instrument.Instrument):
            part.remove(old, recurse=True)
        part.insert(0, instrument.instrumentFromMidiProgram(program))
    score.write("midi", fp=midi)


def _first_seconds(score: stream.Score, max_s: float) -> stream.Score:
    """Expand the repeats, then keep the measures that can sound within ``max_s`` seconds.

    Only bounds the rendering work: the render is cut exactly afterwards, and the slack
    covers later tempo changes. Expanding first means a score with badly formed repeats
    fails here, however short the excerpt, and a cut never leaves a repeat unclosed.
    """
    from music21 import stream

    score = score.expandRepeats()
    marks = score.metronomeMarkBoundaries()
    quarter_bpm = marks[0][2].getQuarterBPM() if marks else 120.0
    cut = 1.25 * max_s * quarter_bpm / 60.0  # in quarter notes
    for part in score.parts:
        part.remove([m for m in part.getElementsByClass(stream.Measure) if m.offset >= cut])
    return score


def _run_fluidsynth(midi: Path, wav: Path) -> None:
    # Float output: no clipping before we normalise, and no dither noise, which would make
    # two renders of the same score differ.
    cmd = [
        "fluidsynth", "-ni", "-q", "-g", str(RENDER_GAIN), "-r", str(RENDER_RATE),
        "-O", "float", "-T", "wav", "-F", str(wav), str(SOUNDFONT), str(midi),
    ]  # fmt: skip
    try:
        subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=RENDER_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"fluidsynth took over {RENDER_TIMEOUT_S} s on {midi.name}") from None
    except subprocess.CalledProcessError as exc:
        last = ((exc.stderr or exc.stdout or "").strip() or "no output").splitlines()[-1]
        raise RuntimeError(f"fluidsynth failed (exit {exc.returncode}): {last}") from None
