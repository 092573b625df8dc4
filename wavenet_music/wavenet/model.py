"""WaveNet (van den Oord et al. 2016), read top to bottom like the paper's figure 4.

    CausalConv1d → ResidualBlock (gated tanh·sigmoid, 1×1 residual, 1×1 skip) → WaveNet

All convolutions are VALID: a layer with dilation ``d`` and ``k`` taps shortens the
sequence by ``(k - 1) * d`` and its output at step ``t`` is aligned with its newest input.
So the network never looks ahead, and an input window of ``receptive_field - 1 + S``
samples yields exactly ``S`` predictions, each of which saw a full receptive field (no
prediction is made from zero padding; ibab/tensorflow-wavenet PR #191 fixed the same).
The model sees integer mu-law classes and returns logits; it knows nothing of audio files.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import ModelConfig
from ..notes.excitation import CHANNELS as EXCITATION_CHANNELS


class CausalConv1d(nn.Conv1d):
    """A dilated convolution whose output at ``t`` depends on inputs ``t - context .. t``.

    Output length = input length - ``context``, with ``context = (taps - 1) * dilation``.
    Tap ``k`` of the weight multiplies the input ``(taps - 1 - k) * dilation`` steps back.
    """

    def __init__(
        self, in_channels: int, out_channels: int, taps: int, dilation: int = 1, bias: bool = True
    ) -> None:
        super().__init__(in_channels, out_channels, taps, dilation=dilation, bias=bias)

    @property
    def context(self) -> int:
        return (self.kernel_size[0] - 1) * self.dilation[0]


class LocalUpsampler(nn.Module):
    """Local-conditioning frames → per-frame conditioning (paper section 2.6, local part).

    Frames (B, F, K + 2) hold one frame of context on each side; they are normalised with
    the training statistics (buffers, saved with the weights) and smoothed by a width-3
    convolution over frames, giving (B, F, K). Each layer projects these with its own 1×1
    convolution at frame rate and repeats every frame ``hop`` times (a 1×1 convolution
    and repetition commute). So the prediction made at sample t (in frame ⌊t / hop⌋) hears
    frames ⌊t / hop⌋ - 1 .. ⌊t / hop⌋ + 1: a look-ahead of up to 2·hop - 1 samples.

    A frame of NaN is an *absent* frame (features withheld: ``train.local_dropout``, or
    unsteered generation): its output is the learned vector ``absent`` (F,), and it counts
    as zero where it is a neighbour of a present frame.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.register_buffer("feature_mean", torch.zeros(channels))
        self.register_buffer("feature_std", torch.ones(channels))
        self.smooth = nn.Conv1d(channels, channels, 3)
        self.absent = nn.Parameter(torch.zeros(channels))

    def forward(self, frames: Tensor) -> Tensor:
        """frames (B, F, K + 2) raw features, NaN where absent → (B, F, K)."""
        missing = torch.isnan(frames).any(dim=1, keepdim=True)  # (B, 1, K + 2)
        normalised = (frames - self.feature_mean[:, None]) / self.feature_std[:, None]
        smoothed = self.smooth(normalised.masked_fill(missing, 0.0))  # (B, F, K)
        # always through torch.where, so that `absent` is in every graph (DDP needs that)
        return torch.where(missing[:, :, 1:-1], self.absent[:, None], smoothed)  # (B, F, K)


class ResidualBlock(nn.Module):
    """One dilated layer with a gated activation unit::

        x ─────────────────────────────────────────────┐ (newest T - context steps)
        │                                              │
        ├─ dilated CausalConv1d ─┬─ filter ─ tanh ─┐    │
        │                        └─ gate ── σ ────(×)── z ── 1×1 residual ──(+)── x'
        │                                               └── 1×1 skip ──────────── s

    ``filter`` and ``gate`` come from one convolution with ``2 * dilation_channels``
    outputs (first half filter, second half gate): one matrix product instead of two.
    Global conditioning (paper eq. 2) adds a learned vector per label, V_f·h and V_g·h, to
    the filter and gate pre-activations of every layer; local conditioning adds a 1×1
    projection of the upsampled features, V_f * y and V_g * y; the excitation (the notes
    heard at audio rate, ``notes/excitation.py``) adds a 1×1 projection of it per sample,
    U_f * e and U_g * e.
    """

    def __init__(self, config: ModelConfig, dilation: int) -> None:
        super().__init__()
        r, d, s = config.residual_channels, config.dilation_channels, config.skip_channels
        bias = config.use_biases
        self.dilation = dilation
        self.filter_gate = CausalConv1d(r, 2 * d, config.filter_width, dilation, bias=bias)
        self.residual = nn.Conv1d(d, r, 1, bias=bias)
        self.skip = nn.Conv1d(d, s, 1, bias=bias)
        self.label_embedding = None
        if config.global_labels:
            self.label_embedding = nn.Embedding(len(config.global_labels), 2 * d)  # [V_f; V_g]
        self.local_condition = None
        if config.local_channels is not None:
            self.local_condition = nn.Conv1d(config.local_channels, 2 * d, 1, bias=False)
        self.excitation_condition = None
        if config.excitation:
            self.excitation_condition = nn.Conv1d(EXCITATION_CHANNELS, 2 * d, 1, bias=False)

    def gated(self, x: Tensor, labels: Tensor | None = None, local: Tensor | None = None) -> Tensor:
        """x (B, R, T) → z (B, D, T - context): tanh(W_f * x + V_f h) · σ(W_g * x + V_g h).

        ``local`` (B, 2D, T) is this layer's local conditioning, aligned with x."""
        pre = self.filter_gate(x)  # (B, 2D, T')
        if self.label_embedding is not None:
            pre = pre + self.label_embedding(labels)[:, :, None]  # + (B, 2D, 1)
        if local is not None:
            pre = pre + local[:, :, self.filter_gate.context :]  # + (B, 2D, T')
        filter_, gate = pre.chunk(2, dim=1)  # 2 × (B, D, T')
        return torch.tanh(filter_) * torch.sigmoid(gate)  # (B, D, T')

    def forward(
        self, x: Tensor, labels: Tensor | None = None, local: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """x (B, R, T), labels (B,), local (B, 2D, T) → (x' (B, R, T'), z (B, D, T')) with
        T' = T - context.

        The skip output is ``self.skip(z)``; WaveNet applies all layers' skip
        convolutions at once, and only on the positions that are predicted.
        """
        z = self.gated(x, labels, local)  # (B, D, T')
        x = x[:, :, self.filter_gate.context :] + self.residual(z)  # (B, R, T')
        return x, z


class WaveNet(nn.Module):
    """Predicts a categorical distribution over the next mu-law class.

    one-hot(x) → CausalConv1d → [ResidualBlock] × L → Σ skips → ReLU → 1×1 → ReLU → 1×1
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        q, r, s = config.quantization_channels, config.residual_channels, config.skip_channels
        bias = config.use_biases
        self.causal = CausalConv1d(q, r, config.filter_width, bias=bias)
        self.blocks = nn.ModuleList(ResidualBlock(config, d) for d in config.dilations)
        self.upsample = None
        if config.local_channels is not None:
            self.upsample = LocalUpsampler(config.local_channels)
        self.head = nn.Sequential(  # in-place ReLUs: their inputs are needed by nothing else
            nn.ReLU(inplace=True),
            nn.Conv1d(s, s, 1, bias=bias),
            nn.ReLU(inplace=True),
            nn.Conv1d(s, q, 1, bias=bias),
        )

    @property
    def receptive_field(self) -> int:
        return self.config.receptive_field

    def forward(
        self,
        x: Tensor,
        labels: Tensor | None = None,
        frames: Tensor | None = None,
        excitation: Tensor | None = None,
    ) -> Tensor:
        """x (B, T) integer classes → logits (B, Q, T - receptive_field + 1).

        ``logits[:, :, j]`` is the prediction for ``x[:, j + receptive_field]``, made
        from ``x[:, j : j + receptive_field]``. ``labels`` (B,) are indices into
        ``config.global_labels``, required exactly when the model has labels. ``frames``
        (B, F, K + 2), required exactly with local conditioning: x[:, 0] is the first sample
        of frame 1 (frame 0 and frame K + 1 are context) and K · hop ≥ T. ``excitation``
        (B, E, T), required exactly with ``config.excitation``: what each input sample
        hears of the notes (that of the sample it predicts).
        """
        outputs = x.shape[1] - self.receptive_field + 1
        if outputs < 1:
            raise ValueError(
                f"input of {x.shape[1]} samples is shorter than the "
                f"receptive field ({self.receptive_field})"
            )
        zs = self.gated_outputs(x, labels, frames, excitation)
        z = torch.cat([z[:, :, -outputs:] for z in zs], dim=1)  # (B, L·D, S)
        skip_weight, skip_bias = self.skip_matrix()  # (Sk, L·D), (Sk,)
        skips = F.conv1d(z, skip_weight.unsqueeze(-1), skip_bias)  # (B, Sk, S) = Σ_l skip_l(z_l)
        return self.head(skips)  # (B, Q, S)

    def gated_outputs(
        self,
        x: Tensor,
        labels: Tensor | None = None,
        frames: Tensor | None = None,
        excitation: Tensor | None = None,
    ) -> list[Tensor]:
        """Run the residual stack; returns every layer's gated output z_l (B, D, T_l)."""
        h = self.causal(self.one_hot(x, labels, frames, excitation))  # (B, R, T - (taps - 1))
        conditioning = self.local_frames(frames)  # (B, F, K) or None
        zs = []
        for block in self.blocks:
            local = self.block_local(block, conditioning, excitation, x.shape[1], h.shape[2])
            h, z = block(h, labels, local)  # (B, R, T_l), (B, D, T_l)
            zs.append(z)
        return zs

    def local_frames(self, frames: Tensor | None) -> Tensor | None:
        """frames (B, F, K + 2) → upsampler output (B, F, K), or None without them."""
        return None if frames is None else self.upsample(frames.to(self.causal.weight.dtype))

    def block_local(
        self,
        block: ResidualBlock,
        conditioning: Tensor | None,
        excitation: Tensor | None,
        samples: int,
        length: int,
    ) -> Tensor | None:
        """The block's local conditioning (B, 2D, length), from the frames and the
        excitation, aligned with its input, which holds the newest ``length`` of the
        ``samples`` input samples."""
        local = None
        if conditioning is not None:  # only the frames of the samples needed (a 30-s
            hop = self.config.hop_length  # piece's whole length took seconds and GBs)
            first, last = (samples - length) // hop, -(-samples // hop)
            per_frame = block.local_condition(conditioning[:, :, first:last])  # (B, 2D, k)
            per_sample = per_frame.repeat_interleave(hop, dim=2)  # (B, 2D, k · hop)
            offset = samples - length - first * hop
            local = per_sample[:, :, offset : offset + length]  # (B, 2D, length)
        if excitation is not None:
            heard = excitation[:, :, samples - length : samples].to(self.causal.weight.dtype)
            heard = block.excitation_condition(heard)  # (B, 2D, length)
            local = heard if local is None else local + heard
        return local

    def conv_histories(
        self,
        x: Tensor,
        labels: Tensor | None = None,
        frames: Tensor | None = None,
        excitation: Tensor | None = None,
    ) -> list[Tensor]:
        """The last ``context`` inputs (B, C, context) of every causal convolution (the
        initial one first) after reading x (B, T ≥ receptive_field - 1): what the queues
        of the incremental generator start from. Keeps no full-length activations."""
        h = self.one_hot(x, labels, frames, excitation)  # (B, Q, T)
        conditioning = self.local_frames(frames)  # (B, F, K) or None
        histories = [h[:, :, h.shape[2] - self.causal.context :]]
        h = self.causal(h)  # (B, R, T - (taps - 1))
        for index, block in enumerate(self.blocks):
            histories.append(h[:, :, h.shape[2] - block.filter_gate.context :])
            if index < len(self.blocks) - 1:
                local = self.block_local(block, conditioning, excitation, x.shape[1], h.shape[2])
                h, _ = block(h, labels, local)  # (B, R, T_l)
        return histories

    def one_hot(
        self,
        x: Tensor,
        labels: Tensor | None,
        frames: Tensor | None = None,
        excitation: Tensor | None = None,
    ) -> Tensor:
        """x (B, T) classes → (B, Q, T) in the weights' dtype (conditioning checked on the
        way)."""
        self.check_labels(labels)
        self.check_frames(frames, x.shape[1])
        self.check_excitation(excitation, x.shape)
        q, dtype = self.config.quantization_channels, self.causal.weight.dtype
        return F.one_hot(x, q).transpose(1, 2).to(dtype)  # (B, Q, T)

    def check_labels(self, labels: Tensor | None) -> None:
        if bool(self.config.global_labels) != (labels is not None):
            known = ", ".join(self.config.global_labels) or "none"
            raise ValueError(
                f"this model's labels are [{known}]; pass labels exactly when it has some"
            )

    def check_frames(self, frames: Tensor | None, samples: int) -> None:
        channels, hop = self.config.local_channels, self.config.hop_length
        if (channels is not None) != (frames is not None):
            state = "needs" if channels is not None else "takes no"
            raise ValueError(f"this model {state} local-conditioning frames")
        if frames is not None and (
            frames.shape[1] != channels or (frames.shape[2] - 2) * hop < samples
        ):
            raise ValueError(
                f"local-conditioning frames: expected (B, {channels}, ≥ {-(-samples // hop) + 2}), "
                f"got {tuple(frames.shape)}"
            )

    def check_excitation(self, excitation: Tensor | None, shape: torch.Size) -> None:
        if self.config.excitation != (excitation is not None):
            state = "needs an" if self.config.excitation else "takes no"
            raise ValueError(f"this model {state} excitation (notes heard at audio rate)")
        expected = (shape[0], EXCITATION_CHANNELS, shape[1])
        if excitation is not None and tuple(excitation.shape) != expected:
            raise ValueError(f"excitation: expected {expected}, got {tuple(excitation.shape)}")

    def skip_matrix(self) -> tuple[Tensor, Tensor | None]:
        """All skip 1×1 convolutions side by side, so that one product does them all:
        Σ_l (W_l z_l + b_l) = [W_1 … W_L] [z_1; …; z_L] + Σ_l b_l."""
        weight = torch.cat([b.skip.weight[:, :, 0] for b in self.blocks], dim=1)  # (Sk, L·D)
        if not self.config.use_biases:
            return weight, None
        return weight, torch.stack([b.skip.bias for b in self.blocks]).sum(0)  # (Sk,)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def parameters_of(config: ModelConfig) -> int:
    """The parameter count of the WaveNet ``config`` builds, counted on torch's meta
    device: shapes only, no memory (a model too large to build still counts)."""
    with torch.device("meta"):
        return parameter_count(WaveNet(config))


def macs_per_sample(config: ModelConfig) -> int:
    """Multiply-adds to generate one sample incrementally (batch 1)."""
    q, r, d, s = (
        config.quantization_channels,
        config.residual_channels,
        config.dilation_channels,
        config.skip_channels,
    )
    k = config.filter_width
    per_layer = k * r * 2 * d + d * r + d * s  # filter/gate taps, residual 1×1, skip 1×1
    return k * q * r + config.layers * per_layer + s * s + s * q
