"""Does hearing the treble louder make the WaveNet play it? The demo report's composed
notes rendered with the excitation tilted up above G4 (TILTS dB an octave), at gain 3,
one batch a run; note F1, recall of the notes at or above C5 and below, by transcription.

    python tilt.py REPORT_DIR RUN [RUN ...]
"""

import sys
import time
from pathlib import Path

import numpy as np
import torch

import wavenet_music.notes.excitation as excitation
from wavenet_music.audio.io import mu_law_decode
from wavenet_music.config import MAX_JUMP, NOTE_EXCITATION_GAIN, NOTE_FLOOR, NOTE_TEMPERATURE_SCALE
from wavenet_music.notes.features import NoteStore
from wavenet_music.notes.midi import read_midi
from wavenet_music.notes.score import score_notes, transcribe_audio
from wavenet_music.wavenet.checkpoint import load_model
from wavenet_music.wavenet.discovery import label_positions
from wavenet_music.wavenet.generate import generate
from wavenet_music.wavenet.to_audio import note_floors, note_temperatures, pieces_steering

TILTS = (0.0, 4.0, 8.0, 12.0)  # dB an octave above PIVOT
PIVOT = 67  # G4
TREBLE = 72  # C5
SECONDS = 30.0
plain_tone = excitation._note_tone


def tilted(db_per_octave):
    def tone(note, *args, **kwargs):
        gain = 10 ** (db_per_octave / 20 * max(0, note.pitch - PIVOT) / 12)
        return gain * plain_tone(note, *args, **kwargs)

    return tone


def hit_rates(reference, heard):
    """Recall of the reference notes at or above TREBLE and below (pitch, onset ±50 ms)."""
    out = []
    for treble in (True, False):
        part = [n for n in reference if (n.pitch >= TREBLE) == treble]
        hits = [
            any(e.pitch == n.pitch and abs(e.onset - n.onset) <= 0.05 for e in heard) for n in part
        ]
        out.append((float(np.mean(hits)) if hits else float("nan"), len(part)))
    return out


report = Path(sys.argv[1])
mids = [m for m in sorted(report.glob("*-composed-*.mid")) if not m.name.startswith("ambient")]
genres = [m.name.split("-")[0] for m in mids]
pieces = [read_midi(m) for m in mids]
for run in map(Path, sys.argv[2:]):
    start = time.time()
    model, config = load_model(run)
    rate = config.data.sample_rate
    length = round(SECONDS * rate)
    features, heard = [], []
    for tilt in TILTS:
        excitation._note_tone = tilted(tilt)
        f, h = pieces_steering(pieces, config, length, NOTE_EXCITATION_GAIN)
        features.append(f)
        heard.append(h)
    excitation._note_tone = plain_tone
    every = pieces * len(TILTS)
    labels = torch.tensor(label_positions(config.model.global_labels, genres * len(TILTS)))
    classes = generate(
        model,
        length,
        len(every),
        temperature=1.0,
        generator=torch.Generator().manual_seed(0),
        labels=labels,
        features=torch.cat(features),
        excitation=torch.cat(heard),
        silence=NoteStore.silence,
        floors=note_floors(every, length, rate, NOTE_FLOOR),
        temperatures=note_temperatures(every, length, rate, 1.0, NOTE_TEMPERATURE_SCALE),
        max_jump=MAX_JUMP,
    )
    renders = mu_law_decode(classes.cpu().numpy(), config.model.quantization_channels)
    print(f"{run.name} [{time.time() - start:.0f} s]", flush=True)
    for i, tilt in enumerate(TILTS):
        rows = {}
        for k, (notes, genre) in enumerate(zip(pieces, genres, strict=True)):
            audio = renders[i * len(pieces) + k]
            estimate = transcribe_audio(audio, rate)
            f1 = score_notes(notes, estimate, 0.0, SECONDS).note_f1
            (treble, _), (rest, _) = hit_rates(notes, estimate)
            top = max((e.pitch for e in estimate), default=0)
            db = 20 * np.log10(max(float(np.sqrt(np.mean(audio**2))), 1e-6))
            rows.setdefault(genre, []).append((f1, treble, rest, top, db))
        text = "; ".join(
            f"{g} F1 {np.mean([r[0] for r in v]):.2f} treble {np.nanmean([r[1] for r in v]):.2f}"
            f" below {np.mean([r[2] for r in v]):.2f} top {max(r[3] for r in v)}"
            f" {np.mean([r[4] for r in v]):.1f} dBFS"
            for g, v in sorted(rows.items())
        )
        print(f"  tilt {tilt:4.1f} dB/oct: {text}", flush=True)
