"""Audio → notes with Spotify's basic-pitch (Bittner et al., ICASSP 2022) on onnxruntime.

Only basic-pitch's model file is used: ``saved_models/icassp_2022/nmp.onnx`` inside the
installed ``basic_pitch`` package, which the Makefile installs without its dependencies
(they pull TensorFlow, librosa and numba; none is needed here). Its Python code is not
imported. What its ``predict`` does around the model is ported as small numpy functions
(Apache-2.0, basic_pitch/inference.py and note_creation.py, version 0.4.0):

1. audio at 22,050 Hz (decoded by ``audio.io.load_audio``), 15 frames of silence before
   it, cut into 2-s windows (43,844 samples) that overlap by 30 frames of 256 samples;
2. the model gives per window (172 frames, 88 keys) activations of sounding notes and of
   onsets; 15 frames are dropped at each side and the windows laid end to end;
3. onsets are peaks in time above ``onset_threshold`` (plus onsets inferred from jumps
   of the note activation), taken from the last to the first; each is followed along its
   key until the activation stays under ``frame_threshold`` for 11 frames, and kept if
   longer than ``min_note_ms``; what activation is left seeds more notes from its
   maxima, followed both ways (the "melodia trick");
4. (not basic-pitch's) notes too quiet to be played are dropped: a note is kept where the
   loudest of its frames (RMS of the audio in 2 * 256 samples centred on each frame)
   reaches ``floor_dbfs`` and lies within ``range_db`` of the recording's loudest frame.
   The model hears pitches in noise at any level (10 s of white, pink or brown noise at
   -60 to -100 dBFS: 2-23 notes, mostly bass); the demo corpus's notes all reach -45 dBFS
   and lie within 35 dB of their recording's loudest frame, but for the last 1.4 s of one
   piece's fading chord (experiments/transcription_gate_2026-12-04). Noise louder than
   the floor still gives notes: a level cannot tell it from a quiet played note.

One change from basic-pitch: frame times are exact (frame ``i`` of window ``w`` is centred
on sample ``w * 36,164 + i * 256``) where basic-pitch approximates the windows' overlap
with a constant (up to 10 ms off). Pitch bends are not estimated.

A recording of any length: a file is decoded a block at a time (``transcribe_recording``)
and the model heard a batch of windows at a time (``hear``), so memory holds the
activations (0.22 GB an hour), not the audio; the decoding's whole-array temporaries are
worked out in blocks and the melodia trick keeps the largest activation per block of
frames (``BlockMaxima``), where ``np.argmax`` of the whole array per note made its time
grow with the square of the length. The notes are the same (tested;
``benchmarks/bench_transcribe.py``: an hour's transcription 5 min and 3.3 GB before).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import itertools
import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..audio.cache_blocks import audio_pieces, unchanged
from ..audio.io import check_damage, load_audio
from ..config import UserError
from ..runs import cached, file_identity, npy_bytes
from ..runtime.threads import busy_elsewhere, training_threads, usable_cpus
from .midi import PIANO_RANGE, Note, sort_notes

SAMPLE_RATE = 22_050  # the model's input rate
HOP = 256  # samples per model frame
WINDOW = 2 * SAMPLE_RATE - HOP  # 43,844 samples, 172 frames
WINDOW_FRAMES = 172
OVERLAP_FRAMES = 30  # between neighbouring windows; half is dropped at each side
STEP = WINDOW - OVERLAP_FRAMES * HOP  # 36,164 samples from one window to the next
KEPT_FRAMES = WINDOW_FRAMES - OVERLAP_FRAMES  # 142 frames kept per window
LEAD = OVERLAP_FRAMES // 2 * HOP  # silence before the audio: frame 0 is centred on sample 0
BATCH = 8  # windows per model call
ENERGY_TOLERANCE = 11  # frames under frame_threshold that end a note
MODEL_FILE = "saved_models/icassp_2022/nmp.onnx"
INSTALL_HINT = "install it with: pip install --no-deps basic-pitch==0.4.0 (make test does)"
CACHE_VERSION = 1
SILENCE_DB = -200.0  # the level of digital silence
LONG_SECONDS = 300.0  # a recording this long shows a progress bar while it is transcribed
MAXIMA_BLOCK = 256  # frames per block whose largest activation the melodia trick keeps


@dataclass(frozen=True)
class TranscriptionSettings:
    """basic-pitch's note decoding, with its defaults."""

    onset_threshold: float = 0.5  # an onset peak must reach this activation
    frame_threshold: float = 0.3  # a note holds while its activation stays above this
    min_note_ms: float = 127.70  # shorter notes are dropped
    infer_onsets: bool = True  # add onsets where the note activation jumps
    melodia: bool = True  # seed notes from activation left without an onset
    floor_dbfs: float | None = -55.0  # a note's loudest frame must reach this (None: off)
    range_db: float | None = 45.0  # ... and lie within this of the loudest frame (None: off)

    @property
    def min_note_frames(self) -> int:
        return round(self.min_note_ms / 1000 * SAMPLE_RATE / HOP)

    def gate_dbfs(self, loudest_dbfs: float) -> float:
        """The level a note's loudest frame must reach in a recording whose loudest frame
        is ``loudest_dbfs``."""
        floor = -np.inf if self.floor_dbfs is None else self.floor_dbfs
        relative = -np.inf if self.range_db is None else loudest_dbfs - self.range_db
        return float(max(floor, relative))


# --- the model -----------------------------------------------------------------------------------


def model_path() -> Path:
    """basic-pitch's ONNX model inside the installed package (its code is not imported)."""
    spec = importlib.util.find_spec("basic_pitch")
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"transcription needs the basic-pitch package; {INSTALL_HINT}")
    path = Path(next(iter(spec.submodule_search_locations))) / MODEL_FILE
    if not path.is_file():
        raise UserError(f"basic-pitch is installed without its model {path}; {INSTALL_HINT}")
    return path


@functools.lru_cache(maxsize=1)
def _session():  # -> onnxruntime.InferenceSession (imported here: 0.15 s)
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = onnx_threads()
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # shared CPUs
    return ort.InferenceSession(
        str(model_path()), sess_options=options, providers=["CPUExecutionProvider"]
    )


def onnx_threads() -> int:
    """Threads for the model: the CPUs other work leaves free (``runtime.threads``'s rule
    for training), at most ``OMP_NUM_THREADS`` where the user set it."""
    cpus = usable_cpus()
    threads = training_threads(len(cpus), len(cpus), busy_elsewhere(cpus)).threads
    cap = os.environ.get("OMP_NUM_THREADS", "")
    return min(threads, int(cap)) if cap.isdigit() and int(cap) > 0 else threads


def windows(audio: np.ndarray) -> Iterator[np.ndarray]:
    """(T,) audio at 22,050 Hz → batches (B ≤ ``BATCH``, WINDOW, 1) of float32 windows,
    ``STEP`` apart, after half an overlap of silence (so that the first kept frame is
    centred on sample 0); the last window is padded with silence."""
    return stream_windows([audio], audio.size)


def stream_windows(pieces: Iterable[np.ndarray], size: int) -> Iterator[np.ndarray]:
    """``windows`` of the ``size`` samples that arrive as ``pieces`` (T_i,), holding about
    a window of them at a time (samples past ``size`` are left out)."""
    padded = itertools.chain([np.zeros(LEAD, np.float32)], pieces)
    held, base, end = np.zeros(0, np.float32), 0, size + LEAD  # held: padded[base:]
    starts = range(0, max(1, end), STEP)
    for first in range(0, len(starts), BATCH):
        batch = starts[first : first + BATCH]
        out = np.zeros((len(batch), WINDOW, 1), dtype=np.float32)  # (B, WINDOW, 1)
        for w, start in enumerate(batch):
            while base + held.size < min(start + WINDOW, end):
                piece = next(padded, None)
                if piece is None:
                    break
                held = np.concatenate([held, np.asarray(piece, np.float32)])
            piece = held[start - base : min(start + WINDOW, end) - base]
            out[w, : piece.size, 0] = piece
            held, base = held[max(start + STEP - base, 0) :], max(start + STEP, base)
        yield out
    for _ in padded:  # read to the end: ``audio.cache_blocks.unchanged`` counts there
        pass


@dataclass(frozen=True)
class Heard:
    """What the model hears in a recording, frame by frame (``frame_times``)."""

    notes: np.ndarray  # (frames, 88) float32 activations of sounding notes
    onsets: np.ndarray  # (frames, 88) float32 activations of onsets
    levels: np.ndarray  # (frames,) float64 dBFS around each frame (``frame_levels``)


def hear(
    pieces: Iterable[np.ndarray], size: int, progress: Callable[[int], object] | None = None
) -> Heard:
    """The model's activations and the levels of the ``size`` samples at 22,050 Hz that
    arrive as ``pieces``, for frames ``0 .. ceil(size / HOP) - 1``, a batch of windows at
    a time (memory: the activations, 704 bytes a frame, 0.22 GB an hour); ``progress`` is
    told after each batch how many of the samples it has heard."""
    frames = -(-size // HOP)
    notes = np.zeros((frames, 88), np.float32)
    onsets = np.zeros((frames, 88), np.float32)
    levels = np.full(frames, SILENCE_DB)
    session, half, done = _session(), OVERLAP_FRAMES // 2, 0
    for batch in stream_windows(pieces, size) if size else ():
        note, onset = session.run(
            ["StatefulPartitionedCall:1", "StatefulPartitionedCall:2"],
            {"serving_default_input_2:0": batch},
        )  # each (B, 172, 88)
        kept = min(len(batch) * KEPT_FRAMES, frames - done)
        notes[done : done + kept] = note[:, half:-half].reshape(-1, 88)[:kept]  # (B * 142, 88)
        onsets[done : done + kept] = onset[:, half:-half].reshape(-1, 88)[:kept]
        levels[done : done + kept] = window_levels(batch[..., 0], done, size)[:kept]
        done += kept
        if progress is not None:
            progress(min(-(-done // KEPT_FRAMES) * STEP, size))
    return Heard(notes, onsets, levels)


def frame_times(frames: int) -> np.ndarray:
    """(frames,) the time in seconds on which each laid-out model frame is centred."""
    index = np.arange(frames)
    return (index // KEPT_FRAMES * STEP + index % KEPT_FRAMES * HOP) / SAMPLE_RATE


# --- activations → notes (basic-pitch's note_creation, ported) ---------------------------------


def inferred_onsets(
    onsets: np.ndarray, notes: np.ndarray, n_diff: int = 2, block: int = 1 << 14
) -> np.ndarray:
    """(frames, 88): the onset activation, or where larger the rise of the note activation
    over the last 1..``n_diff`` frames (its smallest), scaled to the onsets' maximum
    (float64; worked out ``block`` frames at a time, so that nothing else as large is
    held)."""
    rise = np.zeros(notes.shape, np.float64)  # (F, 88)
    for start in range(n_diff, len(notes), block):
        stop = min(start + block, len(notes))
        now = notes[start:stop].astype(np.float64)  # (b, 88)
        rises = [now - notes[start - n : stop - n] for n in range(1, n_diff + 1)]
        rise[start:stop] = np.maximum(np.min(rises, axis=0), 0.0)
    if not rise.size or rise.max() <= 0:
        return onsets
    largest = rise.max()
    np.multiply(rise, onsets.max(), out=rise)  # onsets.max() * rise / rise.max(), in place
    np.divide(rise, largest, out=rise)
    return np.maximum(onsets, rise, out=rise)


def onset_peaks(onsets: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    """``(frame, key)`` of each local maximum in time of ``onsets`` (frames, 88) at or
    above ``threshold``, latest first (higher keys first within a frame)."""
    inner = onsets[1:-1]
    peak = (inner > onsets[:-2]) & (inner > onsets[2:]) & (inner >= threshold)  # (F - 2, 88)
    frames, keys = np.nonzero(peak)
    return list(zip((frames + 1)[::-1].tolist(), keys[::-1].tolist(), strict=True))


def _walk(
    energy: np.ndarray, frame: int, key: int, step: int, threshold: float, clear: bool
) -> tuple[int, int]:
    """Follow ``key`` from ``frame`` by ``step`` (+1 or -1) until ``ENERGY_TOLERANCE``
    frames in a row fall under ``threshold`` or the ends are reached; with ``clear``,
    zero the key and its neighbours on the way. Returns (where it stopped, how many of
    the last frames were under)."""
    under = 0
    while 0 < frame < len(energy) - 1 and under < ENERGY_TOLERANCE:
        under = under + 1 if energy[frame, key] < threshold else 0
        if clear:
            energy[frame, max(key - 1, 0) : key + 2] = 0.0
        frame += step
    return frame, under


def note_events(
    notes: np.ndarray, onsets: np.ndarray, settings: TranscriptionSettings
) -> list[tuple[int, int, int, float]]:
    """``(first frame, end frame, key 0..87, amplitude 0..1)`` of each note found in the
    activations (frames, 88), as basic-pitch's ``output_to_notes_polyphonic``."""
    inferred = inferred_onsets(onsets, notes) if settings.infer_onsets else onsets
    peaks = onset_peaks(inferred, settings.onset_threshold)
    del inferred  # (F, 88) float64: freed before the energy's copy is made
    energy, shortest = notes.astype(np.float64), settings.min_note_frames
    events = []
    for first, key in peaks:
        if first >= len(notes) - 1:
            continue
        stop, under = _walk(energy, first + 1, key, +1, settings.frame_threshold, False)
        end = stop - under
        if end - first <= shortest:
            continue
        energy[first:end, max(key - 1, 0) : key + 2] = 0.0
        events.append((first, end, key, float(notes[first:end, key].mean())))
    if settings.melodia:
        events += _melodia(notes, energy, settings.frame_threshold, shortest)
    return events


def _melodia(
    notes: np.ndarray, energy: np.ndarray, threshold: float, shortest: int
) -> list[tuple[int, int, int, float]]:
    """Notes grown both ways from the strongest activation left, until none is above
    ``threshold`` (``energy`` is consumed)."""
    events, maxima = [], BlockMaxima(energy)
    while (strongest := maxima.strongest())[0] > threshold:
        _, middle, key = strongest
        energy[middle, key] = 0.0
        stop, under = _walk(energy, middle + 1, key, +1, threshold, True)
        end = stop - 1 - under
        back, under = _walk(energy, middle - 1, key, -1, threshold, True)
        first = back + 1 + under
        maxima.refresh(back, stop)
        if end - first > shortest:
            events.append((int(first), int(end), int(key), float(notes[first:end, key].mean())))
    return events


class BlockMaxima:
    """The largest value of each block of ``MAXIMA_BLOCK`` frames of ``energy``
    (frames, 88), kept up to date by ``refresh`` as ``energy`` changes: what
    ``np.argmax`` of the whole array finds (its first largest), in the time of one block
    (with the whole array's argmax the melodia trick took 26 s for 20 minutes of music
    and 254 s for an hour)."""

    def __init__(self, energy: np.ndarray) -> None:
        self.energy = energy
        whole = len(energy) // MAXIMA_BLOCK * MAXIMA_BLOCK
        self.largest = energy[:whole].reshape(-1, MAXIMA_BLOCK * energy.shape[1]).max(axis=1)
        if whole < len(energy):
            self.largest = np.append(self.largest, energy[whole:].max())

    def strongest(self) -> tuple[float, int, int]:
        """``(value, frame, key)`` of the first largest value (``-inf`` for none)."""
        if not self.largest.size:
            return -np.inf, 0, 0
        block = int(np.argmax(self.largest))
        index = int(np.argmax(self._block(block)))
        frame, key = divmod(index, self.energy.shape[1])
        return float(self.largest[block]), block * MAXIMA_BLOCK + frame, key

    def refresh(self, first: int, last: int) -> None:
        """Take the frames ``first .. last`` (clipped to the array) as changed."""
        low, high = max(first, 0) // MAXIMA_BLOCK, min(last, len(self.energy) - 1) // MAXIMA_BLOCK
        for block in range(low, high + 1):
            self.largest[block] = self._block(block).max()

    def _block(self, block: int) -> np.ndarray:
        return self.energy[block * MAXIMA_BLOCK : (block + 1) * MAXIMA_BLOCK]  # (<= 256, 88)


def to_notes(events: list[tuple[int, int, int, float]], frames: int) -> list[Note]:
    """Note events in model frames → ``Note``s in seconds (program 0, velocity from the
    amplitude)."""
    times = frame_times(frames + 1)
    lowest = PIANO_RANGE[0]
    return sort_notes(
        Note(
            float(times[first]),
            float(times[end]),
            lowest + key,
            int(np.clip(round(127 * amplitude), 1, 127)),
        )
        for first, end, key, amplitude in events
    )


# --- the level gate ------------------------------------------------------------------------------


def frame_levels(audio: np.ndarray, frames: int) -> np.ndarray:
    """(frames,) RMS level in dBFS (full scale 1.0) of (T,) ``audio`` in the 2 * ``HOP``
    samples centred on each model frame (``frame_times``); ``SILENCE_DB`` for silence."""
    centres = np.round(frame_times(frames) * SAMPLE_RATE).astype(np.int64)  # (frames,)
    energy = np.concatenate([[0.0], np.cumsum(np.square(audio, dtype=np.float64))])  # (T + 1,)
    low = np.clip(centres - HOP, 0, audio.size)
    high = np.clip(centres + HOP, 0, audio.size)
    power = (energy[high] - energy[low]) / np.maximum(high - low, 1)
    return 10 * np.log10(np.maximum(power, 10 ** (SILENCE_DB / 10)))


def window_levels(batch: np.ndarray, first_frame: int, size: int) -> np.ndarray:
    """(B * KEPT_FRAMES,) ``frame_levels`` of the frames kept from a batch (B, WINDOW) of
    ``windows`` whose first kept frame is ``first_frame``, of audio ``size`` samples long:
    each frame's 2 * ``HOP`` samples lie in its window, whole hops of it."""
    hops = batch.shape[0], WINDOW // HOP, HOP
    energy = np.square(batch[:, : WINDOW // HOP * HOP].reshape(hops), dtype=np.float64).sum(-1)
    first = OVERLAP_FRAMES // 2 - 1  # the hop before the first kept frame's centre
    around = energy[:, first : first + KEPT_FRAMES] + energy[:, first + 1 : first + 1 + KEPT_FRAMES]
    frame = first_frame + np.arange(around.size)  # laid-out frame indices
    centres = frame // KEPT_FRAMES * STEP + frame % KEPT_FRAMES * HOP
    count = np.minimum(centres + HOP, size) - np.maximum(centres - HOP, 0)
    power = around.reshape(-1) / np.maximum(count, 1)
    return 10 * np.log10(np.maximum(power, 10 ** (SILENCE_DB / 10)))


def audible(
    events: list[tuple[int, int, int, float]], levels: np.ndarray, settings: TranscriptionSettings
) -> list[tuple[int, int, int, float]]:
    """The note ``events`` whose loudest frame of ``levels`` (``frame_levels``) reaches
    ``settings.gate_dbfs``: the others are too quiet to be played notes."""
    if not events:
        return events
    gate = settings.gate_dbfs(float(levels.max()))
    return [event for event in events if levels[event[0] : event[1]].max() >= gate]


def no_notes_reason(audio: np.ndarray, settings: TranscriptionSettings) -> str:
    """Why (T,) ``audio`` at 22,050 Hz, transcribed with ``settings``, may have no notes."""
    levels = frame_levels(audio, -(-audio.size // HOP))
    if not levels.size or levels.max() <= SILENCE_DB:
        return "it is silent"
    loudest, gate = float(levels.max()), settings.gate_dbfs(float(levels.max()))
    if loudest < gate:
        return f"is it silent? its loudest is {loudest:.0f} dBFS, a note needs {gate:.0f} dBFS"
    times = frame_times(len(levels))
    sounding = np.flatnonzero(levels >= gate)
    seconds = times[sounding[-1]] - times[sounding[0]] + HOP / SAMPLE_RATE
    shortest = (settings.min_note_frames + 1) * HOP / SAMPLE_RATE
    if seconds < shortest:
        kept = f"the shortest note the transcription keeps, {shortest:.2f} s"
        return f"its sound lasts {seconds:.2f} s, shorter than {kept}"
    return f"in {seconds:.1f} s of sound: is it unpitched?"


# --- the entry points --------------------------------------------------------------------------


def transcribe(audio: np.ndarray, settings: TranscriptionSettings | None = None) -> list[Note]:
    """The notes of (T,) mono float audio at 22,050 Hz (``SAMPLE_RATE``), with
    ``settings`` (default: basic-pitch's and the level gate's); none for silence."""
    audio = np.asarray(audio, dtype=np.float32)
    return notes_heard(hear([audio], audio.size), settings)


def notes_heard(heard: Heard, settings: TranscriptionSettings | None = None) -> list[Note]:
    """The notes in what the model ``heard``, with ``settings``."""
    settings = settings or TranscriptionSettings()
    frames = len(heard.levels)
    if not frames:
        return []
    events = note_events(heard.notes, heard.onsets, settings)
    return to_notes(audible(events, heard.levels, settings), frames)


def transcribe_recording(
    path: Path, settings: TranscriptionSettings | None = None, say_damage: bool = False
) -> list[Note]:
    """``transcribe(load_audio(path, SAMPLE_RATE), settings)``, the file decoded a block
    at a time (``audio.cache_blocks.audio_pieces``: twice), so that a two-hour mix holds
    its activations, not its audio; a progress bar for one of ``LONG_SECONDS`` or more.
    With ``say_damage`` (the command line; training says its own), NaN/inf samples are
    a warning and a file without one finite sample is refused (``check_damage``)."""
    path = Path(path)
    pieces, size, damage = audio_pieces(path, SAMPLE_RATE)
    if say_damage:
        check_damage(path, damage, "the recording", "nothing to transcribe")
    seconds = size / SAMPLE_RATE
    name, long = f"transcribing {path.name}", seconds >= LONG_SECONDS
    with tqdm(total=round(seconds), unit="s", desc=name, disable=not long, leave=False) as bar:
        heard = hear(
            unchanged(path, pieces(), size), size, lambda n: bar.update(n // SAMPLE_RATE - bar.n)
        )
    return notes_heard(heard, settings)


def transcribe_file(
    path: Path,
    cache_dir: Path | None = None,
    settings: TranscriptionSettings | None = None,
    say_damage: bool = False,
) -> list[Note]:
    """The notes of the audio file ``path``; with ``cache_dir``, transcribed once into a
    ``.npy`` there, keyed by the file (``runs.file_identity``), the model and the
    settings (a damaged cache file is transcribed again); without, ``say_damage`` as
    ``transcribe_recording`` takes it."""
    settings = settings or TranscriptionSettings()
    if cache_dir is None:
        return transcribe_recording(path, settings, say_damage)
    return notes_from_array(np.load(transcription_cache(path, cache_dir, settings)))


def transcription_cache(
    path: Path, cache_dir: Path, settings: TranscriptionSettings | None = None
) -> Path:
    """The cache file (``notes_array`` rows) of the audio file ``path``'s transcription in
    ``cache_dir``, transcribed first where it is missing or damaged."""
    settings = settings or TranscriptionSettings()
    identity = file_identity(path)
    key = _cache_key(identity, _model_digest(), settings)
    target = Path(cache_dir) / f"{Path(path).stem[:40]}-{key}.notes.npy"

    def build() -> bytes:
        return npy_bytes(notes_array(transcribe_recording(path, settings)))

    def check(cache: Path) -> Path:
        notes_from_array(np.load(cache))
        return cache

    return cached(target, check, build, identity=identity)


def _cache_key(identity: list, model: str, settings: TranscriptionSettings) -> str:
    key = [CACHE_VERSION, *identity, model]
    return hashlib.sha1(json.dumps([*key, asdict(settings)]).encode()).hexdigest()[:20]


def _model_digest() -> str:
    return hashlib.sha1(model_path().read_bytes()).hexdigest()


def notes_array(notes: list[Note]) -> np.ndarray:
    """(N, 6) float64 rows of onset, offset, pitch, velocity, program, is_drum."""
    rows = [(n.onset, n.offset, n.pitch, n.velocity, n.program, n.is_drum) for n in notes]
    return np.array(rows, dtype=np.float64).reshape(len(rows), 6)


def notes_from_array(array: np.ndarray) -> list[Note]:
    """The inverse of ``notes_array``; a ValueError for an array of another shape."""
    if array.ndim != 2 or array.shape[1] != 6:
        raise ValueError(f"expected (N, 6) note rows, got {array.shape}")
    return [Note(float(a), float(b), int(p), int(v), int(g), bool(d)) for a, b, p, v, g, d in array]


def require_notes(
    notes: list[Note], source: Path | str, settings: TranscriptionSettings | None = None
) -> list[Note]:
    """``notes``, or a one-line ``UserError`` where the transcription of ``source`` (an
    audio file, read again to say why) with ``settings`` found none: silence, sound under
    the level gate, sound shorter than the shortest note, or sound without pitch."""
    if notes:
        return notes
    why = "is it silent?"
    if Path(source).is_file():
        try:
            audio = load_audio(Path(source), SAMPLE_RATE)
        except UserError:
            audio = None
        if audio is not None:
            why = no_notes_reason(audio, settings or TranscriptionSettings())
    raise UserError(f"{source}: the transcription found no notes ({why})")
