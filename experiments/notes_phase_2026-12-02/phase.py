"""Why the WaveNet never started the treble, and the excitation in the recording's phase
that fixes it (issue 17).

    python phase.py consistency DATA                 # the diagnosis: phase by register
    python phase.py score CHECKPOINT --held DIR      # score.py of notes_pre_emphasis

The excitation that generation plays starts every note at phase 0 on its onset sample.
The recordings do not: a FluidSynth render (and any transcription) places a note's
attack within a millisecond or two of its MIDI onset, a fraction of a cycle of a bass
note but several cycles of a treble one. ``consistency`` measures it: for the notes of
one pitch, how alike the phase of the recording's fundamental is 10-60 ms after the
onset, against that excitation. So in training the excitation told a WaveNet trained by
likelihood the waveform of its bass notes and not that of its treble. The package's
``train.excitation_phase: recording`` (in the ``notes`` preset; ``start``, the phase each
note starts in, in the ``demo`` preset; see ``wavenet_music/notes/excitation.py``) takes
each partial's phase from the recording in training; generation is unchanged. The runs
and scores: ``run.sh`` and README.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "experiments" / "notes_pre_emphasis_2026-12-02"))

from wavenet_music.audio.io import load_audio  # noqa: E402
from wavenet_music.notes import excitation as ex  # noqa: E402
from wavenet_music.notes.midi import read_midi  # noqa: E402

REGISTERS = ((21, 48), (48, 60), (60, 72), (72, 84), (84, 109))


def consistency(data: Path, sr: int = 16000) -> None:
    """Phase of each note's fundamental 10-60 ms after its onset against the package's
    excitation (phase 0 at the onset): the mean resultant length R over the notes of one
    pitch (1: always the same phase; chance about 1/sqrt(count)), averaged by register."""
    pitch, unit = [], []
    for mid in sorted(data.rglob("*.mid")):
        audio = load_audio(mid.with_suffix(".flac"), sr)
        for n in read_midi(mid):
            s = round(n.onset * sr)
            k = np.arange(s + sr // 100, s + 6 * sr // 100)
            if k[-1] >= len(audio) or n.offset - n.onset < 0.06:
                continue
            base = 2 * np.pi * ex.frequency(n.pitch) * (k - s) / sr
            z = np.sum(audio[k] * np.hanning(len(k)) * np.exp(-1j * base))
            pitch.append(n.pitch)
            unit.append(z / abs(z))
    pitch_a, unit_a = np.array(pitch), np.array(unit)
    print("| register (MIDI) | notes | R, mean over pitches | chance |")
    print("|---|---:|---:|---:|")
    for lo, hi in REGISTERS:
        kept = [p for p in range(lo, hi) if (pitch_a == p).sum() >= 5]
        r = [abs(unit_a[pitch_a == p].mean()) for p in kept]
        chance = [1 / np.sqrt((pitch_a == p).sum()) for p in kept]
        count = int(((pitch_a >= lo) & (pitch_a < hi)).sum())
        print(f"| {lo}-{hi - 1} | {count} | {np.mean(r):.2f} | {np.mean(chance):.2f} |")


if __name__ == "__main__":
    command, rest = sys.argv[1], sys.argv[2:]
    if command == "consistency":
        consistency(Path(rest[0]))
    else:
        import score

        sys.argv = ["score.py", *rest]
        score.main()
