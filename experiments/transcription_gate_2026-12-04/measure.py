"""Per-note levels of basic-pitch's notes (ungated) on the demo corpus and on noise, written
as JSON lines: one row per recording with each note's level features.

    python measure.py DEMO_DIR levels.jsonl

Each note's level: the RMS of the audio the model saw (22,050 Hz) in 2 * HOP-sample frames
centred on the model's frames, over the note's frames; "peak" is the loudest of those frames
(dBFS, full scale = 1.0), "median" their median. The recording's loud level: the 95th
percentile of all its frames' RMS (dBFS) and the loudest frame.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from wavenet_music.audio.io import load_audio
from wavenet_music.notes import transcribe as tr
from wavenet_music.notes.midi import read_midi

SR, HOP = tr.SAMPLE_RATE, tr.HOP


def frame_db(audio: np.ndarray, frames: int) -> np.ndarray:
    """(frames,) RMS dBFS of audio in 2 * HOP samples centred on each model frame."""
    centres = np.round(tr.frame_times(frames) * SR).astype(np.int64)
    power = np.concatenate([[0.0], np.cumsum(audio.astype(np.float64) ** 2)])
    lo = np.clip(centres - HOP, 0, audio.size)
    hi = np.clip(centres + HOP, 0, audio.size)
    mean = (power[hi] - power[lo]) / np.maximum(hi - lo, 1)
    return 10 * np.log10(np.maximum(mean, 1e-20))


def rows(audio: np.ndarray, name: str, genre: str, midi: Path | None = None) -> dict:
    notes, onsets = tr.activations(audio)
    events = tr.note_events(notes, onsets, tr.TranscriptionSettings())
    db = frame_db(audio, len(notes))
    times = tr.frame_times(len(notes) + 1)
    out = []
    for first, end, key, amp in events:
        span = db[first:end]
        out.append(
            dict(
                onset=float(times[first]),
                offset=float(times[end]),
                pitch=21 + key,
                amp=amp,
                peak=float(span.max()),
                median=float(np.median(span)),
            )
        )
    row = dict(
        genre=genre,
        name=name,
        seconds=audio.size / SR,
        p95=float(np.percentile(db, 95)),
        loudest=float(db.max()),
        notes=out,
    )
    if midi is not None:
        row["reference"] = [(n.onset, n.offset, n.pitch) for n in read_midi(midi)]
    return row


def noises(seconds: float = 10.0):
    """White, pink and brown noise (10 s) at RMS -40..-100 dBFS, seed 0."""
    rng = np.random.default_rng(0)
    n = int(seconds * SR)
    white = rng.standard_normal(n)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.maximum(np.fft.rfftfreq(n, 1 / SR), 20.0)
    pink = np.fft.irfft(spectrum / np.sqrt(f), n)
    brown = np.fft.irfft(spectrum / f, n)
    for colour, base in (("white", white), ("pink", pink), ("brown", brown)):
        base = base / np.sqrt(np.mean(base**2))
        for level in (-40, -50, -60, -70, -80, -90, -100):
            yield f"{colour} {level}", (base * 10 ** (level / 20)).astype(np.float32)


def main(demo: Path, out: Path) -> None:
    with out.open("w") as f:
        for path in sorted(demo.glob("*/*.flac")):
            midi = path.with_suffix(".mid")
            audio = load_audio(path, SR)
            row = rows(audio, path.name, path.parent.name, midi if midi.exists() else None)
            f.write(json.dumps(row) + "\n")
            print(path.parent.name, path.name, len(row["notes"]), flush=True)
        for name, audio in noises():
            row = rows(audio, name, "noise")
            f.write(json.dumps(row) + "\n")
            print(name, len(row["notes"]), flush=True)
        odd = Path("/tmp/hostileD/odd")
        for name in ("stereo_48k", "stereo_opposite_phase", "silence_60s_then_note", "u8"):
            audio = load_audio(odd / f"{name}.wav", SR)
            row = rows(audio, name, "odd")
            f.write(json.dumps(row) + "\n")
            print(name, len(row["notes"]), flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
