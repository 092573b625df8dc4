"""Peak memory and time of transcribing a long recording: whole file vs blocks.

    python benchmarks/bench_transcribe.py [--minutes 20] [--rate 44100]

Writes a stereo 16-bit WAV of ``--minutes`` of made-up music at ``--rate`` (random chords
and a melody of decaying harmonic tones, 6 notes a second) and transcribes it with
basic-pitch's model, each way in a fresh process:

- ``whole file``: the path before, kept here as the reference: the file decoded at once
  (``load_audio``), the activations of the whole audio, basic-pitch's decoding as written
  (whole-array temporaries; the melodia trick's ``np.argmax`` of the whole array, note by
  note: its time grows with the square of the length);
- ``in blocks``: ``transcribe_file`` (what ``--preset notes`` and ``transcribe`` run now):
  decoded a block at a time, the melodia trick's maxima kept per block of frames.

Columns: the peak resident memory the transcription added (the process's ``VmHWM`` after
it, less its ``VmRSS`` before it, the model loaded; Linux), the seconds it took, the notes
found and whether they are the same notes.
"""

from __future__ import annotations

import argparse
import json
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from arguments import Parser, one_line_errors, positive_number, whole_number

from wavenet_music.audio.io import load_audio
from wavenet_music.config import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE
from wavenet_music.notes import transcribe as tr

WAYS = ("whole file", "in blocks")
NOTES_PER_SECOND = 6
MINUTES = positive_number("minutes", at_least=1 / 60, at_most=240)  # a second to 4 hours


def whole_array_note_events(notes: np.ndarray, onsets: np.ndarray, settings) -> list:
    """basic-pitch's ``output_to_notes_polyphonic`` as written (``tr.note_events`` before)."""
    padded = np.concatenate([np.zeros((2, 88)), notes])
    rise = np.maximum(np.min([padded[2:] - padded[1:-1], padded[2:] - padded[:-2]], axis=0), 0)
    rise[:2] = 0.0
    if rise.max() > 0:
        onsets = np.maximum(onsets, onsets.max() * rise / rise.max())
    energy, shortest, events = notes.astype(np.float64), settings.min_note_frames, []
    for first, key in tr.onset_peaks(onsets, settings.onset_threshold):
        if first >= len(notes) - 1:
            continue
        stop, under = tr._walk(energy, first + 1, key, +1, settings.frame_threshold, False)
        end = stop - under
        if end - first <= shortest:
            continue
        energy[first:end, max(key - 1, 0) : key + 2] = 0.0
        events.append((first, end, key, float(notes[first:end, key].mean())))
    threshold = settings.frame_threshold
    while energy.max() > threshold:  # the melodia trick: the whole array's argmax each time
        middle, key = np.unravel_index(int(np.argmax(energy)), energy.shape)
        energy[middle, key] = 0.0
        stop, under = tr._walk(energy, middle + 1, key, +1, threshold, True)
        end = stop - 1 - under
        stop, under = tr._walk(energy, middle - 1, key, -1, threshold, True)
        first = stop + 1 + under
        if end - first > shortest:
            events.append((int(first), int(end), int(key), float(notes[first:end, key].mean())))
    return events


def whole_file(path: Path) -> list[tr.Note]:
    """The notes as transcription found them before: everything in memory at once."""
    audio = load_audio(path, tr.SAMPLE_RATE)
    heard = tr.hear([audio], audio.size)
    notes, onsets = heard.notes, heard.onsets
    settings = tr.TranscriptionSettings()
    events = whole_array_note_events(notes, onsets, settings)
    levels = tr.frame_levels(audio, len(notes))
    return tr.to_notes(tr.audible(events, levels, settings), len(notes))


def status_mb(key: str) -> float:
    """A ``VmRSS`` (now) or ``VmHWM`` (peak) line of /proc/self/status, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024 / 1e6  # kB
    raise OSError(f"no {key} in /proc/self/status")


def child(way: str, path: Path, out: Path) -> None:
    """Transcribe once, pickle the notes to ``out`` and print the peak and time as JSON."""
    tr._session()  # the model loaded before the peak is reset
    Path("/proc/self/clear_refs").write_text("5")
    before, start = status_mb("VmRSS"), time.perf_counter()
    notes = whole_file(path) if way == WAYS[0] else tr.transcribe_file(path)
    seconds = time.perf_counter() - start
    out.write_bytes(pickle.dumps(notes))
    print(json.dumps({"mb": status_mb("VmHWM") - before, "seconds": seconds}))


def measure(way: str, path: Path, out: Path) -> dict[str, float]:
    """``child`` in a fresh process: each way starts from the same empty high-water mark."""
    command = [sys.executable, __file__, "--child", way, str(path), str(out)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def write_music(path: Path, minutes: float, rate: int) -> None:
    """A stereo 16-bit WAV of random notes (C major, 3 octaves, velocities 0.1-0.4),
    each 3 harmonics decaying over 0.3-1.5 s, written a minute at a time."""
    rng = np.random.default_rng(0)
    scale = np.array([0, 2, 4, 5, 7, 9, 11])
    ring = int(2 * rate)  # a note rings into the next minute
    tail = np.zeros(ring)
    with sf.SoundFile(path, "w", rate, 2, "PCM_16") as f:
        for minute in range(int(np.ceil(minutes))):
            n = int(rate * 60 * min(1.0, minutes - minute))
            mix = np.zeros(n + ring)
            mix[:ring] += tail
            for _ in range(int(NOTES_PER_SECOND * n / rate)):
                pitch = 48 + 12 * rng.integers(0, 3) + rng.choice(scale)
                start, length = rng.integers(0, n), int(rate * rng.uniform(0.3, 1.5))
                t = np.arange(length) / rate
                hz = 440 * 2 ** ((pitch - 69) / 12)
                tone = sum(np.sin(2 * np.pi * k * hz * t) / k**2 for k in (1, 2, 3))
                mix[start : start + length] += rng.uniform(0.1, 0.4) * tone * np.exp(-3 * t)
            tail = mix[n:].copy()
            body = np.clip(mix[:n] / 3, -1, 1)
            f.write(np.stack([body, 0.9 * body], axis=1).astype(np.float32))


def main() -> None:
    parser = Parser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--minutes", type=MINUTES, default=20.0, help="length of the recording (a second or more)"
    )
    parser.add_argument(
        "--rate",
        type=whole_number(MIN_SAMPLE_RATE, MAX_SAMPLE_RATE),
        default=44100,
        help="the recording's sample rate",
    )
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)  # way, wav, pickle
    args = parser.parse_args()
    if args.child:
        way, wav, out = args.child
        return child(way, Path(wav), Path(out))
    from common import cpu_line, format_rate, markdown_table  # the parent alone imports torch

    print(cpu_line(tr.onnx_threads()), flush=True)
    rows, found = [], {}
    with tempfile.TemporaryDirectory(prefix="bench-transcribe-") as tmp:
        wav = Path(tmp) / "music.wav"
        write_music(wav, args.minutes, args.rate)
        size = format_rate(wav.stat().st_size / 1e6)
        print(f"recording: {args.minutes:g} min, {args.rate} Hz stereo 16-bit WAV, {size} MB")
        for way in WAYS:
            out = Path(tmp) / f"{way}.pickle"
            result = measure(way, wav, out)
            found[way] = pickle.loads(out.read_bytes())
            same = "yes" if found[way] == found[WAYS[0]] else "NO"
            mb, seconds = format_rate(result["mb"]), format_rate(result["seconds"])
            rows.append([way, mb, seconds, f"{len(found[way]):,}", same])
    headers = ["transcription", "peak RSS added (MB)", "seconds", "notes", "same notes"]
    print(markdown_table(headers, rows))


if __name__ == "__main__":
    one_line_errors(main)
