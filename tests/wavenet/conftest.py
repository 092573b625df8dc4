"""Fixtures shared by the WaveNet tests."""

from __future__ import annotations

import os
import shutil
import sysconfig
from pathlib import Path

import pytest

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
