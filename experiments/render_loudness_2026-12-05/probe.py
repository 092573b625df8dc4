"""A render with its excitation scaled: python probe.py GAIN LABEL MIDI [RUN]."""
import sys, numpy as np, soundfile as sf
from pathlib import Path
import wavenet_music.wavenet.to_audio as ta
from wavenet_music.cli import main
gain = float(sys.argv[1]); label = sys.argv[2]; midi = sys.argv[3]
f = ta.notes_excitation
ta.notes_excitation = lambda *a, **k: f(*a, **k) * gain
out = Path(f"probe_{label}_{gain}_{Path(midi).stem}.wav")
try:
    main(["render", sys.argv[4] if len(sys.argv) > 4 else "runs/demo", midi, "--out", str(out), "--label", label, "--seed", "3", "--quiet"])
except SystemExit: pass
a, sr = sf.read(out.with_name(f"{out.stem}-{label}.wav"))
played = np.concatenate([a[int(sr*(0.55+0.6*i)):int(sr*(0.95+0.6*i))] for i in range(16)])
print(f"{label} gain {gain} {midi}: notes {20*np.log10(np.sqrt(np.mean(played**2))):.1f} dBFS")
