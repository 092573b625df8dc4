"""The command line, called in-process: train → generate → evaluate, and bad input."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from wavenet_music.cli import main
from wavenet_music.config import Config, GenerateConfig, UserError
from wavenet_music.wavenet.to_audio import clip_paths, clip_plan, rewrite_due, sound_warnings


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


SMALL = [
    "--preset",
    "tiny",
    "--dilations",
    "{stacks: 1, max: 128}",
    "--sample-size",
    "800",
    "--batch-size",
    "4",
    "--validate-every",
    "50",
    "--audio-every",
    "30",
    "--audio-seconds",
    "0.05",
]


@pytest.fixture(scope="module")
def trained_run(music_root, tmp_path_factory):
    """One short CLI training run on two genres, shared by the tests below."""
    from wavenet_music.cli import main

    base = tmp_path_factory.mktemp("cli")
    data = base / "data"
    data.mkdir()
    for genre in ("piano", "guitar"):
        (data / genre).symlink_to(music_root / genre)
    run = base / "run"
    code = main(
        [
            "train",
            str(data),
            "--run",
            str(run),
            *SMALL,
            "--steps",
            "60",
            "--quiet",
            "--set",
            f"data.cache_dir={base / 'cache'}",
        ]
    )
    assert code == 0
    return run, data


def test_train_writes_a_complete_run(trained_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run, _ = trained_run
    assert (run / "config.yaml").exists() and (run / "data.json").exists()
    assert list((run / "checkpoints").glob("step_00000060/model.safetensors"))
    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"audio": 0}).Reload()
    tags = events.Tags()
    assert {"bits_per_sample/train", "bits_per_sample/validation", "learning_rate"} <= set(
        tags["scalars"]
    )
    assert [e.step for e in events.Scalars("bits_per_sample/validation")] == [0, 50, 60]
    assert [e.step for e in events.Audio("generated")] == [30, 60]
    assert events.Audio("generated")[0].sample_rate == 16000
    assert [e.step for e in events.Images("spectrogram/generated")] == [30, 60]


def test_generate_writes_wavs_at_the_model_rate(trained_run, tmp_path, capsys):
    run, _ = trained_run
    code, out, err = _run(
        capsys,
        "generate",
        str(run),
        "--seconds",
        "0.25",
        "--num",
        "2",
        "--out",
        str(tmp_path / "clip.wav"),
        "--quiet",
    )
    assert code == 0, err
    paths = out.split()
    assert [p.rsplit("/", 1)[1] for p in paths] == ["clip-1.wav", "clip-2.wav"]
    for path in paths:
        info = sf.info(path)
        assert (info.samplerate, info.frames, info.channels) == (16000, 4000, 1)
        assert info.subtype == "PCM_16"
    a, b = (sf.read(p)[0] for p in paths)
    assert not np.array_equal(a, b)


def test_a_clip_with_no_sound_or_clipped_samples_is_said(trained_run, tmp_path, capsys):
    run, _ = trained_run
    out = tmp_path / "flat.wav"
    code, _, err = _run(
        capsys, "generate", str(run), "--seconds", "0.1", "--temperature", "0", "--out", str(out)
    )
    assert code == 0, err
    assert np.ptp(sf.read(out)[0]) < 1e-3  # the likeliest sample, drawn again and again
    assert f"warning: {out}: no sound (one value throughout); raise --temperature" in err
    assert sound_warnings([out], np.zeros((1, 100))) == [
        f"{out}: no sound (one value throughout); raise --temperature"
    ]
    clipped = np.sin(np.linspace(0, 20, 1000))[None] * 1.2
    [line] = sound_warnings([out], clipped)
    assert line.endswith("samples at full scale (clipping); lower --temperature")
    assert sound_warnings([out], 0.5 * clipped / 1.2) == []  # music: nothing said


def test_no_sound_under_a_tiny_max_jump_names_max_jump(trained_run, tmp_path, capsys):
    """Every step kept within 0.0001 of the one before: no sound at any temperature, and
    the advice was "raise --temperature"; compose's flags are its own."""
    run, _ = trained_run
    out = tmp_path / "stuck.wav"
    args = ["generate", str(run), "--seconds", "0.1", "--max-jump", "0.0001", "--quiet"]
    code, _, err = _run(capsys, *args, "--temperature", "1.5", "--out", str(out))
    assert code == 0, err
    assert np.ptp(sf.read(out)[0]) < 1e-3
    assert f"warning: {out}: no sound (one value throughout); raise --max-jump (at 0.0001" in err
    flags = ("--wavenet-temperature", "--wavenet-max-jump")
    [line] = sound_warnings([out], np.zeros((1, 100)), 0.0005, flags)
    assert line.endswith(
        "raise --wavenet-max-jump (at 0.0005 a sample moves at most that far "
        "from the one before; 0.001 is heard) or --wavenet-temperature"
    )
    [line] = sound_warnings([out], np.zeros((1, 100)), 0.5, flags)  # the default: not the cause
    assert line.endswith("raise --wavenet-temperature")


def test_a_clip_drawn_again_is_said_and_one_left_as_noise_is_a_warning(
    trained_run, tmp_path, capsys
):
    """With a bound every sound exceeds, every clip falls at once: each is drawn again
    from its start, 4 times, then left and named in a warning; with 0, never judged."""
    run, _ = trained_run
    out = tmp_path / "take.wav"
    flags = ["generate", str(run), "--seconds", "1", "--num", "2", "--out", str(out), "--quiet"]
    code, _, err = _run(capsys, *flags, "--redraw-noise", "0.001")
    assert code == 0, err
    for clip in ("take-1.wav", "take-2.wav"):
        path = tmp_path / clip
        assert f"{path}: fell into noise 1x, drawn again from 0.0 s" in err
        assert f"warning: {path}: still noise from 0.0 s after 4 draws" in err
    code, _, err = _run(capsys, *flags, "--redraw-noise", "0")
    assert code == 0 and "noise" not in err


def test_a_long_piece_rewrites_its_partial_wav_a_few_times_its_size_not_its_square():
    """A 4-minute piece at the default 2-s chunks rewrote its WAV 120 times (465 MB written
    for a 7.7-MB file); a 1-hour one would have written about 104 GB."""
    rate, every = 16000, 2 * 16000
    for minutes in (4, 60):
        length, written, total, writes = minutes * 60 * rate, 0, 0, []
        for made in range(every, length + 1, every):
            if rewrite_due(made, written, every):
                written, total = made, total + made
                writes.append(made)
        assert writes[:4] == [every, 2 * every, 3 * every, 4 * every]  # short: every chunk
        assert total <= 6 * length and len(writes) < 40  # the final write comes on top


def test_generate_is_reproducible_with_a_seed(trained_run, tmp_path, capsys):
    run, data = trained_run
    clips = []
    for name in ("a.wav", "b.wav"):
        code, _, err = _run(
            capsys,
            "generate",
            str(run),
            "--seconds",
            "0.1",
            "--seed",
            "7",
            "--temperature",
            "0.9",
            "--out",
            str(tmp_path / name),
            "--quiet",
            "--seed-audio",
            str(sorted((data / "piano").glob("*.flac"))[0]),
            "--save-every",
            "0.05",
        )
        assert code == 0, err
        clips.append(sf.read(tmp_path / name)[0])
    assert np.array_equal(*clips)


def test_a_seed_audio_of_nan_is_refused_and_nan_in_one_is_said(trained_run, tmp_path, capsys):
    """An all-NaN seed was continued as silence, exit 0, without a word; NaN among real
    samples is silence, said as training says it."""
    run, _ = trained_run
    args = ["generate", str(run), "--seconds", "0.05", "--quiet", "--seed-audio"]
    nan = tmp_path / "nan.wav"
    sf.write(nan, np.full(8000, np.nan, dtype=np.float32), 16000, subtype="FLOAT")
    out = tmp_path / "x.wav"
    code, _, err = _run(capsys, *args, str(nan), "--out", str(out))
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and not out.exists()
    assert "nan.wav: no finite samples (all NaN or infinite)" in lines[0]
    assert "pass another --seed-audio" in lines[0]
    holes = tmp_path / "holes.wav"
    tone = 0.3 * np.sin(np.arange(8000, dtype=np.float32) / 5)
    tone[-100:] = np.inf
    sf.write(holes, tone, 16000, subtype="FLOAT")
    code, _, err = _run(capsys, *args, str(holes), "--out", str(out))
    assert code == 0 and "holes.wav: 100 non-finite samples replaced by 0 (the seed audio)" in err


def test_evaluate_reports_bits_per_sample(trained_run, music_root, capsys):
    run, _ = trained_run
    code, out, err = _run(
        capsys, "evaluate", str(run), "--data", str(music_root / "classical"), "--json", "--quiet"
    )
    assert code == 0, err
    result = json.loads(out)
    assert 0 < result["bits_per_sample"] < 8.5
    seconds = sum(sf.info(p).duration for p in (music_root / "classical").iterdir())
    assert result["samples"] == pytest.approx(seconds * 16000, abs=2)


def test_evaluate_of_a_run_with_tiny_windows_is_quick_and_shows_its_progress(
    trained_run, music_root, tmp_path, capsys
):
    """A run trained on windows of 16 targets was scored 16 targets a window, each window
    recomputing its receptive field (257 samples) first: 17 times the work, and silent."""
    from wavenet_music.wavenet.checkpoint import load_model
    from wavenet_music.wavenet.evaluate import evaluate

    run, _ = trained_run
    audio, rate = sf.read(sorted((music_root / "classical").iterdir())[0])
    excerpt = tmp_path / "excerpt.wav"
    sf.write(excerpt, audio[: rate // 2], rate)  # 8,000 samples
    model, config = load_model(run)
    assert config.model.receptive_field == 257
    tiny = dataclasses.replace(config, data=dataclasses.replace(config.data, sample_size=16))
    passes = []
    model.register_forward_hook(lambda module, inputs, output: passes.append(output.shape))
    bits = evaluate(model, tiny, excerpt, quiet=True).bits_per_sample
    assert len(passes) <= 8 + 1  # 31 windows of 257 targets, 4 a pass, and the rest (not 125)
    same = evaluate(model, config, excerpt, quiet=True).bits_per_sample  # windows of 800
    assert bits == pytest.approx(same, abs=1e-5)  # the windows change the work, not the bits
    code, out, err = _run(capsys, "evaluate", str(run), "--data", str(excerpt))
    assert code == 0 and "bits per sample" in out
    assert "evaluating" in err and "8.00k/8.00k" in err  # how much, and how far it got


def test_info_reports_the_reference_figures(capsys):
    code, out, _ = _run(capsys, "info", "--preset", "reference", "--json")
    info = json.loads(out)
    assert code == 0 and info["receptive_field"] == 10_237
    assert info["parameters"] == 6_142_592 and info["macs_per_sample"] == 6_074_368
    assert info["training_state_bytes"] == 16 * 6_142_592  # float32 weights, grads, 2 moments
    window = info["window_activation_bytes"]  # a window of 20,236 inputs through 55 layers
    assert 1.0 * 2**30 < window < 1.5 * 2**30
    assert info["training_step_bytes"] == pytest.approx(16 * 6_142_592 + window, rel=1e-3)
    code, out, _ = _run(capsys, "info", "--preset", "reference")
    assert "10,237 samples = 0.640 s" in out and "93.7 MiB (weights, gradients" in out
    assert re.search(r"training step +about 1\.\d GiB at batch 1", out), out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "{tmp}/missing", "--run", "{tmp}/r", "--steps", "1"], "does not exist"),
        (["train", "{tmp}/empty", "--run", "{tmp}/r", "--steps", "1"], "no audio files"),
        (["train", "{tmp}/text", "--run", "{tmp}/r", "--steps", "1"], "none of the 1 audio"),
        (
            ["train", "{tmp}/short", "--run", "{tmp}/r", "--steps", "1"],
            "shorter than the receptive field",
        ),
        (["train", "{tmp}/empty", "--run", "{tmp}/r", "--preset", "huge"], "unknown preset"),
        (
            ["train", "{tmp}/empty", "--run", "{tmp}/r", "--residual-channels", "-4"],
            "model.residual_channels: expected an integer in [1, 4096], got -4",
        ),
        (
            ["train", "{tmp}/empty", "--run", "{tmp}/r", "--set", "model.foo=1"],
            "unknown setting 'model.foo'",
        ),
        (["generate", "{tmp}/empty"], "holds no checkpoint"),
        (["generate", "{tmp}/nowhere"], "does not exist"),
        (["evaluate", "{tmp}/empty", "--data", "{tmp}/empty"], "holds no checkpoint"),
        (["info", "--sample-rate", "0"], "expected an integer in [1000, 384000], got 0"),
        (  # what train refuses, info refuses: it printed a table and exited 0
            ["info", "--preset", "tiny", "--features", "chroma", "--local-channels", "80"],
            "chroma features have 12 channels, got 80",
        ),
        (["info", "--preset", "tiny", "--excitation", "true"], "the excitation is made of notes"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "song.wav").write_text("this is not audio")
    (tmp_path / "short").mkdir()
    sf.write(tmp_path / "short" / "blip.wav", np.zeros(500), 16000)
    argv = [a.format(tmp=tmp_path) for a in argv]
    code, _, err = (
        _run(capsys, *argv, "--set", f"data.cache_dir={tmp_path / 'c'}")
        if argv[0] == "train"
        else _run(capsys, *argv)
    )
    assert code == 2
    last = err.strip().splitlines()[-1]
    assert message in last and "Traceback" not in err, err


@pytest.mark.parametrize(
    "data, message",
    [
        ("{tmp}/missing", "--data {tmp}/missing does not exist"),
        ("{tmp}/notes.txt", "--data {tmp}/notes.txt is a file, not the run's training data"),
        ("{tmp}/empty", "--data {tmp}/empty holds none of the run's"),
    ],
)
def test_report_refuses_data_that_is_not_the_runs(trained_run, tmp_path, capsys, data, message):
    run, trained_on = trained_run
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("not music")
    out = tmp_path / "report"
    code, _, err = _run(
        capsys, "report", str(run), "--data", data.format(tmp=tmp_path), "--out", str(out)
    )
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert message.format(tmp=tmp_path) in err and f"(it was trained on {trained_on}" in err, err
    assert not out.exists()


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "data.json (No such file or directory)"),
        ("garbage", "data.json (not the split training wrote: JSONDecodeError"),
        ('{"root": "/music"}', "data.json (not the split training wrote: KeyError('train')"),
    ],
)
def test_report_data_needs_the_runs_split(trained_run, tmp_path, capsys, content, message):
    run, trained_on = trained_run
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    if content is None:
        (copy / "data.json").unlink()
    else:
        (copy / "data.json").write_text(content)
    out = tmp_path / "report"
    code, _, err = _run(capsys, "report", str(copy), "--data", str(trained_on), "--out", str(out))
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert message in err and "leave out --data, or restore the file" in err
    assert not out.exists()


def test_a_report_where_its_folder_cannot_be_made_is_one_line(trained_run, tmp_path, capsys):
    run, _ = trained_run
    (tmp_path / "file").write_text("a file, not a folder")
    out = tmp_path / "file" / "report"
    code, _, err = _run(capsys, "report", str(run), "--out", str(out), "--clips", "1")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert f"--out {out}: cannot write in {out.parent}" in err
    assert not any(p.name.startswith(".report") for p in tmp_path.iterdir())


# --- train-composer: the composer's settings layer like the WaveNet's -----------------------------

PROJECT = """\
model: {residual_channels: 16}  # train's section: train-composer skips it
composer:
  heads: 2
  width: 32
  layers: 2
  validate_every: 7
"""


@pytest.fixture
def composer_trainer(monkeypatch):
    """The ``ComposerConfig`` that ``train-composer`` hands its trainer (nothing trains)."""
    import wavenet_music.composer.train as composer_train

    received = []

    class Result:
        def to_dict(self) -> dict:
            return {}

    def fake(run_dir, data_root, config, resume=False, quiet=False):
        received.append((config, resume))
        return Result()

    monkeypatch.setattr(composer_train, "train_composer", fake)
    return received


def test_composer_settings_layer_preset_file_flags_set(composer_trainer, tmp_path, capsys):
    from wavenet_music.composer.config import ComposerConfig

    (tmp_path / "project.yaml").write_text(PROJECT)
    argv = ["train-composer", str(tmp_path / "run"), "--preset", "demo"]
    argv += ["--config", str(tmp_path / "project.yaml"), "--width", "64", "--layers", "4"]
    code, _, err = _run(capsys, *argv, "--set", "composer.layers=3", "--steps", "5")
    assert code == 0, err
    demo = {  # the preset's, not overridden
        "warmup_steps": 30,
        "transpose": True,
        "patience": None,
        "keep_best": False,
        "attention_dropout": 0.0,
    }
    mine = {"validate_every": 7, "heads": 2}  # the file's, over the preset's validate_every
    asked = {"width": 64, "layers": 3, "steps": 5}  # flags over the file, --set over flags
    assert composer_trainer == [(ComposerConfig(**demo, **mine, **asked), False)]


def test_composer_resume_starts_from_the_stored_config(composer_trainer, tmp_path, monkeypatch):
    """The stored config without its budget, under this session's flags; a changed setting
    reaches the trainer, which refuses it."""
    import wavenet_music.composer.checkpoint as composer_checkpoint
    from wavenet_music.composer.config import ComposerConfig

    stored = ComposerConfig(layers=2, steps=100, minutes=9.0)
    monkeypatch.setattr(composer_checkpoint, "stored_composer_config", lambda run: stored)
    run = str(tmp_path / "run")
    assert main(["train-composer", run, "--resume", "--steps", "150"]) == 0
    assert main(["train-composer", run, "--resume", "--preset", "demo", "--steps", "150"]) == 0
    resumed, preset = (config for config, resume in composer_trainer if resume)
    assert resumed == ComposerConfig(layers=2, steps=150)
    assert (preset.layers, preset.transpose) == (4, True)


@pytest.mark.parametrize(
    "extra, file, message",
    [
        (
            ["--preset", "huge"],
            None,
            "unknown preset 'huge'; choose one of: chroma, demo, notes, reference",
        ),
        ([], "composer: {layerz: 2}", "unknown setting 'composer.layerz'; known in composer:"),
        ([], "composer: {layers: 0}", "composer.layers: expected an integer in [1, 128], got 0"),
        ([], "composer: [1]", "config section 'composer': expected a mapping"),
        ([], "compose: {layers: 2}", "unknown config section 'compose'"),
        (["--layers", "0"], None, "composer.layers: expected an integer in [1, 128], got 0"),
        (["--set", "composer.layerz=1"], None, "unknown setting 'composer.layerz'"),
        (["--set", "composer.width=30"], None, "composer.width: expected a multiple of heads"),
        (["--set", "model.layers=1"], None, "expected section.key with section in ('composer',)"),
    ],
)
def test_bad_composer_settings_are_one_line_and_exit_2(
    composer_trainer, tmp_path, capsys, extra, file, message
):
    if file is not None:
        (tmp_path / "c.yaml").write_text(file)
        extra = [*extra, "--config", str(tmp_path / "c.yaml")]
    code, _, err = _run(capsys, "train-composer", str(tmp_path / "run"), *extra)
    assert code == 2 and len(err.splitlines()) == 1, err
    assert err.startswith("wavenet-music train-composer: error: ") and message in err, err
    assert composer_trainer == []


def test_train_reads_its_sections_of_a_file_with_a_composer_section(tmp_path, capsys):
    (tmp_path / "project.yaml").write_text(PROJECT)
    code, out, err = _run(capsys, "info", "--config", str(tmp_path / "project.yaml"), "--json")
    assert code == 0, err
    assert json.loads(out)["config"]["model"]["residual_channels"] == 16
    code, _, err = _run(capsys, "info", "--set", "composer.layers=2")
    assert code == 2 and "expected section.key with section in ('model'" in err, err


def _allocate_an_exbibyte(*args, **kwargs):
    torch.empty(2**60, dtype=torch.uint8)  # fails as a job too large for the machine fails


def _numpy_allocates_an_exbibyte(*args, **kwargs):
    np.empty(2**60, dtype=np.uint8)


@pytest.mark.parametrize(
    ("target", "failing", "advice"),
    [
        ("wavenet_music.wavenet.generate.local_timeline", _allocate_an_exbibyte, "--num"),
        ("wavenet_music.wavenet.train.Trainer.train_step", _numpy_allocates_an_exbibyte, "--batch"),
        ("wavenet_music.wavenet.evaluate.segment_nats", _allocate_an_exbibyte, "--batch-size"),
    ],
)
def test_out_of_memory_is_one_line_naming_what_to_lower(
    trained_run, tmp_path, capsys, monkeypatch, target, failing, advice
):
    """torch's allocator (and numpy's) failing: one line with the size asked for and the
    flags that hold less at once, exit 1; not a traceback from inside torch."""
    run, data = trained_run
    monkeypatch.setattr(target, failing)
    if "generate" in target:
        argv = ["generate", str(run), "--seconds", "0.1", "--out", str(tmp_path / "x.wav")]
        argv.append("--quiet")
    elif "evaluate" in target:  # it said only "give it less to do at once"
        argv = ["evaluate", str(run), "--data", str(data), "--quiet"]
    else:
        copy = tmp_path / "run"
        argv = ["train", str(data), "--run", str(copy), *SMALL, "--steps", "2", "--quiet"]
    code, _, err = _run(capsys, *argv)
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 1, err
    assert re.search(r"out of memory \(1\.00? EiB asked for at once\); ", lines[0]), lines[0]
    assert advice in lines[0]


def _out_of_memory(*args, **kwargs):
    raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")


@pytest.mark.parametrize(
    ("command", "target", "advice"),
    [
        ("report", "wavenet_music.report.build.timed_generation", "lower --seconds or --clips"),
        ("features", "wavenet_music.audio.features.FeatureStore.of_classes", "shorter files"),
        ("transcribe", "wavenet_music.notes.transcribe.hear", "shorter files"),
    ],
)
def test_out_of_memory_in_report_features_and_transcribe_says_what_to_do(
    trained_run, tmp_path, capsys, monkeypatch, command, target, advice
):
    """They said only "give it less to do at once": report names its flags, and features
    and transcribe (no setting holds less: each takes the whole recording) shorter files."""
    run, data = trained_run
    recording = sorted((data / "piano").glob("*.flac"))[0]
    if command == "report":
        argv = ["report", str(run), "--out", str(tmp_path / "r"), *("--clips", "1")]
        argv += ["--seconds", "0.1"]
    elif command == "features":
        steered = tmp_path / "steered"
        flags = ["--local-channels", "12", "--features", "chroma", "--steps", "1", "--quiet"]
        assert main(["train", str(data), "--run", str(steered), *SMALL, *flags]) == 0
        argv = ["features", str(steered), str(recording), "--out", str(tmp_path / "f.npy")]
    else:
        argv = ["transcribe", str(recording), "--out", str(tmp_path / "notes.mid")]
    monkeypatch.setattr(target, _out_of_memory)
    capsys.readouterr()
    code, _, err = _run(capsys, *argv)
    said = [line for line in err.splitlines() if "error" in line]  # report: its phases too
    assert code == 1 and len(said) == 1 and "Traceback" not in err, err
    assert said[0].startswith(f"wavenet-music {command}: error: out of memory (2.00 GiB asked ")
    assert advice in said[0] and "give it less to do" not in said[0]


def test_onnx_runtime_out_of_memory_in_transcribe_is_one_line(tmp_path, capsys, monkeypatch):
    """ONNX Runtime's out of memory is its own ``RuntimeException``, no ``RuntimeError``:
    the handler missed it and a traceback escaped."""
    state = pytest.importorskip("onnxruntime.capi.onnxruntime_pybind11_state")

    def failing(*args, **kwargs):
        raise state.RuntimeException(
            "[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Non-zero status code returned while "
            "running Conv node. Status Message: Failed to allocate memory for requested "
            "buffer of size 2147483648"
        )

    recording = tmp_path / "take.wav"
    sf.write(recording, 0.3 * np.sin(np.arange(16000) / 10), 16000)
    monkeypatch.setattr("wavenet_music.notes.transcribe.hear", failing)
    code, _, err = _run(capsys, "transcribe", str(recording), "--out", str(tmp_path / "n.mid"))
    assert code == 1 and "Traceback" not in err, err
    assert err == (
        "wavenet-music transcribe: error: out of memory (2.0 GiB asked for at once); cut the "
        "recording into shorter files (its activations are held whole)\n"
    )


def test_a_runtime_error_that_is_not_memory_still_raises(trained_run, tmp_path, monkeypatch):
    """Only allocation failures become one line: any other error is a defect to see whole."""

    def broken(*args, **kwargs):
        raise RuntimeError("shape mismatch somewhere")

    monkeypatch.setattr("wavenet_music.wavenet.generate.local_timeline", broken)
    run, _ = trained_run
    with pytest.raises(RuntimeError, match="shape mismatch"):
        main(["generate", str(run), "--seconds", "0.1", "--out", str(tmp_path / "x.wav")])


def test_a_run_with_a_relative_labels_file_resumes_from_another_folder(
    trained_run, tmp_path, capsys, monkeypatch
):
    """``--labels labels.csv`` and ``--cache-dir cache`` as typed in one folder: the run
    stores them as absolute paths, so that it resumes, and is scored, from anywhere."""
    _, data = trained_run
    files = sorted(p.relative_to(data) for genre in data.iterdir() for p in genre.iterdir())
    here, elsewhere = tmp_path / "here", tmp_path / "elsewhere"
    here.mkdir(), elsewhere.mkdir()
    rows = "".join(f"{f},{f.parts[0]}\n" for f in files)
    (here / "labels.csv").write_text(rows)
    run = tmp_path / "run"
    monkeypatch.chdir(here)
    flags = ["--labels", "labels.csv", "--cache-dir", "cache", *SMALL, "--quiet"]
    code, _, err = _run(capsys, "train", str(data), "--run", str(run), *flags, "--steps", "1")
    assert code == 0, err
    monkeypatch.chdir(elsewhere)
    code, _, err = _run(capsys, "train", str(data), "--run", str(run), "--resume", "--steps", "2")
    assert code == 0, err
    code, out, err = _run(capsys, "evaluate", str(run), "--data", str(data), "--json", "--quiet")
    assert code == 0 and json.loads(out)["bits_per_sample"] > 0, err
    assert not (elsewhere / "cache").exists() and (here / "cache").is_dir()


@pytest.mark.parametrize(
    ("out", "message"),
    [
        ("", "expected a file name (.wav), not a folder"),
        ("{tmp}/", "it is a directory"),
        ("{tmp}", "it is a directory"),
        ("/dev/null", "not a regular file"),
        ("{tmp}/x.mp3", "expected a WAV path (a name ending in .wav)"),
        ("{tmp}/take", "expected a WAV path (a name ending in .wav)"),
    ],
)
def test_an_output_name_generate_cannot_honour_is_one_line(trained_run, tmp_path, out, message):
    """``--out`` as typed, before a label is added to it (``/dev/null`` became
    ``/dev/null-piano.wav``, ``dir/`` became ``dir-piano.wav`` beside it): an empty name, a
    folder, a device, another format."""
    for tags in ([""], ["piano", "guitar"]):
        with pytest.raises(UserError, match=re.escape(message)):
            clip_paths(Path(out.format(tmp=tmp_path)), tags)
    assert not Path("/dev/null-piano.wav").exists()
    run, _ = trained_run  # and through the command line, as one line
    argv = ["generate", str(run), "--seconds", "0.01", "--quiet"]
    assert main([*argv, "--out", out.format(tmp=tmp_path)]) == 2


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_an_output_folder_that_takes_no_file_is_refused_before_generating(
    trained_run, capsys, monkeypatch
):
    """A folder that takes no new file (read-only, not the user's; as root here: /proc)
    was found only when the clip was written, after all of it was generated (hours for a
    long render on a CPU)."""
    import wavenet_music.wavenet.to_audio as to_audio

    def generated(*args, **kwargs):
        pytest.fail("generated before --out was checked")

    monkeypatch.setattr(to_audio, "generate", generated)
    run, _ = trained_run
    argv = ["generate", str(run), "--seconds", "1", "--quiet", "--out", "/proc/none/x.wav"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "cannot write /proc/none/x.wav: /proc takes no new file" in err
    assert not Path("/proc/none").exists()


@pytest.mark.parametrize(
    ("command", "flag", "kind"),
    [
        ("generate", "--out", "WAV"),
        ("render", "--out", "WAV"),
        ("compose", "--out", "WAV"),
        ("compose", "--features-out", "NPY"),
    ],
)
def test_a_bare_out_name_is_refused_before_the_model_loads(
    tmp_path, capsys, monkeypatch, command, flag, kind
):
    """``--out take`` was written as a WAV file named ``take`` (``take-LABEL.wav`` with a
    label), and ``compose --features-out f`` as a .npy named ``f``: refused as typed, in
    the words ``transcribe --out`` and ``features --out`` use, before any model loads."""

    def loaded(*args, **kwargs):
        pytest.fail("the model loaded before --out was checked")

    monkeypatch.setattr("wavenet_music.wavenet.checkpoint.load_model", loaded)
    monkeypatch.setattr("wavenet_music.composer.compose.load_model", loaded)
    monkeypatch.chdir(tmp_path)  # compose's default --out, piece.wav, is written here
    run = tmp_path / "run"
    argv = {"generate": [command, str(run)], "render": [command, str(run), "tune.mid"]}
    argv["compose"] = [command, str(run)]
    name = tmp_path / "take"
    code, out, err = _run(
        capsys, *argv[command], "--seconds", "0.05", "--label", "piano", flag, str(name)
    )
    ends = ".wav" if kind == "WAV" else ".npy"
    message = f"{flag} {name}: expected a {kind} path (a name ending in {ends})"
    assert (code, out, err) == (2, "", f"wavenet-music {command}: error: {message}\n")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("argv", "fix"),
    [
        (["generate", "run", "--label", "-drums"], "--label=-drums"),
        (["generate", "run", "--lab", "-drums", "--num", "2"], "--label=-drums"),
        (["train", "data", "--run", "r", "--labels", "-x.csv"], "--labels=-x.csv"),
    ],
)
def test_a_value_starting_with_a_dash_is_refused_naming_the_fix(capsys, argv, fix):
    """A label folder ``-drums``: argparse said only "expected one argument"."""
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert exit_.value.code == 2 and last.endswith(f"is given with '=': {fix}"), last
    with pytest.raises(SystemExit):
        main(["generate", "run", "--label"])
    assert capsys.readouterr().err.strip().endswith("--label: expected one argument")


def test_a_label_named_twice_is_refused_not_written_twice_to_one_file():
    config = Config()
    config = dataclasses.replace(
        config, model=dataclasses.replace(config.model, global_labels=("guitar", "piano"))
    )
    with pytest.raises(UserError, match=r"names piano more than once; .* --num 2"):
        clip_plan(config, GenerateConfig(label="piano,guitar,piano"))
    labels, tags = clip_plan(config, GenerateConfig(label="piano,guitar", num=2))
    assert labels.tolist() == [1, 1, 0, 0] and len(set(tags)) == 4


def test_a_fresh_seed_is_said_so_that_the_clips_can_be_drawn_again(trained_run, tmp_path, capsys):
    run, _ = trained_run
    args = ["generate", str(run), "--seconds", "0.05", "--quiet"]
    code, _, err = _run(capsys, *args, "--seed", "null", "--out", str(tmp_path / "a.wav"))
    seed = re.search(r"^seed (\d+) \(pass --seed \1 to draw the same again\)$", err, re.M)
    assert code == 0 and seed, err
    code, _, err = _run(capsys, *args, "--seed", seed.group(1), "--out", str(tmp_path / "b.wav"))
    # no seed line (the test's own folder name holds "seed": a clipping warning names it)
    assert code == 0 and not re.search(r"^seed \d+", err, re.M), err
    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "b.wav").read_bytes()


def test_evaluate_says_when_it_scores_music_the_run_trained_on(trained_run, music_root, capsys):
    run, _ = trained_run
    code, out, err = _run(capsys, "evaluate", str(run), "--data", str(music_root / "piano"))
    trained = sum(
        1 for row in json.loads((run / "data.json").read_text())["train"] if "piano/" in row[0]
    )
    assert code == 0 and f"warning: the run trained on {trained} of the " in err, err
    assert "these bits are not held out" in err and "bits per sample" in out
    code, _, err = _run(capsys, "evaluate", str(run), "--data", str(music_root / "classical"))
    assert code == 0 and "warning" not in err


def test_generate_takes_one_checkpoint_of_a_run(trained_run, tmp_path, capsys):
    """``generate RUN/checkpoints/step_N``: that step's weights (it said the folder "holds
    no checkpoint; train first"); the newest one draws what the run draws."""
    source, data = trained_run
    run = tmp_path / "run"
    shutil.copytree(source, run)
    code, _, err = _run(capsys, "train", str(data), "--run", str(run), "--resume", "--steps", "61")
    assert code == 0, err
    steps = sorted((run / "checkpoints").iterdir())
    assert len(steps) >= 2
    args = ["generate", "--seconds", "0.05", "--seed", "3", "--quiet", "--out"]
    for folder, name in ((run, "run.wav"), (steps[-1], "newest.wav"), (steps[-2], "older.wav")):
        code, _, err = _run(capsys, args[0], str(folder), *args[1:], str(tmp_path / name))
        assert code == 0, err
    newest = (tmp_path / "newest.wav").read_bytes()
    assert newest == (tmp_path / "run.wav").read_bytes()
    assert newest != (tmp_path / "older.wav").read_bytes()


def test_evaluate_of_one_file_by_a_run_with_folder_labels_asks_for_the_label(music_root):
    """It said "none of the 1 audio files is usable (not inside a label folder)"."""
    from wavenet_music import WaveNet, evaluate

    config = Config()
    config = dataclasses.replace(
        config,
        model=dataclasses.replace(config.model, global_labels=("guitar", "piano")),
        data=dataclasses.replace(config.data, labels="folders"),
    )
    one = next((music_root / "piano").iterdir())
    with pytest.raises(UserError, match=r"one file, and the run has labels .* pass --label NAME"):
        evaluate(WaveNet(config.model), config, one)


@pytest.mark.parametrize(
    "files, labels, said",
    [
        (["a.wav", "b.wav"], "folders", r"no file has a label \(first: a\.wav: not inside a "),
        (["drums/a.wav"], "folders", r"label 'drums' \(drums/a\.wav\) is not one of the run's"),
        (["a.wav"], "CSV", r"no file has a label \(first: a\.wav: no label in .*labels\.csv\)"),
        (["x/a.wav"], "CSV", r"label 'drums' \(x/a\.wav\) is not one of the run's"),
    ],
)
def test_evaluate_of_held_out_files_the_run_s_labels_miss_names_label(
    files, labels, said, tmp_path
):
    """Held-out recordings loose in a folder, or under a label the run does not know, were
    "none of the 2 audio files is usable (not inside a label folder)" or "train a new run
    for new labels": now one line naming --label and the run's labels, before decoding."""
    from wavenet_music import WaveNet, evaluate

    held = tmp_path / "held"
    for name in files:
        (held / name).parent.mkdir(parents=True, exist_ok=True)
        sf.write(held / name, np.zeros(4000), 16000)
    if labels == "CSV":
        labels = str(tmp_path / "labels.csv")
        Path(labels).write_text("file,label\nx/a.wav,drums\npiano/b.wav,piano\n")
    config = Config()
    config = dataclasses.replace(
        config,
        model=dataclasses.replace(config.model, global_labels=("guitar", "piano")),
        data=dataclasses.replace(config.data, labels=labels, cache_dir=str(tmp_path / "c")),
    )
    with pytest.raises(UserError) as caught:
        evaluate(WaveNet(config.model), config, held)
    message = str(caught.value)
    assert re.search(said, message), message
    assert "pass --label NAME (guitar, piano) to score every file under one" in message
    assert not (tmp_path / "c").exists()  # nothing decoded


def test_info_says_what_each_label_adds_where_the_data_gives_the_labels(capsys):
    """The demo preset's labels are its genre folders: 535,360 parameters read short of
    the trained model's 539,968 (four labels of 1,152)."""
    code, out, _ = _run(capsys, "info", "--preset", "demo")
    assert code == 0 and "535,360 + 1,152 a label (data.labels=folders)" in out


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--residual-channels", "9" * 5000], "expected an integer, got '999999"),
        (["--residual-channels", "[" * 3000 + "]" * 3000], "(6,000 characters)"),
        (["--dilations", "[" * 3000 + "]" * 3000], "model.dilations: expected a list"),
        (["--set", "train.learning_rate=" + "[" * 3000 + "]" * 3000], "expected a number"),
        (["--set", "train.steps=2001-13-45"], "train.steps: expected an integer, got '2001-13-45'"),
    ],
)
def test_a_hostile_flag_value_is_one_short_line(capsys, argv, said):
    """A flag's value is read as YAML: nested 3,000 deep (RecursionError), an integer of
    5,000 digits (ValueError) or a date of month 13 (ValueError) were tracebacks from
    PyYAML; now the text as typed meets the setting's check, and an error quotes a long
    value by its first 60 characters and its length (a 5,000-character line before)."""
    code, _, err = _run(capsys, "info", *argv)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert said in err and len(err) < 300, err


def test_ctrl_c_while_the_command_starts_is_one_line(monkeypatch, capsys):
    """Ctrl-C while the command imports its CLI (torch: a second or two) printed Python's
    KeyboardInterrupt traceback; the console script's entry point imports it under a
    handler: one line, exit 130."""
    import importlib.abc
    import tomllib

    import wavenet_music

    class InterruptedImport(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name == "wavenet_music.cli":
                raise KeyboardInterrupt
            return None

    monkeypatch.delitem(sys.modules, "wavenet_music.cli")
    monkeypatch.setattr(sys, "meta_path", [InterruptedImport(), *sys.meta_path])
    assert wavenet_music.main() == 130
    assert capsys.readouterr().err == (
        "wavenet-music: interrupted while starting; nothing was written\n"
    )
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert pyproject["project"]["scripts"]["wavenet-music"] == "wavenet_music:main"


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "~/music", "--run=~/runs/a", "--init-from=~/runs/b", "--config=~/c.yaml"],
        ["generate", "~/runs/a", "--out=~/take.wav"],
        ["render", "~/runs/a", "~/song.mid", "--out=~/take.wav"],
        ["evaluate", "~/runs/a", "--data=~/held"],
        ["features", "~/runs/a", "~/a.wav", "--out=~/f.npy"],
        ["report", "~/runs/a", "--data=~/music", "--out=~/report"],
        ["train-composer", "~/runs/a", "--data=~/music"],
        ["compose", "~/runs/a", "--out=~/piece.wav", "--features-out=~/f.npy"],
        ["transcribe", "~/a.wav", "--out=~/a.mid"],
        ["cache", "--cache-dir=~/cache"],
    ],
)
def test_a_path_after_equals_starts_at_home(argv, tmp_path, monkeypatch):
    """The shell leaves a ``~`` after ``=`` (``--out=~/take.wav``) or in quotes: the
    command made a folder named ``~`` in the working folder and wrote there. Every path
    flag of every command now reads it as the home folder, as the shell would."""
    from wavenet_music.cli import build_parser

    monkeypatch.setenv("HOME", str(tmp_path))
    args = vars(build_parser().parse_args(argv))
    paths = [v for v in args.values() if isinstance(v, Path)]
    given = sum(word.count("~") for word in argv)
    assert len(paths) == given and all(p.is_relative_to(tmp_path) for p in paths), paths
