"""Render a composed MIDI with its excitation scaled; score what reaches the ear.
python gain_probe.py RUN LABEL MIDI GAIN [GAIN ...]"""
import sys, numpy as np, soundfile as sf
from pathlib import Path
import wavenet_music.wavenet.to_audio as ta
from wavenet_music.cli import main
from wavenet_music.notes.midi import read_midi
from wavenet_music.report.notes import heard_figures
from wavenet_music.audio.spectral import clip_statistics, shape_and_level
import glob
run, label, midi = sys.argv[1:4]
f = ta.notes_excitation
for gain in map(float, sys.argv[4:]):
    ta.notes_excitation = lambda *a, **k: f(*a, **k) * gain
    out = Path(f"g_{label}_{gain}.wav")
    try:
        main(["render", run, midi, "--out", str(out), "--label", label, "--seed", "3", "--quiet"])
    except SystemExit: pass
    a, sr = sf.read(out.with_name(f"{out.stem}-{label}.wav"), dtype="float32")
    h = heard_figures([read_midi(Path(midi))], a[None], sr)
    rms = 20*np.log10(np.sqrt(np.mean(a**2)))
    st = clip_statistics(a, sr)
    real = [sf.read(p, dtype="float32")[0] for p in sorted(glob.glob(str(Path(midi).parent / f"{label}-real-*.wav")))]
    shape, level = shape_and_level([a], real, sr)
    print(f"{label} gain {gain}: note F1 {h['note_f1']:.2f} frame pc {h['frame_pitch_class_f1']:.2f} "
          f"notes/s {h['notes_per_second']:.1f} keys {h['low_pitch']:.0f}-{h['high_pitch']:.0f} rms {rms:.1f} flatness {st['flatness']:.3f} clicks/s {st['clicks_per_s']:.2f} shape {shape:.1f} dB level {level:.1f} dB", flush=True)
