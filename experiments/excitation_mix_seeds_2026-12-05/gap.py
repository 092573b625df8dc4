"""The gap from a line alone to two lines at velocity 90, render seeds 0-2, for one run.

    cd DIR_WITH_m1_90.mid_AND_m2_90.mid && python gap.py RUN NAME GAIN
(the measurement of ../render_loudness_2026-12-05/seeds.py, one run at a time; GAIN: the
renders' --excitation-gain)
"""
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

run, name, gain = sys.argv[1], sys.argv[2], sys.argv[3]
for label in ["piano", "guitar"]:
    row = []
    for voices in (1, 2):
        vals = []
        for seed in (0, 1, 2):
            out = Path(f"g_{name}_{gain}_{label}_{voices}_{seed}.wav")
            cmd = [sys.executable, "-m", "wavenet_music.cli", "render", run, f"m{voices}_90.mid",
                   "--out", str(out), "--label", label, "--seed", str(seed), "--quiet",
                   "--excitation-gain", gain]
            subprocess.run(cmd, check=True, capture_output=True)
            a, sr = sf.read(out.with_name(f"{out.stem}-{label}.wav"))
            played = np.concatenate([a[int(sr * (0.55 + 0.6 * i)):int(sr * (0.95 + 0.6 * i))]
                                     for i in range(16)])
            vals.append(np.mean(played**2))
        row.append(10 * np.log10(np.mean(vals)))
    print(f"{name:20s} {label:6s} v90: 1 voice {row[0]:6.1f} dBFS, 2 voices {row[1]:6.1f} dBFS, "
          f"gap {row[1] - row[0]:5.1f} dB", flush=True)
