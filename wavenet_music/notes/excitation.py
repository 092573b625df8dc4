"""The excitation: the notes as an audio-rate signal that lets the WaveNet hear what to play.

Like the sine source of neural source-filter vocoders (Wang et al., 2019) and DDSP's
harmonic oscillators, each note sounds as sinusoids at its exact frequency
``440 * 2 ** ((pitch - 69) / 12)``, and the notes add. Three channels (``CHANNELS``):

0. fundamentals: each note's fundamental alone;
1. harmonics: harmonics ``h = 1 .. HARMONICS`` at amplitude ``1 / h``, only those below
   ``NYQUIST_MARGIN * sample_rate`` (7,600 Hz at 16 kHz), so that none aliases;
2. decaying harmonics: channel 1 times ``exp(-τ / DECAY)``, ``τ`` the time since the
   onset (how recent the onset is, like a struck string's decay).

Alignment: sample ``k`` of the timeline is time ``k / sample_rate`` of the notes (sample
0 = time 0). A note starts at sample ``s = round(onset * sample_rate)`` and is held at
``velocity / 127`` until ``e = max(s + 1, round(offset * sample_rate))`` (exclusive),
then fades linearly to 0 over ``RELEASE`` seconds. Its phase is 0 at ``s``: harmonic
``h`` at sample ``k`` is ``sin(2π h f (k - s) / sample_rate)``. Every value depends on
``k`` alone, never on the window, so a window computes only the notes that sound in it,
and windows laid end to end equal one long window (exactly, to float32 rounding).

Drum notes have no pitch and are left out.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .midi import Note

CHANNELS = 3  # (fundamentals, harmonics, decaying harmonics)
HARMONICS = 4  # harmonics 1 .. 4 in channels 1 and 2
NYQUIST_MARGIN = 0.475  # harmonics stay below this fraction of the sample rate
RELEASE = 0.03  # seconds of linear fade after a note's offset
DECAY = 0.25  # seconds: time constant of channel 2's exponential decay


def frequency(pitch: int) -> float:
    """The frequency in Hz of MIDI ``pitch`` (A4 = 69 = 440 Hz, equal temperament)."""
    return 440.0 * 2.0 ** ((pitch - 69) / 12)


def note_samples(note: Note, sample_rate: int) -> tuple[int, int]:
    """``(s, e)``: the note's onset sample and its offset sample, at least ``s + 1``."""
    s = round(note.onset * sample_rate)
    return s, max(s + 1, round(note.offset * sample_rate))


def release_samples(sample_rate: int) -> int:
    """The samples of the release that follows each note's offset sample."""
    return round(RELEASE * sample_rate)


def excitation(
    notes: Sequence[Note], first_sample: int, count: int, sample_rate: int
) -> np.ndarray:
    """The excitation of samples ``first_sample .. first_sample + count - 1`` of the
    timeline (sample 0 = time 0 of the notes; before it the excitation is 0).

    Returns:
        (CHANNELS, count) float32: fundamentals, harmonics, decaying harmonics.
    """
    if count < 0 or sample_rate <= 0:
        raise ValueError(f"expected count >= 0 and sample_rate > 0, got {count}, {sample_rate}")
    signal = np.zeros((CHANNELS, count))  # (3, T) float64
    release = release_samples(sample_rate)
    stop = first_sample + count
    for note in notes:
        if note.is_drum:
            continue
        onset, offset = note_samples(note, sample_rate)
        low, high = max(onset, first_sample), min(offset + release, stop)
        if low < high:  # the note's span [onset, offset + release) meets the window
            samples = np.arange(low, high)  # (n,)
            tone = _note_tone(note, onset, offset, samples, sample_rate)  # (3, n)
            signal[:, low - first_sample : high - first_sample] += tone
    return signal.astype(np.float32)


def _note_tone(
    note: Note, onset: int, offset: int, samples: np.ndarray, sample_rate: int
) -> np.ndarray:
    """(3, n) float64: the three channels of one note at ``samples`` (n,) of its span."""
    f = frequency(note.pitch)
    t = (samples - onset) / sample_rate  # (n,) seconds since the onset
    harmonics = [h for h in range(1, HARMONICS + 1) if h * f < NYQUIST_MARGIN * sample_rate]
    fundamental = np.sin(2 * np.pi * f * t)  # (n,)
    tone = np.zeros_like(t)  # (n,)
    for h in harmonics:
        tone += np.sin(2 * np.pi * h * f * t) / h
    amplitude = note.velocity / 127 * _envelope(samples, offset, sample_rate)  # (n,)
    return amplitude * np.stack([fundamental, tone, tone * np.exp(-t / DECAY)])  # (3, n)


def _envelope(samples: np.ndarray, offset: int, sample_rate: int) -> np.ndarray:
    """(n,): 1 before the ``offset`` sample, then a linear fade that reaches 0
    ``release_samples`` after it (``samples`` lie before that)."""
    release = release_samples(sample_rate)
    return np.clip((offset + release - samples) / max(release, 1), 0.0, 1.0)
