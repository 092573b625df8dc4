"""Where a clip's notes sound and where they rest: its level in each, against the notes
heard in it (transcribed recordings, or the MIDI beside a composed or rendered clip).

    python rests.py RUN DATA GENRE        # the genre's recordings, the report's composed pieces
    python rests.py --renders RUN DATA     # ambient excerpts' notes rendered (section 2)

Levels: the mean power of 50-ms frames in dBFS, where a note sounds and where none does,
and the median rest frame (a rest mostly silent reads far under its mean)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from wavenet_music.notes.midi import Note, read_midi, write_midi
from wavenet_music.notes.transcribe import TranscriptionSettings, transcribe_file

FRAME = 0.05  # seconds
EXCERPTS = (("warzone2100_track17", 60.0), ("warzone2100_track18", 30.0), ("warzone2100_track20", 30.0))
SECONDS = 20.0


def levels(audio: np.ndarray, rate: int, notes: list[Note]) -> str:
    size = int(FRAME * rate)
    frames = len(audio) // size
    power = (audio[: frames * size].astype(np.float64).reshape(frames, size) ** 2).mean(1)
    sounding = np.zeros(frames, bool)
    for n in notes:
        sounding[int(n.onset / FRAME) : int(np.ceil(n.offset / FRAME))] = True

    def db(p: np.ndarray) -> float:
        return 10 * np.log10(p.mean() + 1e-12) if len(p) else float("nan")

    rest = power[~sounding]
    median = np.median(10 * np.log10(rest + 1e-12)) if len(rest) else float("nan")
    return (
        f"sounding {sounding.mean():.2f}  notes {db(power[sounding]):6.1f}  rests "
        f"{db(rest):6.1f}  all {db(power):6.1f}  median rest frame {median:6.1f}"
    )


def genre(run: Path, data: Path, name: str) -> None:
    cache = Path.home() / ".cache" / "wavenet-music"
    for path in sorted((data / name).glob("*.flac")):
        audio, rate = sf.read(path, dtype="float32")
        print(f"{path.stem[:28]:28}", levels(audio, rate, transcribe_file(path, cache)))
    for path in sorted((run / "report").glob(f"{name}-composed-*.wav")):
        audio, rate = sf.read(path, dtype="float32")
        print(f"{path.stem[:28]:28}", levels(audio, rate, read_midi(path.with_suffix(".mid"))))


def excerpt(path: Path, start: float, settings: TranscriptionSettings, out: Path) -> Path:
    notes = transcribe_file(path, Path(".cache"), settings)
    cut = [
        dataclasses.replace(n, onset=n.onset - start, offset=min(n.offset, start + SECONDS) - start)
        for n in notes
        if start <= n.onset < start + SECONDS
    ]
    write_midi(out, cut, SECONDS)
    return out


def renders(run: Path, data: Path) -> None:
    variants = {
        "as the demo renders": [],
        "excitation as trained (gain 1)": ["--excitation-gain", "1"],
        "notes not heard (gain 0)": ["--excitation-gain", "0"],
        "no floor, temperature 1 under notes": ["--floor", "0", "--note-temperature-scale", "1"],
    }
    for name, start in EXCERPTS:
        path = data / "ambient" / f"{name}.flac"
        audio, rate = sf.read(path, dtype="float32")
        real = audio[int(start * rate) : int((start + SECONDS) * rate)]
        for threshold in (0.3, 0.2):
            midi = excerpt(path, start, TranscriptionSettings(frame_threshold=threshold), Path(f"{name}_{threshold}.mid"))
            notes = read_midi(midi)
            print(f"{name} frame threshold {threshold}: the recording  ", levels(real, rate, notes))
            chosen = variants if threshold == 0.3 else {"as the demo renders": []}
            for label, flags in chosen.items():
                out = Path(f"{name}_{threshold}_{len(flags)}.wav")
                subprocess.run(
                    ["wavenet-music", "render", str(run), str(midi), "--label", "ambient", "--seconds", str(SECONDS),
                     "--num", "3", "--seed", "1", "--quiet", "--out", str(out), *flags],
                    check=True, capture_output=True,
                )  # fmt: skip
                for k in (1, 2, 3):
                    clip, _ = sf.read(out.with_name(f"{out.stem}-ambient-{k}.wav"), dtype="float32")
                    print(f"  {label}, seed 1 clip {k}:", levels(clip, rate, notes))


if __name__ == "__main__":
    if sys.argv[1] == "--renders":
        renders(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        genre(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3])
