"""`make demo` end to end, as a user runs it, with budgets CI can afford: corpus → WaveNet
steered by notes (withheld from some windows) → composer of notes → report with composed
pieces (MIDI, piano roll, audio) and plain ones → the quality check. Budgets this small
leave the models untrained, so the check must say so (naming the figures and the command
to train longer) and exit non-zero; a second run with a time cap resumes, is cut short by
the cap and says that too."""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from wavenet_music.cli import main
from wavenet_music.notes.midi import read_midi
from wavenet_music.report.estimate import Phase
from wavenet_music.wavenet.checkpoint import checkpoint_dirs

from .conftest import (
    HANG_GUARD_S,
    TEST_CORPUS_MINUTES,
    TINY_MODEL_FLAGS,
    finish,
    launch_hearing_ctrl_c,
    wait_for,
)

DEMO = Path(__file__).parent.parent / "scripts" / "demo.py"
GENRES = ("ambient", "classical", "guitar", "piano")
EXIT_UNUSABLE = 3
# the demo's speed probe: long enough to time a step, no longer (the tests check the plan
# is said and the phases timed, not how near it comes)
PROBE = ("--probe-seconds", "1")


def run_demo(
    music_root: Path, run: Path, *budget: str, seconds: float = 3
) -> subprocess.CompletedProcess:
    command = [
        *(sys.executable, str(DEMO), "--data", str(music_root), "--run", str(run)),
        *("--corpus-minutes", str(TEST_CORPUS_MINUTES), "--seconds", f"{seconds:g}", *PROBE),
        *budget,
    ]
    # a hang guard only: the budgets are steps, so the work is the same on every machine
    return subprocess.run(command, capture_output=True, text=True, timeout=HANG_GUARD_S)


def test_the_demo_reports_and_checks_an_under_trained_result(music_root, tmp_path):
    run = tmp_path / "demo"
    done = run_demo(music_root, run, "--wavenet-steps", "20", "--composer-steps", "20")
    assert done.returncode == EXIT_UNUSABLE, done.stderr[-3000:]
    assert " on this machine from here:" in done.stdout  # the estimate, before training
    assert "WaveNet training took" in done.stdout  # and what each phase took, as it ends
    report = run / "report" / "index.html"
    assert f"listening report: {report.resolve()}" in done.stdout
    commands = [line for line in done.stdout.splitlines() if line.startswith("$ wavenet-music")]
    assert any(c.startswith("$ wavenet-music train ") and "--preset demo" in c for c in commands)
    assert any("train-composer" in c and "--preset demo" in c for c in commands)
    assert "--steps 20" in done.stdout
    # the check names each figure beyond its bound and the command to train longer
    assert "WARNING: the result is not usable yet" in done.stderr
    assert "bits per sample: above" in done.stderr
    assert "train longer: python scripts/demo.py" in done.stderr
    assert "--wavenet-steps 40" in done.stderr
    summary = json.loads((run / "report" / "summary.json").read_text())
    assert summary["trained_steps"] == summary["planned_steps"] == 20
    assert summary["misses"] and all(m in done.stderr for m in summary["misses"])
    text = report.read_text()
    assert "Quality check: not usable yet" in text and "Composed pieces (3 s)" in text
    for genre in GENRES:
        composed, rate = sf.read(run / "report" / f"{genre}-composed-1.wav")
        plain, _ = sf.read(run / "report" / f"{genre}-plain-1.wav")
        assert rate == 16000 and len(composed) == len(plain) == 48_000
        assert np.abs(composed).max() > 0.01  # not silence
        # three pieces per genre, each its own draw: the check reads their mean
        third, _ = sf.read(run / "report" / f"{genre}-composed-3.wav")
        assert len(third) == 48_000 and not np.array_equal(third, composed)
        # the demo plays notes: each composed piece's MIDI and piano roll, linked
        notes = read_midi(run / "report" / f"{genre}-composed-1.mid")
        assert notes and all(0 <= n.onset < 3.0 for n in notes)
        assert f'href="{genre}-composed-1.mid"' in text
        assert f'src="{genre}-composed-1-notes.png"' in text

    # more steps, but a time cap far too short for them: resumed, cut short, said plainly
    # (in a report of 1-s pieces: its headline is what this reads)
    capped = ("--wavenet-steps", "100000", "--composer-steps", "20", "--minutes", "0.02")
    again = run_demo(music_root, run, *capped, seconds=1)
    assert again.returncode == EXIT_UNUSABLE, again.stderr[-3000:]
    assert "--resume" in again.stdout and report.is_file()
    assert "under-trained: the time cap" in again.stderr  # from training
    assert "finish the planned steps: run the same command again without a time cap" in (
        again.stderr
    )
    summary = json.loads((run / "report" / "summary.json").read_text())
    assert summary["planned_steps"] == 100_000 and 20 <= summary["trained_steps"] < 100_000
    assert summary["misses"][0].startswith(
        f"under-trained: {summary['trained_steps']:,} of 100,000"
    )
    assert "under-trained:" in report.read_text()


def test_ctrl_c_while_the_demo_trains_stops_the_demo_there(music_root, tmp_path):
    """Training ends gracefully on Ctrl-C (a checkpoint, exit 0): the demo went on to the
    composer and a report of the cut run, and a second Ctrl-C was needed. It stops."""
    run = tmp_path / "demo"
    command = [
        *(sys.executable, str(DEMO), "--data", str(music_root), "--run", str(run)),
        *("--corpus-minutes", str(TEST_CORPUS_MINUTES), "--seconds", "3", *PROBE),
        *("--wavenet-steps", "100000", "--composer-steps", "20"),
    ]
    process = launch_hearing_ctrl_c(command)
    wait_for(lambda: (run / "metrics.jsonl").is_file(), process)  # training has begun
    process.send_signal(signal.SIGINT)
    out, err = finish(process)
    assert process.returncode == 130, err[-3000:]
    assert "demo: stopped;" in err and "run the same command again" in err
    assert "Traceback" not in err and "train-composer" not in out
    assert checkpoint_dirs(run) and not (run / "report").exists()


# --- the demo's own lines, called in-process (no corpus built, nothing measured) ---------------


def load_demo():
    spec = importlib.util.spec_from_file_location("demo", DEMO)
    assert spec is not None and spec.loader is not None
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    return demo


def tiny_train(data: Path, run: Path, *flags: str) -> list[str]:
    """``train`` arguments of a tiny run (the tiny preset warms up for 50 steps)."""
    cache = ["--cache-dir", str(run.parent / "cache")]
    return [
        "train",
        str(data),
        "--run",
        str(run),
        "--preset",
        "tiny",
        *TINY_MODEL_FLAGS,
        *cache,
        *flags,
    ]


def test_durations_read_in_whole_minutes_with_their_plural(tmp_path, capsys):
    """It printed "about 1 minutes" (and "about 0 minutes")."""
    demo = load_demo()
    said = [demo.about_minutes(s) for s in (10, 60, 89, 91, 600)]
    assert said == [
        "under a minute",
        "about 1 minute",
        "about 1 minute",
        "about 2 minutes",
        "about 10 minutes",
    ]
    args = argparse.Namespace(minutes=None)
    demo.say_plan([Phase("WaveNet training", 45.0, "x"), Phase("report", 20.0, "y")], args)
    assert "\nabout 1 minute on this machine from here:" in capsys.readouterr().out


def test_a_budget_inside_the_warm_up_is_advised_in_the_demo_s_own_flags(
    music_root, tmp_path, capsys
):
    """Two steps of a 50-step warm-up: the advice was "lower --warmup-steps", a flag the
    demo does not have."""
    demo = load_demo()
    demo.run_cli(*tiny_train(music_root / "piano", tmp_path / "run", "--steps", "2"))
    err = capsys.readouterr().err
    [line] = [line for line in err.splitlines() if "warmup_steps" in line]
    assert line.endswith(f"; {demo.WARMUP_ADVICE}") and "--warmup-steps" not in line
    assert "--wavenet-steps" in demo.WARMUP_ADVICE


def test_the_plan_counts_the_steps_a_resume_goes_on_from(music_root, tmp_path, monkeypatch):
    """A damaged newest checkpoint was counted as trained (the resume goes on from the one
    before), and a composer trained part way as finished: 0 steps to go, about 1 minute."""
    demo = load_demo()
    run = tmp_path / "run"
    args = tiny_train(music_root / "piano", run, "--steps", "2", "--checkpoint-every", "1")
    assert main([*args, "--quiet"]) == 0
    first, newest = checkpoint_dirs(run)
    weights = newest / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-8] + bytes(8))  # damaged: its hash fails
    shutil.copytree(first, run / "composer" / first.name)  # verifies; the plan reads its step
    planned = {}

    def training(config, steps, speed):
        planned["wavenet"] = steps
        return Phase("WaveNet training", 60.0, "")

    def composing(composer, config, steps, device, held_out, probe_seconds):
        planned["composer"] = steps
        return Phase("composer training", 60.0, "")

    monkeypatch.setattr(demo.estimate, "wavenet_step_seconds", lambda *args: (1, 1))
    monkeypatch.setattr(demo.estimate, "wavenet_training", training)
    monkeypatch.setattr(demo.estimate, "composer_training", composing)
    monkeypatch.setattr(demo.estimate, "report", lambda *a, **k: Phase("report", 60.0, ""))
    budget = {
        "wavenet_steps": 10,
        "composer_steps": 30,
        "seconds": 3.0,
        "minutes": None,
        "probe_seconds": 1.0,
    }
    demo.plan(argparse.Namespace(run=run, data=music_root / "piano", **budget))
    assert planned == {"wavenet": 9, "composer": 29}  # it said 8 and 0
    assert demo.trained_steps(run) == 1
