"""Transcribe audio with basic-pitch (ONNX on onnxruntime) and score it against notes.

note F1: mir_eval.transcription, onset tolerance 50 ms, pitch tolerance 50 cents, offsets
ignored. pitch-class note F1: the same with every pitch folded into one octave (C4-B4).
frame pitch-class F1: per 32-ms frame, the set of sounding pitch classes of the
transcription vs of the score (micro-averaged), robust to onset timing.
Only notes with onset >= `start` (after the prime) are scored, in both.
"""

from __future__ import annotations

import logging
import os

logging.disable(logging.WARNING)
os.environ.setdefault("OMP_NUM_THREADS", "1")

from pathlib import Path

import numpy as np
import pretty_midi

import mir_eval


def transcribe(wav_path: str) -> list[tuple[float, float, int, int]]:
    """basic-pitch's ONNX model through the project's numpy port of its decoding
    (wavenet_music.notes.transcribe, written by the other helper; basic-pitch's own
    inference.py needs librosa, which is not installed). Audio resampled to 22,050 Hz
    by wavenet_music.audio.io.load_audio."""
    from wavenet_music.audio.io import load_audio
    from wavenet_music.notes.transcribe import SAMPLE_RATE, transcribe as bp

    notes = bp(load_audio(Path(wav_path), SAMPLE_RATE))
    return [(n.onset, n.offset, n.pitch, n.velocity) for n in notes]


def midi_notes(path: str) -> list[tuple[float, float, int, int]]:
    pm = pretty_midi.PrettyMIDI(path)
    return sorted((n.start, n.end, n.pitch, n.velocity) for i in pm.instruments for n in i.notes)


def _arrays(notes, start, end, fold=False):
    keep = [n for n in notes if start <= n[0] < end]
    if not keep:
        return np.zeros((0, 2)), np.zeros(0)
    iv = np.array([[s, max(e, s + 0.01)] for s, e, *_ in keep])
    p = np.array([n[2] for n in keep])
    if fold:
        p = 60 + p % 12
    return iv, 440.0 * 2 ** ((p - 69) / 12)


def note_scores(ref, est, start=0.1, end=1e9):
    out = {}
    for name, fold in (("note", False), ("pc_note", True)):
        ri, rp = _arrays(ref, start, end, fold)
        ei, ep = _arrays(est, start - 0.05, end, fold)
        if len(ei) == 0 or len(ri) == 0:
            out[name + "_f1"], out[name + "_p"], out[name + "_r"] = 0.0, 0.0, 0.0
            continue
        p, r, f, _ = mir_eval.transcription.precision_recall_f1_overlap(
            ri, rp, ei, ep, onset_tolerance=0.05, pitch_tolerance=50.0, offset_ratio=None
        )
        out[name + "_f1"], out[name + "_p"], out[name + "_r"] = f, p, r
    # frame-level pitch-class sets
    hop = 0.032
    t_end = max([n[1] for n in ref] + [start + hop])
    times = np.arange(start, t_end, hop)

    def chroma(notes):
        c = np.zeros((len(times), 12), bool)
        for s, e, pch, _ in notes:
            c[(times >= s) & (times < e), pch % 12] = True
        return c

    cr, ce = chroma(ref), chroma(est)
    tp = (cr & ce).sum()
    prec = tp / max(1, ce.sum())
    rec = tp / max(1, cr.sum())
    out["frame_pc_f1"] = 0.0 if tp == 0 else 2 * prec * rec / (prec + rec)
    out["ref_notes"] = int(sum(1 for n in ref if start <= n[0] < end))
    out["est_notes"] = int(sum(1 for n in est if start - 0.05 <= n[0] < end))
    return out


def sound_stats(audio: np.ndarray, start_sample: int = 0) -> dict:
    """RMS level (dBFS) and mean spectral flatness (1024-sample frames) after the prime."""
    a = np.asarray(audio[start_sample:], dtype=np.float64)
    rms = np.sqrt(np.mean(a**2)) + 1e-12
    n = 1024
    frames = a[: len(a) // n * n].reshape(-1, n) * np.hanning(n)
    spec = np.abs(np.fft.rfft(frames, axis=1)) ** 2 + 1e-12
    flat = np.exp(np.mean(np.log(spec), axis=1)) / np.mean(spec, axis=1)
    loud = np.sqrt(np.mean(frames**2, axis=1)) > 1e-4
    return {"rms_dbfs": 20 * np.log10(rms), "flatness": float(np.mean(flat[loud])) if loud.any() else float("nan")}


if __name__ == "__main__":
    import sys

    for wav in sys.argv[1:]:
        ref = midi_notes(wav[:-4] + ".mid")
        est = transcribe(wav)
        print(wav, {k: round(v, 3) if isinstance(v, float) else v for k, v in note_scores(ref, est).items()})
