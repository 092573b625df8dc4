"""Does ``notes.alignment`` tell a recording's own, aligned MIDI from a wrong one?

Every piano and guitar recording of the demo corpus with its MIDI (FluidSynth renders of
it, so aligned), then the same MIDI moved by ±0.1..±2 s (and by ±30 ms, within the
tolerance), cut to its first third, another piece's MIDI (every other pair; also each
classical and ambient recording with every MIDI; also 10-s and 5-s clips), and the right
MIDI under conditions that must not alarm: a quiet intro (the first 10 s 30 dB down), two
6-s rests cut into audio and notes, room reverb and noise. One JSON line per (recording,
case) with the ``Alignment``'s figures and its warning (``summary.py`` makes the README's
table of them); printed last, what it costs per minute of audio, against basic-pitch's
transcription scored against the MIDI at every lag.

    python measure.py DEMO_DATA OUT.jsonl[.gz]
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from wavenet_music.audio.io import load_audio
from wavenet_music.notes.alignment import (
    AudioOnsets,
    align,
    align_onsets,
    alignment_warning,
    audio_onsets,
)
from wavenet_music.notes.midi import Note, read_midi
from wavenet_music.notes.score import score_notes
from wavenet_music.notes.transcribe import SAMPLE_RATE, transcribe

RATE = 16000  # the demo corpus's rate
SHIFTS = (-2.0, -1.0, -0.5, -0.25, -0.1, 0.1, 0.25, 0.5, 1.0, 2.0)
SLIPS = (-0.03, 0.03)  # within LAG_TOLERANCE_S: must not alarm
INTRO_S, INTRO_GAIN = 10.0, 10 ** (-30 / 20)  # a quiet intro: the first 10 s 30 dB down
REST_S = 6.0  # two rests of this length cut in at a third and two thirds
CLIPS_S = (10.0, 5.0)  # short recordings: the first seconds of each, its notes cut to them
SNR_DB, RT60_S = 20.0, 1.5  # noise under the music's RMS; the reverb's decay to -60 dB


def moved(notes: list[Note], seconds: float, end: float) -> list[Note]:
    """``notes`` later by ``seconds``, those starting outside [0, end) dropped."""
    kept = [n for n in notes if 0 <= n.onset + seconds < end]
    return [
        Note(n.onset + seconds, min(n.offset + seconds, end), n.pitch, n.velocity) for n in kept
    ]


def first_part(notes: list[Note], end: float) -> list[Note]:
    return [Note(n.onset, min(n.offset, end), n.pitch, n.velocity) for n in notes if n.onset < end]


def with_rests(audio: np.ndarray, notes: list[Note]) -> tuple[np.ndarray, list[Note]]:
    """Silence of ``REST_S`` cut into the audio at 1/3 and 2/3, the notes moved with it."""
    duration = len(audio) / RATE
    cuts = (duration / 3, 2 * duration / 3)
    pieces, start = [], 0
    for cut in cuts:
        pieces += [audio[start : int(cut * RATE)], np.zeros(int(REST_S * RATE), np.float32)]
        start = int(cut * RATE)
    pieces.append(audio[start:])
    out = []
    for n in notes:
        before = sum(c <= n.onset for c in cuts)
        limit = next((c for c in cuts if c > n.onset), duration)  # cut the note at the rest
        delay = before * REST_S
        out.append(Note(n.onset + delay, min(n.offset, limit) + delay, n.pitch, n.velocity))
    return np.concatenate(pieces), out


def roomy(audio: np.ndarray, seed: int) -> np.ndarray:
    """``audio`` in a room (exponentially decaying noise, RT60 ``RT60_S``, half wet) with
    white noise ``SNR_DB`` under its RMS."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(RT60_S * RATE)) / RATE
    response = rng.standard_normal(t.size) * 10 ** (-3 * t / RT60_S)
    size = 1 << int(np.ceil(np.log2(audio.size + t.size)))
    wet = np.fft.irfft(np.fft.rfft(audio, size) * np.fft.rfft(response, size), size)
    wet = wet[: audio.size] * np.std(audio) / max(np.std(wet[: audio.size]), 1e-9)
    mixed = 0.5 * audio + 0.5 * wet
    noise = rng.standard_normal(audio.size) * np.std(mixed) * 10 ** (-SNR_DB / 20)
    return (mixed + noise).astype(np.float32)


def record(out, name: str, case: str, onsets: AudioOnsets, notes: list[Note], lag: float):
    a = align_onsets(onsets, notes)
    figures = {k: np.round(v, 4).tolist() for k, v in asdict(a).items()}  # 4 digits
    row = {"recording": name, "case": case, "expected_lag": lag, **figures}
    row["warning"] = alignment_warning(name, a)
    out.write(json.dumps(row) + "\n")
    return row


def short_clips(out, name: str, audio: np.ndarray, notes: list[Note], wrong: list[list[Note]]):
    """The first ``CLIPS_S`` of the recording with its notes, and with another piece's."""
    for seconds in CLIPS_S:
        onsets = audio_onsets(audio[: int(seconds * RATE)], RATE)
        record(out, name, f"right, {seconds:g}-s clip", onsets, first_part(notes, seconds), 0.0)
        for other in wrong:
            case = f"another piece, {seconds:g}-s clip"
            record(out, name, case, onsets, first_part(other, seconds), 0.0)


def pairs(data: Path) -> list[tuple[str, np.ndarray, list[Note]]]:
    found = [m for g in ("piano", "guitar") for m in sorted((data / g).glob("*.mid"))]
    return [
        (f"{m.parent.name}/{m.stem}", load_audio(m.with_suffix(".flac"), RATE), read_midi(m))
        for m in found
    ]


def measure(data: Path, out) -> None:
    items = pairs(data)
    others = [
        (f"{p.parent.name}/{p.stem}", load_audio(p, RATE))
        for g in ("classical", "ambient")
        for p in sorted((data / g).glob("*.flac"))
    ]
    for i, (name, audio, notes) in enumerate(items):
        end = len(audio) / RATE
        onsets = audio_onsets(audio, RATE)
        record(out, name, "right", onsets, notes, 0.0)
        for s in SHIFTS + SLIPS:
            record(out, name, f"moved {s:+g} s", onsets, moved(notes, s, end), s)
        record(out, name, "first third", onsets, first_part(notes, end / 3), 0.0)
        for j, (_, _, wrong) in enumerate(items):
            if j != i:
                record(out, name, "another piece", onsets, wrong, 0.0)
        short_clips(out, name, audio, notes, [w for j, (_, _, w) in enumerate(items) if j != i])
        quiet = audio.copy()
        quiet[: int(INTRO_S * RATE)] *= INTRO_GAIN
        record(out, name, "quiet intro", audio_onsets(quiet, RATE), notes, 0.0)
        rested, rest_notes = with_rests(audio, notes)
        record(out, name, "two 6-s rests", audio_onsets(rested, RATE), rest_notes, 0.0)
        record(out, name, "reverb + noise", audio_onsets(roomy(audio, i), RATE), notes, 0.0)
    for name, audio in others:
        onsets = audio_onsets(audio, RATE)
        for _, _, wrong in items:
            record(out, name, "no-MIDI genre + a MIDI", onsets, wrong, 0.0)


def cost(data: Path) -> dict[str, float]:
    """Seconds per minute of audio: ``align`` at 16 kHz and from 44.1 kHz; basic-pitch's
    transcription and its note F1 against the MIDI at lags of -3..3 s in 50-ms steps (the
    other way to the same answers, ``/tmp/hostileD/alignment_check.py``)."""
    items = pairs(data)
    minutes = sum(len(a) for _, a, _ in items) / RATE / 60
    result = {"minutes": minutes}
    for rate in (RATE, 44100):
        clips = [load_audio(Path(data / f"{n}.flac"), rate) for n, _, _ in items]
        start = time.perf_counter()
        for clip, (_, _, notes) in zip(clips, items, strict=True):
            align(clip, rate, notes)
        result[f"align_s_per_min_at_{rate}"] = (time.perf_counter() - start) / minutes
    clips = [load_audio(Path(data / f"{n}.flac"), SAMPLE_RATE) for n, _, _ in items]
    start = time.perf_counter()
    heard = [transcribe(clip) for clip in clips]
    result["transcribe_s_per_min"] = (time.perf_counter() - start) / minutes
    start = time.perf_counter()
    for found, (_, audio, notes) in zip(heard, items, strict=True):
        for lag in np.arange(-3.0, 3.001, 0.05):
            score_notes(moved(notes, -lag, len(audio) / RATE), found)
    result["f1_at_lags_s_per_min"] = (time.perf_counter() - start) / minutes
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="the demo corpus (piano/, guitar/, ...)")
    parser.add_argument("out", type=Path, help="JSON lines written here (gzip: .gz)")
    args = parser.parse_args()
    with gzip.open(args.out, "wt") if args.out.suffix == ".gz" else args.out.open("w") as out:
        measure(args.data, out)
    print(json.dumps(cost(args.data)))


if __name__ == "__main__":
    main()
