"""The demo report of a run with the WaveNet hearing its notes at another gain and tilt
(the report has no flags for them): ``report_at.py RUN DATA OUT GAIN TILT``."""

import functools
import sys

import wavenet_music.report.composition as composition
from wavenet_music.cli import main

run, data, out, gain, tilt = sys.argv[1:6]
composition.PieceConfig = functools.partial(
    composition.PieceConfig, wavenet_excitation_gain=float(gain), wavenet_treble_tilt=float(tilt)
)
sys.exit(main(["report", run, "--data", data, "--out", out, "--clips", "3", "--seconds", "30"]))
