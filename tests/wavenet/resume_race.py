"""``wavenet-music`` as torchrun launches it, with one interleaving of a resume forced (for
test_distributed.py): rank 1 lists the run's checkpoints before rank 0 puts back the one a
crash hid, and reads them once rank 0 has chosen its checkpoint. Each process writes the
step it goes on from to ``RACE_DIR/restored_RANK``.

    torchrun --nproc_per_node 2 -- tests/wavenet/resume_race.py train DATA --run RUN --resume
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from wavenet_music.cli import main
from wavenet_music.wavenet import checkpoint as ckpt
from wavenet_music.wavenet.train import Trainer

RANK = os.environ["RANK"]
SIGNS = Path(os.environ["RACE_DIR"])
LISTED, SETTLED = SIGNS / "listed", SIGNS / "settled"  # rank 1 listed; rank 0 chose
GUARD_S = 600  # a hang guard: the other process stopped before it made its sign


def wait_for(sign: Path) -> None:
    deadline = time.monotonic() + GUARD_S
    while not sign.exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"rank {RANK}: no {sign.name} after {GUARD_S} s")
        time.sleep(0.05)


def after(sign: Path, function: Callable) -> Callable:
    def waiting(*args, **kwargs):
        wait_for(sign)
        return function(*args, **kwargs)

    return waiting


def then_sign(sign: Path, function: Callable) -> Callable:
    def signing(*args, **kwargs):
        result = function(*args, **kwargs)
        sign.touch()
        return result

    return signing


def listed_early(load: Callable) -> Callable:
    """``ckpt.load`` that lists the folder, lets rank 0 change it, then reads that listing."""

    def load_listed_early(run_dir: Path, weights_only: bool = False) -> ckpt.Checkpoint:
        listing, candidate_dirs = (
            ckpt.candidate_dirs(Path(run_dir) / ckpt.CHECKPOINTS),
            ckpt.candidate_dirs,
        )
        LISTED.touch()
        wait_for(SETTLED)
        ckpt.candidate_dirs = lambda folder: listing
        try:
            return load(run_dir, weights_only)
        finally:
            ckpt.candidate_dirs = candidate_dirs

    return load_listed_early


def recording(restore: Callable) -> Callable:
    def restore_and_record(trainer: Trainer, checkpoint: ckpt.Checkpoint) -> None:
        (SIGNS / f"restored_{RANK}").write_text(str(checkpoint.step))
        restore(trainer, checkpoint)

    return restore_and_record


if RANK == "0":
    ckpt.remove_unfinished = after(LISTED, ckpt.remove_unfinished)
    ckpt.load = then_sign(SETTLED, ckpt.load)
else:
    ckpt.load = listed_early(ckpt.load)
Trainer.restore = recording(Trainer.restore)
sys.exit(main(sys.argv[1:]))
