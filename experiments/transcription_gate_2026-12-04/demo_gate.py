"""The package's gate (``TranscriptionSettings``' defaults) against no gate, on the same
activations: notes removed per demo genre (each named), note F1 against the .mid beside a
recording or a report's composed piece, and notes left on noise and odd files.

    python demo_gate.py DEMO_DIR [REPORT_DIR]
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
from measure import noises

from wavenet_music.audio.io import load_audio
from wavenet_music.notes import transcribe as tr
from wavenet_music.notes.midi import read_midi
from wavenet_music.notes.score import score_notes

GATED = tr.TranscriptionSettings()
UNGATED = replace(GATED, floor_dbfs=None, range_db=None)


def both(audio: np.ndarray) -> tuple[list, list, np.ndarray]:
    """(ungated notes, gated notes, frame levels) of (T,) audio at 22,050 Hz."""
    notes, onsets = tr.activations(audio)
    events = tr.note_events(notes, onsets, GATED)
    levels = tr.frame_levels(audio, len(notes))
    return (
        tr.to_notes(tr.audible(events, levels, UNGATED), len(notes)),
        tr.to_notes(tr.audible(events, levels, GATED), len(notes)),
        levels,
    )


def compare(path: Path, midi: Path | None) -> tuple[int, int, str]:
    audio = load_audio(path, tr.SAMPLE_RATE)
    ungated, gated, levels = both(audio)
    removed = [n for n in ungated if n not in gated]
    where = ", ".join(f"{n.pitch} at {n.onset:.2f}-{n.offset:.2f} s" for n in removed)
    f1 = ""
    if midi is not None and midi.exists():
        reference = read_midi(midi)
        f1 = f" F1 {score_notes(reference, ungated).note_f1:.4f} -> {score_notes(reference, gated).note_f1:.4f}"
    gate = GATED.gate_dbfs(float(levels.max()))
    print(
        f"  {path.name}: {len(ungated)} notes, {len(removed)} removed (gate {gate:.1f} dBFS){f1} {where}"
    )
    return len(ungated), len(removed), f1


def main(demo: Path, report: Path | None) -> None:
    print("gate:", GATED.floor_dbfs, "dBFS floor,", GATED.range_db, "dB range")
    for genre in ("ambient", "classical", "guitar", "piano"):
        print(genre)
        counts = [compare(p, p.with_suffix(".mid")) for p in sorted((demo / genre).glob("*.flac"))]
        print(
            f"  {genre}: {sum(c[1] for c in counts)} of {sum(c[0] for c in counts)} notes removed"
        )
    if report is not None:
        print("report", report)
        counts = [compare(p, p.with_suffix(".mid")) for p in sorted(report.glob("*.wav"))]
        print(f"  report: {sum(c[1] for c in counts)} of {sum(c[0] for c in counts)} notes removed")
    print("noise alone (10 s), notes ungated -> gated")
    for name, audio in noises():
        ungated, gated, _ = both(audio)
        print(f"  {name} dBFS: {len(ungated)} -> {len(gated)}")
    odd = Path("/tmp/hostileD/odd")
    for name in ("stereo_48k", "stereo_opposite_phase", "silence_60s_then_note", "u8", "mono_8k"):
        ungated, gated, _ = both(load_audio(odd / f"{name}.wav", tr.SAMPLE_RATE))
        show = lambda notes: [(n.pitch, round(n.onset, 2)) for n in notes]  # noqa: E731
        print(f"  {name}: {show(ungated)} -> {show(gated)}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else None)
