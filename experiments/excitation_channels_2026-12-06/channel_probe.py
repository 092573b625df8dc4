"""The excitation's channels heard at different gains while generating.

python channel_probe.py RUN REPORT SECONDS G0,G1,G2 [G0,G1,G2 ...]

Renders the first SECONDS of every REPORT/LABEL-composed-N.mid in one batch (the report's
sampling: floor, note temperature, jump limit, treble tilt; the compiled engine; no noise
guard, no unsteered rests; the draws' seed $SEED, 3 unless set; the harmonics heard
$HEARD, the package's default unless set), the excitation's channels (fundamentals,
harmonics, decaying harmonics) heard G0, G1, G2 times as loud as in training (the
product: 3,3,3). Prints per genre what reaches the ear
(report.notes.heard_figures), the level and the spectrum's shape against the genre's real
excerpts, and the shape in 8 bands of the mel scale (the composed minus the real average
log-mel spectrum, levels matched, dB, low to high).
"""

import glob
import os
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

import wavenet_music.wavenet.to_audio as ta
from wavenet_music.audio.spectral import average_log_mel, clip_statistics, shape_and_level
from wavenet_music.notes.midi import read_midi
from wavenet_music.report.notes import heard_figures
from wavenet_music.wavenet.checkpoint import load_model
from wavenet_music.wavenet.follow import render_notes

CHANNEL_GAINS = [np.ones((3, 1), dtype=np.float32)]
_excitation = ta.notes_excitation
SEED = int(os.environ.get("SEED", "3"))  # the draws' seed
# the harmonics heard (``heard_harmonics``; from 2026-12-06: 12 unless set; 0 = as trained)
HEARD = {} if "HEARD" not in os.environ else {"heard_harmonics": int(os.environ["HEARD"])}


def scaled_excitation(*args, **kwargs):
    return _excitation(*args, **kwargs) * CHANNEL_GAINS[0]


ta.notes_excitation = scaled_excitation


def main() -> None:
    run, report, seconds = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])
    torch.set_num_threads(1)
    model, config = load_model(run)
    mids = sorted(glob.glob(str(report / "*-composed-*.mid")))
    labels = [Path(m).name.split("-composed-")[0] for m in mids]
    pieces = [[n for n in read_midi(Path(m)) if n.onset < seconds] for m in mids]
    index = torch.tensor([config.model.global_labels.index(lab) for lab in labels])
    rate = config.data.sample_rate
    for arg in sys.argv[4:]:
        CHANNEL_GAINS[0] = np.array([float(g) for g in arg.split(",")], dtype=np.float32)[:, None]
        audio = render_notes(
            model, config, pieces, seconds, index, seed=SEED, excitation_gain=1.0, **HEARD
        )
        for label in sorted(set(labels)):
            rows = [i for i, lab in enumerate(labels) if lab == label]
            h = heard_figures([pieces[i] for i in rows], audio[rows], rate)
            real = [
                sf.read(p, dtype="float32")[0][: audio.shape[1]]
                for p in sorted(glob.glob(str(report / f"{label}-real-*.wav")))
            ]
            shape, level = shape_and_level(list(audio[rows]), real, rate)
            bands = average_log_mel(list(audio[rows]), rate) - average_log_mel(real, rate)
            bands -= bands.mean()
            profile = " ".join(f"{b.mean():+5.1f}" for b in np.array_split(bands, 8))
            flat = np.mean([clip_statistics(audio[i], rate)["flatness"] for i in rows])
            print(
                f"{arg:11s} {label:9s} note F1 {h['note_f1']:.2f} frame pc "
                f"{h['frame_pitch_class_f1']:.2f} notes/s {h['notes_per_second']:.1f} "
                f"flatness {flat:.3f} shape {shape:.1f} level {level:+.1f} dB | {profile}",
                flush=True,
            )


if __name__ == "__main__":
    main()
