"""The files the package reads besides its Python modules ship with it: every one is named
by ``package-data`` in pyproject.toml (a folder move that left a glob behind would build a
wheel without them), and the code finds them where it looks."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from wavenet_music.config import load_preset, preset_names
from wavenet_music.wavenet import kernels

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "wavenet_music"


def data_files() -> set[Path]:
    """Every file of the package that is not Python (caches and bytecode aside)."""
    return {
        p.relative_to(PACKAGE)
        for p in PACKAGE.rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    }


def test_every_data_file_is_named_by_package_data():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    globs = setuptools["package-data"]["wavenet_music"]
    shipped = {p.relative_to(PACKAGE) for g in globs for p in PACKAGE.glob(g)}
    assert data_files(), "expected the presets and the kernel source, found no data files"
    assert data_files() <= shipped, f"not in package-data {globs}: {data_files() - shipped}"


def test_the_code_finds_the_kernel_source_and_the_presets():
    package = resources.files("wavenet_music")
    assert (package / "wavenet" / "kernels" / "wavenet_step.cpp").is_file()
    assert kernels.SOURCE.is_file() and kernels.SOURCE.name == "wavenet_step.cpp"
    assert {"tiny", "reference"} <= set(preset_names())
    for name in preset_names():
        load_preset(name)  # each one parses into a config
