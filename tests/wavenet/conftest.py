"""Fixtures shared by the WaveNet tests."""

from __future__ import annotations

import os
import shutil
import sysconfig
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from wavenet_music.config import DataConfig
from wavenet_music.wavenet import kernels


@pytest.fixture(scope="session")
def step_module():
    """The compiled module, built at most once per session; skips without a compiler."""
    try:
        return kernels.load_step_module()
    except kernels.KernelBuildError as exc:
        if shutil.which(os.environ.get("CXX", "c++")) is None:
            pytest.skip(f"no C++ compiler to build the compiled step: {exc}")
        if not (Path(sysconfig.get_paths()["include"]) / "Python.h").exists():
            pytest.skip(f"no Python headers (Debian: python3-dev) for the compiled step: {exc}")
        raise


# --- a small folder of music for the data tests -----------------------------------------

TONE_RATE = 8000


def write_tone(path: Path, seconds: float, freq: float = 300.0, rate: int = TONE_RATE) -> Path:
    """A sine tone of ``seconds`` written to ``path`` (its folders made)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * rate)) / rate
    sf.write(path, 0.3 * np.sin(2 * np.pi * freq * t), rate)
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Genre folders (one nested a level deeper), a top-level file, and things that are not
    audio: a text file and a folder named like a WAV."""
    root = tmp_path / "music"
    for genre, count in (("piano", 4), ("guitar", 3)):
        for i in range(count):
            write_tone(root / genre / "sub" / f"{genre}{i}.wav", 1.0 + i / 10, 200 + 50 * i)
    write_tone(root / "ambient" / "long.flac", 3.0)
    write_tone(root / "top.wav", 0.5)
    (root / "notes.txt").write_text("not audio")
    (root / "fake.wav").mkdir()  # a folder named like audio
    return root


def data_config(tmp_path: Path, **kw) -> DataConfig:
    """The data settings of the tests: 8 kHz, windows of 500 samples, a cache in ``tmp_path``."""
    return DataConfig(
        sample_rate=TONE_RATE, sample_size=500, cache_dir=str(tmp_path / "cache"), **kw
    )


def label_manifest(tmp_path: Path, *rows: str) -> Path:
    """A labels CSV in ``tmp_path`` with a header and ``rows`` ("file,label")."""
    path = tmp_path / "labels.csv"
    path.write_text("file,label\n" + "".join(f"{row}\n" for row in rows))
    return path
