"""`make demo` end to end, as a user runs it, with budgets CI can afford: corpus → WaveNet
steered by notes (withheld from some windows) → composer of notes → report with composed
pieces (MIDI, piano roll, audio) and plain ones → the quality check. Budgets this small
leave the models untrained, so the check must say so (naming the figures and the command
to train longer) and exit non-zero; a second run with a time cap resumes, is cut short by
the cap and says that too."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from wavenet_music.notes.midi import read_midi
from wavenet_music.wavenet.checkpoint import checkpoint_dirs

from .conftest import HANG_GUARD_S, TEST_CORPUS_MINUTES, finish, launch_hearing_ctrl_c, wait_for

DEMO = Path(__file__).parent.parent / "scripts" / "demo.py"
GENRES = ("ambient", "classical", "guitar", "piano")
EXIT_UNUSABLE = 3


def run_demo(music_root: Path, run: Path, *budget: str) -> subprocess.CompletedProcess:
    command = [
        *(sys.executable, str(DEMO), "--data", str(music_root), "--run", str(run)),
        *("--corpus-minutes", str(TEST_CORPUS_MINUTES), "--seconds", "3", *budget),
    ]
    # a hang guard only: the budgets are steps, so the work is the same on every machine
    return subprocess.run(command, capture_output=True, text=True, timeout=HANG_GUARD_S)


def test_the_demo_reports_and_checks_an_under_trained_result(music_root, tmp_path):
    run = tmp_path / "demo"
    done = run_demo(music_root, run, "--wavenet-steps", "20", "--composer-steps", "20")
    assert done.returncode == EXIT_UNUSABLE, done.stderr[-3000:]
    assert "minutes on this machine from here" in done.stdout  # the estimate, before training
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
    capped = ("--wavenet-steps", "100000", "--composer-steps", "20", "--minutes", "0.02")
    again = run_demo(music_root, run, *capped)
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
        *("--corpus-minutes", str(TEST_CORPUS_MINUTES), "--seconds", "3"),
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
