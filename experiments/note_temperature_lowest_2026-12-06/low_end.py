"""Spectrograms and the low end of one composed piece a genre at three scales.

python low_end.py RUN REPORT OUT_DIR

Renders the first 10 s of piano-composed-1, guitar-composed-2 and classical-composed-1 (seed
3, the report's sampling, no noise guard) at 0.3, 0.15 and 0.05 of the temperature while
notes sound, writes each finished clip and a grid of their log-mel spectrograms
(OUT_DIR/low_end.png), and prints each clip's share of power at 10-80 Hz and 10-150 Hz and
its level, then the same shares for the report's real excerpts of the genre: a drone or a
rumble that a near-greedy draw might settle into would show there.
"""

import glob
import sys
from pathlib import Path

import matplotlib
import numpy as np
import soundfile as sf
import torch

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from wavenet_music.audio.finish import for_listening
from wavenet_music.audio.spectral import log_mel_spectrogram
from wavenet_music.notes.midi import read_midi
from wavenet_music.wavenet.checkpoint import load_model
from wavenet_music.wavenet.follow import render_notes

NAMES = ("piano-composed-1", "guitar-composed-2", "classical-composed-1")
SCALES = (0.3, 0.15, 0.05)
SECONDS, RATE = 10, 16000


def low_share_db(audio: np.ndarray, below_hz: float) -> float:
    """The power at 10 Hz .. below_hz against all of it, dB."""
    power = np.abs(np.fft.rfft(audio)) ** 2
    hz = np.fft.rfftfreq(len(audio), 1 / RATE)
    return float(10 * np.log10(power[(hz >= 10) & (hz < below_hz)].sum() / power.sum()))


def main() -> None:
    run, report, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    torch.set_num_threads(1)
    model, config = load_model(run)
    pieces = [[n for n in read_midi(report / f"{name}.mid") if n.onset < SECONDS] for name in NAMES]
    index = torch.tensor([config.model.global_labels.index(n.split("-")[0]) for n in NAMES])
    fig, axes = plt.subplots(len(SCALES), len(NAMES), figsize=(18, 9))
    for i, scale in enumerate(SCALES):
        audio = render_notes(model, config, pieces, SECONDS, index, seed=3, temperature_scale=scale)
        for j, name in enumerate(NAMES):
            clip = for_listening(audio[j], RATE)
            sf.write(out / f"{name}-{scale}.wav", clip, RATE)
            level = 20 * np.log10(np.sqrt(np.mean(clip**2)))
            print(
                f"{name} scale {scale}: below 80 Hz {low_share_db(clip, 80):.1f} dB, below 150 Hz "
                f"{low_share_db(clip, 150):.1f} dB, level {level:.1f} dBFS"
            )
            axes[i, j].imshow(
                log_mel_spectrogram(clip, RATE).T, origin="lower", aspect="auto", vmin=-100, vmax=0
            )
            axes[i, j].set_title(f"{name} scale {scale}")
    fig.tight_layout()
    fig.savefig(out / "low_end.png", dpi=70)
    for genre in ("piano", "guitar", "classical"):
        for path in sorted(glob.glob(str(report / f"{genre}-real-*.wav"))):
            real = sf.read(path)[0][: SECONDS * RATE]
            print(
                f"{Path(path).name}: below 80 Hz {low_share_db(real, 80):.1f} dB, "
                f"below 150 Hz {low_share_db(real, 150):.1f} dB"
            )


if __name__ == "__main__":
    main()
