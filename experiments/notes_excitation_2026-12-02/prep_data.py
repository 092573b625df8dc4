"""Exactly paired piano audio + notes for the excitation experiment.

Scores of the demo corpus (music21) → MIDI → all notes collected, cut to a segment,
shifted so the first onset is at LEAD seconds, re-written as ONE piano MIDI with
pretty_midi → FluidSynth (FluidR3_GM, 44.1 kHz float, as the demo corpus) → mono →
resampled to 16 kHz → peak -1 dBFS. The MIDI written is the MIDI rendered, so notes and
audio align exactly. Plus a few random melody+chord clips (C3-C6).

Writes /tmp/notes_exp/data/{train,heldout}/NAME.{wav,mid} and index.json.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pretty_midi
import soundfile as sf

from wavenet_music.audio.io import mix_to_mono, resample
from wavenet_music.demo_corpus.sources import PIANO_PIECES, SOUNDFONT, RENDER_GAIN, PEAK

OUT = Path("/tmp/notes_exp/data")
SR = 16000
LEAD = 0.05
HELDOUT = {"bach/bwv846", "mozart/k545/movement1_exposition"}
TRAIN_S = 25.0
HELDOUT_S = 10.0


def score_notes(path: str) -> list[pretty_midi.Note]:
    from music21 import corpus

    score = corpus.parse(path).expandRepeats()
    with tempfile.TemporaryDirectory() as tmp:
        mid = Path(tmp) / "s.mid"
        score.write("midi", fp=mid)
        pm = pretty_midi.PrettyMIDI(str(mid))
    notes = [n for inst in pm.instruments if not inst.is_drum for n in inst.notes]
    return sorted(notes, key=lambda n: (n.start, n.pitch))


def cut(notes, seconds):
    t0 = notes[0].start - LEAD
    out = []
    for n in notes:
        s, e = n.start - t0, n.end - t0
        if s >= seconds - 0.05:
            continue
        out.append(pretty_midi.Note(int(n.velocity), int(n.pitch), float(s), float(min(e, seconds))))
    return out


def random_notes(rng: np.random.Generator, seconds: float):
    """A melody (C4-C6) over chords (C3-C5), random durations, random velocities."""
    notes, t = [], LEAD
    while t < seconds - 0.3:
        d = float(rng.choice([0.125, 0.25, 0.25, 0.5, 0.5, 1.0]))
        notes.append(pretty_midi.Note(int(rng.integers(60, 110)), int(rng.integers(60, 85)), t, min(t + d, seconds)))
        t += d
    t = LEAD
    while t < seconds - 0.3:
        d = float(rng.choice([0.5, 1.0, 1.0, 2.0]))
        root = int(rng.integers(48, 66))
        for p in {root, root + int(rng.choice([3, 4])), root + 7}:
            notes.append(pretty_midi.Note(int(rng.integers(50, 100)), p, t, min(t + d, seconds)))
        t += d
    return sorted(notes, key=lambda n: (n.start, n.pitch))


def render(notes, seconds: float, mid_path: Path, wav_path: Path) -> float:
    pm = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    inst = pretty_midi.Instrument(program=0)
    inst.notes = list(notes)
    pm.instruments.append(inst)
    pm.write(str(mid_path))
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "r.wav"
        subprocess.run(
            ["fluidsynth", "-ni", "-q", "-g", str(RENDER_GAIN), "-r", "44100", "-O", "float",
             "-T", "wav", "-F", str(wav), str(SOUNDFONT), str(mid_path)],
            check=True, capture_output=True, timeout=300,
        )
        frames, rate = sf.read(wav, dtype="float32", always_2d=True)
    audio = resample(mix_to_mono(frames), rate, SR)[: round(seconds * SR)]
    if len(audio) < round(seconds * SR):
        audio = np.pad(audio, (0, round(seconds * SR) - len(audio)))
    audio = audio * (PEAK / max(1e-9, float(np.abs(audio).max())))
    sf.write(wav_path, audio, SR, subtype="PCM_16")
    return float(np.sqrt(np.mean(audio**2)))


def main() -> None:
    index = {"train": [], "heldout": []}
    for split in index:
        (OUT / split).mkdir(parents=True, exist_ok=True)
    for piece in PIANO_PIECES:
        split = "heldout" if piece.path in HELDOUT else "train"
        seconds = HELDOUT_S if split == "heldout" else TRAIN_S
        try:
            notes = cut(score_notes(piece.path), seconds)
        except Exception as exc:  # music21 failures: skip, as the corpus does
            print(f"skip {piece.path}: {exc}", file=sys.stderr)
            continue
        name = piece.path.replace("/", "_").lower()
        rms = render(notes, seconds, OUT / split / f"{name}.mid", OUT / split / f"{name}.wav")
        index[split].append({"name": name, "seconds": seconds, "notes": len(notes), "rms": rms})
        print(split, name, len(notes), f"rms {rms:.3f}", flush=True)
    rng = np.random.default_rng(17)
    for i in range(6):
        notes = random_notes(rng, 10.0)
        name = f"random_{i}"
        rms = render(notes, 10.0, OUT / "train" / f"{name}.mid", OUT / "train" / f"{name}.wav")
        index["train"].append({"name": name, "seconds": 10.0, "notes": len(notes), "rms": rms})
        print("train", name, len(notes), f"rms {rms:.3f}", flush=True)
    (OUT / "index.json").write_text(json.dumps(index, indent=1))


if __name__ == "__main__":
    main()
