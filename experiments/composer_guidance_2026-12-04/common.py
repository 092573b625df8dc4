"""What every script here loads: the run's composer, its best weights or its latest."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from wavenet_music.composer.checkpoint import build_composer, load_composer
from wavenet_music.composer.model import Composer

CURRENT = "current."


def run_composer(run: Path, current: bool = False) -> Composer:
    """RUN's composer in eval mode: the best held-out weights (what ``compose`` uses) or,
    with ``current``, the weights training went on from (its last step)."""
    saved = load_composer(run, weights_only=not current)
    if current:
        weights = {
            k.removeprefix(CURRENT): v for k, v in saved.tensors.items() if k.startswith(CURRENT)
        }
        saved = replace(saved, model=weights)
    return build_composer(saved).eval()


def add_current(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--current", action="store_true", help="the composer's last weights, not its best"
    )
