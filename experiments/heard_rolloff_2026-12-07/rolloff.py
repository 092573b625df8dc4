"""The notes' harmonics heard brighter while generating: amplitude ``1 / h ** ROLLOFF``
instead of the excitation's ``1 / h`` (training keeps ``1 / h``).

    ROLLOFF=0.5 [NORM=1] SEED=3 python rolloff.py RUN REPORT SECONDS
    ROLLOFF=0.5 [NORM=1] python rolloff.py report RUN --data DATA --out DIR [report's flags]

Renders as ``../onset_channel_2026-12-06/onset.py render`` does (the first SECONDS of the
report's composed MIDI files, one batch, the report's sampling, no noise guard) and prints
the same figures. Hearing harmonics 1-12 where training named 1-4 played more of the
notes (``../excitation_partials_2026-12-06``); the composed piano lacks 2-5 kHz. Does a
brighter excitation make the WaveNet play brighter, and more of its notes?
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))
sys.path.insert(0, str(HERE.parent / "onset_channel_2026-12-06"))

import onset  # noqa: E402

import wavenet_music.notes.excitation as excitation_module  # noqa: E402

ROLLOFF = float(os.environ.get("ROLLOFF", "1"))  # 1: the package's 1 / h
# NORM=1: the harmonics' sum scaled to the power it has at 1 / h (brighter, not louder)
NORM = os.environ.get("NORM") == "1"


def bright_tone(
    note, onset_sample, offset, samples, sample_rate, harmonics, phases=None, rolloff=1.0
):
    """``excitation._note_tone`` with harmonic ``h`` at ``1 / h ** ROLLOFF`` (the package's
    ``rolloff``, ``NOTE_HEARD_ROLLOFF`` since 2026-12-07, is ignored: ROLLOFF rules)."""
    f = excitation_module.frequency(note.pitch)
    t = (samples - onset_sample) / sample_rate  # (n,)
    heard = excitation_module._harmonics(note.pitch, sample_rate, harmonics)
    partials = [np.sin(2 * np.pi * h * f * t) for h in heard]  # generation: phase 0
    fundamental = partials[0] if partials else np.sin(2 * np.pi * f * t)
    tone = np.zeros_like(t) + sum(p / h**ROLLOFF for h, p in enumerate(partials, start=1))
    if NORM and heard:
        tone *= np.sqrt(sum(h**-2.0 for h in heard) / sum(h ** (-2 * ROLLOFF) for h in heard))
    amplitude = note.velocity / 127 * excitation_module._envelope(samples, offset, sample_rate)
    decaying = tone * np.exp(-t / excitation_module.DECAY)
    return amplitude * np.stack([fundamental, tone, decaying])  # (3, n)


if __name__ == "__main__":
    excitation_module._note_tone = bright_tone
    if sys.argv[1] == "report":  # the package's report, every note heard so
        from wavenet_music.cli import main

        sys.exit(main(sys.argv[1:]))
    onset.render(Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3]))
