"""Long-range structure statistics against signals whose structure is known by construction."""

from __future__ import annotations

import numpy as np

from wavenet_music.audio.structure import (
    chroma,
    chroma_repetition,
    distance_by_label,
    lag_similarity,
    loudness_autocorrelation,
    onset_rate_cv,
    onset_times,
    structure_distance,
    structure_statistics,
)

RATE = 16000


def notes(pitches_hz: list[float], note_s: float, seed: int = 0) -> np.ndarray:
    """Plucked tones (exponential decay) one after another."""
    n = int(note_s * RATE)
    t = np.arange(n) / RATE
    envelope = np.exp(-t / (note_s / 4))
    return np.concatenate([0.3 * envelope * np.sin(2 * np.pi * f * t) for f in pitches_hz])


def repeating_melody(period_notes: int, repeats: int, note_s: float = 0.25) -> np.ndarray:
    rng = np.random.default_rng(1)
    motif = list(220.0 * 2 ** (rng.integers(0, 24, period_notes) / 12))
    return notes(motif * repeats, note_s)


def noise(seconds: float, seed: int = 0) -> np.ndarray:
    return 0.1 * np.random.default_rng(seed).standard_normal(int(seconds * RATE))


def test_chroma_puts_a_tone_in_its_pitch_class():
    a4 = notes([440.0], 1.0)
    c5 = notes([523.25], 1.0)
    assert chroma(a4, RATE).sum(axis=0).argmax() == 9  # A
    assert chroma(c5, RATE).sum(axis=0).argmax() == 0  # C


def test_lag_similarity_of_a_periodic_sequence_peaks_at_its_period():
    rng = np.random.default_rng(0)
    pattern = rng.standard_normal((7, 12))
    profile = lag_similarity(np.tile(pattern, (20, 1)), 1, 30)  # lags 1..30
    assert np.argmax(profile) + 1 in (7, 14, 21, 28)
    assert profile[6] > 0.99 and profile[:6].max() < 0.8


def test_a_repeating_melody_repeats_and_noise_does_not():
    melody = repeating_melody(8, 10)  # a 2-s motif, 20 s
    assert chroma_repetition(melody, RATE) > 0.8
    assert abs(chroma_repetition(noise(20.0), RATE)) < 0.2


def test_onsets_of_a_steady_pulse_are_found_and_steady():
    pulse = notes([330.0] * 40, 0.5)  # 2 notes per second for 20 s
    times = onset_times(pulse, RATE)
    assert 38 <= len(times) <= 41
    np.testing.assert_allclose(np.diff(times), 0.5, atol=0.02)
    assert onset_rate_cv(pulse, RATE) < 0.1
    bursts = np.concatenate([notes([330.0] * 8, 0.25), np.zeros(4 * RATE)] * 3)  # 2 s on, 4 off
    assert onset_rate_cv(bursts, RATE) > 0.8


def test_loudness_that_changes_slowly_is_autocorrelated_and_noise_is_not():
    t = np.arange(20 * RATE) / RATE
    swell = noise(20.0) * (0.55 + 0.45 * np.sin(2 * np.pi * t / 20.0))  # one 20-s swell
    steady = noise(20.0, seed=1)
    assert loudness_autocorrelation(swell, RATE) > 0.3
    assert abs(loudness_autocorrelation(steady, RATE)) < 0.1


def test_windows_and_distance():
    clips = [repeating_melody(8, 12), noise(25.0)]  # 24 s and 25 s
    rows = structure_statistics(clips, RATE, window_s=20.0, min_window_s=10.0)
    assert len(rows) == 2  # the 4-s and 5-s remainders are too short
    melodies = structure_statistics([repeating_melody(8, 10, 0.25)] * 2, RATE)
    assert structure_distance(melodies, melodies)["mean"] == 0.0
    far = structure_distance(structure_statistics([noise(20.0, s) for s in range(3)], RATE), rows)
    assert far["chroma_repetition"] > 0.5


def test_the_distance_label_by_label_shows_errors_that_cancel_when_pooled():
    """A kind too high in one label and as much too low in another sits on real music
    pooled, and far from it label by label; a kind like real music sits near in both."""
    rng = np.random.default_rng(0)

    def clip(centre: float) -> list[dict[str, float]]:
        names = ("chroma_repetition", "onset_rate_cv", "loudness_autocorrelation")
        return [{n: float(centre + rng.normal(0, 0.05)) for n in names} for _ in range(2)]

    windows = {
        "real": [clip(0.3) for _ in range(20)],
        "plain": [clip(0.5) for _ in range(10)] + [clip(0.1) for _ in range(10)],
        "composed": [clip(0.3) for _ in range(20)],
    }
    labels = {kind: ["piano"] * 10 + ["guitar"] * 10 for kind in windows}
    pooled = {
        kind: structure_distance(
            [w for c in windows[kind] for w in c], [w for c in windows["real"] for w in c]
        )["mean"]
        for kind in ("plain", "composed")
    }
    by_label = distance_by_label(windows, labels)
    assert list(by_label) == ["piano", "guitar"]
    assert pooled["plain"] < 0.6  # near real music, pooled
    for label in ("piano", "guitar"):
        assert by_label[label]["plain"]["mean"] > 2.0  # far, label by label
        assert by_label[label]["composed"]["mean"] < 1.0
    del labels["real"]
    assert distance_by_label(windows, labels) == {}  # no real clips: no labels to compare
