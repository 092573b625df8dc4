"""Transcribe every render (and the references) and print the table.

Rows: real audio (ceiling); the excitation itself written as audio (channel 1, peak
-1 dBFS: what a network that merely copied its input would score); each arm's render.
Columns per piece: note F1 (mir_eval, onset 50 ms, offsets ignored), pitch-class note F1,
frame pitch-class F1; and the floor of each: the same render scored against the notes
transposed by +1..+11 semitones (mean) — same rhythm, wrong pitch classes.
Notes with onsets inside the 0.096-s prime are not scored.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import soundfile as sf

from common import *
from scoring import midi_notes, note_scores, sound_stats, transcribe

START = 1536 / SR  # end of the prime


def shifted(ref, k):
    return [(s, e, p + k, v) for s, e, p, v in ref]


def score(wav: Path, ref) -> dict:
    est = transcribe(str(wav))
    s = note_scores(ref, est, start=START)
    floor = [note_scores(shifted(ref, k), est, start=START) for k in range(1, 12)]
    for key in ("note_f1", "pc_note_f1", "frame_pc_f1"):
        s[key + "_floor"] = float(np.mean([f[key] for f in floor]))
    audio, _ = sf.read(wav, dtype="float32")
    s.update(sound_stats(audio, 1536))
    return {k: (round(float(v), 3) if not isinstance(v, int) else v) for k, v in s.items()}


def main() -> None:
    runs = sys.argv[1:]
    wavs = ROOT / "wavs"
    wavs.mkdir(exist_ok=True)
    clips = load_split("heldout")
    rows = {}
    for c in clips:
        ref = midi_notes(str(DATA / "heldout" / f"{c.name}.mid"))
        rows.setdefault("real audio (ceiling)", {})[c.name] = score(DATA / "heldout" / f"{c.name}.wav", ref)
        e = c.exc[1, PAD : PAD + len(c.audio)]
        ew = wavs / f"excitation_{c.name}.wav"
        sf.write(ew, 0.89 * e / np.abs(e).max(), SR, subtype="PCM_16")
        rows.setdefault("excitation copied to audio", {})[c.name] = score(ew, ref)
        for run in runs:
            w = wavs / f"{run}_{c.name}.wav"
            if w.exists():
                rows.setdefault(run, {})[c.name] = score(w, ref)
    (ROOT / "scores.json").write_text(json.dumps(rows, indent=1))
    keys = ["note_f1", "note_f1_floor", "pc_note_f1", "frame_pc_f1", "frame_pc_f1_floor", "est_notes", "ref_notes", "rms_dbfs", "flatness"]
    print("row | piece | " + " | ".join(keys))
    for row, per in rows.items():
        for piece, s in per.items():
            print(f"{row} | {piece[:12]} | " + " | ".join(str(s[k]) for k in keys))


if __name__ == "__main__":
    main()
