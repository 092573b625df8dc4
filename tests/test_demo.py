"""`make demo` end to end, as a user runs it, with budgets CI can afford: corpus → steered
WaveNet (features withheld from some windows) → composer → report with composed and
plain pieces; a second run resumes and only writes the report again."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from .conftest import TEST_CORPUS_MINUTES

DEMO = Path(__file__).parent.parent / "scripts" / "demo.py"
GENRES = ("ambient", "classical", "guitar", "piano")


def run_demo(music_root: Path, run: Path) -> subprocess.CompletedProcess:
    command = [
        *(sys.executable, str(DEMO), "--data", str(music_root), "--run", str(run)),
        *("--corpus-minutes", str(TEST_CORPUS_MINUTES), "--minutes", "0.2", "--seconds", "3"),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=900)


def test_the_demo_ends_with_a_report_of_composed_and_plain_pieces(music_root, tmp_path):
    run = tmp_path / "demo"
    done = run_demo(music_root, run)
    assert done.returncode == 0, done.stderr[-3000:]
    report = run / "report" / "index.html"
    assert f"listening report: {report.resolve()}" in done.stdout
    assert "$ wavenet-music train-composer" in done.stdout and "--transpose true" in done.stdout
    text = report.read_text()
    assert "Composed pieces (3 s)" in text
    for genre in GENRES:
        composed, rate = sf.read(run / "report" / f"{genre}-composed-1.wav")
        plain, _ = sf.read(run / "report" / f"{genre}-plain-1.wav")
        assert rate == 16000 and len(composed) == len(plain) == 48_000
        assert np.abs(composed).max() > 0.01  # not silence
    again = run_demo(music_root, run)  # resumes: nothing left to train, report again
    assert again.returncode == 0, again.stderr[-3000:]
    assert "--resume" in again.stdout and report.is_file()
