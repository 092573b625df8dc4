"""The quality check the demo and the report run: real music passes, noise and an
under-trained run are named with their figures."""

from __future__ import annotations

import numpy as np
import pytest

from wavenet_music.audio.io import load_audio
from wavenet_music.notes.midi import Note
from wavenet_music.notes.statistics import note_figures
from wavenet_music.report.check import (
    CROWDING_FACTOR,
    CROWDING_MARGIN,
    MAX_HELD_OUT_BITS,
    check_summary,
    composer_figures,
    kind_figures,
    report_summary,
)
from wavenet_music.report.clips import Row, white_noise
from wavenet_music.report.notes import notes_figures

RATE = 16000


def piano_excerpts(music_root, count: int, seconds: float = 3.0) -> list[np.ndarray]:
    files = sorted((music_root / "piano").glob("*.flac"))
    audio = np.concatenate([load_audio(f, RATE) for f in files[:3]])
    length = round(seconds * RATE)
    starts = np.linspace(RATE, len(audio) - length, count).astype(int)
    return [audio[s : s + length] for s in starts]


def summary_of(rows: list[Row], **extra) -> dict:
    figures = kind_figures(rows, RATE)
    arguments = {"held_out_bits": 4.5, "trained_steps": 2000, "planned_steps": 2000, **extra}
    return report_summary({"piano": figures}, **arguments)


def test_real_music_passes_and_white_noise_is_named(music_root):
    real, other, more = np.split(np.array(piano_excerpts(music_root, 6)), [3, 5])
    rms = float(np.sqrt(np.mean(np.concatenate(real) ** 2)))
    rows = [Row(f"real {i}", "real", a) for i, a in enumerate(real)]
    rows.append(Row("noise", "noise", white_noise(len(real[0]), rms, 0)))
    music = rows + [Row("g", "generated", a) for a in other] + [Row("p", "plain", more[0])]
    assert check_summary(summary_of(music)) == []
    noisy = [*rows, Row("g", "generated", white_noise(len(real[0]), rms, 1))]
    misses = [str(m) for m in check_summary(summary_of(noisy))]
    assert len(misses) == 3, misses  # its flatness, clicks and distance, each with its figure
    assert misses[0].startswith("piano clips spectral flatness 0.5")
    assert "sounds like noise" in misses[0] and "it crackles" in misses[1]
    assert "dB from real piano" in misses[2]


def test_music_that_crackles_is_named_by_its_clicks(music_root):
    """Real piano with a one-sample flip to the other side of full scale 5 times a second
    (as a WaveNet lost in a loud state plays them) keeps its spectrum and its flatness,
    and is named by its clicks alone: 10 a second."""
    real, other = np.split(np.array(piano_excerpts(music_root, 4)), [3])
    rms = float(np.sqrt(np.mean(np.concatenate(real) ** 2)))
    rows = [Row(f"real {i}", "real", a) for i, a in enumerate(real)]
    rows.append(Row("noise", "noise", white_noise(len(real[0]), rms, 0)))
    crackling = other[0].copy()
    crackling[RATE // 10 :: RATE // 5] = 0.9  # 5 spikes a second: 2 jumps each
    figures = summary_of([*rows, Row("p", "plain", crackling)])
    assert figures["labels"]["piano"]["plain"]["clicks_per_s"] == pytest.approx(10.0, abs=0.5)
    assert [str(m) for m in check_summary(figures)] == [
        "piano plain WaveNet clips 10.0 clicks per second: adjacent samples over half full "
        "scale apart (recordings: under 1 a second; bound 2): it crackles"
    ]
    assert check_summary(summary_of([*rows, Row("p", "plain", other[0])])) == []


def test_a_quiet_clip_of_music_passes_and_quiet_noise_does_not(music_root):
    """The distance is judged with levels matched: music 12 dB quieter than the genre
    (as far as noise on the plain distance) passes; noise at that level is named."""
    real, other = np.split(np.array(piano_excerpts(music_root, 5)), [3])
    rms = float(np.sqrt(np.mean(np.concatenate(real) ** 2)))
    rows = [Row(f"real {i}", "real", a) for i, a in enumerate(real)]
    rows.append(Row("noise", "noise", white_noise(len(real[0]), rms, 0)))
    quiet = [*rows, *(Row("g", "generated", 0.25 * a) for a in other)]
    figures = summary_of(quiet)["labels"]["piano"]
    assert figures["generated"]["level_db"] == pytest.approx(-12, abs=3)
    assert figures["generated"]["distance_db"] > 0.85 * figures["noise"]["distance_db"]
    assert check_summary(summary_of(quiet)) == []
    hiss = [*rows, Row("g", "generated", white_noise(len(real[0]), rms / 4, 1))]
    misses = [str(m) for m in check_summary(summary_of(hiss))]
    assert any("levels matched" in m for m in misses), misses


def test_an_under_trained_run_and_a_weak_composer_are_named():
    summary = report_summary(
        {},
        held_out_bits=6.9,
        trained_steps=153,
        planned_steps=2000,
        composer={"held_out_bits": 6.77, "bigram_bits": 4.42, "steps": 74},
    )
    misses = [str(m) for m in check_summary(summary)]
    assert misses == [
        "under-trained: 153 of 2,000 steps: training stopped early (a time cap, or Ctrl-C); "
        "expect noise",
        f"held-out 6.90 bits per sample: above {MAX_HELD_OUT_BITS} (an untrained model: 8); "
        "the WaveNet needs more steps",
        "composer held-out 6.77 bits per token: not below its bigram baseline (4.42); "
        "the composer needs more steps",
    ]
    done = {**summary, "trained_steps": 2000, "held_out_bits": 4.4}
    done["composer"] = {"held_out_bits": 3.8, "bigram_bits": 4.42, "steps": 700}
    assert check_summary(done) == []
    assert check_summary({**done, "held_out_bits": float("nan")})  # NaN is never usable


def test_composer_figures_are_its_best_held_out_score_and_bigram():
    metrics = [
        {"step": 0, "bigram_bits_per_token": 4.4, "unigram_bits_per_token": 7.4},
        {"step": 50, "validation_bits": 5.0},
        {"step": 100, "validation_bits": 3.9},
        {"step": 150, "validation_bits": 4.1},
    ]
    assert composer_figures(metrics) == {"held_out_bits": 3.9, "bigram_bits": 4.4, "steps": 150}
    assert composer_figures(metrics, keep_best=False)["held_out_bits"] == 4.1  # the last
    assert composer_figures(metrics[:1]) is None and composer_figures([]) is None


def test_composed_notes_far_more_crowded_than_the_genre_are_named():
    """A composer that presses keys and never lifts them (as the demo's did before
    composer/event_rules.py) is named with both figures; one that plays like the genre, or
    somewhat denser, passes; without the genre's notes nothing is judged."""
    chords = [Note(t, t + 0.9, p) for t in range(30) for p in (60, 64, 67)]  # 2.7 at once
    genre = {"piano": note_figures([chords], [30.0])}
    hanging = [Note(0.5 * i, 30.0, 40 + i % 48) for i in range(60)]  # never lifted
    denser = [Note(0.5 * i, 0.5 * i + 1.2, 48 + i % 24) for i in range(60)]  # 2.4 at once
    summary = report_summary(
        {}, 4.5, 2000, 2000, notes=notes_figures({"piano": [hanging]}, 30, genre)
    )
    held = summary["notes"]["piano"]["composed"]["sounding_at_once"]
    assert held == pytest.approx(sum(30 - 0.5 * i for i in range(60)) / 30)  # 30.5
    bound = CROWDING_FACTOR * 2.7 + CROWDING_MARGIN
    assert [str(m) for m in check_summary(summary)] == [
        f"piano composed pieces hold {held:.1f} notes at once: the genre's notes 2.7 (bound "
        f"{bound:.1f}): keys left down; the composer needs more steps"
    ]
    for fine in ([chords], [denser], [[]]):
        passed = report_summary(
            {}, 4.5, 2000, 2000, notes=notes_figures({"piano": fine}, 30, genre)
        )
        assert check_summary(passed) == []
    unjudged = notes_figures({"piano": [hanging]}, 30, None)
    assert "real" not in unjudged["piano"]
    assert check_summary(report_summary({}, 4.5, 2000, 2000, notes=unjudged)) == []
