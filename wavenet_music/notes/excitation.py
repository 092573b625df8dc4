"""The excitation: the notes as an audio-rate signal that lets the WaveNet hear what to play.

Like the sine source of neural source-filter vocoders (Wang et al., 2019) and DDSP's
harmonic oscillators, each note sounds as sinusoids at its exact frequency
``440 * 2 ** ((pitch - 69) / 12)``, and the notes add. Three channels (``CHANNELS``):

0. fundamentals: each note's fundamental alone;
1. harmonics: harmonics ``h = 1 .. H`` at amplitude ``1 / h``, only those below
   ``NYQUIST_MARGIN * sample_rate`` (7,600 Hz at 16 kHz), so that none aliases; ``H`` is
   ``harmonics``: in training ``model.excitation_harmonics`` (``HARMONICS``, 4: trained
   with 12 the demo's WaveNet played fewer of its notes), while generating
   ``NOTE_HEARD_HARMONICS`` (12: a WaveNet trained with 4 then plays more of its notes in
   every genre; experiments/excitation_partials_2026-12-06);
   Generating, harmonic ``h`` may sound at ``1 / h ** rolloff`` instead, the harmonics'
   sum scaled back to its power at ``1 / h`` (``rolloff``, ``NOTE_HEARD_ROLLOFF``: below
   1 brighter, not louder; the WaveNet then plays more of its notes and more of 2-5 kHz;
   experiments/heard_rolloff_2026-12-07); training keeps ``1 / h``;
2. decaying harmonics: channel 1 times ``exp(-τ / DECAY)``, ``τ`` the time since the
   onset (how recent the onset is, like a struck string's decay).

Alignment: sample ``k`` of the timeline is time ``k / sample_rate`` of the notes (sample
0 = time 0). A note starts at sample ``s = round(onset * sample_rate)`` and is held at
``velocity / 127`` until ``e = max(s + 1, round(offset * sample_rate))`` (exclusive),
then fades linearly to 0 over ``RELEASE`` seconds. Its phase is 0 at ``s``: harmonic
``h`` at sample ``k`` is ``sin(2π h f (k - s) / sample_rate)``. Every value depends on
``k`` alone, never on the window, so a window computes only the notes that sound in it,
and windows laid end to end equal one long window (exactly, to float32 rounding).

In phase with a recording (training): a recording places each note's attack within a
millisecond or two of its written onset, a fraction of a cycle of a bass note but several
cycles of a treble one, so phase 0 at the onset tells a WaveNet trained by likelihood the
waveform of its bass notes and not of its treble, and the WaveNet then never starts the
treble when it plays (measured: experiments/notes_phase_2026-12-02). Given a
``recording`` (``RecordingPhases``), every partial reads ``cos(2π h f (k - s) /
sample_rate + φ(k))`` instead, amplitudes and envelopes staying those of the notes, with
``φ`` in one of two ways (``PHASE_WAYS``):

- ``recording``: the phase the recording has near ``k``, the recording heterodyned at
  ``h f`` and smoothed (two centred moving averages of ``PHASE_SMOOTH`` seconds, inside
  the note's span). The partial is then the recording band-passed around it, with its
  drift, beating and noise: the WaveNet learns to follow its notes most closely (note F1
  0.58-0.61 where phase 0 gives 0.29), and its noise floor doubles.
- ``start``: one phase per partial and note, the angle of the recording heterodyned at
  ``h f`` over ``PHASE_FROM .. PHASE_TO`` seconds after the onset: a steady sinusoid like
  those generation plays, in the phase the recording starts it (note F1 0.44, a lower
  noise floor).

``φ`` depends on the note and the recording alone (``recording`` within ``phase_margin``
samples of ``k``), so windows still equal one long window. Generation has no recording
and keeps phase 0: the model follows whatever phase it hears.

How the notes sounding at once mix (``MIXES``): ``sum``, each at its velocity (four
notes give four times the power of one), or ``equal_power``, the sum divided by the square
root of how many notes sound at the sample (each counted by its envelope, so a release
fades out of the count), so that the excitation's power follows the velocities and not
how many notes sound, as the recordings' loudness does (a single line rendered 13-16 dB
under the recordings' single notes with ``sum``: experiments/render_loudness_2026-12-05).
The count depends on ``k`` alone, so windows still equal one long window.

A treble tilt (``tilt``, dB an octave; generation only, training keeps 0) raises each
note above ``TILT_PIVOT`` (G4) by ``tilt_gain``: taught by recordings whose treble
fundamentals carry little of the spectrum, a WaveNet leans on its treble notes least and
plays them least (experiments/treble_tilt_2026-12-05). The count of notes sounding is
not tilted, so equal power still divides by how many notes sound.

Drum notes have no pitch and are left out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .midi import Note

CHANNELS = 3  # (fundamentals, harmonics, decaying harmonics)
HARMONICS = 4  # harmonics 1 .. 4 in channels 1 and 2, unless told more (``harmonics``)
NYQUIST_MARGIN = 0.475  # harmonics stay below this fraction of the sample rate
RELEASE = 0.03  # seconds of linear fade after a note's offset
DECAY = 0.25  # seconds: time constant of channel 2's exponential decay
PHASE_WAYS = ("recording", "start")  # how a partial takes the recording's phase
MIXES = ("sum", "equal_power")  # how the notes sounding at once mix
PHASE_SMOOTH = 0.0125  # seconds of each of the two moving averages of a following phase
PHASE_FROM, PHASE_TO = 0.010, 0.060  # seconds after the onset a starting phase is read
TILT_PIVOT = 67  # G4: a treble tilt raises the notes above this key

# (first sample, count) -> the recording's samples there (count,), zeros outside it
RecordingReader = Callable[[int, int], np.ndarray]


def frequency(pitch: int) -> float:
    """The frequency in Hz of MIDI ``pitch`` (A4 = 69 = 440 Hz, equal temperament)."""
    return 440.0 * 2.0 ** ((pitch - 69) / 12)


def tilt_gain(pitch: int, db_per_octave: float) -> float:
    """How many times as loud a note of ``pitch`` sounds under a treble tilt of
    ``db_per_octave``: 1 at or below ``TILT_PIVOT``, ``db_per_octave`` more each octave
    above it."""
    octaves = max(0, pitch - TILT_PIVOT) / 12
    return 10.0 ** (db_per_octave * octaves / 20)


def note_samples(note: Note, sample_rate: int) -> tuple[int, int]:
    """``(s, e)``: the note's onset sample and its offset sample, at least ``s + 1``."""
    s = round(note.onset * sample_rate)
    return s, max(s + 1, round(note.offset * sample_rate))


def release_samples(sample_rate: int) -> int:
    """The samples of the release that follows each note's offset sample."""
    return round(RELEASE * sample_rate)


def phase_margin(sample_rate: int) -> int:
    """Samples on each side of a window that its following phases read of the recording."""
    return 2 * _smooth_samples(sample_rate)


def _smooth_samples(sample_rate: int) -> int:
    return max(1, round(PHASE_SMOOTH * sample_rate))


def phase_span(onset: int, offset: int, sample_rate: int) -> tuple[int, int]:
    """The samples ``[a, b)`` whose phase a note's partials start in: ``PHASE_FROM ..
    PHASE_TO`` seconds after the ``onset`` sample, inside ``[onset, offset)`` (all of it,
    if the note ends before ``PHASE_FROM``)."""
    a = min(onset + round(PHASE_FROM * sample_rate), offset - 1)
    return a, max(a + 1, min(onset + round(PHASE_TO * sample_rate), offset))


def excitation(
    notes: Sequence[Note],
    first_sample: int,
    count: int,
    sample_rate: int,
    recording: RecordingPhases | None = None,
    mix: str = "sum",
    tilt: float = 0.0,
    harmonics: int = HARMONICS,
    rolloff: float = 1.0,
) -> np.ndarray:
    """The excitation of samples ``first_sample .. first_sample + count - 1`` of the
    timeline (sample 0 = time 0 of the notes; before it the excitation is 0).

    Args:
        recording: the phases of the recording, which the partials take; None: phase 0
            at each onset.
        mix: how the notes sounding at once mix, one of ``MIXES``.
        tilt: the treble tilt, dB an octave above ``TILT_PIVOT`` (``tilt_gain``).
        harmonics: the harmonics of channels 1 and 2, ``1 .. harmonics`` (those below the
            Nyquist margin); ``recording`` must have been made for as many.
        rolloff: harmonic ``h`` at ``1 / h ** rolloff``, the sum at its power at ``1 / h``
            (``harmonic_weights``); 1: ``1 / h``.

    Returns:
        (CHANNELS, count) float32: fundamentals, harmonics, decaying harmonics.
    """
    if count < 0 or sample_rate <= 0:
        raise ValueError(f"expected count >= 0 and sample_rate > 0, got {count}, {sample_rate}")
    if recording is not None and recording.sample_rate != sample_rate:
        raise ValueError(f"a recording at {recording.sample_rate} Hz for notes at {sample_rate}")
    if mix not in MIXES:
        raise ValueError(f"expected a mix of {MIXES}, got {mix!r}")
    if harmonics < 1:
        raise ValueError(f"expected at least 1 harmonic, got {harmonics}")
    if not rolloff >= 0:
        raise ValueError(f"expected a rolloff >= 0, got {rolloff}")
    if recording is not None and recording.harmonics != harmonics:
        raise ValueError(f"phases of {recording.harmonics} harmonics for {harmonics} harmonics")
    signal = np.zeros((CHANNELS, count))  # (3, T) float64
    sounding = np.zeros(count) if mix == "equal_power" else None  # (T,) notes sounding
    release = release_samples(sample_rate)
    stop = first_sample + count
    for note in notes:
        if note.is_drum:
            continue
        onset, offset = note_samples(note, sample_rate)
        low, high = max(onset, first_sample), min(offset + release, stop)
        if low < high:  # the note's span [onset, offset + release) meets the window
            samples = np.arange(low, high)  # (n,)
            phases = None
            if recording is not None:
                phases = recording(note, onset, offset, low, high)  # (H, n)
            tone = _note_tone(note, onset, offset, samples, sample_rate, harmonics, phases, rolloff)
            if tilt:
                tone *= tilt_gain(note.pitch, tilt)
            signal[:, low - first_sample : high - first_sample] += tone
            if sounding is not None:
                sounding[low - first_sample : high - first_sample] += _envelope(
                    samples, offset, sample_rate
                )
    if sounding is not None:
        signal /= np.sqrt(np.maximum(sounding, 1.0))
    return signal.astype(np.float32)


def sounding(notes: Sequence[Note], count: int, sample_rate: int) -> np.ndarray:
    """(count,) bool: where samples ``0 .. count - 1`` of the timeline hear a note, i.e.
    lie in some pitched note's ``[onset, offset + release)``, where ``excitation`` plays
    it (and reads 0 elsewhere)."""
    heard = np.zeros(count, dtype=bool)
    release = release_samples(sample_rate)
    for note in notes:
        if not note.is_drum:
            onset, offset = note_samples(note, sample_rate)
            heard[max(onset, 0) : max(0, min(offset + release, count))] = True
    return heard


def _harmonics(pitch: int, sample_rate: int, harmonics: int) -> list[int]:
    """The harmonics ``h`` of ``pitch``, ``1 .. harmonics``, that stay below
    ``NYQUIST_MARGIN * sample_rate``."""
    f = frequency(pitch)
    return [h for h in range(1, harmonics + 1) if h * f < NYQUIST_MARGIN * sample_rate]


def harmonic_weights(count: int, rolloff: float = 1.0) -> np.ndarray:
    """(count,) the amplitudes of harmonics ``h = 1 .. count`` in channels 1 and 2:
    ``c / h ** rolloff``, ``c`` such that the squares sum as those of ``1 / h`` do (the
    same power, spread brighter where ``rolloff`` < 1; rolloff 1: ``1 / h``)."""
    h = np.arange(1, count + 1, dtype=np.float64)  # (count,)
    if count == 0:  # a note above the Nyquist margin: no harmonic to weigh
        return h
    weights = h**-rolloff  # (count,)
    return weights * np.sqrt(np.sum(h**-2.0) / np.sum(weights**2))


def _note_tone(
    note: Note,
    onset: int,
    offset: int,
    samples: np.ndarray,
    sample_rate: int,
    harmonics: int,
    phases: np.ndarray | None = None,
    rolloff: float = 1.0,
) -> np.ndarray:
    """(3, n) float64: the three channels of one note at ``samples`` (n,) of its span;
    ``phases`` (H, n): each harmonic's phase there (None: sines, phase 0 at the onset);
    ``rolloff``: the harmonics' amplitudes (``harmonic_weights``)."""
    f = frequency(note.pitch)
    t = (samples - onset) / sample_rate  # (n,) seconds since the onset
    partials = [  # (n,) each: harmonic h's waveform
        np.sin(2 * np.pi * h * f * t)
        if phases is None
        else np.cos(2 * np.pi * h * f * t + phases[h - 1])
        for h in _harmonics(note.pitch, sample_rate, harmonics)
    ]
    fundamental = partials[0] if partials else np.sin(2 * np.pi * f * t)  # (n,)
    if rolloff == 1:  # 1 / h, divided as training always has
        tone = np.zeros_like(t) + sum(p / h for h, p in enumerate(partials, start=1))  # (n,)
    else:
        weights = harmonic_weights(len(partials), rolloff)  # (H,)
        tone = np.zeros_like(t) + sum(w * p for w, p in zip(weights, partials, strict=True))
    amplitude = note.velocity / 127 * _envelope(samples, offset, sample_rate)  # (n,)
    return amplitude * np.stack([fundamental, tone, tone * np.exp(-t / DECAY)])  # (3, n)


def _envelope(samples: np.ndarray, offset: int, sample_rate: int) -> np.ndarray:
    """(n,): 1 before the ``offset`` sample, then a linear fade that reaches 0
    ``release_samples`` after it (``samples`` lie before that)."""
    release = release_samples(sample_rate)
    return np.clip((offset + release - samples) / max(release, 1), 0.0, 1.0)


def starting_phases(
    note: Note,
    onset: int,
    offset: int,
    sample_rate: int,
    recording: RecordingReader,
    harmonics: int = HARMONICS,
) -> np.ndarray:
    """(H,): the phase ``φ`` each harmonic of ``note`` starts in, in the recording over
    its ``phase_span``: about ``A cos(2π h f (k - onset) / sample_rate + φ)`` there, the
    angle of the recording heterodyned at ``h f`` and summed."""
    a, b = phase_span(onset, offset, sample_rate)
    heard = np.asarray(recording(a, b - a), dtype=np.float64)  # (b - a,)
    since_onset = np.arange(a, b) - onset  # (b - a,)
    f = frequency(note.pitch)
    return np.array(
        [
            np.angle(np.sum(heterodyne(heard, since_onset, h * f, sample_rate)))
            for h in _harmonics(note.pitch, sample_rate, harmonics)
        ]
    )


def following_phases(
    note: Note,
    onset: int,
    offset: int,
    low: int,
    high: int,
    sample_rate: int,
    recording: RecordingReader,
    harmonics: int = HARMONICS,
) -> np.ndarray:
    """(H, high - low): the recording's phase of each harmonic of ``note`` at samples
    ``low .. high - 1`` of its span (``partial_phase``), computed over the span within
    ``phase_margin`` of them, as over the whole span."""
    margin = phase_margin(sample_rate)
    start = max(onset, low - margin)
    stop = min(offset + release_samples(sample_rate), high + margin)
    samples = np.arange(start, stop)  # (m,) the span around the window
    heard = np.asarray(recording(start, stop - start), dtype=np.float64)  # (m,)
    f = frequency(note.pitch)
    phases = [
        partial_phase(heard, samples - onset, h * f, sample_rate, _smooth_samples(sample_rate))
        for h in _harmonics(note.pitch, sample_rate, harmonics)
    ]
    if not phases:  # no harmonic below the Nyquist margin
        return np.zeros((0, high - low))
    return np.stack(phases)[:, low - start : high - start]  # (H, high - low)


def partial_phase(
    heard: np.ndarray, since_onset: np.ndarray, hz: float, sample_rate: int, smooth: int
) -> np.ndarray:
    """(m,) the phase ``φ`` of a partial at ``hz`` in ``heard`` (m,), consecutive samples
    ``since_onset`` (m,) samples after a note's onset: ``heard`` heterodyned by
    ``exp(-2πi hz k / sample_rate)`` and smoothed by two centred moving averages of
    ``smooth`` samples, so that ``heard ≈ A cos(2π hz k / sample_rate + φ)`` near k."""
    shifted = heterodyne(heard, since_onset, hz, sample_rate)  # (m,) complex
    return np.angle(_moving_average(_moving_average(shifted, smooth), smooth))


def heterodyne(
    heard: np.ndarray, since_onset: np.ndarray, hz: float, sample_rate: int
) -> np.ndarray:
    """(m,) complex: ``heard`` (m,) times ``exp(-2πi hz k / sample_rate)``, ``k`` the
    samples ``since_onset`` (m,): a partial ``A cos(2π hz k / sample_rate + φ)`` becomes
    ``A / 2 · exp(iφ)`` plus terms that turn and average away."""
    return heard * np.exp(-2j * np.pi * hz * since_onset / sample_rate)


def _moving_average(z: np.ndarray, width: int) -> np.ndarray:
    """(m,) centred moving average of ``z`` (m,) over ``width`` samples, fewer at the ends."""
    total = np.concatenate([[0], np.cumsum(z)])  # (m + 1,)
    i = np.arange(len(z))
    lo, hi = np.maximum(i - width // 2, 0), np.minimum(i + width - width // 2, len(z))
    return (total[hi] - total[lo]) / (hi - lo)


class RecordingPhases:
    """The phases of one recording that the partials of its notes take, in one of
    ``PHASE_WAYS``; the starting phases computed once per note (training cuts many
    windows from one recording), for the partials of ``harmonics`` harmonics."""

    def __init__(
        self,
        read: RecordingReader,
        sample_rate: int,
        way: str = "recording",
        harmonics: int = HARMONICS,
    ) -> None:
        if way not in PHASE_WAYS:
            raise ValueError(f"expected a way of {PHASE_WAYS}, got {way!r}")
        self.read, self.sample_rate, self.way = read, sample_rate, way
        self.harmonics = harmonics
        self._started: dict[tuple[int, int, int], np.ndarray] = {}

    def __call__(self, note: Note, onset: int, offset: int, low: int, high: int) -> np.ndarray:
        """(H, high - low): the phases of ``note`` (sounding from sample ``onset`` to
        ``offset``) at samples ``low .. high - 1``."""
        if self.way == "recording":
            return following_phases(
                note, onset, offset, low, high, self.sample_rate, self.read, self.harmonics
            )
        key = (onset, offset, note.pitch)
        if key not in self._started:
            self._started[key] = starting_phases(
                note, onset, offset, self.sample_rate, self.read, self.harmonics
            )
        return np.repeat(self._started[key][:, None], high - low, axis=1)  # (H, high - low)
