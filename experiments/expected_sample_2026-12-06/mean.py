"""Render a composed MIDI file and write, beside the drawn samples, the expected value of
each sample's distribution (the one it was drawn from: temperature, floor and jump limit
applied), and a local mean (the distribution's mean within K classes of the drawn one).
The WaveNet hears its drawn samples either way: only what is written differs.

python mean.py RUN LABEL MIDI SECONDS SEED [K ...]   (eager engine, no redraws)
MIDI "plain": plain WaveNet (generate, no notes), scored against the genre's real excerpts."""
import glob
import json
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

import wavenet_music.wavenet.incremental as inc
from wavenet_music.audio.finish import for_listening
from wavenet_music.audio.io import decode_table
from wavenet_music.audio.spectral import clip_statistics, shape_and_level
from wavenet_music.cli import main
from wavenet_music.notes.midi import read_midi
from wavenet_music.report.notes import heard_figures

run, label, midi, seconds, seed = sys.argv[1:6]
ks = [int(k) for k in sys.argv[6:]]
values = torch.from_numpy(decode_table(256).astype(np.float64))  # (Q,)
means, drawn_p = [], []
original = inc.IncrementalWaveNet.draw


def draw(self, logits, previous, temperature, generator, floor=None, inverse=None, jumps=None, u=None):
    lg, temp = inc.steered(logits.clone(), previous, temperature, inverse, jumps)
    p = inc.probabilities(lg, temp)  # (B, Q) float64
    if floor is not None:
        p = (p - floor.to(p)[:, None]).clamp_(min=0)
    p = p / p.sum(dim=1, keepdim=True)
    x = original(self, logits, previous, temperature, generator, floor, inverse, jumps, u)
    means.append((p @ values).numpy().copy())
    drawn_p.append((p.numpy().copy().astype(np.float32), x.numpy().copy()))
    return x


inc.IncrementalWaveNet.draw = draw
out = Path(f"m_{label}_{seed}.wav")
plain = midi == "plain"
command = ["generate", run] if plain else ["render", run, midi]
try:
    main([*command, "--out", str(out), "--label", label, "--seed", seed, "--quiet",
          "--engine", "eager", "--redraw-noise", "0", "--seconds", seconds])
except SystemExit:
    pass
rate = 16000
drawn_audio, _ = sf.read(out.with_name(f"{out.stem}-{label}.wav"), dtype="float32")
clips = {"drawn": drawn_audio, "mean": for_listening(np.array([m[0] for m in means]), rate)}
for k in ks:
    local = []
    for p, x in drawn_p:
        c = int(x[0])
        lo, hi = max(0, c - k), min(255, c + k) + 1
        w = p[0, lo:hi].astype(np.float64)
        local.append(float(w @ values[lo:hi].numpy() / w.sum()) if w.sum() > 0 else float(values[c]))
    clips[f"local{k}"] = for_listening(np.array(local), rate)
notes = [] if plain else [n for n in read_midi(Path(midi)) if n.onset < float(seconds)]
report = Path(run) / "report"
real = [sf.read(p, dtype="float32")[0] for p in sorted(glob.glob(str(report / f"{label}-real-*.wav")))]
for name, a in clips.items():
    sf.write(f"m_{label}_{seed}_{name}.wav", a, rate)
    h = heard_figures([notes], a[None], rate) if notes else {"note_f1": 0.0, "frame_pitch_class_f1": 0.0, "notes_per_second": 0.0}
    st = clip_statistics(a, rate)
    shape, level = shape_and_level([a], real, rate)
    row = dict(label=label, seed=int(seed), kind=name, plain=plain, note_f1=h["note_f1"],
               pc_f1=h["frame_pitch_class_f1"], notes_per_s=h["notes_per_second"],
               rms_db=st["rms_db"], flatness=st["flatness"], centroid=st["centroid_hz"],
               shape=shape, level=level)
    print(json.dumps(row), flush=True)
