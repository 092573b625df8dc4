"""Fine-tuning (``--init-from``): a new run starts from another run's weights, the source
run is only read, a mismatch is one line, and fine-tuning a piano model on guitar lowers
the guitar's held-out bits."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from wavenet_music.cli import main
from wavenet_music.config import Config, UserError
from wavenet_music.runs import read_metrics
from wavenet_music.wavenet import checkpoint as ckpt
from wavenet_music.wavenet import finetune
from wavenet_music.wavenet.model import WaveNet
from wavenet_music.wavenet.train import train

from ..conftest import small_config

FINE_TUNE_STEPS = 40  # from 6.0 to 5.74 bits on the test corpus (0.24 in 30, 0.28 in 60)


def tree_state(root: Path) -> dict[str, tuple[str, int] | None]:
    """Every folder (None) and file (sha256, mtime in ns) under ``root``, by relative path."""
    state: dict[str, tuple[str, int] | None] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            state[os.path.relpath(os.path.join(folder, name), root)] = None
        for name in files:
            path = Path(folder) / name
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            state[os.path.relpath(path, root)] = (digest, path.stat().st_mtime_ns)
    return state


def _cli(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err


def _validation(run: Path) -> dict[int, float]:
    return {r["step"]: r["validation_bits"] for r in read_metrics(run) if "validation_bits" in r}


@pytest.fixture(scope="module")
def guitar_run(piano_run, music_root, tmp_path_factory):
    """The piano run fine-tuned on guitar through the CLI: (new run, source state before,
    source state after)."""
    source, _ = piano_run
    before = tree_state(source)
    new = tmp_path_factory.mktemp("guitar") / "run"
    argv = ["train", str(music_root / "guitar"), "--run", str(new), "--init-from", str(source)]
    assert main([*argv, "--steps", str(FINE_TUNE_STEPS), "--quiet"]) == 0
    return new, before, tree_state(source)


# --- the first weights ------------------------------------------------------------------------


def test_start_from_copies_every_source_weight(piano_run):
    source = finetune.read_source(piano_run[0])
    torch.manual_seed(1)
    model = WaveNet(source.config.model)
    assert not torch.equal(model.causal.weight, source.model["causal.weight"])  # not vacuous
    finetune.start_from(model, source)
    weights = model.state_dict()
    assert weights.keys() == source.model.keys()
    assert all(torch.equal(weights[k], source.model[k]) for k in weights)


def test_known_labels_keep_their_embeddings_and_new_ones_start_fresh(cache_dir):
    base = small_config(cache_dir, **{"data.labels": "folders"})
    old = replace(base.model, global_labels=("guitar", "piano"))
    new = replace(base.model, global_labels=("ambient", "guitar"))  # guitar moves 0 → 1
    torch.manual_seed(0)
    source = ckpt.Checkpoint(replace(base, model=old), 7, WaveNet(old).state_dict())
    torch.manual_seed(1)
    model = WaveNet(new)
    fresh = {k: v.clone() for k, v in model.state_dict().items()}
    finetune.start_from(model, source)
    for i, block in enumerate(model.blocks):
        name = f"blocks.{i}.label_embedding.weight"
        rows = block.label_embedding.weight  # (labels, 2 * dilation_channels)
        assert torch.equal(rows[1], source.model[name][0])  # guitar: learned row carried over
        assert torch.equal(rows[0], fresh[name][0])  # ambient: as a new model starts it
        assert not torch.equal(rows[0], source.model[name][1])  # piano is dropped
        assert torch.equal(block.filter_gate.weight, source.model[f"blocks.{i}.filter_gate.weight"])


def test_feature_statistics_are_the_new_data_s(cache_dir):
    config = small_config(cache_dir, **{"model.local_channels": 12, "data.features": "chroma"})
    torch.manual_seed(0)
    source_model = WaveNet(config.model)
    source_model.upsample.feature_mean.fill_(-40.0)
    source = ckpt.Checkpoint(config, 3, source_model.state_dict())
    model = WaveNet(config.model)
    model.upsample.feature_mean.fill_(-25.0)  # what set_feature_statistics found in new data
    finetune.start_from(model, source)
    assert torch.equal(model.upsample.feature_mean, torch.full((12,), -25.0))
    assert torch.equal(model.upsample.smooth.weight, source_model.upsample.smooth.weight)
    assert torch.equal(model.upsample.absent, source_model.upsample.absent)


# --- end to end ---------------------------------------------------------------------------------


def test_fine_tune_starts_where_the_source_ended(piano_run, music_root, tmp_path, capsys):
    """Fine-tuned on the source's own data, step 0 scores exactly what the source scored last."""
    source, result = piano_run
    folder = ckpt.checkpoint_dirs(source)[-1]  # one checkpoint folder, not the run
    new = tmp_path / "again"
    argv = ["train", str(music_root / "piano"), "--run", str(new), "--init-from", str(folder)]
    code, _ = _cli(capsys, *argv, "--steps", "1", "--quiet")
    assert code == 0
    last_step, last_bits = result.validation_bits[-1]
    assert _validation(new)[0] == pytest.approx(last_bits, rel=1e-6)
    record = json.loads((new / "init_from.json").read_text())
    assert record == {"init_from": str(folder), "checkpoint": str(folder), "step": last_step}
    stored = ckpt.load(new).config
    assert stored.model == ckpt.load(source).config.model  # the source's config by default
    assert (stored.train.steps, stored.train.minutes) == (1, None)  # the budget is its own
    assert ckpt.load(new).step == 1


def test_source_run_is_byte_identical_afterwards(guitar_run):
    _, before, after = guitar_run
    assert any(name.startswith("checkpoints/step_") for name in before)
    assert {"metrics.jsonl", "config.yaml", "data.json", "tensorboard"} <= set(before)
    assert after == before


def test_fine_tuning_on_a_second_genre_lowers_its_bits(guitar_run, piano_run):
    new, _, _ = guitar_run
    bits = _validation(new)
    assert sorted(bits) == [0, FINE_TUNE_STEPS]  # validated at step 0, and at the end
    assert bits[0] < 7.0, bits  # the piano model already knows music: untrained is 8.0
    assert bits[FINE_TUNE_STEPS] < bits[0] - 0.1, bits
    assert json.loads((new / "init_from.json").read_text())["step"] == piano_run[1].step


# --- mismatches ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--residual-channels", "16"], "model.residual_channels is 32 in the source but 16"),
        (["--local-channels", "12"], "model.local_channels is null in the source but 12"),
        (["--sample-rate", "8000"], "data.sample_rate is 16000 in the source but 8000"),
        (["--preset", "tiny"], "model.dilations is [1, 2, 4, 8, 16, 32, 64, 128] in the source"),
        (["--labels", "folders"], "source was trained without them"),
        (["--resume"], "pass one of them"),
    ],
)
def test_mismatch_is_one_line(piano_run, music_root, tmp_path, capsys, flags, expected):
    new = tmp_path / "new"
    argv = ["train", str(music_root / "piano"), "--run", str(new), "--steps", "5"]
    code, err = _cli(capsys, *argv, "--init-from", str(piano_run[0]), *flags)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("wavenet-music train: error: --init-from")
    assert expected in err
    assert not new.exists()


def test_labelled_source_needs_labelled_run(music_root, tmp_path, capsys, cache_dir):
    config = small_config(cache_dir, **{"data.labels": "folders"})
    config = replace(config, model=replace(config.model, global_labels=("guitar", "piano")))
    ckpt.save(
        tmp_path / "labelled", ckpt.Checkpoint(config, 5, WaveNet(config.model).state_dict()), 1
    )
    argv = ["train", str(music_root / "piano"), "--run", str(tmp_path / "new"), "--steps", "5"]
    code, err = _cli(capsys, *argv, "--init-from", str(tmp_path / "labelled"), "--labels", "null")
    assert code == 2 and err.count("\n") == 1
    assert "conditioned on labels ['guitar', 'piano'] but the new run has none" in err


def test_local_features_must_mean_the_same(cache_dir):
    local = small_config(cache_dir, **{"model.local_channels": 12, "data.features": "chroma"})
    for setting, value in (("features", "log_mel"), ("n_fft", 2048)):
        other = replace(local, data=replace(local.data, **{setting: value}))
        with pytest.raises(UserError, match=f"data.{setting} is"):
            finetune.check_compatible(local, other)
    plain = small_config(cache_dir)  # without local conditioning the features are unused
    finetune.check_compatible(plain, replace(plain, data=replace(plain.data, features="chroma")))


def test_source_is_never_the_new_run(piano_run, music_root, tmp_path):
    source, _ = piano_run
    config = finetune.inherited_config(Config.from_dict(ckpt.load(source).config.to_dict()))
    config = replace(config, train=replace(config.train, steps=2))
    for inside in (source, source / "finetuned"):
        with pytest.raises(UserError, match="inside the source run"):
            train(music_root / "piano", inside, config, quiet=True, init_from=source)
    with pytest.raises(UserError, match="pass one of them"):
        train(music_root / "piano", tmp_path / "new", config, resume=True, init_from=source)
    with pytest.raises(UserError, match="expected a run directory or a checkpoint folder"):
        train(music_root / "piano", tmp_path / "new", config, init_from=tmp_path / "nothing")


def test_what_init_from_names_is_checked_in_one_line(piano_run, music_root, tmp_path, capsys):
    """Not a run: a file, a data folder, a composer's checkpoint or folder (RUN/composer:
    it said "not a trained run") each say what they are;
    RUN/checkpoints stands for its run (the same weights as RUN)."""
    source, _ = piano_run
    composer = tmp_path / "composer" / "step_00000001"
    composer.mkdir(parents=True)
    (composer / "meta.json").write_text(json.dumps({"composer": {}, "step": 1}))
    cases = {
        music_root / "piano" / sorted(os.listdir(music_root / "piano"))[0]: "a file;",
        music_root / "piano": "not a trained run (no checkpoints/ in it)",
        composer: "a composer checkpoint",
        composer.parent: f"a composer's checkpoints; fine-tuning starts a WaveNet from a "
        f"WaveNet's: name its run ({tmp_path})",
    }
    for path, expected in cases.items():
        new = tmp_path / "new"
        argv = ["train", str(music_root / "piano"), "--run", str(new), "--steps", "1"]
        code, err = _cli(capsys, *argv, "--init-from", str(path))
        assert code == 2 and err.count("\n") == 1 and expected in err, err
        assert not new.exists()
    by_folder = finetune.read_source(source / ckpt.CHECKPOINTS)
    by_run = finetune.read_source(source)
    assert by_folder.path == by_run.path and by_folder.step == by_run.step
    assert finetune.source_config(source / ckpt.CHECKPOINTS) == by_run.config
