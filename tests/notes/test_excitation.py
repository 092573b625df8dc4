"""The excitation: one note against a formula written here sample by sample, windows cut
anywhere equal to one window, frequencies and the harmonics' cut-off in the spectrum,
phase 0 at the onset, silence outside the notes, drums, velocity and sums; in phase with a
recording, the recording's phase of every partial, still window by window."""

from __future__ import annotations

import math

import numpy as np
import pytest

from wavenet_music.config.settings import EXCITATION_MIXES
from wavenet_music.notes.excitation import (
    CHANNELS,
    MIXES,
    PHASE_TO,
    TILT_PIVOT,
    RecordingPhases,
    excitation,
    sounding,
    tilt_gain,
)
from wavenet_music.notes.midi import Note

RATE = 16_000
WAYS = ["recording", "start"]  # excitation.PHASE_WAYS


def expected_note(note: Note, first: int, count: int, rate: int, harmonics: int = 4) -> np.ndarray:
    """(3, count) of one note, one sample at a time, from the definition."""
    f = 440.0 * 2.0 ** ((note.pitch - 69) / 12)
    s = round(note.onset * rate)
    e = max(s + 1, round(note.offset * rate))
    release = round(0.03 * rate)
    out = np.zeros((3, count))
    for i in range(count):
        k = first + i
        if k < s or k >= e + release:
            continue
        gain = 1.0 if k < e else 1.0 - (k - e) / release
        gain *= note.velocity / 127
        tau = (k - s) / rate
        out[0, i] = gain * math.sin(2 * math.pi * f * (k - s) / rate)
        out[1, i] = gain * sum(
            math.sin(2 * math.pi * h * f * (k - s) / rate) / h
            for h in range(1, harmonics + 1)
            if h * f < 0.475 * rate
        )
        out[2, i] = out[1, i] * math.exp(-tau / 0.25)
    return out


@pytest.mark.parametrize(
    ("pitch", "rate", "offset"),
    [(60, RATE, 0.0402), (100, RATE, 0.0402), (69, 8_000, 0.0402), (62, RATE, 0.0101)],
)
def test_one_note_follows_the_definition_sample_by_sample(pitch, rate, offset):
    """Through the onset, the held part, the release ramp and after it (at 8 kHz A4's
    4th harmonic, 1,760 Hz, stays; at 16 kHz pitch 100's 3rd and 4th, 7.9-10.5 kHz, go).
    A note without duration is held for one sample before its release."""
    note = Note(0.0101, offset, pitch, velocity=90)
    first, count = 50, int(0.09 * rate)
    got = excitation([note], first, count, rate)
    assert got.shape == (CHANNELS, count) and got.dtype == np.float32
    want = expected_note(note, first, count, rate)
    np.testing.assert_allclose(got, want, atol=1e-6)
    e = max(round(0.0101 * rate) + 1, round(offset * rate))  # release: full to 0 in 30 ms
    assert np.abs(want[1, e - first :]).max() > 0.1
    assert not want[:, e + round(0.03 * rate) - first :].any()


def random_notes(seed: int, count: int = 12) -> list[Note]:
    rng = np.random.default_rng(seed)
    onsets = rng.uniform(0.0, 0.5, count)
    return [
        Note(float(a), float(a + d), int(p), int(v))
        for a, d, p, v in zip(
            onsets,
            rng.uniform(0.0, 0.2, count),  # some shorter than a sample
            rng.integers(21, 109, count),
            rng.integers(1, 128, count),
            strict=True,
        )
    ]


@pytest.mark.parametrize("seed", [0, 1])
def test_windows_cut_anywhere_equal_one_window(seed):
    notes = random_notes(seed)
    first, count = -300, int(0.8 * RATE)
    whole = excitation(notes, first, count, RATE)
    assert np.abs(whole).max() > 0.1
    for cut in [0, 1, 257, 4_000, 8_191, count - 1, count]:
        pieces = [
            excitation(notes, first, cut, RATE),
            excitation(notes, first + cut, count - cut, RATE),
        ]
        np.testing.assert_array_equal(np.concatenate(pieces, axis=1), whole)


def spectrum(signal: np.ndarray) -> np.ndarray:
    """Magnitudes of a Hann-windowed signal at 1-Hz bins (a 1-s signal at RATE)."""
    return np.abs(np.fft.rfft(signal * np.hanning(len(signal)), n=RATE))


def test_the_fundamental_of_a4_is_440_hz():
    tone = excitation([Note(0.0, 1.0, 69)], 0, RATE, RATE)
    assert abs(int(np.argmax(spectrum(tone[0]))) - 440.0) <= 1.0


@pytest.mark.parametrize(("pitch", "kept"), [(108, 1), (96, 3)])
def test_harmonics_above_the_margin_are_left_out(pitch, kept):
    """C8 (4,186 Hz) keeps only its fundamental, C7 (2,093 Hz) its first 3 harmonics: the
    next one would alias to 7,628 Hz, above the 7,600-Hz margin."""
    tone = excitation([Note(0.0, 1.0, pitch)], 0, RATE, RATE)
    magnitude = spectrum(tone[1])
    f = 440.0 * 2.0 ** ((pitch - 69) / 12)
    for h in range(1, kept + 1):
        assert magnitude[round(h * f)] > 0.2 * magnitude.max() / h
    assert magnitude[7_600:].max() < 1e-3 * magnitude.max()
    if kept == 1:
        np.testing.assert_array_equal(tone[1], tone[0])


def test_the_phase_is_zero_at_the_onset_sample():
    note = Note(0.1, 0.3, 69, velocity=100)  # onset sample 1,600
    tone = excitation([note], 1_590, 20, RATE)
    assert not tone[:, :10].any()
    assert tone[0, 10] == 0.0
    step = math.sin(2 * math.pi * 440 / RATE) * 100 / 127
    assert tone[0, 11] == pytest.approx(step, rel=1e-6)


def test_silence_before_time_zero_and_outside_every_note_and_for_drums():
    notes = [Note(0.0, 0.1, 60), Note(0.2, 0.25, 64)]
    assert not excitation(notes, -500, 500, RATE).any()  # before time 0
    assert not excitation(notes, round(0.25 * RATE) + 480, 1_000, RATE).any()  # after
    assert np.abs(excitation(notes, -500, 600, RATE)[1]).max() > 0.1  # the note reaches in
    gap = excitation(notes, round(0.1 * RATE) + 480, round(0.1 * RATE) - 480, RATE)
    assert not gap.any()  # between the first note's release and the second's onset
    drums = [Note(0.0, 0.5, 38, is_drum=True)]
    assert excitation(drums, 0, RATE // 2, RATE).shape == (CHANNELS, RATE // 2)
    assert not excitation(drums, 0, RATE // 2, RATE).any()
    assert excitation(notes, 0, 0, RATE).shape == (CHANNELS, 0)


def test_sounding_is_where_the_excitation_plays_a_note():
    """``sounding`` covers every sample the excitation is non-zero at, and its spans end
    exactly where a note's release does; drums and a window past the notes sound nowhere."""
    notes = [Note(0.0, 0.1, 60), Note(0.2, 0.25, 64), Note(0.3, 0.4, 38, is_drum=True)]
    count = RATE // 2
    heard = sounding(notes, count, RATE)
    playing = np.abs(excitation(notes, 0, count, RATE)).max(axis=0) > 0  # (count,)
    assert heard.shape == (count,) and heard.dtype == bool
    assert not (playing & ~heard).any()
    release = round(0.03 * RATE)
    spans = [(0, round(0.1 * RATE) + release), (round(0.2 * RATE), round(0.25 * RATE) + release)]
    expected = np.zeros(count, dtype=bool)
    for start, end in spans:
        expected[start:end] = True
    assert np.array_equal(heard, expected)
    assert playing[heard].mean() > 0.99  # silent only at zero crossings
    assert not sounding(notes[2:], count, RATE).any()
    assert not sounding([Note(2.0, 3.0, 60)], count, RATE).any()


def test_velocity_scales_linearly():
    loud = excitation([Note(0.01, 0.05, 67, velocity=120)], 0, 1_500, RATE)
    soft = excitation([Note(0.01, 0.05, 67, velocity=30)], 0, 1_500, RATE)
    np.testing.assert_allclose(soft, loud / 4, atol=1e-7)
    assert np.abs(loud).max() > 0.5


def test_simultaneous_notes_add():
    a, b = Note(0.01, 0.06, 60, 80), Note(0.03, 0.05, 67, 110)
    both = excitation([a, b], 0, 2_000, RATE)
    alone = excitation([a], 0, 2_000, RATE) + excitation([b], 0, 2_000, RATE)
    np.testing.assert_allclose(both, alone, atol=1e-6)
    assert np.abs(both - excitation([a], 0, 2_000, RATE)).max() > 0.1  # b is there


def test_equal_power_divides_the_sum_by_the_root_of_the_notes_sounding():
    """One note alone as in ``sum``; two together, their sum over sqrt(2); while one
    fades in its release, over the root of 1 plus its envelope; from its end, one again."""
    a, b = Note(0.01, 0.1, 60, 80), Note(0.03, 0.05, 67, 110)
    mixed = excitation([a, b], 0, 2_400, RATE, mix="equal_power")
    summed = excitation([a, b], 0, 2_400, RATE)
    s_b, e_b = round(0.03 * RATE), round(0.05 * RATE)
    release = round(0.03 * RATE)
    np.testing.assert_allclose(mixed[:, :s_b], summed[:, :s_b], atol=1e-7)  # a alone
    np.testing.assert_allclose(mixed[:, s_b:e_b], summed[:, s_b:e_b] / np.sqrt(2), atol=1e-6)
    fading = np.arange(e_b, e_b + release)  # b's release, a still held
    envelope = 1 - (fading - e_b) / release
    expected = summed[:, fading] / np.sqrt(1 + envelope)
    np.testing.assert_allclose(mixed[:, fading], expected, atol=1e-6)
    np.testing.assert_array_equal(mixed[:, e_b + release :], summed[:, e_b + release :])


def test_with_equal_power_four_notes_sound_as_loud_as_one():
    """The power of a chord of 4 (different pitches, same velocity) is that of one of its
    notes within 15% (``sum``: about 4 times), whatever the velocity."""
    chord = [Note(0.0, 1.0, p, 90) for p in (48, 55, 64, 71)]
    for mix, ratio in [("equal_power", (0.85, 1.15)), ("sum", (3.4, 4.6))]:
        four = excitation(chord, 0, RATE, RATE, mix=mix)[1]
        one = excitation(chord[2:3], 0, RATE, RATE, mix=mix)[1]
        assert ratio[0] < np.mean(four**2) / np.mean(one**2) < ratio[1], mix
    soft = excitation([Note(0.0, 1.0, 64, 45)], 0, RATE, RATE, mix="equal_power")[1]
    assert np.mean(soft**2) == pytest.approx(np.mean(one**2) / 4, rel=1e-4)


@pytest.mark.parametrize("seed", [0, 1])
def test_with_equal_power_windows_cut_anywhere_equal_one_window(seed):
    notes = random_notes(seed)
    first, count = -300, int(0.8 * RATE)
    whole = excitation(notes, first, count, RATE, mix="equal_power")
    assert np.abs(whole - excitation(notes, first, count, RATE)).max() > 0.01
    for cut in [1, 4_000, count - 1]:
        pieces = [
            excitation(notes, first, cut, RATE, mix="equal_power"),
            excitation(notes, first + cut, count - cut, RATE, mix="equal_power"),
        ]
        np.testing.assert_array_equal(np.concatenate(pieces, axis=1), whole)


def test_the_treble_tilt_raises_each_note_above_g4_by_its_octaves():
    """``tilt_gain``: 1 at and below G4, the tilt's dB for each octave above (an
    independent formula); in ``excitation`` a note above G4 sounds that many times as
    loud, one at or below it as untilted, in both mixes and in a window cut anywhere."""
    assert TILT_PIVOT == 67
    for pitch in (21, 60, 67):
        assert tilt_gain(pitch, 8.0) == 1.0
    assert tilt_gain(79, 8.0) == pytest.approx(10 ** (8 / 20), rel=1e-12)  # one octave
    assert tilt_gain(73, 6.0) == pytest.approx(10 ** (3 / 20), rel=1e-12)  # half of one
    treble, bass = Note(0.01, 0.2, 84, 70), Note(0.01, 0.2, 60, 70)
    for mix in MIXES:
        for first, count in [(0, 4_000), (1_234, 700)]:
            tilted = excitation([treble], first, count, RATE, mix=mix, tilt=8.0)
            plain = excitation([treble], first, count, RATE, mix=mix)
            np.testing.assert_allclose(tilted, plain * tilt_gain(84, 8.0), rtol=1e-6, atol=1e-7)
            np.testing.assert_array_equal(
                excitation([bass], first, count, RATE, mix=mix, tilt=8.0),
                excitation([bass], first, count, RATE, mix=mix),
            )


def test_with_equal_power_the_tilt_raises_the_treble_not_the_count_of_notes():
    """A chord of G3 and G5 tilted by 20·log10(2) dB an octave equals the untilted chord
    with the G5 struck twice as hard: still divided by the root of two notes sounding (a
    tilted count would divide by more)."""
    low, high = Note(0.0, 0.2, 55, 90), Note(0.0, 0.2, 79, 50)
    db = 20 * math.log10(2)
    tilted = excitation([low, high], 0, 4_000, RATE, mix="equal_power", tilt=db)
    louder = excitation([low, Note(0.0, 0.2, 79, 100)], 0, 4_000, RATE, mix="equal_power")
    np.testing.assert_allclose(tilted, louder, rtol=1e-6, atol=1e-6)
    untilted = excitation([low, high], 0, 4_000, RATE, mix="equal_power")
    assert np.abs(tilted - untilted).max() > 0.1


def test_an_unknown_mix_is_refused_and_the_settings_know_every_mix():
    with pytest.raises(ValueError, match="mix"):
        excitation([], 0, 10, RATE, mix="loudest")
    assert EXCITATION_MIXES == MIXES


@pytest.mark.parametrize(("count", "rate"), [(-1, RATE), (10, 0)])
def test_a_negative_count_or_rate_is_refused(count, rate):
    with pytest.raises(ValueError, match="expected"):
        excitation([], 0, count, rate)


def reader(recording: np.ndarray, way: str = "recording") -> RecordingPhases:
    """The phases of ``recording`` (time 0 at index 0, zeros outside it) taken ``way``."""

    def read(first: int, count: int) -> np.ndarray:
        out = np.zeros(count)
        lo, hi = max(first, 0), min(first + count, len(recording))
        if lo < hi:
            out[lo - first : hi - first] = recording[lo:hi]
        return out

    return RecordingPhases(read, RATE, way)


@pytest.mark.parametrize("way", WAYS)
def test_in_phase_with_a_recording_a_late_treble_attack_is_heard_in_its_phase(way):
    """A C6 written at 0.1 s and played 23 samples (1.4 ms, 1.5 cycles) later, each
    partial at a phase of its own: the excitation follows the recording's partials (phase
    0 at the written onset would not: correlation near 0), at the notes' amplitude."""
    note = Note(0.1, 0.6, 84, velocity=100)
    f, s = 440.0 * 2.0 ** ((84 - 69) / 12), round(0.1 * RATE)
    k = np.arange(int(0.8 * RATE))
    late = np.clip(k - s - 23, 0, None) / RATE  # seconds since the heard attack
    thetas = {1: 0.4, 2: 2.5, 3: -1.9, 4: 0.7}  # all 4 harmonics lie below the margin
    heard = (k >= s + 23) * sum(
        0.3 / h * np.cos(2 * np.pi * h * f * late + t) for h, t in thetas.items()
    )
    aligned = excitation([note], 0, len(k), RATE, reader(heard, way))
    plain = excitation([note], 0, len(k), RATE)
    held = slice(s + 23 + 400, round(0.6 * RATE) - 400)  # away from the attack and the offset
    fundamental = np.cos(2 * np.pi * f * late + thetas[1])[held]
    assert np.corrcoef(aligned[0, held], fundamental)[0, 1] > 0.99
    assert abs(np.corrcoef(plain[0, held], fundamental)[0, 1]) < 0.5
    tone = sum(np.cos(2 * np.pi * h * f * late + t)[held] / h for h, t in thetas.items())
    assert np.corrcoef(aligned[1, held], tone)[0, 1] > 0.99
    np.testing.assert_allclose(np.abs(aligned[0, held]).max(), 100 / 127, rtol=1e-3)
    assert not aligned[:, :s].any() and not aligned[:, round(0.63 * RATE) + 1 :].any()


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("seed", [0, 1])
def test_in_phase_with_a_recording_windows_cut_anywhere_equal_one_window(seed, way):
    notes = random_notes(seed)
    rng = np.random.default_rng(seed)
    recording = rng.normal(0.0, 0.1, int(0.9 * RATE))  # the phases of noise change fast
    first, count = -300, int(0.8 * RATE)
    whole = excitation(notes, first, count, RATE, reader(recording, way))
    assert np.abs(whole).max() > 0.1
    assert np.abs(whole - excitation(notes, first, count, RATE)).max() > 0.1
    for cut in [0, 1, 257, 4_000, 8_191, count - 1, count]:
        pieces = [
            excitation(notes, first, cut, RATE, reader(recording, way)),
            excitation(notes, first + cut, count - cut, RATE, reader(recording, way)),
        ]
        np.testing.assert_allclose(np.concatenate(pieces, axis=1), whole, atol=1e-5)


def test_in_phase_with_a_recording_partials_start_steady_or_follow():
    """An A4 whose recording jumps by half a cycle after its start (and carries noise):
    ``start`` hears the steady sinusoid it started as, ``recording`` follows the jump."""
    note = Note(0.05, 0.55, 69, velocity=127)
    s, f = round(0.05 * RATE), 440.0
    k = np.arange(int(0.6 * RATE))
    t = (k - s) / RATE
    jump = s + round(PHASE_TO * RATE) + 800  # after the samples the phase is taken from
    heard = (k >= s) * np.cos(2 * np.pi * f * t + 1.1 + np.pi * (k >= jump))
    heard = heard + np.random.default_rng(0).normal(0.0, 0.3, len(k))
    steady = np.cos(2 * np.pi * f * t + 1.1)
    started = excitation([note], 0, len(k), RATE, reader(heard, "start"))
    followed = excitation([note], 0, len(k), RATE, reader(heard))
    before, after = slice(s + 400, jump - 400), slice(jump + 400, round(0.55 * RATE))
    for part in (before, after):
        assert np.corrcoef(started[0, part], steady[part])[0, 1] > 0.99
    assert np.corrcoef(followed[0, before], steady[before])[0, 1] > 0.95
    assert np.corrcoef(followed[0, after], steady[after])[0, 1] < -0.95


@pytest.mark.parametrize(("pitch", "harmonics"), [(60, 12), (45, 12), (84, 12), (60, 1)])
def test_more_harmonics_follow_the_definition_and_stop_at_the_margin(pitch, harmonics):
    """``harmonics`` 12 (the demo's): C4's partials up to 3,139 Hz, A2's to 1,320 Hz, C6's
    first 7 (the 8th, 8,372 Hz, lies above the margin); 1: channel 1 is the fundamental."""
    note = Note(0.0101, 0.06, pitch, velocity=90)
    got = excitation([note], 50, 1_200, RATE, harmonics=harmonics)
    np.testing.assert_allclose(got, expected_note(note, 50, 1_200, RATE, harmonics), atol=1e-6)
    assert not np.allclose(got, excitation([note], 50, 1_200, RATE), atol=1e-3)
    tone = excitation([Note(0.0, 1.0, pitch)], 0, RATE, RATE, harmonics=harmonics)
    magnitude, f = spectrum(tone[1]), 440.0 * 2.0 ** ((pitch - 69) / 12)
    kept = [h for h in range(1, harmonics + 1) if h * f < 0.475 * RATE]
    for h in kept:
        assert magnitude[round(h * f)] > 0.2 * magnitude.max() / h
    assert magnitude[round((kept[-1] + 0.5) * f) :].max() < 1e-3 * magnitude.max()


@pytest.mark.parametrize("rolloff", [0.5, 0.75, 0.0])
def test_a_rolloff_brightens_the_harmonics_at_the_same_power(rolloff):
    """Harmonic h at ``c / h ** rolloff``, ``c`` keeping the power of ``1 / h``: channel 1
    against that formula sample by sample, each partial's level against the fundamental's,
    the power of a held note; the fundamentals' channel untouched; rolloff 1 is 1 / h."""
    note, pitch, harmonics = Note(0.0101, 0.06, 60, velocity=90), 60, 12
    plain = excitation([note], 50, 1_200, RATE, harmonics=harmonics)
    bright = excitation([note], 50, 1_200, RATE, harmonics=harmonics, rolloff=rolloff)
    np.testing.assert_array_equal(plain[0], bright[0])
    np.testing.assert_array_equal(
        excitation([note], 50, 1_200, RATE, harmonics=harmonics, rolloff=1.0), plain
    )
    f = 440.0 * 2.0 ** ((pitch - 69) / 12)
    kept = [h for h in range(1, harmonics + 1) if h * f < 0.475 * RATE]  # C4: 1 .. 12
    c = math.sqrt(sum(h**-2.0 for h in kept) / sum(h ** (-2.0 * rolloff) for h in kept))
    k = np.arange(50, 1_250) - round(note.onset * RATE)  # samples since the onset
    on = (k >= 0) & (k < round(note.offset * RATE) - round(note.onset * RATE))
    wave = sum(c * h**-rolloff * np.sin(2 * np.pi * h * f * k / RATE) for h in kept)
    np.testing.assert_allclose(bright[1, on], 90 / 127 * wave[on], atol=1e-5)
    assert not np.allclose(bright[1], plain[1], atol=1e-3)
    held = Note(0.0, 1.0, pitch)
    tone = {
        p: excitation([held], 0, RATE, RATE, harmonics=harmonics, rolloff=p)[1]
        for p in (1.0, rolloff)
    }
    t = np.arange(round(0.95 * RATE)) / RATE  # (T,) seconds of the held note
    heard = tone[rolloff][: len(t)]
    amplitude = [2 * np.mean(heard * np.sin(2 * np.pi * h * f * t)) for h in kept]
    for h, a in zip(kept, amplitude, strict=True):  # against the fundamental: h ** -rolloff
        assert a / amplitude[0] == pytest.approx(h**-rolloff, rel=0.01)
    power = {p: float(np.mean(w[: len(t)] ** 2)) for p, w in tone.items()}
    assert power[rolloff] == pytest.approx(power[1.0], rel=0.01)  # brighter, not louder
    with pytest.raises(ValueError, match="rolloff"):
        excitation([note], 0, 10, RATE, rolloff=-0.5)


def test_phases_of_other_harmonics_or_none_are_refused():
    phases = RecordingPhases(lambda a, n: np.zeros(n), RATE, "start", harmonics=4)
    with pytest.raises(ValueError, match="phases of 4 harmonics for 12"):
        excitation(random_notes(0), 0, 100, RATE, phases, harmonics=12)
    with pytest.raises(ValueError, match="at least 1 harmonic"):
        excitation(random_notes(0), 0, 100, RATE, harmonics=0)


def test_a_recording_at_another_rate_or_an_unknown_way_is_refused():
    with pytest.raises(ValueError, match="8000 Hz"):
        excitation(random_notes(0), 0, 100, RATE, RecordingPhases(lambda a, n: np.zeros(n), 8000))
    with pytest.raises(ValueError, match="'tuned'"):
        RecordingPhases(lambda a, n: np.zeros(n), RATE, "tuned")
