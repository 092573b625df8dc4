"""Does a recording's MIDI belong to it and line up with it? Its notes against its audio's
onsets, key by key, at lags up to ``MAX_LAG_S`` either way.

The audio side (``onset_strength``): at ``ANALYSIS_RATE``, a ``N_FFT``-sample Hann STFT
every 10 ms (frame ``k`` centred on ``k / FRAME_RATE`` s), its power summed into one band
per piano key (triangles one semitone wide on a log-frequency axis), ``log(1 + gain ·
magnitude / loud)`` and the rise of each band from one frame to the next (spectral flux).
The notes side (``onset_train``): at each onset frame the note's velocity / 127 in its
key's band and, fainter, in the bands of its 2nd, 3rd and 4th harmonics, blurred in time
by a Gaussian. Both are centred across bands at every frame: what a frame shares by all
its bands (a hammer's knock, a note struck in any key) cancels, and what is left is
*which* keys start then. Onsets alone do not tell pieces apart: with all keys as one band
(the usual onset envelope), another piece's MIDI matched the demo's recordings up to
0.72, the right one from 0.60, and a MIDI a beat off matched at lag 0 up to 0.95 of its
best (its lag found up to 1.46 s wrong).

``lag_matches`` is the cosine of the two at every lag, the audio taken over the span the
notes' onsets cover (moved by the lag): a MIDI that stops early is judged on what it
holds, and ``coverage`` says what it leaves out: the share of the audio's sounding frames
(within ``SOUNDING_DB`` of its loud frames) that some note sounds in (onset to offset +
``NOTE_TAIL_S``). ``alignment_warning`` turns an ``Alignment`` into one line or None.
Every threshold below was measured on the demo corpus (FluidSynth piano and guitar with
their MIDI): ``experiments/midi_alignment_2026-12-04``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..audio.io import resample
from ..audio.spectral import power_spectrogram
from .midi import PIANO_RANGE, Note

ANALYSIS_RATE = 16000  # Hz: keys up to C8 (4186 Hz) lie below its Nyquist; the demo's rate
FRAME_RATE = 100  # frames per second: lags in 10-ms steps (the lag test wants 20 ms)
HOP = ANALYSIS_RATE // FRAME_RATE  # 160 samples
N_FFT = 2048  # 128 ms, 7.8-Hz bins; 1024 separated less, 4096 heard sharp attacks 30 ms early
KEYS = PIANO_RANGE  # the bands: one per key, A0..C8
HARMONICS = ((0, 1.0), (12, 0.5), (19, 0.33), (24, 0.25))  # semitones up, weight
LOG_GAIN = 1.0  # log(1 + magnitude / loud): 0.3 alike; 3..100 separated less, heard early
ONSET_SPREAD_S = 0.02  # the Gaussian blurring each onset (its sd); 0.01 and 0.04 alike
MAX_LAG_S = 3.0  # lags searched either way: a count-in bar at 80 bpm in 3/4 is 2.25 s

# The verdicts, measured on the demo's 14 pairs (experiments/midi_alignment_2026-12-04):
MATCH_MIN = 0.25  # the right MIDI ≥ 0.35, another piece's ≤ 0.20 (in 5-s clips; whole: 0.12)
LAG_TOLERANCE_S = 0.05  # an onset within 50 ms is found (mir_eval); the right MIDI: ≤ 0.02 s
LAG_SHOWN_S = 0.05  # named to 50 ms: measured within 20 ms, shifted by it within the tolerance
ZERO_SHARE = 0.7  # lag 0's share of the best under it: moved (right ≥ 0.88, moved ≤ 0.49)
SOUNDING_DB = -40.0  # a frame sounds within 40 dB of the loud frames (room noise 20 dB under)
LOUD_PERCENTILE = 99.0  # the recording's loud level: this percentile of its frames
SILENT_DB = -90.0  # never sounds: digital silence (the floor is -100 dB) is no music
NOTE_TAIL_S = 1.0  # a note's release and its room's reverb still belong to it past its offset
COVERAGE_MIN = 0.8  # the right MIDI covers ≥ 0.97 (with two 6-s rests), its first third ≤ 0.38


@dataclass(frozen=True)
class Alignment:
    """How a recording's notes line up with its audio (see the module docstring).

    ``lag``: seconds the notes sound later than the audio at their best match (shift the
    notes by ``-lag`` to align them); ``match_at_zero`` / ``match``: the cosine of the
    onsets at lag 0 / at ``lag`` (0 = unrelated, 1 = the same); ``coverage``: the share of
    the audio's sounding time some note sounds in; ``notes_span`` / ``sounding_span``:
    (first, last) second of the notes' onset..offset, of the audio's sounding frames;
    ``duration``: the audio's, in seconds.
    """

    lag: float
    match_at_zero: float
    match: float
    coverage: float
    notes_span: tuple[float, float]
    sounding_span: tuple[float, float]
    duration: float


@dataclass(frozen=True)
class AudioOnsets:
    """What ``align_onsets`` needs of a recording, computed once for any notes:
    ``strength`` (F, B) from ``onset_strength``, ``sounds`` (F,) from ``sounding``, and
    its ``duration`` in seconds."""

    strength: np.ndarray
    sounds: np.ndarray
    duration: float


def audio_onsets(audio: np.ndarray, sample_rate: int) -> AudioOnsets:
    """The ``AudioOnsets`` of ``audio`` (T,), mono float at ``sample_rate``."""
    key_power, total = band_power(audio, sample_rate)  # (F, B), (F,)
    return AudioOnsets(onset_strength(key_power), sounding(total), len(audio) / sample_rate)


def align(audio: np.ndarray, sample_rate: int, notes: Sequence[Note]) -> Alignment:
    """How ``notes`` line up with ``audio`` (T,), mono float at ``sample_rate``."""
    return align_onsets(audio_onsets(audio, sample_rate), notes)


def align_onsets(onsets: AudioOnsets, notes: Sequence[Note]) -> Alignment:
    """How ``notes`` line up with the recording ``onsets`` were computed from."""
    frames = onsets.sounds.size
    max_lag = round(MAX_LAG_S * FRAME_RATE)
    matches = lag_matches(onsets.strength, onset_train(notes, frames), max_lag)
    best = int(np.argmax(matches)) if matches.any() else max_lag  # no onsets: lag 0
    return Alignment(
        lag=(best - max_lag) / FRAME_RATE,
        match_at_zero=float(matches[max_lag]),
        match=float(matches[best]),
        coverage=coverage(onsets.sounds, note_frames(notes, frames)),
        notes_span=notes_span(notes),
        sounding_span=frames_span(onsets.sounds),
        duration=onsets.duration,
    )


def alignment_warning(name: str, alignment: Alignment) -> str | None:
    """One line naming ``name`` (the recording or its MIDI), what is wrong with its notes
    and what to do; None when they line up with the audio and cover it."""
    a = alignment
    if a.match < MATCH_MIN:
        return (
            f"{name}: its notes do not match the audio (onset match {a.match:.2f} at best, "
            f"{MATCH_MIN} needed): is it the MIDI of another recording?"
        )
    if abs(a.lag) > LAG_TOLERANCE_S and a.match_at_zero < ZERO_SHARE * a.match:
        later = "later" if a.lag > 0 else "earlier"
        shown = round(a.lag / LAG_SHOWN_S) * LAG_SHOWN_S
        return (
            f"{name}: its notes sound {abs(shown):.2f} s {later} than the audio: "
            f"shift the MIDI by {-shown:+.2f} s in your editor"
        )
    if a.coverage < COVERAGE_MIN:
        return f"{name}: {_gap(a)}: export the MIDI of the whole recording, or cut the audio"
    return None


def _gap(a: Alignment) -> str:
    """Where the notes leave the sounding audio uncovered."""
    head = a.notes_span[0] - a.sounding_span[0]  # seconds sounding before the first note
    tail = a.sounding_span[1] - a.notes_span[1] - NOTE_TAIL_S  # ... after the last one
    if tail >= head and tail > 0:
        return f"its notes end at {a.notes_span[1]:.1f} s of {a.duration:.1f} s of audio"
    if head > 0:
        return f"its notes start at {a.notes_span[0]:.1f} s of {a.duration:.1f} s of audio"
    return f"its notes sound in {a.coverage:.0%} of the audio's sounding time"


# --- the audio's onsets ------------------------------------------------------------------


def key_filterbank(sample_rate: int = ANALYSIS_RATE, n_fft: int = N_FFT) -> np.ndarray:
    """Weights (B, n_fft // 2 + 1), a band per key of ``KEYS``: an FFT bin counts
    ``1 - |semitones between it and the key|``, nothing a semitone or more away."""
    bins = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)  # (K,)
    keys = np.arange(KEYS[0], KEYS[1] + 1)  # (B,)
    centres = 440.0 * 2.0 ** ((keys - 69) / 12.0)  # (B,)
    semitones = 12.0 * np.log2(np.maximum(bins, 1.0)[None, :] / centres[:, None])  # (B, K)
    return np.maximum(0.0, 1.0 - np.abs(semitones))


BLOCK_FRAMES = 1024  # STFT frames at a time: 17 MB of spectrum however long the recording


def band_power(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Power per key band (F, B) and in all (F,) of frames ``HOP`` apart at
    ``ANALYSIS_RATE``, frame ``k`` centred on second ``k / FRAME_RATE``; F = T' // HOP + 1
    for the T' samples at that rate."""
    x = resample(np.asarray(audio, dtype=np.float32), sample_rate, ANALYSIS_RATE)
    x = np.pad(x, (N_FFT // 2, N_FFT // 2))  # frame 0 centred on sample 0
    frames = (x.size - N_FFT) // HOP + 1
    bank = key_filterbank(ANALYSIS_RATE, N_FFT).T  # (K, B)
    keys, total = [], []
    for first in range(0, frames, BLOCK_FRAMES):
        last = min(first + BLOCK_FRAMES, frames)
        power = power_spectrogram(x[first * HOP : (last - 1) * HOP + N_FFT], N_FFT, HOP)
        keys.append(power @ bank)  # (f, B)
        total.append(power.sum(axis=1))  # (f,)
    return np.concatenate(keys), np.concatenate(total)


def onset_strength(key_power: np.ndarray) -> np.ndarray:
    """The rise of each key band's ``log(1 + LOG_GAIN · magnitude / loud)`` from the frame
    before (F, B), centred across bands at every frame and over time in every band."""
    magnitude = np.sqrt(key_power)  # (F, B)
    loud = max(float(np.percentile(magnitude.max(axis=1), LOUD_PERCENTILE)), 1e-5)
    level = np.log1p(LOG_GAIN * magnitude / loud)  # (F, B)
    flux = np.maximum(0.0, np.diff(level, axis=0, prepend=level[:1]))  # (F, B)
    flux = _centred(flux)
    return flux - flux.mean(axis=0)


# --- the notes' onsets, and the lag ------------------------------------------------------


def onset_train(notes: Sequence[Note], frames: int) -> np.ndarray:
    """The pitched notes' onsets (frames, B): velocity / 127 times each of ``HARMONICS``'
    weights in its band, blurred by ``ONSET_SPREAD_S``, centred across bands."""
    bands = KEYS[1] - KEYS[0] + 1
    train = np.zeros((frames, bands))
    for note in notes:
        frame = round(note.onset * FRAME_RATE)
        if note.is_drum or frame >= frames:
            continue
        for semitones, weight in HARMONICS:
            band = note.pitch + semitones - KEYS[0]
            if 0 <= band < bands:
                train[frame, band] += weight * note.velocity / 127
    train = _blurred(train, ONSET_SPREAD_S * FRAME_RATE)
    return _centred(train)


def _centred(rows: np.ndarray) -> np.ndarray:
    """``rows`` (F, B) less their mean across bands: which keys, not how many."""
    return rows - rows.mean(axis=1, keepdims=True)


def _blurred(rows: np.ndarray, sigma: float) -> np.ndarray:
    """``rows`` (F, B) convolved along F with a Gaussian of ``sigma`` frames (to ±4σ)."""
    reach = min(int(4 * sigma), rows.shape[0] - 1)
    out = np.zeros_like(rows)
    for shift in range(-reach, reach + 1):
        weight = np.exp(-0.5 * (shift / sigma) ** 2)
        if shift >= 0:
            out[shift:] += weight * rows[: rows.shape[0] - shift]
        else:
            out[:shift] += weight * rows[-shift:]
    return out


def lag_matches(strength: np.ndarray, train: np.ndarray, max_lag: int) -> np.ndarray:
    """The cosine (2 max_lag + 1,) of ``train`` (F, B) and ``strength`` (F, B) at lags
    -max_lag..max_lag frames (index ``max_lag + l``: the notes ``l`` frames later than the
    audio), over the frames the notes' onsets span, moved by the lag; 0 without onsets."""
    active = np.flatnonzero(np.abs(train).sum(axis=1) > 0)
    if active.size == 0:
        return np.zeros(2 * max_lag + 1)
    first, last = int(active[0]), int(active[-1]) + 1
    notes = train[first:last]  # (S, B)
    audio = _rows(strength, first - max_lag, last + max_lag)  # (S + 2L, B)
    size = 1 << int(np.ceil(np.log2(audio.shape[0])))
    spectra = np.conj(np.fft.rfft(notes, size, axis=0)) * np.fft.rfft(audio, size, axis=0)
    dots = np.fft.irfft(spectra.sum(axis=1), size)[: 2 * max_lag + 1]  # (2L + 1,) by m
    energy = np.concatenate([[0.0], np.cumsum((audio**2).sum(axis=1))])  # (S + 2L + 1,)
    span = last - first
    norms = np.sqrt(np.maximum(energy[span:] - energy[:-span], 0.0))  # (2L + 1,) by m
    norms *= np.linalg.norm(notes)
    cosine = np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 1e-12)
    return cosine[::-1]  # audio offset m = L - l: lag l = -L..L


def _rows(array: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Rows ``start..stop-1`` of ``array``, zeros where they lie outside it."""
    out = np.zeros((stop - start, *array.shape[1:]))
    lo, hi = max(start, 0), min(stop, array.shape[0])
    if hi > lo:
        out[lo - start : hi - start] = array[lo:hi]
    return out


# --- what the notes cover ----------------------------------------------------------------


def sounding(total_power: np.ndarray) -> np.ndarray:
    """Frames (F,) within ``SOUNDING_DB`` of the recording's loud level, above ``SILENT_DB``."""
    level = 10.0 * np.log10(np.maximum(total_power, 1e-10))
    return level > max(float(np.percentile(level, LOUD_PERCENTILE)) + SOUNDING_DB, SILENT_DB)


def note_frames(notes: Sequence[Note], frames: int) -> np.ndarray:
    """Frames (frames,) some note sounds in, from its onset to ``NOTE_TAIL_S`` past its offset."""
    edges = np.zeros(frames + 1)
    for note in notes:
        start = min(round(note.onset * FRAME_RATE), frames)
        stop = min(round((note.offset + NOTE_TAIL_S) * FRAME_RATE) + 1, frames)
        if stop > start:
            edges[start] += 1
            edges[stop] -= 1
    return np.cumsum(edges[:-1]) > 0


def coverage(sounds: np.ndarray, covered: np.ndarray) -> float:
    """The share of sounding frames that are covered; 1 when none sounds."""
    total = int(sounds.sum())
    return float((sounds & covered).sum() / total) if total else 1.0


def notes_span(notes: Sequence[Note]) -> tuple[float, float]:
    """(first onset, last offset) in seconds; (0, 0) without notes."""
    if not notes:
        return (0.0, 0.0)
    return (min(n.onset for n in notes), max(n.offset for n in notes))


def frames_span(mask: np.ndarray) -> tuple[float, float]:
    """(start of the first, end of the last) true frame in seconds; (0, 0) when none."""
    where = np.flatnonzero(mask)
    if where.size == 0:
        return (0.0, 0.0)
    return (float(where[0] / FRAME_RATE), float((where[-1] + 1) / FRAME_RATE))
