"""Shared pieces: the excitation WaveNet, the features (roll, excitation), the data.

Arms: "roll" (88-key frame-rate roll: sounding velocity + onset, hop 256, raw 0..1, through
the package's local conditioning), "exc" (K audio-rate excitation channels added into every
layer's gate pre-activation by a 1x1 convolution), "both".

Alignment: every clip is padded in front by PAD = 1024 samples of silence (4 frames), so
windows start at multiples of HOP in the padded timeline. The model's input position i
(newest sample x[i]) predicts x[i+1]; it receives the excitation of the sample it
predicts, e[i+1] (the notes are known in advance, like the frames' look-ahead).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import pretty_midi
import soundfile as sf
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from wavenet_music.audio.io import mu_law_encode, silence_class
from wavenet_music.config import load_preset
from wavenet_music.wavenet.model import WaveNet

torch.set_num_threads(1)

ROOT = Path("/tmp/notes_exp")
DATA = ROOT / "data"
SR = 16000
HOP = 256
PAD = 1024
KEYS = 88
LOW = 21  # A0
ROLL_CH = 2 * KEYS
EXC_CH = 3
HARMONICS = 4
DECAY_S = 0.25
RELEASE_S = 0.03


@dataclass
class Note:
    start: float
    end: float
    pitch: int
    velocity: int


def read_notes(mid: Path, transpose: int = 0) -> list[Note]:
    pm = pretty_midi.PrettyMIDI(str(mid))
    return [
        Note(n.start, n.end, n.pitch + transpose, n.velocity)
        for i in pm.instruments
        for n in i.notes
        if LOW <= n.pitch + transpose < LOW + KEYS
    ]


def roll(notes: list[Note], frames: int) -> np.ndarray:
    """(2·88, frames): channel k = velocity/127 while key k sounds in the frame (any
    overlap), channel 88+k = 1 in the frame holding its onset. Frame f covers samples
    f·HOP .. (f+1)·HOP - 1 of the clip."""
    r = np.zeros((ROLL_CH, frames), np.float32)
    for n in notes:
        k = n.pitch - LOW
        s = int(round(n.start * SR))
        e = max(s + 1, int(round(n.end * SR)))
        f0, f1 = s // HOP, min(frames, -(-e // HOP))
        if f0 >= frames:
            continue
        r[k, f0:f1] = np.maximum(r[k, f0:f1], n.velocity / 127)
        r[KEYS + k, f0] = 1.0
    return r


def excitation(notes: list[Note], samples: int) -> np.ndarray:
    """(3, samples): for each note, phase-continuous sinusoids at its exact frequency
    from its onset (phase 0 at the onset), harmonics h = 1..4 below 7.6 kHz at 1/h,
    scaled by velocity/127, a 30-ms linear release after the offset.
    channel 0: fundamentals only; 1: fundamentals + harmonics; 2: channel 1 × exp(-τ/0.25 s)
    (recency of the onset: a piano-like decay)."""
    e = np.zeros((EXC_CH, samples), np.float64)
    rel = int(RELEASE_S * SR)
    for n in notes:
        s = int(round(n.start * SR))
        off = max(s + 1, int(round(n.end * SR)))
        end = min(samples, off + rel)
        if s >= samples:
            continue
        tau = np.arange(end - s) / SR
        env = np.ones_like(tau)
        k = np.arange(end - s) + s
        after = k >= off
        env[after] = np.clip(1 - (k[after] - off) / rel, 0, 1)
        amp = n.velocity / 127 * env
        f = 440.0 * 2 ** ((n.pitch - 69) / 12)
        fund = np.sin(2 * np.pi * f * tau)
        full = np.zeros_like(tau)
        for h in range(1, HARMONICS + 1):
            if h * f < 7600:
                full += np.sin(2 * np.pi * h * f * tau) / h
        e[0, s:end] += amp * fund
        e[1, s:end] += amp * full
        e[2, s:end] += amp * full * np.exp(-tau / DECAY_S)
    return e.astype(np.float32)


@dataclass
class Clip:
    name: str
    classes: np.ndarray  # (PAD + T,) int64, padded with silence
    frames: np.ndarray  # (176, PAD/HOP + F + extra) roll of the padded timeline
    exc: np.ndarray  # (3, PAD + T + 1) excitation of the padded timeline (+1 for the shift)
    audio: np.ndarray  # (T,) float
    notes: list[Note]


def load_clip(wav: Path, transpose: int = 0) -> Clip:
    audio, sr = sf.read(wav, dtype="float32")
    assert sr == SR
    notes = read_notes(wav.with_suffix(".mid"), transpose)
    T = len(audio)
    classes = np.concatenate([np.full(PAD, silence_class(256)), mu_law_encode(audio)]).astype(np.int64)
    nframes = -(-T // HOP) + 8
    fr = np.concatenate([np.zeros((ROLL_CH, PAD // HOP), np.float32), roll(notes, nframes)], axis=1)
    ex = np.concatenate([np.zeros((EXC_CH, PAD), np.float32), excitation(notes, T + 2 * HOP)], axis=1)
    return Clip(wav.stem, classes, fr, ex, audio, notes)


def load_split(split: str, transpose: int = 0) -> list[Clip]:
    return [load_clip(p, transpose) for p in sorted((DATA / split).glob("*.wav"))]


# --- the model -----------------------------------------------------------------------------


class ExcitedWaveNet(WaveNet):
    """WaveNet + K audio-rate excitation channels into every layer's filter/gate
    pre-activation (a 1×1 convolution per layer, like local conditioning, but per sample).
    ``exc`` (B, K, T) is aligned with the input x (B, T): exc[:, :, i] enters at the
    position of x[i] (the data layer puts e[i+1] there)."""

    def __init__(self, config, exc_channels: int) -> None:
        super().__init__(config)
        self.exc_channels = exc_channels
        d2 = 2 * config.dilation_channels
        self.exc_proj = nn.ModuleList(nn.Conv1d(exc_channels, d2, 1, bias=False) for _ in config.dilations) if exc_channels else None

    def forward(self, x, labels=None, frames=None, exc=None):
        outputs = x.shape[1] - self.receptive_field + 1
        zs = self.gated_outputs(x, labels, frames, exc)
        z = torch.cat([z[:, :, -outputs:] for z in zs], dim=1)
        skip_weight, skip_bias = self.skip_matrix()
        skips = F.conv1d(z, skip_weight.unsqueeze(-1), skip_bias)
        return self.head(skips)

    def _local(self, index, block, conditioning, exc, samples, length):
        local = self.block_local(block, conditioning, None, samples, length)
        if exc is not None:
            e = self.exc_proj[index](exc[:, :, samples - length : samples])
            local = e if local is None else local + e
        return local

    def gated_outputs(self, x, labels=None, frames=None, exc=None):
        h = self.causal(self.one_hot(x, labels, frames))
        conditioning = self.local_frames(frames)
        zs = []
        for index, block in enumerate(self.blocks):
            local = self._local(index, block, conditioning, exc, x.shape[1], h.shape[2])
            h, z = block(h, labels, local)
            zs.append(z)
        return zs

    def conv_histories(self, x, labels=None, frames=None, exc=None):
        h = self.one_hot(x, labels, frames)
        conditioning = self.local_frames(frames)
        histories = [h[:, :, h.shape[2] - self.causal.context :]]
        h = self.causal(h)
        for index, block in enumerate(self.blocks):
            histories.append(h[:, :, h.shape[2] - block.filter_gate.context :])
            if index < len(self.blocks) - 1:
                local = self._local(index, block, conditioning, exc, x.shape[1], h.shape[2])
                h, _ = block(h, labels, local)
        return histories


def build_model(arm: str, seed: int = 0) -> ExcitedWaveNet:
    config = load_preset("tiny").model
    if arm in ("roll", "both"):
        config = replace(config, local_channels=ROLL_CH, hop_length=HOP)
    torch.manual_seed(seed)
    return ExcitedWaveNet(config, EXC_CH if arm in ("exc", "both") else 0)


def window(clip: Clip, start: int, length: int, arm: str):
    """Input classes x = padded[start : start+length], targets padded[start+RF : start+length+1],
    frames for x (start multiple of HOP), excitation e[start+1 : start+length+1]."""
    x = clip.classes[start : start + length + 1]
    fr = ex = None
    if arm in ("roll", "both"):
        f0 = start // HOP - 1
        nf = -(-length // HOP) + 2
        fr = np.zeros((ROLL_CH, nf), np.float32)
        lo, hi = max(f0, 0), min(f0 + nf, clip.frames.shape[1])
        fr[:, lo - f0 : hi - f0] = clip.frames[:, lo:hi]
    if arm in ("exc", "both"):
        ex = clip.exc[:, start + 1 : start + 1 + length]
    return x, fr, ex


def batch(items):
    xs = torch.from_numpy(np.stack([i[0] for i in items]))
    fr = None if items[0][1] is None else torch.from_numpy(np.stack([i[1] for i in items]))
    ex = None if items[0][2] is None else torch.from_numpy(np.stack([i[2] for i in items]))
    return xs, fr, ex


def heldout_bits(model: ExcitedWaveNet, clips: list[Clip], arm: str, sample_size: int = 2048, batch_size: int = 8) -> float:
    """Bits per sample over every sample of every clip (targets tile the clip; the first
    samples see the silence pad, as in training)."""
    rf = model.receptive_field
    length = rf - 1 + sample_size
    total, count = 0.0, 0
    model.eval()
    items = []
    for c in clips:
        T = len(c.audio)
        # targets padded[PAD + j], j in [0, T): window start s with s + rf = PAD + j0
        for j0 in range(0, T, sample_size):
            s = PAD + j0 - rf
            assert s % HOP == 0, s
            n = min(sample_size, T - j0)
            items.append((c, s, n))
    with torch.no_grad():
        for b in range(0, len(items), batch_size):
            chunk = items[b : b + batch_size]
            ws = []
            for c, s, n in chunk:
                x, fr, ex = window(c, s, length, arm)
                if len(x) < length + 1:  # end of clip: pad with silence (masked below)
                    x = np.concatenate([x, np.full(length + 1 - len(x), silence_class(256))])
                if ex is not None and ex.shape[1] < length:
                    ex = np.pad(ex, ((0, 0), (0, length - ex.shape[1])))
                ws.append((x, fr, ex))
            xs, fr, ex = batch(ws)
            logits = model(xs[:, :-1], None, fr, ex)
            targets = xs[:, rf:]
            nll = F.cross_entropy(logits, targets, reduction="none")
            for i, (_, _, n) in enumerate(chunk):
                total += nll[i, :n].sum().item()
                count += n
    model.train()
    return total / count / np.log(2)
