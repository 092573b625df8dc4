"""Shared fixtures: a small real-music corpus built once per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from wavenet_music.config import Config, apply_overrides

# Per-genre minutes of the corpus the tests learn from. Built from Debian/PyPI packages,
# cached between sessions under .pytest_cache (the builder skips an up-to-date corpus).
TEST_CORPUS_MINUTES = 0.5


@pytest.fixture(scope="session")
def music_root() -> Path:
    """Real music in four genre folders (piano, guitar, classical, ambient) at 16 kHz."""
    from wavenet_music.demo_corpus import build_demo_corpus

    root = Path(
        os.environ.get(
            "WAVENET_TEST_CORPUS", Path(__file__).parent.parent / ".pytest_cache" / "music"
        )
    )
    build_demo_corpus(root, minutes=TEST_CORPUS_MINUTES)
    return root


@pytest.fixture
def cache_dir(tmp_path: Path) -> str:
    return str(tmp_path / "cache")


def small_config(cache_dir: str, **overrides) -> Config:
    """A model small enough to train in seconds on 2 cores."""
    base = {
        "model.dilations": [1, 2, 4, 8, 16, 32, 64, 128],
        "model.residual_channels": 32,
        "model.dilation_channels": 32,
        "model.skip_channels": 64,
        "data.sample_size": 1000,
        "data.cache_dir": cache_dir,
        "train.batch_size": 4,
        "train.learning_rate": 0.003,
        "train.warmup_steps": 20,
        "train.validate_every": 1000,
        "train.checkpoint_every": 1000,
        "train.validation_windows": 8,
    }
    base.update(overrides)
    return apply_overrides(Config(), base)


@pytest.fixture(scope="session")
def piano_run(music_root, tmp_path_factory):
    """A small model trained for 300 steps (seconds) on real piano music: (run, result)."""
    from wavenet_music.train import train

    base = tmp_path_factory.mktemp("piano")
    config = small_config(str(base / "cache"), **{"train.steps": 300, "train.validate_every": 100})
    return base / "run", train(music_root / "piano", base / "run", config, quiet=True)
