"""Composed pieces rendered at lower temperatures while notes sound.

python probe.py RUN REPORT SECONDS SEED SCALE [SCALE ...]

Renders the first SECONDS of every REPORT/LABEL-composed-N.mid in one batch, with the
report's sampling (gain, tilt, harmonics, floor, jump limit; no noise guard, no unsteered
rests) but the temperature times SCALE wherever a note sounds (the package: 0.6), the
draws' seed SEED. Prints per genre what reaches the ear (report.notes.heard_figures), the
spectral flatness, the level and the shape against the genre's real excerpts. The loop is
``../excitation_channels_2026-12-06/channel_probe.py``'s, the temperature scale in place of
the channel gains (a lab record stands alone: copied, not imported).
"""

import glob
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from wavenet_music.audio.spectral import clip_statistics, shape_and_level
from wavenet_music.notes.midi import read_midi
from wavenet_music.report.notes import heard_figures
from wavenet_music.wavenet.checkpoint import load_model
from wavenet_music.wavenet.follow import render_notes


def main() -> None:
    run, report, seconds = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])
    seed = int(sys.argv[4])
    torch.set_num_threads(1)
    model, config = load_model(run)
    mids = sorted(glob.glob(str(report / "*-composed-*.mid")))
    labels = [Path(m).name.split("-composed-")[0] for m in mids]
    pieces = [[n for n in read_midi(Path(m)) if n.onset < seconds] for m in mids]
    index = torch.tensor([config.model.global_labels.index(lab) for lab in labels])
    rate = config.data.sample_rate
    for arg in sys.argv[5:]:
        audio = render_notes(
            model, config, pieces, seconds, index, seed=seed, temperature_scale=float(arg)
        )
        for label in sorted(set(labels)):
            rows = [i for i, lab in enumerate(labels) if lab == label]
            h = heard_figures([pieces[i] for i in rows], audio[rows], rate)
            real = [
                sf.read(p, dtype="float32")[0][: audio.shape[1]]
                for p in sorted(glob.glob(str(report / f"{label}-real-*.wav")))
            ]
            shape, level = shape_and_level(list(audio[rows]), real, rate)
            flat = np.mean([clip_statistics(audio[i], rate)["flatness"] for i in rows])
            print(
                f"scale {arg:5s} seed {seed} {label:9s} note F1 {h['note_f1']:.2f} frame pc "
                f"{h['frame_pitch_class_f1']:.2f} notes/s {h['notes_per_second']:.1f} "
                f"flatness {flat:.3f} shape {shape:.1f} level {level:+.1f} dB",
                flush=True,
            )


if __name__ == "__main__":
    main()
