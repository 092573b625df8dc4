"""Matplotlib figures of the page and of TensorBoard: log-mel spectrograms and learning curves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .spectral import hz_to_mel, log_mel_spectrogram

DB_RANGE = (-90.0, -10.0)  # colour scale of every spectrogram, dB re a full-scale sine
N_MELS = 80

# --- figures -------------------------------------------------------------------------------


def spectrogram_figure(audio: np.ndarray, sample_rate: int, title: str | None = None) -> Figure:
    """Log-mel spectrogram of ``audio`` (T,) on the report's fixed colour scale."""
    db = log_mel_spectrogram(audio, sample_rate, n_mels=N_MELS)  # (F, M)
    figure = Figure(figsize=(6.4, 2.4), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    seconds = len(audio) / sample_rate
    extent = (0.0, seconds, 0.0, float(N_MELS))
    axes.imshow(
        db.T,
        origin="lower",
        aspect="auto",
        extent=extent,
        cmap="magma",
        vmin=DB_RANGE[0],
        vmax=DB_RANGE[1],
    )
    step = hz_to_mel(sample_rate / 2) / (N_MELS + 1)  # mel between band centres
    ticks = [f for f in (200, 500, 1000, 2000, 4000, 8000, 16000) if f < sample_rate / 2]
    axes.set_yticks([float(hz_to_mel(f) / step - 0.5) for f in ticks])
    axes.set_yticklabels([f"{f // 1000}k" if f >= 1000 else str(f) for f in ticks])
    axes.set_ylabel("Hz")
    axes.set_xlabel("seconds")
    if title is not None:
        axes.set_title(title, fontsize=10, loc="left")
    return figure


def piano_roll_figure(
    onsets: np.ndarray,
    offsets: np.ndarray,
    pitches: np.ndarray,
    velocities: np.ndarray,
    seconds: float,
    title: str | None = None,
) -> Figure:
    """The notes (N,) each as a bar from onset to offset at its MIDI pitch, darker the
    louder, on the time axis of ``spectrogram_figure`` (so the two stack)."""
    figure = Figure(figsize=(6.4, 1.8), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    shade = 0.25 + 0.75 * np.asarray(velocities, dtype=float) / 127  # (N,)
    axes.barh(
        pitches,
        np.maximum(np.asarray(offsets) - np.asarray(onsets), 0.01),
        left=onsets,
        height=0.9,
        color=[(0.1, 0.2, 0.5, a) for a in shade],
    )
    low, high = (int(np.min(pitches)) - 2, int(np.max(pitches)) + 2) if len(pitches) else (48, 72)
    axes.set_xlim(0.0, seconds)
    axes.set_ylim(low, high)
    axes.set_ylabel("MIDI key")
    axes.set_xlabel("seconds")
    if title is not None:
        axes.set_title(title, fontsize=10, loc="left")
    return figure


def figure_rgb(figure: Figure) -> np.ndarray:
    """Render with Agg: (H, W, 3) uint8."""
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[:, :, :3].copy()


def curves_figure(metrics: Sequence[dict], quantization_channels: int) -> Figure:
    """Training and validation bits per sample against step."""
    figure = Figure(figsize=(8.0, 3.4), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    for key, style, name in (
        ("train_bits", "-", "training"),
        ("validation_bits", "o-", "validation"),
    ):
        points = [(m["step"], m[key]) for m in metrics if key in m]
        if points:
            axes.plot(*zip(*points, strict=True), style, label=name, markersize=4)
    uniform = float(np.log2(quantization_channels))
    axes.axhline(uniform, color="grey", linestyle="--", linewidth=1, label="guessing (uniform)")
    axes.set_xlabel("training step")
    axes.set_ylabel("bits per sample")
    axes.grid(alpha=0.3)
    axes.legend()
    return figure


def add_spectrograms(
    writer, clips: Mapping[str, np.ndarray], sample_rate: int, step: int, tag: str = "spectrogram"
) -> None:
    """Add each clip's log-mel spectrogram to a TensorBoard ``SummaryWriter`` as an image
    ``tag/name``: what the training loop calls next to its audio snippets."""
    for name, audio in clips.items():
        image = figure_rgb(spectrogram_figure(np.asarray(audio), sample_rate, name))  # (H, W, 3)
        writer.add_image(f"{tag}/{name}", image, step, dataformats="HWC")
