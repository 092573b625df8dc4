"""TensorBoard for a training run (``RUN/tensorboard/``): the logged metrics as scalars,
and every ``train.audio_every`` steps a generated snippet per label with its spectrogram."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..audio.features import SILENCE_DB
from ..audio.io import mu_law_decode, padded_slice
from ..config import MAX_JUMP, Config
from ..runtime.device import model_device, on_generation_device
from .generate import generate
from .model import WaveNet
from .windows import WindowSource

TB_NAMES = {
    "train_bits": "bits_per_sample/train",
    "validation_bits": "bits_per_sample/validation",
    "validation_unsteered_bits": "bits_per_sample/validation_unsteered",
    "lr": "learning_rate",
    "samples_per_second": "speed/loss_samples_per_second",
}


class Board:
    """The run's TensorBoard writer, opened at its first use (its import is slow)."""

    def __init__(self, run_dir: Path) -> None:
        self.folder = Path(run_dir) / "tensorboard"
        self._writer = None
        self.purge_step: int | None = None  # a resume: what earlier sessions logged from here

    @property
    def writer(self):
        if self._writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(str(self.folder), purge_step=self.purge_step)
        return self._writer

    def scalars(self, record: dict) -> None:
        """The values of a metrics record, at its ``step``."""
        step = record["step"]
        for key, value in record.items():
            if key != "step":
                self.writer.add_scalar(TB_NAMES.get(key, key), value, step)

    def snippets(self, model: WaveNet, config: Config, source: WindowSource, step: int) -> None:
        """A snippet per label (one for an unconditioned model), generated as one batch."""
        rate, labels = config.data.sample_rate, config.model.global_labels
        model = on_generation_device(model)  # a copy on the CPU where training runs on a GPU
        generator = torch.Generator(device=model_device(model)).manual_seed(config.train.seed)
        model.eval()
        length, clips = int(config.train.audio_seconds * rate), max(1, len(labels))
        classes = generate(
            model,
            length,
            num=clips,
            generator=generator,
            labels=torch.arange(len(labels)) if labels else None,
            features=snippet_features(source, length, clips),
            excitation=snippet_excitation(source, length, clips),
            silence=source.features.silence if source.features is not None else SILENCE_DB,
            max_jump=MAX_JUMP,
        )
        audio = mu_law_decode(classes.cpu().numpy(), config.model.quantization_channels)
        from ..audio.figures import add_spectrograms  # matplotlib, only when snippets are logged

        named = dict(zip(labels or ("generated",), audio, strict=True))
        for name, clip in named.items():
            tag = f"generated/{name}" if labels else "generated"
            self.writer.add_audio(tag, torch.from_numpy(clip)[None], step, rate)
        add_spectrograms(self.writer, named, rate, step)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


def snippet_features(source: WindowSource, length: int, clips: int) -> torch.Tensor | None:
    """Local models' snippets re-render the start of the first training file:
    (clips, F, frames), or None for a model without local features."""
    store = source.features
    if store is None:
        return None
    frames = -(-length // store.hop)
    first = store.features(source.segments[0].feature_source)
    features = padded_slice(np.asarray(first), 0, frames, store.silence, np.float32)  # (K, F)
    return torch.from_numpy(features.T.copy())[None].repeat(clips, 1, 1)


def snippet_excitation(source: WindowSource, length: int, clips: int) -> torch.Tensor | None:
    """The excitation of the same start (clips, E, length), for a model that hears notes."""
    if not source.excitation:
        return None
    heard = source.features.excitation(source.segments[0].notes, -1, length)  # (E, length)
    return torch.from_numpy(heard)[None].repeat(clips, 1, 1)
