"""How faithfully a demo report's composed WAVs play the MIDI file beside each: note F1,
pitch-class F1 and frame pitch-class F1 of the WAV's transcription (basic-pitch) against
the MIDI, and the chance level (the MIDI transposed 1-11 semitones), mean per genre.

    python composed_follow.py REPORT_DIR [REPORT_DIR ...]
"""
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from wavenet_music.notes.midi import read_midi
from wavenet_music.notes.score import follows

for report in map(Path, sys.argv[1:]):
    print(report)
    genres = sorted({p.name.split("-")[0] for p in report.glob("*-composed-*.mid")})
    for genre in genres:
        rows, floors = [], []
        for mid in sorted(report.glob(f"{genre}-composed-*.mid")):
            audio, rate = sf.read(mid.with_suffix(".wav"), dtype="float32")
            scores, floor = follows(read_midi(mid), audio, rate)
            rows.append((scores.note_f1, scores.pitch_class_f1, scores.frame_pitch_class_f1))
            floors.append(floor.frame_pitch_class_f1)
        each = " ".join(f"{r[0]:.2f}" for r in rows)
        mean = np.mean(rows, axis=0)
        print(f"  {genre:10s} note F1 {mean[0]:.3f} ({each}), pitch-class {mean[1]:.3f}, "
              f"frame pitch-class {mean[2]:.3f} (chance {np.mean(floors):.3f})", flush=True)
