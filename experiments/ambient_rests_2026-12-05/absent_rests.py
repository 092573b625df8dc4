"""Probe: render with the rests played as "notes withheld" (the roll's frames where no note
sounds set absent, NaN, as training withholds the notes of 30% of its windows), so that in
a rest the WaveNet plays as it does unsteered. Not in the package.

    python absent_rests.py RUN MIDI OUT [render flags]"""

from __future__ import annotations

import sys

import numpy as np
import torch

from wavenet_music import cli
from wavenet_music.wavenet import to_audio

steering = to_audio.notes_steering


def rests_absent(notes, config, length, clips, gain=1.0, tilt=0.0):
    features, heard = steering(notes, config, length, clips, gain, tilt)
    if notes is not None:
        rest = ~(features.abs().sum(1, keepdim=True) > 0)  # (clips, 1, K): no key down
        features = torch.where(rest, torch.tensor(np.nan), features)
    return features, heard


def patch() -> None:
    """Every clip played from here on rests "notes withheld"."""
    to_audio.notes_steering = rests_absent


if __name__ == "__main__":
    patch()
    run, midi, out, *flags = sys.argv[1:]
    sys.exit(cli.main(["render", run, midi, "--out", out, *flags]))
