"""The command line, called in-process: train → generate → evaluate, and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from wavenet_music.cli import main


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
            str(next((data / "piano").iterdir())),
            "--save-every",
            "0.05",
        )
        assert code == 0, err
        clips.append(sf.read(tmp_path / name)[0])
    assert np.array_equal(*clips)


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


def test_info_reports_the_reference_figures(capsys):
    code, out, _ = _run(capsys, "info", "--preset", "reference", "--json")
    info = json.loads(out)
    assert code == 0 and info["receptive_field"] == 10_237
    assert info["parameters"] == 6_142_592 and info["macs_per_sample"] == 6_074_368
    code, out, _ = _run(capsys, "info", "--preset", "reference")
    assert "10,237 samples = 0.640 s" in out


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
