"""Sample-by-sample generation.

``IncrementalWaveNet`` is the queue method of Paine et al. 2016 ("Fast WaveNet
Generation Algorithm"): every causal convolution keeps a queue of its past inputs, so
each new sample costs one small matrix product per layer, constant in the receptive
field. Its state is explicit (``GenerationState``); nothing is hidden in the layers.
``generate_naive`` recomputes the full forward pass over the receptive field for every
sample: slow, obviously right, kept for tests and benchmarks.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from tqdm import tqdm

from .audio import load_audio, mu_law_decode, mu_law_encode, write_wav
from .conditioning import SILENCE_DB, feature_store
from .config import Config, GenerateConfig, UserError
from .model import CausalConv1d, WaveNet
from .signals import StopRequest


@dataclass
class GenerationState:
    """What the generator remembers between samples.

    ``queues[i]`` holds the last ``context_i`` inputs of causal convolution ``i`` (the
    initial convolution first, then one per residual layer) as a ring buffer of shape
    (context_i, B, C_i): the input at time ``t`` lives in slot ``t % context_i``.
    ``time`` is the index of the next input sample. ``step`` updates both in place.
    ``label_bias[l]`` (B, 2D) is layer l's global-conditioning term V·h, fixed per clip;
    ``local[l]`` (B, 2D, K) its local-conditioning term per frame, and ``local_origin``
    the sample index (from the start of frame 0 of ``local``) of the input at time 0.
    """

    queues: list[Tensor]
    time: int = 0
    label_bias: list[Tensor] | None = None
    local: list[Tensor] | None = None
    local_origin: int = 0


@dataclass(frozen=True)
class _Conv:
    """A causal convolution as one matrix over its stacked taps (oldest tap first)."""

    weight: Tensor  # (taps · C_in, C_out)
    bias: Tensor | None  # (C_out,)
    taps: int
    dilation: int

    @classmethod
    def of(cls, conv: CausalConv1d) -> _Conv:
        w = conv.weight.detach()  # (C_out, C_in, taps)
        stacked = w.permute(2, 1, 0).reshape(-1, w.shape[0]).contiguous()  # (taps·C_in, C_out)
        bias = None if conv.bias is None else conv.bias.detach()
        return cls(stacked, bias, conv.kernel_size[0], conv.dilation[0])

    @property
    def context(self) -> int:
        return (self.taps - 1) * self.dilation

    def step(self, x: Tensor, queue: Tensor, time: int) -> Tensor:
        """x (B, C_in) at ``time`` → (B, C_out); pushes x into the queue."""
        past = [
            queue[(time - k * self.dilation) % self.context] for k in range(self.taps - 1, 0, -1)
        ]
        inputs = torch.cat([*past, x], dim=1)  # (B, taps · C_in)
        out = (
            inputs @ self.weight
            if self.bias is None
            else torch.addmm(self.bias, inputs, self.weight)
        )
        queue[time % self.context] = x
        return out  # (B, C_out)


class IncrementalWaveNet:
    """The trained weights rearranged for one-sample steps: ``step(x_t, state) -> logits``."""

    def __init__(self, model: WaveNet) -> None:
        self.config = model.config
        self.causal = _Conv.of(model.causal)
        self.filter_gate = [_Conv.of(b.filter_gate) for b in model.blocks]
        self.residual = [_linear(b.residual) for b in model.blocks]  # (D, R), (R,)
        weight, bias = model.skip_matrix()
        self.skip = (weight.detach().t().contiguous(), None if bias is None else bias.detach())
        self.head = [_linear(model.head[1]), _linear(model.head[3])]
        self.dilation_channels = self.config.dilation_channels

    def initial_state(
        self,
        model: WaveNet,
        history: Tensor,
        labels: Tensor | None = None,
        frames: Tensor | None = None,
    ) -> GenerationState:
        """Queues filled as if ``history`` (B, T ≥ receptive_field) had been fed, except its
        last sample, which the first ``step`` takes. One forward pass, no loop; streams with
        the same history and label (e.g. silence) are computed once.

        ``labels`` (B,): global-conditioning labels; ``frames`` (B, F, K + 2): local-
        conditioning frames for the whole timeline, history included, laid out as for
        ``WaveNet.forward`` (history[:, 0] starts frame 1).
        Slot j of a queue holds the input at time j - context (≡ j mod context)."""
        first, inverse = _distinct_streams(history, labels, frames)
        with torch.inference_mode():
            pick = _rows(first)
            histories = model.conv_histories(
                history[first, :-1], pick(labels), pick(frames)
            )  # (U, C, ctx)
            state = GenerationState(
                queues=[h[inverse].permute(2, 0, 1).contiguous() for h in histories],
                local_origin=history.shape[1] - 1,
            )
            if labels is not None:
                state.label_bias = [b.label_embedding(labels) for b in model.blocks]  # (B, 2D)
            state.local = layer_conditioning(model, frames)
        return state

    def with_frames(
        self, model: WaveNet, state: GenerationState, frames: Tensor
    ) -> GenerationState:
        """``state`` steered by ``frames`` (B, F, K' + 2): the timeline it started from,
        extended (features that arrive while generating, as in ``compose``)."""
        with torch.inference_mode():
            state.local = layer_conditioning(model, frames)
        return state

    def step(self, x: Tensor, state: GenerationState) -> tuple[Tensor, GenerationState]:
        """x (B,) classes at ``state.time`` → logits (B, Q) for the next sample."""
        t = state.time
        one_hot = torch.nn.functional.one_hot(x, self.config.quantization_channels)
        one_hot = one_hot.to(self.causal.weight.dtype)
        h = self.causal.step(one_hot, state.queues[0], t)  # (B, R)
        frame = (state.local_origin + t) // self.config.hop_length  # of the sample fed
        zs = []
        for layer, (conv, (w_res, b_res)) in enumerate(
            zip(self.filter_gate, self.residual, strict=True)
        ):
            pre = conv.step(h, state.queues[layer + 1], t)  # (B, 2D)
            if state.label_bias is not None:
                pre = pre + state.label_bias[layer]
            if state.local is not None:
                pre = pre + state.local[layer][:, :, frame]
            z = torch.tanh(pre[:, : self.dilation_channels]) * torch.sigmoid(
                pre[:, self.dilation_channels :]
            )  # (B, D)
            h = h + _affine(z, w_res, b_res)  # (B, R)
            zs.append(z)
        skips = _affine(torch.cat(zs, dim=1), *self.skip)  # (B, Sk)
        (w1, b1), (w2, b2) = self.head
        logits = _affine(torch.relu(_affine(torch.relu(skips), w1, b1)), w2, b2)  # (B, Q)
        state.time = t + 1
        return logits, state


def layer_conditioning(model: WaveNet, frames: Tensor | None) -> list[Tensor] | None:
    """Every layer's local conditioning (B, 2D, K) at frame rate, from frames (B, F, K + 2)."""
    conditioning = model.local_frames(frames)  # (B, F, K) or None
    if conditioning is None:
        return None
    return [b.local_condition(conditioning) for b in model.blocks]  # L × (B, 2D, K)


def _distinct_streams(
    history: Tensor, labels: Tensor | None, frames: Tensor | None
) -> tuple[Tensor, Tensor]:
    """(first, inverse): one stream index per distinct (history, label), and for every
    stream its distinct index. Streams with their own frames are all distinct."""
    if frames is not None:
        everyone = torch.arange(history.shape[0], device=history.device)
        return everyone, everyone
    keys = history if labels is None else torch.cat([labels[:, None], history], dim=1)
    unique, inverse = torch.unique(keys, dim=0, return_inverse=True)  # (U, ·), (B,)
    first = torch.zeros(len(unique), dtype=torch.long, device=history.device)
    first[inverse] = torch.arange(len(inverse), device=history.device)
    return first, inverse


def _rows(index: Tensor):
    return lambda t: None if t is None else t[index]


def _linear(conv: torch.nn.Conv1d) -> tuple[Tensor, Tensor | None]:
    """A 1×1 convolution as (C_in, C_out) weight and bias."""
    bias = None if conv.bias is None else conv.bias.detach()
    return conv.weight.detach()[:, :, 0].t().contiguous(), bias


def _affine(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    return x @ weight if bias is None else torch.addmm(bias, x, weight)


# --- sampling ---------------------------------------------------------------------------


def sample(logits: Tensor, temperature: float, generator: torch.Generator | None) -> Tensor:
    """logits (B, Q) → classes (B,). Temperature 0 takes the most likely class."""
    if temperature == 0:
        return logits.argmax(dim=1)
    probs = torch.softmax(logits.double() / temperature, dim=1)  # (B, Q)
    return torch.multinomial(probs, 1, generator=generator)[:, 0]


def padded_history(model: WaveNet, prime: Tensor | None, num: int) -> Tensor:
    """At least a receptive field of silence (as before every file in training), then
    ``prime`` (num, P) if given, on the model's device. With local conditioning the
    history is a whole number of frames, so that generation starts a frame."""
    silence = model.config.quantization_channels // 2  # mu-law class of 0.0
    size = model.receptive_field
    if model.config.local_channels is not None:
        hop, primed = model.config.hop_length, 0 if prime is None else prime.shape[1]
        size = -(-(size + primed) // hop) * hop - primed
    pad = torch.full((num, size), silence, dtype=torch.long)
    history = pad if prime is None else torch.cat([pad, prime.long()], dim=1)
    return history.to(_device(model))


def local_timeline(
    model: WaveNet, features: Tensor | None, history: int, length: int
) -> Tensor | None:
    """Frames for ``WaveNet.forward`` over history + generated samples (B, F, K_total + 2):
    a context frame, silence for the history's frames, ``features``, a context frame.
    A stream whose features start absent (NaN: unsteered) has absent frames around them."""
    if (features is None) != (model.config.local_channels is None):
        state = "needs" if features is None else "takes no"
        raise ValueError(f"this model {state} local-conditioning features")
    if features is None:
        return None
    hop = model.config.hop_length
    if features.shape[2] * hop < length:
        raise ValueError(
            f"{features.shape[2]} frames cover {features.shape[2] * hop} samples, "
            f"fewer than the {length} asked for"
        )
    features = features.cpu()
    unsteered = torch.isnan(features[:, :, :1]).any(dim=1, keepdim=True)  # (B, 1, 1)
    fill = torch.where(unsteered, torch.nan, SILENCE_DB).to(features.dtype)  # (B, 1, 1)
    silent = fill.expand(-1, features.shape[1], 1 + history // hop)
    end = fill.expand(-1, features.shape[1], 1)
    return torch.cat([silent, features, end], dim=2).to(_device(model))


ProgressFn = Callable[[Tensor], None]


@torch.inference_mode()
def generate(
    model: WaveNet,
    length: int,
    num: int = 1,
    *,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
    prime: Tensor | None = None,
    labels: Tensor | None = None,
    features: Tensor | None = None,
    on_step: ProgressFn | None = None,
    engine: str = "auto",
    precision: str = "float32",
) -> Tensor:
    """Generate ``num`` clips of ``length`` classes each with the incremental generator.

    Args:
        prime: (num, P) classes the clips continue from (not part of the output);
            without it, generation starts after a receptive field of silence, as in training.
        labels: (num,) global-conditioning label indices, when the model has labels.
        features: (num, F, K) local-conditioning frames of the audio to generate (frame k
            describes output samples k·hop ..), when the model has local conditioning;
            ``length`` ≤ K · hop.
        on_step: called after every sample with the classes so far (num, t).
        engine: ``auto``, ``compiled`` or ``eager``; precision: the compiled step's weights,
            ``float32``, ``bf16`` or ``int8`` (see ``fast_generate.generation_step``).
    Returns:
        Tensor[num, length] of classes.
    """
    history = padded_history(model, prime, num)
    frames = local_timeline(model, features, history.shape[1], length)
    fast = _step_engine(model, engine, precision)
    state = fast.initial_state(model, history, _on(labels, history.device), frames)
    out = torch.empty(num, length, dtype=torch.long, device=history.device)
    x = history[:, -1]
    for t in range(length):
        logits, state = fast.step(x, state)
        x = sample(logits, temperature, generator).to(out.device)
        out[:, t] = x
        if on_step is not None:
            on_step(out[:, : t + 1])
    return out


@torch.inference_mode()
def generate_naive(
    model: WaveNet,
    length: int,
    num: int = 1,
    *,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
    prime: Tensor | None = None,
    labels: Tensor | None = None,
    features: Tensor | None = None,
) -> Tensor:
    """The plain reference: one full forward pass over the last receptive field per sample
    (over everything so far with local conditioning, whose frames start at sample 0)."""
    rf = model.receptive_field
    history = padded_history(model, prime, num)
    frames = local_timeline(model, features, history.shape[1], length)
    labels = _on(labels, history.device)
    for _ in range(length):
        window = history if frames is not None else history[:, -rf:]
        logits = model(window, labels, frames)[:, :, -1]  # (B, Q)
        x = sample(logits, temperature, generator).to(history.device)
        history = torch.cat([history, x[:, None]], dim=1)
    return history[:, history.shape[1] - length :]


def _step_engine(model: WaveNet, engine: str, precision: str):
    """IncrementalWaveNet or its compiled twin (fast_generate builds on this module)."""
    from .fast_generate import generation_step

    return generation_step(model, engine, precision)


def _device(model: WaveNet) -> torch.device:
    return next(model.parameters()).device


def _on(labels: Tensor | None, device: torch.device) -> Tensor | None:
    return None if labels is None else labels.to(device)


# --- from a trained run to audio files ------------------------------------------------------


def prime_classes(path: Path, config: Config, num: int) -> Tensor:
    """The last receptive field of ``path`` as mu-law classes, repeated: (num, ≤ RF)."""
    audio = load_audio(path, config.data.sample_rate)
    if audio.size == 0:
        raise UserError(f"{path}: the seed audio is empty; pass a longer --seed-audio")
    classes = mu_law_encode(
        audio[-config.model.receptive_field :], config.model.quantization_channels
    )
    return torch.from_numpy(classes)[None].repeat(num, 1)


def local_features(config: Config, options: GenerateConfig) -> np.ndarray | None:
    """The (K, F) features that steer a locally conditioned model, from ``features_from``
    (an audio file, computed as in training) or ``features`` (a ``.npy`` file); with
    neither, absent frames (NaN) for ``options.seconds`` where the run was trained to
    generate unsteered (``train.local_dropout``)."""
    given = [o for o in (options.features_from, options.features) if o is not None]
    channels = config.model.local_channels
    if channels is None:
        if given:
            raise UserError(
                "this run was trained without local conditioning; drop --features-from/--features"
            )
        return None
    if not given and config.train.local_dropout > 0:
        frames = -(-round(options.seconds * config.data.sample_rate) // config.model.hop_length)
        return np.full((frames, channels), np.nan, dtype=np.float32)
    if len(given) != 1:
        raise UserError(
            "this run is steered by local-conditioning features: pass exactly one "
            "of --features-from AUDIO or --features FILE.npy (a run trained with "
            "--local-dropout also generates without)"
        )
    if options.features_from is not None:
        return features_of_audio(Path(options.features_from), config)
    return load_features(Path(options.features), channels)


def features_of_audio(path: Path, config: Config) -> np.ndarray:
    """Local-conditioning features (K, F) of an audio file, as training computes them."""
    audio = load_audio(path, config.data.sample_rate)
    return feature_store(config).of_classes(
        mu_law_encode(audio, config.model.quantization_channels)
    )


def load_features(path: Path, channels: int) -> np.ndarray:
    try:
        features = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise UserError(f"--features {path}: not a readable .npy file ({exc})") from None
    if features.ndim != 2 or features.shape[1] != channels or len(features) == 0:
        raise UserError(
            f"--features {path}: expected shape (frames, {channels}), got {features.shape}"
        )
    if not np.isfinite(features).all():
        raise UserError(f"--features {path}: holds NaN or inf values")
    return features.astype(np.float32)


def _per_clip(features: np.ndarray | None, clips: int) -> Tensor | None:
    """(K, F) → (clips, F, K)."""
    if features is None:
        return None
    return torch.from_numpy(np.ascontiguousarray(features.T))[None].repeat(clips, 1, 1)


def clip_plan(config: Config, options: GenerateConfig) -> tuple[Tensor | None, list[str]]:
    """Which clips one batch generates: label indices (or None) and a tag per clip.

    ``options.label`` names one label, several (``piano,guitar``) or ``all``; each label
    gets ``options.num`` clips. Tags name the files: ``""`` (one clip), ``"2"``,
    ``"piano"``, ``"piano-2"``.
    """
    known = config.model.global_labels
    if not known:
        if options.label is not None:
            raise UserError("this run was trained without labels; drop --label")
        return None, [""] if options.num == 1 else [str(i + 1) for i in range(options.num)]
    if options.label is None:
        raise UserError(
            f"this run is conditioned on labels ({', '.join(known)}); "
            "pass --label NAME, several as --label a,b, or --label all"
        )
    chosen = list(known) if options.label == "all" else options.label.split(",")
    unknown = [name for name in chosen if name not in known]
    if unknown:
        raise UserError(f"unknown label {unknown[0]!r}; this run knows: {', '.join(known)}")
    indices = [known.index(name) for name in chosen for _ in range(options.num)]
    tags = [
        name if options.num == 1 else f"{name}-{i + 1}"
        for name in chosen
        for i in range(options.num)
    ]
    return torch.tensor(indices), tags


def clip_paths(out: Path, tags: list[str]) -> list[Path]:
    """``out.wav`` for a lone untagged clip, else ``out-TAG.wav`` per clip."""
    out = Path(out)
    if tags == [""]:
        return [out]
    return [out.with_name(f"{out.stem}-{tag}{out.suffix or '.wav'}") for tag in tags]


def generate_audio(
    model: WaveNet,
    config: Config,
    options: GenerateConfig,
    out: Path | None = None,
    progress: bool = True,
) -> np.ndarray:
    """Sample the clips of ``clip_plan`` as one batch and return float audio (clips, T).

    With ``out``, the clips are written as 16-bit WAV (see ``clip_paths``), every
    ``options.save_every`` seconds while generating and at the end. Ctrl-C keeps the
    audio generated so far: it is written, then the interrupt goes on.
    """
    rate, q = config.data.sample_rate, config.model.quantization_channels
    length = round(options.seconds * rate)
    features = local_features(config, options)  # (K, F) or None
    if features is not None:
        length = min(length, len(features) * config.model.hop_length)
    generator = torch.Generator(device=_device(model))
    if options.seed is None:
        generator.seed()
    else:
        generator.manual_seed(options.seed)
    labels, tags = clip_plan(config, options)
    paths = None if out is None else clip_paths(out, tags)
    prime = None
    if options.seed_audio is not None:
        prime = prime_classes(Path(options.seed_audio), config, len(tags))
    every = None if options.save_every is None else int(options.save_every * rate)
    bar = tqdm(
        total=length, unit="sample", unit_scale=True, disable=not progress, desc="generating"
    )
    latest: list[Tensor] = [torch.empty(len(tags), 0, dtype=torch.long)]
    stop = StopRequest()

    def on_step(classes: Tensor) -> None:
        if stop.requested:  # raised here, between samples, never inside a library call
            raise KeyboardInterrupt
        latest[0] = classes
        bar.update(1)
        if paths is not None and every and classes.shape[1] % every == 0:
            write_clips(paths, mu_law_decode(classes.cpu().numpy(), q), rate)

    try:
        with stop, _threads_for(len(tags), _device(model)):
            classes = generate(
                model,
                length,
                len(tags),
                temperature=options.temperature,
                generator=generator,
                prime=prime,
                labels=labels,
                features=_per_clip(features, len(tags)),
                on_step=on_step,
                engine=options.engine,
                precision=options.precision,
            )
    except KeyboardInterrupt:
        if paths is not None and latest[0].shape[1] > 0:
            write_clips(paths, mu_law_decode(latest[0].cpu().numpy(), q), rate)
        raise
    finally:
        bar.close()
    audio = mu_law_decode(classes.cpu().numpy(), q)  # (clips, T)
    if paths is not None:
        write_clips(paths, audio, rate)
    return audio


def write_clips(paths: list[Path], audio: np.ndarray, sample_rate: int) -> None:
    for path, clip in zip(paths, audio, strict=True):
        write_wav(path, clip, sample_rate)


ONE_THREAD_UP_TO = 8  # streams; measured: batch 2 of `tiny` ran 13x faster on 1 thread than 2


@contextmanager
def _threads_for(num: int, device: torch.device):
    """Few-stream CPU generation is bound by per-op overhead, and threads only add to it."""
    if num > ONE_THREAD_UP_TO or device.type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
