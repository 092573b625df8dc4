"""The compiled generation step is proven equal to the eager one and the full forward pass.

The C++ step is built once per machine (cached in ~/.cache/wavenet-music/kernels) and
loaded once per test session. Without a C++ compiler the equality tests skip with that
reason; the fallback tests run everywhere.

Stated tolerance of reduced-precision weights, per step against the float32 compiled step:
KL(p_float32 ‖ p) averaged over steps ≤ REDUCED_KL[precision] nats and every step's
total-variation distance ≤ REDUCED_TV[precision]. Tested on random weights (twice the
default scale for the small models, the default for `reference`); a `tiny` model trained
for 8 minutes on piano, teacher-forced on 3,000 samples of real piano, measured bf16 KL 1e-5,
TV 0.004 and int8 KL 1.7e-4, TV 0.022 (NLL +0.0003 and +0.0006 bits per sample).
"""

from __future__ import annotations

import dataclasses
import os
import platform
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from wavenet_music.audio.io import mu_law_decode
from wavenet_music.config import GenerateConfig, ModelConfig, UserError, load_preset
from wavenet_music.wavenet import compiled as fast_generate
from wavenet_music.wavenet import generate as generate_module
from wavenet_music.wavenet import kernels
from wavenet_music.wavenet.compiled import CompiledWaveNet, generation_step
from wavenet_music.wavenet.generate import generate, generate_naive, jump_mask
from wavenet_music.wavenet.incremental import IncrementalWaveNet, JumpLimit, sample
from wavenet_music.wavenet.model import WaveNet

from ..conftest import HANG_GUARD_S
from .test_generate import CONFIGS

REDUCED_KL = {"bf16": 2e-4, "int8": 1e-3}  # nats, mean over steps
REDUCED_TV = {"bf16": 0.02, "int8": 0.05}  # max over steps

LABELS = ("a", "b", "c")
VARIANTS = {  # name: (config, batch)
    "small": (CONFIGS["small"], 1),
    "small_batch5": (CONFIGS["small"], 5),
    "width3_nobias": (CONFIGS["width3_nobias"], 3),
    "width4": (CONFIGS["width4"], 2),
    "tiny": (CONFIGS["tiny"], 1),
    "labels": (dataclasses.replace(CONFIGS["small"], global_labels=LABELS), 3),
    "local": (dataclasses.replace(CONFIGS["width3_nobias"], local_channels=5, hop_length=8), 2),
    "local_labels": (
        dataclasses.replace(CONFIGS["small"], global_labels=LABELS, local_channels=4, hop_length=5),
        3,
    ),
}


def _model(config: ModelConfig, seed: int = 0, scale: float = 2.0) -> WaveNet:
    torch.manual_seed(seed)
    model = WaveNet(config).eval()
    with torch.no_grad():  # larger than default init, so every layer matters
        for p in model.parameters():
            p.mul_(scale)
        if model.upsample is not None:
            model.upsample.feature_mean.normal_()
            model.upsample.feature_std.uniform_(0.5, 2.0)
    return model


def _inputs(model: WaveNet, batch: int, steps: int, seed: int = 0):
    """x (B, RF - 1 + steps), labels (B,) or None, frames (B, C, F) or None."""
    config, g = model.config, torch.Generator().manual_seed(seed)
    x = torch.randint(
        0, config.quantization_channels, (batch, model.receptive_field + steps), generator=g
    )
    labels = None
    if config.global_labels:
        labels = torch.randint(0, len(config.global_labels), (batch,), generator=g)
    frames = None
    if config.local_channels is not None:
        count = -(-x.shape[1] // config.hop_length) + 2
        frames = torch.randn(batch, config.local_channels, count, generator=g) * 3
    return x, labels, frames


def step_logits(engine, model: WaveNet, x, labels=None, frames=None, heard=None) -> torch.Tensor:
    """Logits (B, Q, T - RF + 1) of feeding x one sample at a time after its first RF
    (``heard``: the excitation of a model that hears notes)."""
    rf = model.receptive_field
    state = engine.initial_state(model, x[:, :rf], labels, frames, heard)
    logits = []
    with torch.inference_mode():
        for t in range(rf - 1, x.shape[1]):
            step, state = engine.step(x[:, t], state)
            logits.append(step)
    return torch.stack(logits, dim=2)


@pytest.mark.parametrize("name", VARIANTS)
def test_compiled_equals_eager_and_full_forward(name, step_module):
    config, batch = VARIANTS[name]
    for seed in (0, 1):
        model = _model(config, seed)
        x, labels, frames = _inputs(model, batch, 300, seed)
        with torch.inference_mode():
            full = model(x, labels, frames)
        compiled = step_logits(
            CompiledWaveNet(model, "float32", step_module), model, x, labels, frames
        )
        eager = step_logits(IncrementalWaveNet(model), model, x, labels, frames)
        torch.testing.assert_close(compiled, full, rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(compiled, eager, rtol=1e-4, atol=1e-4)


def test_compiled_reference_equals_full_forward(step_module):
    model = _model(load_preset("reference").model)
    x, _, _ = _inputs(model, 2, 40)
    with torch.inference_mode():
        full = model(x)
    compiled = step_logits(CompiledWaveNet(model, "float32", step_module), model, x)
    torch.testing.assert_close(compiled, full, rtol=1e-4, atol=1e-4)


def test_state_is_explicit_and_queues_match_the_eager_state(step_module):
    model = _model(CONFIGS["width3_nobias"])
    x, _, _ = _inputs(model, 2, 30)
    rf = model.receptive_field
    eager, compiled = IncrementalWaveNet(model), CompiledWaveNet(model, "float32", step_module)
    s_eager, s_comp = (
        eager.initial_state(model, x[:, :rf]),
        compiled.initial_state(model, x[:, :rf]),
    )
    copy = dataclasses.replace(s_comp, queues=s_comp.queues.clone())
    with torch.inference_mode():
        for t in range(rf - 1, x.shape[1]):
            _, s_eager = eager.step(x[:, t], s_eager)
            _, s_comp = compiled.step(x[:, t], s_comp)
        first, _ = compiled.step(x[:, rf - 1], copy)  # an earlier state gives the earlier step
    assert s_comp.time == s_eager.time == x.shape[1] - rf + 1 and copy.time == 1
    for i, queue in enumerate(s_eager.queues):
        torch.testing.assert_close(s_comp.queue(i), queue, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(first, step_logits(eager, model, x[:, :rf])[:, :, 0])


@pytest.mark.parametrize("name", ["small", "width3_nobias", "labels", "local"])
def test_same_samples_as_the_eager_and_naive_generators(name, step_module):
    """float32 logits differ only by rounding (~1e-6), far from moving any sampled class."""
    config, _ = VARIANTS[name]
    model = _model(config, 3)
    _, labels, _ = _inputs(model, 2, 300, 3)
    features = None
    if config.local_channels is not None:  # (B, C, K) frames of the 300 samples to generate
        count = -(-300 // config.hop_length)
        features = (
            torch.randn(2, config.local_channels, count, generator=torch.Generator().manual_seed(3))
            * 3
        )
    kwargs = {"labels": labels, "features": features}
    runs = {
        engine: generate(
            model, 300, 2, generator=torch.Generator().manual_seed(5), engine=engine, **kwargs
        )
        for engine in ("compiled", "eager")
    }
    assert torch.equal(runs["compiled"], runs["eager"])
    assert len(torch.unique(runs["compiled"])) > 5
    if features is None:  # (the naive generator with local conditioning: test_conditioning)
        naive = generate_naive(model, 300, 2, generator=torch.Generator().manual_seed(5), **kwargs)
        assert torch.equal(runs["compiled"], naive)


def test_each_sample_s_temperature_is_the_one_its_table_gives_on_every_engine(
    step_module, monkeypatch
):
    """Generation with a temperature per stream and sample draws the same classes on the
    compiled, eager and naive generators (the table read in blocks of 64 steps); a stream
    whose table reads 1 everywhere draws exactly what ``temperature=1`` draws, one at 1e-4
    exactly the likeliest classes (``temperature=0``), and a stream at 0.5 after sample 150
    equals the ``temperature=1`` draws up to there and differs after (the table is read
    step by step, not once); a temperature of 0 in the table is one clear error."""
    monkeypatch.setattr(generate_module, "FLOOR_BLOCK", 64)
    model = _model(CONFIGS["small"], 3)
    table = torch.ones(3, 300)
    table[1] = 1e-4
    table[2, 150:] = 0.5

    def run(engine: str, **kwargs) -> torch.Tensor:
        g = torch.Generator().manual_seed(5)
        if engine == "naive":
            return generate_naive(model, 300, 3, generator=g, **kwargs)
        return generate(model, 300, 3, generator=g, engine=engine, **kwargs)

    tabled = {engine: run(engine, temperatures=table) for engine in ("compiled", "eager", "naive")}
    assert torch.equal(tabled["compiled"], tabled["eager"])
    assert torch.equal(tabled["compiled"], tabled["naive"])
    at_one, greedy = run("compiled", temperature=1.0), run("compiled", temperature=0.0)
    assert torch.equal(tabled["compiled"][0], at_one[0])
    assert torch.equal(tabled["compiled"][1], greedy[1])
    assert not torch.equal(greedy[1], at_one[1])  # the two references differ
    assert torch.equal(tabled["compiled"][2, :150], at_one[2, :150])
    assert not torch.equal(tabled["compiled"][2, 150:], at_one[2, 150:])
    with pytest.raises(ValueError, match="finite and > 0"):
        run("compiled", temperatures=torch.zeros(3, 300))


def test_floors_sample_the_same_on_every_engine_and_only_where_they_are_set(
    step_module, monkeypatch
):
    """Generation with floors (zero for the first 150 samples, 0.003 after) draws the same
    classes on the compiled, eager and naive generators, with the floors read in blocks of
    64 steps (the last one partial) and in float32 as in float64; up to the first floor it
    equals generation without floors; a floor that could cut every class is one clear
    error."""
    monkeypatch.setattr(generate_module, "FLOOR_BLOCK", 64)
    model = _model(CONFIGS["small"], 3)
    floors = torch.zeros(2, 300, dtype=torch.float64)
    floors[:, 150:] = 0.003

    def run(engine: str, floors: torch.Tensor | None) -> torch.Tensor:
        g = torch.Generator().manual_seed(5)
        if engine == "naive":
            return generate_naive(model, 300, 2, generator=g, floors=floors)
        return generate(model, 300, 2, generator=g, floors=floors, engine=engine)

    floored = {engine: run(engine, floors) for engine in ("compiled", "eager", "naive")}
    assert torch.equal(floored["compiled"], floored["eager"])
    assert torch.equal(floored["compiled"], floored["naive"])
    assert torch.equal(run("compiled", floors.float()), floored["compiled"])  # 0.003 exact enough
    plain = run("compiled", None)
    assert torch.equal(plain[:, :150], floored["compiled"][:, :150])
    assert not torch.equal(plain, floored["compiled"])
    assert torch.equal(run("eager", torch.zeros(2, 300, dtype=torch.float64)), plain)
    with pytest.raises(
        UserError, match=r"floor \(--floor; compose: --wavenet-floor\) .* below 1 / 256"
    ):
        run("eager", torch.full((2, 300), 1 / 256, dtype=torch.float64))


def test_a_jump_limit_draws_no_click_the_same_on_every_engine(step_module):
    """A random model at temperature 3 draws samples half full scale apart often; with
    ``max_jump`` 0.5 no two adjacent samples (from the silence before the first) are more
    than 0.5 apart, the compiled, eager and naive generators draw the same classes, and
    the limit changes nothing where it never binds (2: every jump allowed)."""
    model = _model(CONFIGS["small"], 4)
    q = model.config.quantization_channels
    values = torch.from_numpy(mu_law_decode(np.arange(q), q))

    def run(engine: str, max_jump: float) -> torch.Tensor:
        g = torch.Generator().manual_seed(7)
        if engine == "naive":
            return generate_naive(model, 300, 2, temperature=3.0, generator=g, max_jump=max_jump)
        return generate(
            model, 300, 2, temperature=3.0, generator=g, max_jump=max_jump, engine=engine
        )

    def largest_jump(classes: torch.Tensor) -> float:
        audio = torch.cat([torch.zeros(2, 1), values[classes]], dim=1)  # silence first
        return float(audio.diff(dim=1).abs().max())

    assert largest_jump(run("compiled", 0.0)) > 0.5  # clicks without the limit
    limited = {engine: run(engine, 0.5) for engine in ("compiled", "eager", "naive")}
    assert largest_jump(limited["compiled"]) <= 0.5
    assert torch.equal(limited["compiled"], limited["eager"])
    assert torch.equal(limited["compiled"], limited["naive"])
    assert torch.equal(run("eager", 2.0), run("eager", 0.0))  # values span 2: never binds
    with pytest.raises(UserError, match="max_jump"):
        run("eager", -0.1)

    from wavenet_music.wavenet.to_audio import generate_audio  # the setting reaches generate

    config = dataclasses.replace(load_preset("tiny"), model=CONFIGS["small"])
    clips = {
        jump: generate_audio(
            model, config, GenerateConfig(seconds=0.02, temperature=3.0, max_jump=jump), None, False
        )
        for jump in (0.0, 0.5)  # 0.5: GenerateConfig's default
    }
    assert np.abs(np.diff(clips[0.0])).max() > 0.5 >= np.abs(np.diff(clips[0.5])).max()
    assert GenerateConfig().max_jump == 0.5


def test_jump_limit_temperatures_and_floors_together_draw_the_same_on_every_engine(
    step_module, monkeypatch
):
    """The compiled step applies the jump limit and each sample's temperature inside its
    draw (no torch call), the eager and naive generators with torch: all three draw the
    same classes with all three rules at once, and the rules bind (each changes the draws
    of the other two alone)."""
    monkeypatch.setattr(generate_module, "FLOOR_BLOCK", 64)
    model = _model(CONFIGS["small"], 4)
    temperatures = torch.full((3, 300), 2.5)
    temperatures[1, 100:] = 0.7
    floors = torch.zeros(3, 300, dtype=torch.float64)
    floors[:, 150:] = 0.002
    rules = {"max_jump": 0.3, "temperatures": temperatures, "floors": floors}

    def run(engine: str, **kwargs) -> torch.Tensor:
        g = torch.Generator().manual_seed(11)
        if engine == "naive":
            return generate_naive(model, 300, 3, generator=g, **kwargs)
        return generate(model, 300, 3, generator=g, engine=engine, **kwargs)

    together = {engine: run(engine, **rules) for engine in ("compiled", "eager", "naive")}
    assert torch.equal(together["compiled"], together["eager"])
    assert torch.equal(together["compiled"], together["naive"])
    for left_out in rules:
        fewer = {k: v for k, v in rules.items() if k != left_out}
        assert not torch.equal(run("compiled", **fewer), together["compiled"]), left_out
        assert torch.equal(run("compiled", **fewer), run("eager", **fewer)), left_out


def test_a_compiled_run_of_samples_draws_what_a_step_at_a_time_draws(step_module):
    """``CompiledWaveNet.run`` draws ``RUN_STEPS`` samples a C++ call; a Python loop of its
    ``step`` and ``draw`` a sample at a time (the loop ``generate`` ran before) draws the
    same classes with labels, local frames, notes heard and every rule, over runs that end
    mid-frame and a last partial run; ``on_step`` hears every run's end."""
    from wavenet_music.notes.excitation import CHANNELS as HEARD

    config = dataclasses.replace(
        CONFIGS["small"], global_labels=LABELS, excitation=True, local_channels=4, hop_length=7
    )
    model, g, length = _model(config, 4), torch.Generator().manual_seed(2), 150
    labels = torch.tensor([2, 0])
    features = torch.randn(2, 4, length // 7 + 2, generator=g)
    heard = torch.randn(2, HEARD, length, generator=g)
    temperatures = torch.full((2, length), 1.5)
    temperatures[0, 70:] = 0.6
    floors = torch.zeros(2, length, dtype=torch.float64)
    floors[:, 90:] = 0.002
    counts = []
    runs = generate(
        model, length, 2, generator=torch.Generator().manual_seed(9), engine="compiled",
        labels=labels, features=features, excitation=heard, silence=0.0, max_jump=0.3,
        temperatures=temperatures, floors=floors, on_step=lambda c: counts.append(c.shape[1]),
    )  # fmt: skip
    assert counts == [64, 128, 150] and fast_generate.RUN_STEPS == 64

    fast = generation_step(model, "compiled")
    history = generate_module.padded_history(model, None, 2)
    frames = generate_module.local_timeline(model, features, history.shape[1], length, 0.0)
    heard_all = generate_module.heard_timeline(model, heard, history.shape[1], length)
    state = fast.initial_state(model, history, labels, frames, heard_all)
    jumps = generate_module.jump_limit(model, 0.3, torch.device("cpu"))
    u = torch.rand(length, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(9))
    x, steps = history[:, -1], []
    for t in range(length):
        logits, state = fast.step(x, state)
        floor, inverse = floors[:, t], (1 / temperatures[:, t : t + 1]).float()
        x = fast.draw(logits, x, 1.0, None, floor, inverse, jumps, u[t])
        steps.append(x)
    assert torch.equal(runs, torch.stack(steps, dim=1))
    assert len(torch.unique(runs)) > 10


@pytest.mark.parametrize("max_jump", [0.01, 0.1, 0.5, 1.5])
def test_the_classes_within_a_jump_are_the_interval_the_compiled_step_reads(max_jump):
    """Each class's reachable classes (the mask row the eager step adds) are exactly the
    interval low .. high the compiled step reads, around the class itself."""
    model = _model(CONFIGS["small"], 0)
    mask = jump_mask(model, max_jump, torch.device("cpu"))
    limit = JumpLimit.of(mask)
    classes = torch.arange(mask.shape[0])
    inside = (classes >= limit.low[:, None]) & (classes <= limit.high[:, None])
    assert torch.equal(inside, mask == 0)
    assert bool(((limit.low <= classes) & (classes <= limit.high)).all())
    if max_jump < 1:  # some classes out of reach of the extremes
        assert int(limit.high[0]) < mask.shape[0] - 1 and int(limit.low[-1]) > 0


def test_a_mask_whose_reach_is_not_an_interval_is_refused():
    mask = torch.zeros(4, 4)
    mask[0, 2] = float("-inf")  # 0 reaches 0, 1 and 3 but not 2
    with pytest.raises(ValueError, match="not an interval"):
        JumpLimit.of(mask)


def _kl_and_tv(reference: torch.Tensor, other: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-step KL(p_ref ‖ p_other) in nats and total variation, logits (B, Q, T)."""
    log_p, log_q = reference.double().log_softmax(1), other.double().log_softmax(1)
    kl = (log_p.exp() * (log_p - log_q)).sum(1)
    tv = 0.5 * (log_p.exp() - log_q.exp()).abs().sum(1)
    return kl, tv


@pytest.mark.parametrize("precision", ["bf16", "int8"])
@pytest.mark.parametrize("name", ["tiny", "local_labels", "reference"])
def test_reduced_precision_within_stated_tolerance(name, precision, step_module):
    if name == "reference":  # at twice the scale its 55 layers amplify every rounding chaotically
        model, batch, steps = _model(load_preset("reference").model, 7, scale=1.0), 1, 40
    else:
        (config, batch), steps = VARIANTS[name], 300
        model = _model(config, 7)
    x, labels, frames = _inputs(model, batch, steps, 7)
    exact = step_logits(CompiledWaveNet(model, "float32", step_module), model, x, labels, frames)
    reduced = step_logits(CompiledWaveNet(model, precision, step_module), model, x, labels, frames)
    kl, tv = _kl_and_tv(exact, reduced)
    assert kl.mean() <= REDUCED_KL[precision], f"mean KL {kl.mean():.2e}"
    assert tv.max() <= REDUCED_TV[precision], f"max TV {tv.max():.3f}"
    assert not torch.equal(exact, reduced)  # really used the reduced weights


def test_int8_weights_have_a_scale_per_output_channel():
    weight = torch.randn(70, 5) * torch.tensor([1e-3, 1.0, 10.0, 0.0, 2.0])
    stored, scale = fast_generate.blocked_weight(weight, "int8")  # (1, 70, 64), (64,)
    assert stored.dtype == torch.int8 and stored.shape == (1, 70, fast_generate.BLOCK)
    restored = stored[0, :, :5].float() * scale[:5]
    assert (restored - weight).abs().max(dim=0).values.le(scale[:5] / 2 + 1e-9).all()
    assert stored[0, :, 5:].eq(0).all()


# --- engine choice and fallback --------------------------------------------------------------


@pytest.fixture
def broken_build(monkeypatch):
    """The compiled step fails to build, as without a compiler; the warning is fresh."""

    def fail():
        raise kernels.KernelBuildError("c++: not found")

    monkeypatch.setattr(fast_generate, "load_step_module", fail)
    monkeypatch.setattr(fast_generate, "_warned", [])


def test_auto_falls_back_to_eager_with_one_warning_line(broken_build, capsys):
    model = _model(CONFIGS["small"], 2)
    auto = generate(model, 50, 2, generator=torch.Generator().manual_seed(1))
    again = generate(model, 50, 2, generator=torch.Generator().manual_seed(1))
    eager = generate(model, 50, 2, generator=torch.Generator().manual_seed(1), engine="eager")
    assert torch.equal(auto, eager) and torch.equal(again, eager)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("warning: ") and "c++: not found" in err[0]


def test_compiled_engine_fails_with_one_clear_line(broken_build):
    model = _model(CONFIGS["small"])
    with pytest.raises(
        UserError, match=r"^engine compiled: .*c\+\+: not found.*engine eager"
    ) as err:
        generate(model, 5, engine="compiled")
    assert "\n" not in str(err.value)


def test_reduced_precision_needs_the_compiled_engine():
    model = _model(CONFIGS["small"])
    with pytest.raises(UserError, match="precision int8: needs the compiled engine"):
        generation_step(model, "eager", "int8")
    config = dataclasses.replace(load_preset("tiny"), model=CONFIGS["small"])
    options = GenerateConfig(seconds=0.01, engine="eager", precision="bf16")
    from wavenet_music.wavenet.to_audio import generate_audio

    with pytest.raises(UserError, match="precision bf16"):  # generate_audio passes both on
        generate_audio(model, config, options, progress=False)


def test_double_models_keep_the_eager_step():
    model = _model(CONFIGS["small"]).double()
    assert isinstance(generation_step(model, "auto"), IncrementalWaveNet)
    with pytest.raises(UserError, match="CPU float32 models"):
        generation_step(model, "compiled")


def test_build_errors_become_one_line(monkeypatch):
    log = (
        "Error building extension 'x':\n[1/2] c++ -c wavenet_step.cpp\n"
        "wavenet_step.cpp:3:1: error: boom\nninja: build stopped: subcommand failed.\n"
    )

    def fail(source):
        raise RuntimeError(log)

    monkeypatch.setattr(kernels, "_build_and_import", fail)
    kernels.forget_loaded()
    try:
        with pytest.raises(kernels.KernelBuildError, match=r"^wavenet_step.cpp:3:1: error: boom$"):
            kernels.load_step_module()
    finally:
        kernels.forget_loaded()


def test_missing_compiler_end_to_end(tmp_path):
    """A fresh process with no usable compiler: one warning line, then eager generation."""
    script = (
        "import torch\n"
        "from wavenet_music.config import ModelConfig\n"
        "from wavenet_music.wavenet.generate import generate\n"
        "from wavenet_music.wavenet.model import WaveNet\n"
        "model = WaveNet(ModelConfig(dilations=(1, 2), residual_channels=4, dilation_channels=4,"
        " skip_channels=8)).eval()\n"
        "print(generate(model, 20).shape)\n"
    )
    env = {
        **os.environ,
        "CXX": str(tmp_path / "no-such-c++"),
        "WAVENET_MUSIC_KERNELS": str(tmp_path / "k"),
    }
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "torch.Size([1, 20])"
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "Traceback" not in done.stderr, done.stderr


# --- the build cache ------------------------------------------------------------------------


def test_cached_build_is_atomic_and_reused(tmp_path):
    """Four builders racing for one folder: each gets a complete build, one is kept, no
    private folder is left behind; a later call does not build again."""
    folder, calls, start = tmp_path / "kernels" / "step_abc", [], threading.Barrier(4)

    def build(into: Path) -> None:
        calls.append(into)
        start.wait()
        (into / "part").write_text("half")
        (into / "module.so").write_text(str(into))

    results = []
    threads = [
        threading.Thread(target=lambda: results.append(kernels.cached_build(folder, build)))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [folder] * 4 and len(calls) == 4
    assert (folder / "module.so").read_text() in {str(c) for c in calls}
    assert sorted(p.name for p in folder.parent.iterdir()) == ["step_abc"]
    assert kernels.cached_build(folder, build) == folder and len(calls) == 4


def test_failed_build_leaves_nothing(tmp_path):
    folder = tmp_path / "step_x"

    def build(into: Path) -> None:
        (into / "half.o").write_text("")
        raise RuntimeError("compiler crashed")

    with pytest.raises(RuntimeError, match="compiler crashed"):
        kernels.cached_build(folder, build)
    assert list(tmp_path.iterdir()) == []


def test_build_key_follows_source_and_torch(monkeypatch):
    key = kernels.build_key(b"source")
    assert kernels.build_key(b"source") == key != kernels.build_key(b"source 2")
    monkeypatch.setattr(torch, "__version__", "0.0-other")
    assert kernels.build_key(b"source") != key


# --- the step on any thread count, and built for AVX2 -----------------------------------------


def test_thread_count_never_changes_a_stream(step_module):
    """Threads take whole tiles of streams: 10 streams on 1, 2 or 3 threads, the same bits."""
    model = _model(VARIANTS["local_labels"][0], 4)
    x, labels, frames = _inputs(model, 10, 40, 4)
    rf = model.receptive_field
    engine = CompiledWaveNet(model, "float32", step_module)
    start = engine.initial_state(model, x[:, :rf], labels, frames)
    before, runs = torch.get_num_threads(), []
    try:
        for threads in (1, 2, 3):
            torch.set_num_threads(threads)
            state = dataclasses.replace(start, queues=start.queues.clone())
            with torch.inference_mode():
                steps = [engine.step(x[:, t], state)[0] for t in range(rf - 1, x.shape[1])]
            runs.append(torch.stack(steps))
    finally:
        torch.set_num_threads(before)
    assert torch.equal(runs[0], runs[1]) and torch.equal(runs[0], runs[2])


@pytest.fixture(scope="module")
def avx2_module(step_module, monkeypatch_module):
    """The step built as for an AVX2-only CPU (``WAVENET_MUSIC_CPU=avx2``): 8-float vectors
    and their own tiles, whatever this CPU has. x86 only."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        pytest.skip("the avx2 target is x86")
    monkeypatch_module.setenv("WAVENET_MUSIC_CPU", "avx2")
    kernels.forget_loaded()
    try:
        yield kernels.load_step_module()
    finally:
        monkeypatch_module.delenv("WAVENET_MUSIC_CPU")
        kernels.forget_loaded()


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@pytest.mark.parametrize("name", ["small_batch5", "local_labels", "tiny"])
def test_avx2_build_equals_eager(name, avx2_module):
    config, batch = VARIANTS[name]
    batch = max(batch, 6)  # 4-stream tiles and single streams
    model = _model(config, 5)
    x, labels, frames = _inputs(model, batch, 200, 5)
    eager = step_logits(IncrementalWaveNet(model), model, x, labels, frames)
    compiled = step_logits(CompiledWaveNet(model, "float32", avx2_module), model, x, labels, frames)
    torch.testing.assert_close(compiled, eager, rtol=1e-4, atol=1e-4)
    for precision in ("bf16", "int8"):
        reduced = step_logits(
            CompiledWaveNet(model, precision, avx2_module), model, x, labels, frames
        )
        kl, tv = _kl_and_tv(compiled, reduced)
        assert kl.mean() <= REDUCED_KL[precision] and tv.max() <= REDUCED_TV[precision]


def test_avx2_build_draws_like_eager_with_notes_heard_and_every_rule(avx2_module, monkeypatch):
    """The AVX2 build's own code beyond the step's products (the draw's 8-float exp lanes,
    the excitation's multiply-adds): generation with notes heard, a jump limit, a
    temperature per sample and floors draws the same classes as the eager generator."""
    from wavenet_music.notes.excitation import CHANNELS as HEARD

    assert kernels.load_step_module() is avx2_module  # what engine="compiled" runs here
    monkeypatch.setattr(generate_module, "FLOOR_BLOCK", 64)
    config = dataclasses.replace(CONFIGS["small"], excitation=True, local_channels=4, hop_length=8)
    model = _model(config, 4)
    g = torch.Generator().manual_seed(2)
    features = torch.randn(3, 4, 300 // 8 + 2, generator=g)
    heard = torch.randn(3, HEARD, 300, generator=g)
    temperatures = torch.full((3, 300), 2.0)
    temperatures[1, 100:] = 0.6
    floors = torch.zeros(3, 300, dtype=torch.float64)
    floors[:, 150:] = 0.002
    rules = {"max_jump": 0.3, "temperatures": temperatures, "floors": floors}
    steering = {"features": features, "excitation": heard, "silence": 0.0}
    runs = {
        engine: generate(
            model,
            300,
            3,
            generator=torch.Generator().manual_seed(9),
            engine=engine,
            **steering,
            **rules,
        )
        for engine in ("compiled", "eager")
    }
    assert torch.equal(runs["compiled"], runs["eager"])
    assert len(torch.unique(runs["compiled"])) > 5


def test_build_targets_have_their_own_flags_and_key(monkeypatch):
    assert "-march=native" in kernels.compiler_flags("native")
    avx2 = kernels.compiler_flags("avx2")
    assert "-march=x86-64-v3" in avx2 and not any("avx512" in f for f in avx2)
    monkeypatch.delenv("WAVENET_MUSIC_CPU", raising=False)
    native = kernels.build_key(b"source")
    monkeypatch.setenv("WAVENET_MUSIC_CPU", "avx2")
    assert kernels.build_key(b"source") != native
    monkeypatch.setenv("WAVENET_MUSIC_CPU", "avx3")
    with pytest.raises(kernels.KernelBuildError, match="expected one of native, avx2"):
        kernels.cpu_target()


def test_the_avx2_target_has_no_avx512_features():
    flags = "fpu sse2 avx avx2 fma avx512f avx512bw avx512_bf16 avx512_vnni amx_tile"
    assert kernels.cpu_features(flags, "native") == frozenset(flags.split())
    assert kernels.cpu_features(flags, "avx2") == frozenset(["fpu", "sse2", "avx", "avx2", "fma"])


# --- which engine: a pure function of the model and the CPU's features ------------------------

ZEN4 = frozenset(
    ["sse2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_bf16", "avx512_vnni"]
)
ZEN3 = frozenset(["sse2", "avx", "avx2", "fma"])
OLD_X86 = frozenset(["sse2", "sse4_2", "avx"])
CPU = fast_generate.CPU_FLOAT32


@pytest.mark.parametrize("features", [ZEN4, ZEN3, OLD_X86, frozenset()])
@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
def test_no_default_picks_reduced_precision(features, machine):
    for engine in ("auto", "compiled", "eager"):
        choice = fast_generate.choose_engine(engine, "float32", CPU, features, machine)
        assert choice.precision == "float32"


def test_auto_is_compiled_where_the_vector_code_was_measured():
    zen4 = fast_generate.choose_engine("auto", "float32", CPU, ZEN4, "x86_64")
    zen3 = fast_generate.choose_engine("auto", "float32", CPU, ZEN3, "x86_64")
    assert zen4.engine == zen3.engine == "compiled"
    assert "AVX-512 build" in str(zen4) and "avx512_bf16" in str(zen4)
    assert "AVX2 build" in str(zen3) and "no avx512f" in str(zen3)


def test_auto_is_eager_on_x86_without_avx2_unless_asked():
    auto = fast_generate.choose_engine("auto", "float32", CPU, OLD_X86, "x86_64")
    assert auto.engine == "eager" and "without AVX2" in auto.reason
    asked = fast_generate.choose_engine("compiled", "float32", CPU, OLD_X86, "x86_64")
    assert asked.engine == "compiled"
    reduced = fast_generate.choose_engine("auto", "int8", CPU, OLD_X86, "x86_64")
    assert (reduced.engine, reduced.precision) == ("compiled", "int8")  # only compiled has int8


@pytest.mark.parametrize("precision", ["bf16", "int8"])
def test_reduced_precision_runs_without_avx512(precision):
    """The step widens bf16 and int8 weights to float32: no AVX512_BF16 or VNNI needed."""
    choice = fast_generate.choose_engine("auto", precision, CPU, ZEN3, "x86_64")
    assert (choice.engine, choice.precision) == ("compiled", precision)
    assert "widened to float32" in choice.reason


def test_models_off_the_cpu_take_an_uncompiled_step():
    kind = "a float32 model on cuda"
    choice = fast_generate.choose_engine("auto", "float32", kind, ZEN4, "x86_64")
    assert choice.engine == "graph" and kind in choice.reason  # tests/wavenet/test_graphed.py
    bf16 = fast_generate.choose_engine("auto", "float32", "a bfloat16 model on cpu", ZEN4, "x86_64")
    assert bf16.engine == "eager" and "compiled runs CPU float32" in bf16.reason
    with pytest.raises(UserError, match="engine compiled: runs on CPU float32 models"):
        fast_generate.choose_engine("compiled", "float32", kind, ZEN4, "x86_64")
    with pytest.raises(UserError, match="precision bf16: needs the compiled engine"):
        fast_generate.choose_engine("auto", "bf16", kind, ZEN4, "x86_64")


def test_generate_says_its_engine_and_threads_in_one_line(step_module, capsys):
    from wavenet_music.wavenet.to_audio import generate_audio

    model = _model(CONFIGS["small"])
    config = dataclasses.replace(load_preset("tiny"), model=CONFIGS["small"])
    generate_audio(model, config, GenerateConfig(seconds=0.002, num=2), progress=True)
    lines = [line for line in capsys.readouterr().err.splitlines() if "generating with" in line]
    assert len(lines) == 1
    assert "compiled float32 step" in lines[0] and "1 thread (2 streams)" in lines[0]


# --- sampling -------------------------------------------------------------------------------


def _draws(draw, logits: torch.Tensor, count: int, temperature: float) -> torch.Tensor:
    g = torch.Generator().manual_seed(11)
    return torch.stack([draw(logits, temperature, g) for _ in range(count)])  # (count, B)


@pytest.mark.parametrize("temperature", [1.0, 0.5])
def test_both_samplers_draw_from_the_softmax(temperature, step_module):
    """Class frequencies over 4,000 draws are within 4 standard errors of softmax(l / T),
    and the compiled sampler draws the same classes as the torch one from the same seed."""
    logits = torch.randn(3, 12, generator=torch.Generator().manual_seed(2)) * 2
    compiled = CompiledWaveNet(_model(CONFIGS["small"]), "float32", step_module)
    torch_draws = _draws(sample, logits, 4000, temperature)
    assert torch.equal(_draws(compiled.sample, logits, 4000, temperature), torch_draws)
    expected = torch.softmax(logits.double() / temperature, dim=1)  # (B, Q)
    frequency = torch.nn.functional.one_hot(torch_draws, 12).double().mean(dim=0)  # (B, Q)
    error = (expected * (1 - expected) / 4000).sqrt()
    assert ((frequency - expected).abs() <= 4 * error + 1e-9).all()


def test_a_floor_cuts_the_unlikely_tail_and_renormalises(step_module):
    """With a floor f per row, both samplers draw from max(p - f, 0) renormalised (within 4
    standard errors over 4,000 draws), never a class below the floor, the same classes from
    the same seed; a row with floor 0 draws from p itself."""
    logits = torch.randn(3, 12, generator=torch.Generator().manual_seed(4)) * 2
    floor = torch.tensor([0.05, 0.0, 0.08], dtype=torch.float64)
    compiled = CompiledWaveNet(_model(CONFIGS["small"]), "float32", step_module)

    def draws(draw):
        g = torch.Generator().manual_seed(11)
        return torch.stack([draw(logits, 1.0, g, floor) for _ in range(4000)])  # (count, B)

    torch_draws = draws(sample)
    assert torch.equal(draws(compiled.sample), torch_draws)
    p = torch.softmax(logits.double(), dim=1)  # (B, Q)
    kept = (p - floor[:, None]).clamp(min=0)
    expected = kept / kept.sum(dim=1, keepdim=True)
    frequency = torch.nn.functional.one_hot(torch_draws, 12).double().mean(dim=0)  # (B, Q)
    error = (expected * (1 - expected) / 4000).sqrt()
    assert ((frequency - expected).abs() <= 4 * error + 1e-9).all()
    assert (frequency[kept == 0] == 0).all() and (kept[[0, 2]] == 0).any()
    assert (kept[1] == p[1]).all()


def test_samplers_refuse_nan_logits(step_module):
    logits = torch.zeros(2, 5)
    logits[1, 3] = float("nan")
    compiled = CompiledWaveNet(_model(CONFIGS["small"]), "float32", step_module)
    for draw in (sample, compiled.sample):
        with pytest.raises(RuntimeError, match="NaN or infinity"):
            draw(logits, 1.0, torch.Generator().manual_seed(0))
