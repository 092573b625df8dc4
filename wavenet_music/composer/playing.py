"""The WaveNet plays what the composer wrote, for both kinds of composer.

Everything that steers a piece (notes, or frame features) is composed first: seconds,
where the WaveNet takes minutes to play them. ``play`` then draws the whole piece in one
pass of ``generate``, guarded against falls into noise (``wavenet.noise_guard``), and
rewrites the WAVs after every ``chunk_seconds`` of audio (``to_audio.rewrite_due``), so the
first seconds can be heard long before the piece is done. Ctrl-C keeps the audio so far
(``runtime.stop.Interrupted``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..audio.io import mu_law_decode
from ..config import Config
from ..runtime.stop import Interrupted, StopRequest
from ..wavenet.generate import generate
from ..wavenet.model import WaveNet
from ..wavenet.noise_guard import NoiseGuard, RedrawFn
from ..wavenet.to_audio import rewrite_due, write_clips
from .config import PieceConfig

ChunkFn = Callable[[np.ndarray], None]


@torch.inference_mode()
def play(
    wavenet: WaveNet,
    config: Config,
    clips: int,
    options: PieceConfig,
    generator: torch.Generator,
    paths: list[Path] | None = None,
    on_chunk: ChunkFn | None = None,
    on_redraw: RedrawFn | None = None,
    **steering: Any,
) -> np.ndarray:
    """Float audio (clips, seconds · rate) the WaveNet draws at ``options``' temperature
    and jump limit, steered by ``steering`` (``generate``'s arguments: prime, labels,
    features, excitation, floors ...). With ``paths`` the WAVs are rewritten and
    ``on_chunk`` gets the audio so far after every ``chunk_seconds``; Ctrl-C keeps the
    audio so far; ``on_redraw`` hears every fall into noise drawn again."""
    rate, q = config.data.sample_rate, config.model.quantization_channels
    length = round(options.seconds * rate)
    every = max(1, round(options.chunk_seconds * rate))
    latest: list[Tensor] = [torch.empty(clips, 0, dtype=torch.long)]
    written = [0]  # samples in the partial WAVs

    def on_step(classes: Tensor) -> None:  # after a sample or a run of them
        if stop.requested:  # raised here, between samples
            raise KeyboardInterrupt
        before = latest[0].shape[1]
        latest[0] = classes
        if classes.shape[1] // every > before // every and classes.shape[1] < length:
            audio = mu_law_decode(classes.cpu().numpy(), q)
            if paths is not None and rewrite_due(classes.shape[1], written[0], every):
                write_clips(paths, audio, rate)
                written[0] = classes.shape[1]
            if on_chunk is not None:
                on_chunk(audio)

    try:
        with StopRequest() as stop:
            classes = generate(
                wavenet,
                length,
                clips,
                temperature=options.wavenet_temperature,
                generator=generator,
                max_jump=options.wavenet_max_jump,
                on_step=on_step,
                guard=NoiseGuard.of(options.wavenet_redraw_noise, rate, q, config.model.hop_length),
                on_redraw=on_redraw,
                **steering,
            )
        steering.clear()  # the conditioning, freed before the audio is decoded and written
    except KeyboardInterrupt:
        kept = paths is not None and latest[0].shape[1] > 0
        if kept:
            write_clips(paths, mu_law_decode(latest[0].cpu().numpy(), q), rate)
        raise Interrupted(paths if kept else []) from None
    audio = mu_law_decode(classes.cpu().numpy(), q)  # (B, T)
    if paths is not None:
        write_clips(paths, audio, rate)
    if on_chunk is not None:
        on_chunk(audio)
    return audio
