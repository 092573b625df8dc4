"""scripts/measure_structure.py's bootstrap: clips are resampled with all their windows,
and it says which of composed and plain sits closer to real music."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "measure_structure.py"
spec = importlib.util.spec_from_file_location("measure_structure", SCRIPT)
measure_structure = importlib.util.module_from_spec(spec)
spec.loader.exec_module(measure_structure)


def clips(centre: float, count: int, seed: int) -> list[list[dict]]:
    """``count`` clips of two windows each, every statistic drawn around ``centre``."""
    rng = np.random.default_rng(seed)
    names = ("chroma_repetition", "onset_rate_cv", "loudness_autocorrelation")
    return [
        [{n: float(centre + rng.normal(0, 0.1)) for n in names} for _ in range(2)]
        for _ in range(count)
    ]


def test_the_bootstrap_finds_the_kind_that_sits_closer_to_real_music():
    near, far = clips(0.32, 16, 1), clips(0.1, 16, 2)
    by_clip = {"real": clips(0.3, 32, 0), "composed": near, "plain": far}
    assert measure_structure.bootstrap(by_clip, "mean") > 0.99
    assert measure_structure.bootstrap(by_clip, "onset_rate_cv") > 0.99
    swapped = {**by_clip, "composed": far, "plain": near}
    assert measure_structure.bootstrap(swapped, "mean") < 0.01


def test_two_kinds_drawn_alike_split_the_resamplings():
    by_clip = {"real": clips(0.3, 32, 0), "composed": clips(0.2, 16, 1), "plain": clips(0.2, 16, 2)}
    assert 0.05 < measure_structure.bootstrap(by_clip, "mean") < 0.95
