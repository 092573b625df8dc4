"""The excitation split by register: does the WaveNet play the treble when it can weigh
it apart from the bass? (issue 17)

    python split.py train DATA RUN [SEED]   # the notes preset, 2,000 steps, seed 0
    python split.py score CHECKPOINT --held DIR [score.py's options]

The package's excitation (``notes/excitation.py``) adds every sounding note into the same
three channels, so the first 1×1 projection of each layer weighs a C6 exactly as a C2.
Here the same three channels are made once per register (notes below C3, C3-B3, C4-B4,
C5 and above: 12 channels), by patching the excitation into the package before the model
is built; nothing else changes. ``score`` runs ``../notes_pre_emphasis_2026-12-02/score.py``
with the same patch.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "experiments" / "notes_pre_emphasis_2026-12-02"))

import wavenet_music.notes.excitation as excitation_module  # noqa: E402
import wavenet_music.notes.features as features_module  # noqa: E402
import wavenet_music.wavenet.follow as follow_module  # noqa: E402
import wavenet_music.wavenet.model as model_module  # noqa: E402

REGISTERS = (0, 48, 60, 72, 128)  # MIDI pitch bounds: below C3, C3-B3, C4-B4, C5 and up
BASE = excitation_module.CHANNELS
CHANNELS = BASE * (len(REGISTERS) - 1)
plain_excitation = excitation_module.excitation


def register_excitation(notes, first_sample: int, count: int, sample_rate: int) -> np.ndarray:
    """(CHANNELS, count): the package's excitation of each register's notes, stacked."""
    parts = [
        plain_excitation([n for n in notes if lo <= n.pitch < hi], first_sample, count, sample_rate)
        for lo, hi in itertools.pairwise(REGISTERS)
    ]
    return np.concatenate(parts).astype(np.float32)


def patch() -> None:
    features_module.excitation = register_excitation
    follow_module.excitation = register_excitation
    follow_module.CHANNELS = CHANNELS
    model_module.EXCITATION_CHANNELS = CHANNELS


def train(data: Path, run: Path, seed: int = 0) -> None:
    from wavenet_music.config import apply_overrides, load_preset
    from wavenet_music.wavenet.train import train as train_run

    config = apply_overrides(
        load_preset("notes"),
        {
            "data.validation_fraction": 0.0,
            "data.cache_dir": str(run.parent / "cache"),
            "train.steps": 2000,
            "train.checkpoint_every": 1000,
            "train.keep_checkpoints": 10,
            "train.seed": seed,
            "train.audio_every": None,
        },
    )
    print(train_run(data, run, config, quiet=True))


if __name__ == "__main__":
    patch()
    command, rest = sys.argv[1], sys.argv[2:]
    if command == "train":
        train(Path(rest[0]), Path(rest[1]), int(rest[2]) if len(rest) > 2 else 0)
    else:
        import score

        sys.argv = ["score.py", *rest]
        score.main()
