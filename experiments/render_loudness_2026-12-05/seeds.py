"""The gap from a line alone to two lines at velocity 90, seeds 0-2, for two runs.

    python seeds.py SUM_RUN EQUAL_POWER_RUN   (after render_levels.py wrote the MIDI here)
"""
import subprocess, sys, numpy as np, soundfile as sf
from pathlib import Path
runs = {"sum (d8db040 demo)": sys.argv[1], "equal_power": sys.argv[2]}
for name, run in runs.items():
    for label in ["piano", "guitar"]:
        row = []
        for voices in (1, 2):
            vals = []
            for seed in (0, 1, 2):
                out = Path(f"s_{label}_{voices}_{seed}_{Path(run).parent.name}.wav")
                cmd = [sys.executable, "-m", "wavenet_music.cli", "render", run, f"m{voices}_90.mid", "--out", str(out), "--label", label, "--seed", str(seed), "--quiet"]
                subprocess.run(cmd, check=True, capture_output=True)
                a, sr = sf.read(out.with_name(f"{out.stem}-{label}.wav"))
                played = np.concatenate([a[int(sr*(0.55+0.6*i)):int(sr*(0.95+0.6*i))] for i in range(16)])
                vals.append(np.mean(played**2))
            row.append(10*np.log10(np.mean(vals)))
        print(f"{name:20s} {label:6s} v90: 1 voice {row[0]:6.1f} dBFS, 2 voices {row[1]:6.1f} dBFS, gap {row[1]-row[0]:5.1f} dB", flush=True)
