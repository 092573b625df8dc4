"""The demo's time estimate: its probe reads the machine's speed, not a moment's noise,
and the report's counts every part the report runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
import torch

from wavenet_music.composer.config import ComposerConfig
from wavenet_music.config import load_preset
from wavenet_music.report import estimate
from wavenet_music.report.estimate import timed


def scripted(durations: list[float]) -> tuple[Callable[[], None], Callable[[], float], list[int]]:
    """(work, clock, calls): each call of ``work`` advances the fake ``clock`` by the next
    of ``durations``; ``calls`` counts them."""
    now = [0.0]
    calls = [0]

    def work() -> None:
        now[0] += durations[calls[0]]
        calls[0] += 1

    return work, lambda: now[0], calls


def test_a_burst_of_another_job_moves_a_short_probe_but_not_a_long_one() -> None:
    """Steps of 0.5 s; another job slows the first three timed ones to 1.5 s (after the
    warm-up call). Three calls read the burst; eight seconds of calls read the machine."""
    durations = [0.5] + [1.5] * 3 + [0.5] * 40
    work, clock, _ = scripted(durations)
    assert timed(work, warmup=1, repeats=3, clock=clock) == pytest.approx(1.5)
    work, clock, calls = scripted(durations)
    assert timed(work, warmup=1, repeats=3, least_seconds=8.0, clock=clock) == pytest.approx(0.5)
    # 3 × 1.5 + 7 × 0.5 = 8 s timed, after the warm-up call: eleven calls, no more
    assert calls[0] == 11


def test_slow_work_still_runs_the_stated_repeats() -> None:
    work, clock, calls = scripted([5.0, 4.0, 6.0, 5.0, 9.0])
    assert timed(work, warmup=1, repeats=3, least_seconds=1.0, clock=clock) == pytest.approx(5.0)
    assert calls[0] == 4  # the warm-up and three timed, though one already passed a second


def test_every_training_and_generation_probe_times_for_the_seconds_it_is_given(
    monkeypatch,
) -> None:
    """``--probe-seconds`` reaches each probe the demo runs: a training step is timed for
    that long, a validation window and generation for a quarter of it (the default:
    PROBE_SECONDS); each probe runs its real work once here."""
    asked: list[float] = []

    def once(work, warmup=2, repeats=4, least_seconds=0.0, clock=None) -> float:
        work()
        asked.append(least_seconds)
        return 0.25

    monkeypatch.setattr(estimate, "timed", once)
    tiny = estimate.with_labels(load_preset("tiny"), 2)
    tiny = replace(tiny, data=replace(tiny.data, features="notes"))  # no calibration
    composer = replace(load_preset("demo", ComposerConfig()), batch_size=2)

    def probes(**given: float) -> list[float]:
        asked.clear()
        estimate.wavenet_step_seconds(tiny, **given)
        estimate.composer_training(composer, tiny, 10, **given)
        estimate.generation_rate(tiny, 2, **given)
        return list(asked)

    default = estimate.PROBE_SECONDS
    assert probes() == [default, default / 4, default, default / 4]
    assert probes(probe_seconds=2.0) == [2.0, 0.5, 2.0, 0.5]
    asked.clear()
    report = estimate.report(tiny, 1.0, per_window=0.1, probe_seconds=2.0)
    assert asked[0] == 0.5 and report.seconds > 0  # its generation, then its page


def test_the_report_estimate_counts_every_part_the_report_runs(monkeypatch) -> None:
    """Generation, the held-out likelihood, the page of every label and, for a run of
    notes, the composer writing each piece's events: the report's estimate is their sum
    (the probes replaced by fixed figures; the old estimate left out the page and the
    notes, a sixth of the demo's report)."""
    monkeypatch.setattr(estimate, "generation_rate", lambda config, streams, probe: 16_000.0)
    monkeypatch.setattr(estimate, "page_seconds", lambda config, seconds, pieces: 5.0)
    monkeypatch.setattr(estimate, "note_events_seconds", lambda config, labels, seconds: 4.0)
    composer = load_preset("demo", ComposerConfig())
    notes = estimate.with_labels(load_preset("demo"), 4)
    assert notes.data.features == "notes"
    phase = estimate.report(notes, 30.0, per_window=0.5, pieces=3, composer=composer)
    generating = 2 * 3 * 30.0 + 4.0  # seconds of audio per stream, at real time here
    evaluating = 4 * 60.0 * 16_000 / notes.data.sample_size * 0.5
    assert phase.seconds == pytest.approx(generating + evaluating + 4 * 5.0 + 3 * 4.0)
    assert "the page" in phase.how and "notes" in phase.how
    features = replace(notes, data=replace(notes.data, features="chroma"))
    plain = estimate.report(features, 30.0, per_window=0.5, pieces=3, composer=composer)
    assert plain.seconds == pytest.approx(generating + evaluating + 4 * 5.0)
    # a corpus holding out 12 s in all (the tests' demo) is evaluated on those 12 s, not
    # on 60 s a label: its report was estimated at 1.8 min and took 0.5
    short = estimate.report(features, 30.0, per_window=0.5, pieces=3, held_out_seconds=12.0)
    assert short.seconds == pytest.approx(generating + evaluating * 12 / 240 + 4 * 5.0)
    more = estimate.report(features, 30.0, per_window=0.5, pieces=3, held_out_seconds=600.0)
    assert more.seconds == pytest.approx(plain.seconds)  # up to 60 s a label, as before


def test_the_page_and_note_probes_run_the_report_s_own_code() -> None:
    """The probes draw a real label section and compose real note events (a second each
    on a small setting): positive seconds, the note estimate growing with the piece."""
    config = estimate.with_labels(load_preset("tiny"), 2)
    assert estimate.page_seconds(config, 1.0, pieces=1) > 0
    composer = load_preset("demo", ComposerConfig())
    one, ten = (estimate.note_events_seconds(composer, 2, s) for s in (1.0, 10.0))
    assert 0 < one < ten


def test_the_composer_estimate_counts_its_validations(monkeypatch) -> None:
    """Each validation scores the held-out music in windows half a context apart: 2,000
    steps validated every 50 and at the end are 41 validations, 3 minutes of music at 26
    events a second over a context of 533 events 18 windows each."""
    monkeypatch.setattr(estimate, "composer_step_seconds", lambda *args: 0.4)
    monkeypatch.setattr(estimate, "composer_window_seconds", lambda *args: 0.05)
    composer = load_preset("demo", ComposerConfig())
    wavenet = estimate.with_labels(load_preset("demo"), 4)
    context = composer.context_events(estimate.EVENTS_PER_SECOND)
    assert composer.validate_every == 50 and context == 533
    phase = estimate.composer_training(composer, wavenet, 2000, held_out_seconds=180.0)
    assert phase.seconds == pytest.approx(2000 * 0.4 + 41 * 18 * 0.05)
    assert estimate.composer_training(composer, wavenet, 2000).seconds == pytest.approx(800.0)


def test_the_rest_is_re_estimated_at_the_pace_the_machine_kept() -> None:
    done = estimate.Phase("WaveNet training", 600.0, "")
    rest = [estimate.Phase("composer training", 300.0, ""), estimate.Phase("report", 100.0, "")]
    # the machine ran the first phase 1.5 times slower than its probe said: so the rest
    assert estimate.rest_at_pace(done, 900.0, rest) == pytest.approx(600.0)
    assert estimate.rest_at_pace(done, 300.0, rest) == pytest.approx(200.0)
    assert estimate.rest_at_pace(done, 900.0, []) is None  # nothing left
    short = estimate.Phase("WaveNet training", 20.0, "")  # too short to tell a pace
    assert estimate.rest_at_pace(short, 60.0, rest) is None


def test_the_generation_probe_runs_on_the_threads_the_report_generates_on(monkeypatch) -> None:
    """The report generates a batch of up to 8 streams on one thread
    (``threads.for_generation``); its probe timed them on torch's default of one a core,
    three quarters of the speed beside a busy loop. Each of the probe's
    generate calls runs on the report's count, whatever torch's count is before."""
    from wavenet_music.runtime.threads import for_generation, using

    seen: list[int] = []
    real = estimate.generate

    def counted(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(estimate, "generate", counted)
    tiny = estimate.with_labels(load_preset("tiny"), 2)
    with using(2):
        estimate.generation_rate(tiny, 2, probe_seconds=0.01)
        with for_generation(2, estimate.CPU) as report_threads:
            assert report_threads is not None and report_threads.threads == 1
        assert torch.get_num_threads() == 2  # the count before, after the probe
    assert seen and set(seen) == {report_threads.threads}
