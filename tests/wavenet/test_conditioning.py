"""Global conditioning: one model, several labels, exact in fast generation, and used."""

from __future__ import annotations

import dataclasses
import io
import shutil

import numpy as np
import pytest
import soundfile as sf
import torch
from numpy.lib.format import write_array_header_1_0

from wavenet_music.audio.features import SILENCE_DB
from wavenet_music.cli import main
from wavenet_music.config import ModelConfig
from wavenet_music.wavenet.checkpoint import load_model
from wavenet_music.wavenet.evaluate import evaluate
from wavenet_music.wavenet.generate import generate, generate_naive
from wavenet_music.wavenet.model import WaveNet
from wavenet_music.wavenet.train import train

from ..conftest import small_config
from .test_generate import CONFIGS, incremental_logits


def _labelled(config: ModelConfig, seed: int = 0) -> WaveNet:
    torch.manual_seed(seed)
    model = WaveNet(dataclasses.replace(config, global_labels=("a", "b", "c"))).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(2.0)
    return model


@pytest.mark.parametrize("name", ["small", "width3_nobias", "width4", "tiny"])
def test_incremental_equals_full_forward_with_labels(name):
    model = _labelled(CONFIGS[name])
    x = torch.randint(0, model.config.quantization_channels, (3, model.receptive_field + 200))
    labels = torch.tensor([2, 0, 1])
    with torch.inference_mode():
        full = model(x, labels)
        other = model(x, torch.tensor([0, 1, 2]))
    assert not torch.allclose(full, other)  # the label matters
    fast = incremental_logits(model, x, labels)
    torch.testing.assert_close(fast, full, rtol=1e-4, atol=1e-4)


def test_labelled_generators_agree_and_labels_are_required():
    model = _labelled(CONFIGS["small"], 1)
    labels = torch.tensor([0, 2])
    fast = generate(model, 200, 2, generator=torch.Generator().manual_seed(3), labels=labels)
    naive = generate_naive(model, 200, 2, generator=torch.Generator().manual_seed(3), labels=labels)
    assert torch.equal(fast, naive)
    with pytest.raises(ValueError, match=r"labels are \[a, b, c\]"):
        generate(model, 10)
    with pytest.raises(ValueError, match="labels are"):
        WaveNet(CONFIGS["small"])(torch.zeros(1, 100, dtype=torch.long), torch.tensor([0]))


@pytest.fixture(scope="module")
def two_genres(music_root, tmp_path_factory):
    """A labelled run trained briefly on piano and ambient (one model, two genres)."""
    base = tmp_path_factory.mktemp("gc")
    data = base / "data"
    data.mkdir()
    for genre in ("piano", "ambient"):
        (data / genre).symlink_to(music_root / genre)
    config = small_config(str(base / "cache"), **{"data.labels": "folders", "train.steps": 200})
    train(data, base / "run", config, quiet=True)
    return base / "run", data


def test_the_model_uses_its_label(two_genres):
    run, data = two_genres
    model, config = load_model(run)
    assert config.model.global_labels == ("ambient", "piano")
    for genre, wrong in (("piano", "ambient"), ("ambient", "piano")):
        right_bits = evaluate(model, config, data / genre, label=genre, quiet=True)
        wrong_bits = evaluate(model, config, data / genre, label=wrong, quiet=True)
        assert right_bits.bits_per_sample < wrong_bits.bits_per_sample - 0.05, genre
    by_folder = evaluate(model, config, data, quiet=True).per_file
    assert set(by_folder) == {
        f"{g}/{p.name}" for g in ("piano", "ambient") for p in (data / g).glob("*.flac")
    }


def test_cli_generates_one_clip_per_label_in_one_batch(two_genres, tmp_path, capsys):
    run, _ = two_genres
    code = main(
        [
            "generate",
            str(run),
            "--label",
            "all",
            "--num",
            "2",
            "--seconds",
            "0.05",
            "--out",
            str(tmp_path / "x.wav"),
            "--quiet",
        ]
    )
    out = capsys.readouterr().out.split()
    assert code == 0
    assert [p.rsplit("/", 1)[1] for p in out] == [
        "x-ambient-1.wav",
        "x-ambient-2.wav",
        "x-piano-1.wav",
        "x-piano-2.wav",
    ]
    assert all(sf.info(p).frames == 800 for p in out)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--label", "violin"], "unknown label 'violin'; this run knows: ambient, piano"),
        ([], "conditioned on labels (ambient, piano)"),
    ],
)
def test_cli_label_errors(two_genres, tmp_path, capsys, argv, message):
    run, _ = two_genres
    code = main(
        [
            "generate",
            str(run),
            "--seconds",
            "0.01",
            "--out",
            str(tmp_path / "y.wav"),
            "--quiet",
            *argv,
        ]
    )
    assert code == 2
    assert message in capsys.readouterr().err


def test_unlabelled_run_refuses_a_label(music_root, tmp_path, capsys):
    config = small_config(str(tmp_path / "cache"), **{"train.steps": 1})
    train(music_root / "piano", tmp_path / "run", config, quiet=True)
    assert main(["generate", str(tmp_path / "run"), "--label", "piano", "--quiet"]) == 2
    assert "trained without labels" in capsys.readouterr().err


# --- local conditioning ------------------------------------------------------------------


def _local(config: ModelConfig, hop: int, labels: bool = False, seed: int = 0) -> WaveNet:
    torch.manual_seed(seed)
    extra = {"global_labels": ("a", "b")} if labels else {}
    config = dataclasses.replace(config, local_channels=5, hop_length=hop, **extra)
    model = WaveNet(config).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(2.0)
        model.upsample.feature_mean.normal_()
        model.upsample.feature_std.uniform_(0.5, 2.0)
    return model


def _frames(model: WaveNet, batch: int, samples: int) -> torch.Tensor:
    frames = -(-samples // model.config.hop_length) + 2
    return torch.randn(batch, model.config.local_channels, frames) * 3


@pytest.mark.parametrize(
    "name, hop, labels",
    [("small", 8, False), ("width3_nobias", 5, True), ("width4", 16, False), ("tiny", 256, True)],
)
def test_incremental_equals_full_forward_with_local_conditioning(name, hop, labels):
    model = _local(CONFIGS[name], hop, labels)
    rf = model.receptive_field
    x = torch.randint(0, model.config.quantization_channels, (2, rf + 300))
    frames = _frames(model, 2, x.shape[1])
    label_ids = torch.tensor([1, 0]) if labels else None
    with torch.inference_mode():
        full = model(x, label_ids, frames)
        other = model(x, label_ids, _frames(model, 2, x.shape[1]))
    assert not torch.allclose(full, other)  # the features matter
    fast = incremental_logits(model, x, label_ids, frames)
    torch.testing.assert_close(fast, full, rtol=1e-4, atol=1e-4)


def test_priming_reads_only_the_frames_of_the_prime():
    """The queues' first state, for a piece 200 times as long as its prime, runs each
    layer's conditioning over the frames of the prime alone (over a 30-s piece's whole
    length it took seconds and half a GB a layer), and equals the state from just those
    frames."""
    hop = 16
    model = _local(CONFIGS["small"], hop, labels=True)
    length = model.receptive_field - 1 + 7  # off a frame edge
    x = torch.randint(0, model.config.quantization_channels, (2, length))
    labels = torch.tensor([1, 0])
    frames = _frames(model, 2, 200 * length)
    seen: list[int] = []
    hooks = [
        block.local_condition.register_forward_hook(lambda m, i, o: seen.append(i[0].shape[2]))
        for block in model.blocks
    ]
    with torch.inference_mode():
        long = model.conv_histories(x, labels, frames)
    for hook in hooks:
        hook.remove()
    assert len(seen) == len(model.blocks) - 1 and max(seen) <= -(-length // hop) + 1
    with torch.inference_mode():
        short = model.conv_histories(x, labels, frames[:, :, : -(-length // hop) + 2])
    for a, b in zip(long, short, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)


def test_local_generators_agree():
    model = _local(CONFIGS["small"], 8)
    features = torch.randn(2, 5, 30) * 3  # 240 samples
    kwargs = {"features": features, "temperature": 1.0}
    fast = generate(model, 240, 2, generator=torch.Generator().manual_seed(4), **kwargs)
    naive = generate_naive(model, 240, 2, generator=torch.Generator().manual_seed(4), **kwargs)
    assert torch.equal(fast, naive)
    with pytest.raises(ValueError, match="needs local-conditioning features"):
        generate(model, 10)
    with pytest.raises(ValueError, match="fewer than the 241"):
        generate(model, 241, 2, features=features)


def test_local_look_ahead_is_what_the_upsampler_says():
    """The prediction made at input sample t hears frames ⌊t/hop⌋ - 1 .. ⌊t/hop⌋ + 1 of the
    samples in its receptive field: nothing later than the end of frame ⌊t/hop⌋ + 1."""
    hop = 8
    model = _local(CONFIGS["small"], hop).double()
    rf = model.receptive_field
    x = torch.randint(0, 256, (1, rf + 40))
    frames = _frames(model, 1, x.shape[1]).double().requires_grad_(True)
    logits = model(x, None, frames)  # (1, Q, 41)
    for j in (0, 17, 40):
        (grad,) = torch.autograd.grad(logits[0, :, j].sum(), frames, retain_graph=True)
        heard = torch.nonzero(grad[0].abs().sum(0)).flatten()  # frames tensor indices
        newest, oldest = j + rf - 1, j  # input samples of output j
        assert heard.max().item() == newest // hop + 2  # tensor index = sample frame + 1
        assert heard.min().item() == oldest // hop


def test_audio_causality_holds_with_local_conditioning():
    model = _local(CONFIGS["small"], 8).double()
    rf = model.receptive_field
    x = torch.randint(0, 256, (1, rf + 30))
    frames = _frames(model, 1, x.shape[1]).double()
    base = model(x, None, frames)
    t = rf + 10
    changed = x.clone()
    changed[0, t] = (changed[0, t] + 9) % 256
    out = model(changed, None, frames)
    first = t - rf + 1
    assert torch.equal(out[:, :, :first], base[:, :, :first])
    assert not torch.allclose(out[:, :, first], base[:, :, first])


@pytest.fixture(scope="module")
def local_run(music_root, tmp_path_factory):
    """A briefly trained model steered by 8-band log-mel frames of 64 samples."""
    base = tmp_path_factory.mktemp("lc")
    config = small_config(
        str(base / "cache"),
        **{"train.steps": 20, "model.local_channels": 8, "model.hop_length": 64},
    )
    result = train(music_root / "piano", base / "run", config, quiet=True)
    assert result.validation_bits[-1][1] < result.validation_bits[0][1]
    return base / "run"


def test_features_never_write_over_the_audio_they_read_or_a_checkpoint(
    local_run, music_root, tmp_path, capsys
):
    recording, odd_name = tmp_path / "take.flac", tmp_path / "take.npy"  # FLAC either way
    for path in (recording, odd_name):
        shutil.copy(sorted((music_root / "guitar").glob("*.flac"))[0], path)
    weights = sorted(local_run.glob("checkpoints/*/model.safetensors"))[-1]
    before = {path: path.read_bytes() for path in (recording, odd_name, weights)}
    for audio, out, message in (
        (recording, recording, "expected a NPY path"),
        (recording, weights, "expected a NPY path"),
        (recording, tmp_path / "bare", "expected a NPY path (a name ending in .npy)"),
        (odd_name, odd_name, f"would replace AUDIO {odd_name}"),
    ):
        capsys.readouterr()
        assert main(["features", str(local_run), str(audio), "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
    assert {path: path.read_bytes() for path in before} == before


def test_features_of_audio_of_nan_are_refused_and_nan_in_a_recording_is_said(
    local_run, tmp_path, capsys
):
    """``generate --features-from`` and ``features`` took an all-NaN file as silence, exit
    0, without a word, and NaN/inf among real samples silently: said as ``--seed-audio``
    says it, the all-NaN file refused in one line naming it, nothing written."""
    nan, out = tmp_path / "nan.wav", tmp_path / "x.wav"
    sf.write(nan, np.full(8000, np.nan, dtype=np.float32), 16000, subtype="FLOAT")
    generate = ["generate", str(local_run), "--seconds", "0.05", "--quiet", "--features-from"]
    line = f"{nan}: no finite samples (all NaN or infinite): no features to take from it"
    for argv in (
        [*generate, str(nan), "--out", str(out)],
        ["features", str(local_run), str(nan), "--out", str(tmp_path / "f.npy")],
    ):
        assert main(argv) == 2
        assert capsys.readouterr().err == f"wavenet-music {argv[0]}: error: {line}\n"
    assert list(tmp_path.iterdir()) == [nan]
    holes = tmp_path / "holes.wav"
    tone = 0.3 * np.sin(np.arange(8000, dtype=np.float32) / 5)
    tone[-100:] = np.nan
    sf.write(holes, tone, 16000, subtype="FLOAT")
    assert main([*generate, str(holes), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"warning: {holes}: 100 non-finite samples replaced by 0 (the steering audio)" in err


def test_features_round_trip_through_npy_and_steer_generation(
    local_run, music_root, tmp_path, capsys
):
    recording = sorted((music_root / "guitar").glob("*.flac"))[0]
    assert main(["features", str(local_run), str(recording), "--out", str(tmp_path / "f.npy")]) == 0
    features = np.load(tmp_path / "f.npy")
    assert features.shape[1] == 8 and len(features) == -(-sf.info(recording).frames // 64)
    np.save(tmp_path / "short.npy", features[:10])  # 10 frames = 640 samples
    capsys.readouterr()
    assert (
        main(
            [
                "generate",
                str(local_run),
                "--features",
                str(tmp_path / "short.npy"),
                "--out",
                str(tmp_path / "a.wav"),
                "--quiet",
            ]
        )
        == 0
    )
    assert sf.info(tmp_path / "a.wav").frames == 640  # the features set the length
    assert (
        main(
            [
                "generate",
                str(local_run),
                "--features-from",
                str(recording),
                "--seconds",
                "0.05",
                "--out",
                str(tmp_path / "b.wav"),
                "--quiet",
            ]
        )
        == 0
    )
    assert sf.info(tmp_path / "b.wav").frames == 800


@pytest.mark.parametrize(
    "argv, message",
    [
        ([], "pass exactly one of --features-from AUDIO or --features FILE.npy"),
        (["--features", "{bad}"], "expected shape (frames, 8), got (5, 3)"),
        (["--features", "{empty}"], "not a readable .npy file"),  # zero bytes
        (  # numpy's words were "If you trust the file you can load it unsafely"
            ["--features", "{csv}"],
            "not a readable .npy file (no NumPy header: save features with numpy.save",
        ),
        (["--features", "{text}"], "holds <U1 values; expected real numbers"),
        (["--features", "{complex}"], "holds complex64 values; expected real numbers"),
        (  # finite as float64, inf as the float32 the model reads: logits of NaN
            ["--features", "{huge}"],
            "holds values beyond float32's range (±3.4e38), up to 1e+300",
        ),
        (  # a header counting 10**13 frames, 437 TiB: numpy allocated them, out of memory
            ["--features", "{forged}"],
            "its header counts more values than the file holds: cut short or damaged",
        ),
        (["--features", "{negative}"], "not a readable .npy file"),  # mapped: an OverflowError
        (["--features-from", "{missing}"], "is not a file"),
        (["--features-from", "{silent}"], "too short for one frame of features (0 samples)"),
        (["--excitation-gain", "2"], "--excitation-gain: only a run trained on notes plays"),
    ],
)
def test_local_conditioning_input_errors(local_run, tmp_path, capsys, argv, message):
    np.save(tmp_path / "bad.npy", np.zeros((5, 3)))
    (tmp_path / "empty.npy").write_bytes(b"")
    (tmp_path / "csv.npy").write_text("0.1,0.2\n0.3,0.4\n")
    np.save(tmp_path / "text.npy", np.full((5, 8), "a"))
    np.save(tmp_path / "complex.npy", np.ones((5, 8), np.complex64))
    np.save(tmp_path / "huge.npy", np.full((5, 8), 1e300))
    sf.write(tmp_path / "silent.wav", np.zeros(0), 16000)  # a WAV of no samples
    honest = (tmp_path / "bad.npy").read_bytes()
    for name, shape in (("forged", (10**13, 8)), ("negative", (-5, 8))):
        header = io.BytesIO()
        write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": shape})
        (tmp_path / f"{name}.npy").write_bytes(header.getvalue() + honest[128:])
    kinds = ("bad", "empty", "csv", "text", "complex", "huge", "forged", "negative")
    names = {n: tmp_path / f"{n}.npy" for n in kinds}
    names |= {"missing": tmp_path / "nope.wav", "silent": tmp_path / "silent.wav"}
    argv = [a.format(**names) for a in argv]
    code = main(["generate", str(local_run), "--out", str(tmp_path / "x.wav"), "--quiet", *argv])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "x.wav").exists()


def test_an_unconditioned_run_refuses_features(music_root, tmp_path, capsys):
    config = small_config(str(tmp_path / "cache"), **{"train.steps": 1})
    train(music_root / "piano", tmp_path / "run", config, quiet=True)
    recording = sorted((music_root / "piano").glob("*.flac"))[0]
    code = main(
        [
            "generate",
            str(tmp_path / "run"),
            "--features-from",
            str(recording),
            "--quiet",
            "--out",
            str(tmp_path / "x.wav"),
        ]
    )
    assert code == 2 and "without local conditioning" in capsys.readouterr().err


def test_chroma_is_a_second_feature_kind_end_to_end(music_root, tmp_path):
    """The same interface with 12 pitch-class channels: train, extract, re-render."""
    config = small_config(
        str(tmp_path / "cache"),
        **{
            "train.steps": 4,
            "model.local_channels": 12,
            "model.hop_length": 64,
            "data.features": "chroma",
        },
    )
    train(music_root / "piano", tmp_path / "run", config, quiet=True)
    recording = sorted((music_root / "guitar").glob("*.flac"))[0]
    f = tmp_path / "chroma.npy"
    assert main(["features", str(tmp_path / "run"), str(recording), "--out", str(f)]) == 0
    features = np.load(f)
    assert features.shape == (-(-sf.info(recording).frames // 64), 12)
    assert features.max() > SILENCE_DB + 40  # real music, not the floor
    out = tmp_path / "c.wav"
    argv = ["generate", str(tmp_path / "run"), "--features-from", str(recording)]
    assert main([*argv, "--seconds", "0.05", "--out", str(out), "--quiet"]) == 0
    assert sf.info(out).frames == 800
