"""A run written before the package moved into folders (commit 37ac0a7) still loads,
generates, composes and trains on: no on-disk format depends on a module path
(safetensors + JSON + YAML). The run is ``fixtures/old_run`` (see its README): a WaveNet
with labels and local conditioning trained for 2 steps, and a calibrated composer."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from wavenet_music import GenerateConfig, load_run
from wavenet_music.cli import main
from wavenet_music.composer.checkpoint import build_composer, load_composer, saved_calibration
from wavenet_music.wavenet import checkpoint as ckpt
from wavenet_music.wavenet.to_audio import generate_audio
from wavenet_music.wavenet.train import train

FIXTURE = Path(__file__).parent / "fixtures" / "old_run"
RATE = 8000


def write_music(root: Path) -> None:
    """The music the fixture was trained on: per label two 6 s sequences of decaying tones."""
    rng = np.random.default_rng(0)
    for label, base in (("a", 220.0), ("b", 330.0)):
        for k in range(2):
            notes = base * 2 ** (rng.integers(0, 12, 24) / 12)
            t = np.arange(RATE // 4) / RATE
            tones = [0.3 * np.sin(2 * np.pi * f * t) * np.exp(-3 * t) for f in notes]
            audio = np.concatenate(tones) + 0.01 * rng.standard_normal(24 * t.size)
            (root / label).mkdir(parents=True, exist_ok=True)
            sf.write(root / label / f"{k}.wav", audio.astype(np.float32), RATE)


@pytest.fixture
def old_run(tmp_path, monkeypatch) -> tuple[Path, Path]:
    """(run, data): a copy of the fixture whose data.json names a copy of its music; the
    working directory is ``tmp_path`` (the run's ``data.cache_dir`` is relative)."""
    run, data = tmp_path / "run", tmp_path / "data"
    shutil.copytree(FIXTURE, run, ignore=shutil.ignore_patterns("README.md"))
    write_music(data)
    record = json.loads((run / "data.json").read_text())
    (run / "data.json").write_text(json.dumps({**record, "root": str(data)}))
    monkeypatch.chdir(tmp_path)
    return run, data


def test_an_old_run_loads_and_generates(old_run):
    run, data = old_run
    model, config = load_run(run)
    assert config.model.global_labels == ("a", "b") and config.model.local_channels == 8
    assert config.data.sample_rate == RATE and config.train.local_dropout == 0.5
    saved = ckpt.load(run)
    assert saved.step == 2 and saved.config == config
    for name, tensor in model.state_dict().items():
        torch.testing.assert_close(tensor, saved.model[name], rtol=0, atol=0)
    options = GenerateConfig(seconds=0.02, label="a,b", seed=0, device="cpu", engine="eager")
    unsteered = generate_audio(model, config, options, progress=False)
    steered = generate_audio(
        model, config, replace(options, features_from=str(data / "a" / "1.wav")), progress=False
    )
    for audio in (unsteered, steered):
        assert audio.shape == (2, 160) and np.all(np.isfinite(audio))


def test_an_old_run_resumes_training(old_run):
    run, data = old_run
    _, config = load_run(run)
    more = replace(config, train=replace(config.train, steps=3))
    result = train(data, run, more, resume=True, quiet=True)
    assert result.step == 3 and ckpt.load(run).step == 3


def test_an_old_composer_loads_composes_and_resumes(old_run, tmp_path):
    run, _ = old_run
    saved = load_composer(run)
    assert saved.step == 2 and saved.labels == ("a", "b") and saved.codebook.size == 8
    assert saved.config.layers == 1 and saved.config.width == 8
    assert saved_calibration(saved).temperature == 0.5
    build_composer(saved)  # the weights fit the stored config
    out = tmp_path / "piece.wav"
    args = ["compose", str(run), "--seconds", "0.1", "--label", "a", "--seed", "0"]
    assert main([*args, "--device", "cpu", "--out", str(out)]) == 0
    assert sf.read(tmp_path / "piece-a.wav")[0].shape == (800,)
    assert main(["train-composer", str(run), "--resume", "--steps", "3", "--quiet"]) == 0
    assert load_composer(run).step == 3
