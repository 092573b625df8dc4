"""Alignment of a recording's notes with its audio: a recording rendered from random notes
(decaying sines at their keys) lines up with them at lag 0 and covers them, the same notes
moved by a second are found a second off, another random piece (or the same rhythm in
other keys) does not match, a MIDI cut to a third says where it ends; the lag search
against a direct sum, the warning lines."""

from __future__ import annotations

import numpy as np
import pytest

from wavenet_music.notes.alignment import (
    FRAME_RATE,
    MATCH_MIN,
    Alignment,
    align,
    alignment_warning,
    band_power,
    coverage,
    lag_matches,
    note_frames,
)
from wavenet_music.notes.midi import Note

RATE = 16000
SECONDS = 20.0


def random_notes(seed: int, seconds: float = SECONDS, per_second: float = 3.0) -> list[Note]:
    """Notes at random times, keys C3..C6 and velocities, 0.2-0.8 s long."""
    rng = np.random.default_rng(seed)
    count = int(per_second * seconds)
    onsets = np.sort(rng.uniform(0.0, seconds - 1.0, count))
    return [
        Note(t, t + rng.uniform(0.2, 0.8), int(rng.integers(48, 85)), int(rng.integers(50, 128)))
        for t in onsets
    ]


def rendered(notes: list[Note], seconds: float = SECONDS, rate: int = RATE) -> np.ndarray:
    """Each note a sine at its key, ``velocity / 127`` loud, decaying from its onset and
    faded out over 50 ms after its offset."""
    audio = np.zeros(int(seconds * rate))
    for n in notes:
        start, stop = int(n.onset * rate), min(int((n.offset + 0.05) * rate), audio.size)
        t = np.arange(stop - start) / rate
        hz = 440.0 * 2.0 ** ((n.pitch - 69) / 12.0)
        fade = np.clip((n.offset + 0.05 - n.onset - t) / 0.05, 0.0, 1.0)
        audio[start:stop] += n.velocity / 127 * np.sin(2 * np.pi * hz * t) * np.exp(-3 * t) * fade
    return (0.3 * audio / np.abs(audio).max()).astype(np.float32)


def moved(notes: list[Note], seconds: float) -> list[Note]:
    """``notes`` later by ``seconds``, those that would start before 0 dropped."""
    return [
        Note(n.onset + seconds, n.offset + seconds, n.pitch, n.velocity)
        for n in notes
        if n.onset + seconds >= 0
    ]


NOTES = random_notes(0)
AUDIO = rendered(NOTES)


def test_the_notes_of_a_recording_line_up_with_it_at_lag_0() -> None:
    a = align(AUDIO, RATE, NOTES)
    assert abs(a.lag) <= 0.02
    assert a.match > 2 * MATCH_MIN
    assert a.match_at_zero == pytest.approx(a.match, abs=0.05)
    assert a.coverage > 0.95
    assert alignment_warning("song.mid", a) is None


@pytest.mark.parametrize("seconds", [1.0, -1.0, 0.25])
def test_moved_notes_are_found_as_far_off_as_they_were_moved(seconds: float) -> None:
    a = align(AUDIO, RATE, moved(NOTES, seconds))
    assert a.lag == pytest.approx(seconds, abs=0.02)
    assert a.match_at_zero < 0.5 * a.match
    warning = alignment_warning("song.mid", a)
    later = "later" if seconds > 0 else "earlier"
    assert f"sound {abs(seconds):.2f} s {later} than the audio" in str(warning)  # to 50 ms
    assert f"shift the MIDI by {-seconds:+.2f} s in your editor" in str(warning)


def test_another_piece_does_not_match() -> None:
    for seed in (1, 2, 3):
        a = align(AUDIO, RATE, random_notes(seed))
        assert a.match < MATCH_MIN
        assert "do not match the audio" in str(alignment_warning("song.mid", a))


def test_the_same_rhythm_in_other_keys_does_not_match() -> None:
    rng = np.random.default_rng(6)
    other = [Note(n.onset, n.offset, int(rng.integers(48, 85)), n.velocity) for n in NOTES]
    assert align(AUDIO, RATE, other).match < MATCH_MIN / 2


def test_a_midi_cut_to_a_third_says_where_it_ends() -> None:
    cut = [n for n in NOTES if n.offset < SECONDS / 3]
    a = align(AUDIO, RATE, cut)
    assert abs(a.lag) <= 0.02 and a.match > MATCH_MIN  # judged on what it holds
    assert 0.25 < a.coverage < 0.45
    end = max(n.offset for n in cut)
    assert alignment_warning("song.mid", a) == (
        f"song.mid: its notes end at {end:.1f} s of 20.0 s of audio: "
        "export the MIDI of the whole recording, or cut the audio"
    )


def test_a_quiet_intro_and_a_long_rest_do_not_alarm() -> None:
    intro = [Note(n.onset, n.offset, n.pitch, 8) for n in random_notes(4, 6.0)]
    after = moved(random_notes(5, 8.0), 12.0)  # 6 s of silence from 6 s to 12 s
    notes = intro + after
    audio = rendered(notes)
    assert np.abs(audio[: 6 * RATE]).max() < 0.1 * np.abs(audio).max()  # 20 dB down
    a = align(audio, RATE, notes)
    assert alignment_warning("song.mid", a) is None, a


def test_the_sample_rate_does_not_move_the_lag() -> None:
    late = moved(NOTES, 0.5)
    at_16k = align(AUDIO, RATE, late)
    at_44k = align(rendered(NOTES, rate=44100), 44100, late)
    assert at_44k.lag == pytest.approx(at_16k.lag, abs=0.01)
    assert at_44k.match == pytest.approx(at_16k.match, abs=0.03)


def test_no_pitched_notes_or_no_sound_is_no_match_at_lag_0() -> None:
    drums = [Note(n.onset, n.offset, 38, is_drum=True) for n in NOTES]
    for a in (align(AUDIO, RATE, []), align(AUDIO, RATE, drums)):
        assert (a.lag, a.match) == (0.0, 0.0)
        assert "do not match the audio" in str(alignment_warning("song.mid", a))
    silent = align(np.zeros_like(AUDIO), RATE, NOTES)
    assert silent.match == 0.0 and silent.coverage == 1.0 and silent.sounding_span == (0.0, 0.0)
    assert align(AUDIO[:100], RATE, NOTES[:1]).lag == 0.0  # shorter than the blur: runs


def test_lag_matches_is_the_cosine_at_each_lag() -> None:
    rng = np.random.default_rng(0)
    strength = rng.standard_normal((60, 3))
    train = np.zeros((60, 3))
    train[20:35] = rng.standard_normal((15, 3))  # onsets span frames 20..34
    max_lag = 7
    got = lag_matches(strength, train, max_lag)
    for lag in range(-max_lag, max_lag + 1):  # notes at t meet the audio at t - lag
        audio = strength[20 - lag : 35 - lag]
        notes = train[20:35]
        expected = (audio * notes).sum() / (np.linalg.norm(audio) * np.linalg.norm(notes))
        assert got[max_lag + lag] == pytest.approx(expected, abs=1e-9)


def test_lag_matches_without_notes_is_zero() -> None:
    assert not lag_matches(np.ones((10, 2)), np.zeros((10, 2)), 3).any()


def test_a_sine_sounds_in_its_keys_band() -> None:
    t = np.arange(RATE) / RATE
    keys, total = band_power(np.sin(2 * np.pi * 440.0 * t).astype(np.float32), RATE)
    assert keys.shape == (RATE // (RATE // FRAME_RATE) + 1, 88)
    assert np.argmax(keys[50]) == 69 - 21  # A4 in the band of key 69 (bands start at A0)
    assert total.shape == (keys.shape[0],)


def test_coverage_counts_sounding_frames_under_a_note_and_its_tail() -> None:
    frames = note_frames([Note(0.5, 1.0, 60)], 400)  # 0.5 s .. 1.0 s + 1 s of tail
    assert frames.sum() == 151 and frames[50] and frames[200] and not frames[201]
    sounds = np.zeros(400, dtype=bool)
    sounds[100:300] = True
    assert coverage(sounds, frames) == pytest.approx(101 / 200)
    assert coverage(np.zeros(400, dtype=bool), frames) == 1.0


def figures(**changes: object) -> Alignment:
    base = {
        "lag": 0.0,
        "match_at_zero": 0.3,
        "match": 0.3,
        "coverage": 1.0,
        "notes_span": (0.0, 12.0),
        "sounding_span": (0.0, 12.0),
        "duration": 12.0,
    }
    return Alignment(**{**base, **changes})  # type: ignore[arg-type]


def test_the_warning_names_the_worst_problem_first() -> None:
    assert alignment_warning("a.mid", figures()) is None
    assert alignment_warning("a.mid", figures(lag=0.03, match_at_zero=0.1)) is None  # 30 ms
    assert alignment_warning("a.mid", figures(lag=2.0, match_at_zero=0.28)) is None  # a beat
    wrong = figures(match=0.05, match_at_zero=0.01, lag=1.3, coverage=0.2)
    assert "is it the MIDI of another recording?" in str(alignment_warning("a.mid", wrong))
    late = figures(lag=-2.0, match_at_zero=0.02, coverage=0.5)
    assert "earlier than the audio: shift the MIDI by +2.00 s" in str(alignment_warning("a", late))
    start = figures(coverage=0.5, notes_span=(6.0, 12.0))
    assert "its notes start at 6.0 s of 12.0 s" in str(alignment_warning("a.mid", start))
    holes = figures(coverage=0.5)
    assert "its notes sound in 50% of the audio's sounding time" in str(
        alignment_warning("a.mid", holes)
    )
