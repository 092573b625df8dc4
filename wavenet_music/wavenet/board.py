"""TensorBoard for a training run (``RUN/tensorboard/``): the logged metrics as scalars,
and every ``train.audio_every`` steps a generated snippet per label with its spectrogram,
drawn as ``wavenet-music generate`` draws by default (``GenerateConfig()``: its
temperature and jump limit; a notes model plays the first training file's notes with the
floors, temperatures and excitation gain ``render`` plays them with). No noise guard: a
fall into noise is what the preview is there to show, and it costs one pass."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from ..audio.io import mu_law_decode, padded_slice
from ..config import Config, GenerateConfig
from ..notes.features import NoteStore
from ..runtime.device import model_device, on_generation_device
from .generate import generate
from .model import WaveNet
from .to_audio import notes_inputs
from .windows import WindowSource

TB_NAMES = {
    "train_bits": "bits_per_sample/train",
    "validation_bits": "bits_per_sample/validation",
    "validation_unsteered_bits": "bits_per_sample/validation_unsteered",
    "lr": "learning_rate",
    "samples_per_second": "speed/loss_samples_per_second",
}


def after_earlier_sessions(folder: Path) -> None:
    """Wait, where an earlier session's event file was opened this second, for the next
    second: TensorBoard reads the files in the order of their names, which start with the
    second they were opened in (then the host, the process and a counter, "10" before
    "9"), and a resume's purge of the steps logged after its checkpoint only hides what
    it reads before it. A resume within a second of the last session is a test's."""
    names = [p.name.split(".") for p in folder.glob("events.out.tfevents.*")]
    opened = [int(parts[3]) for parts in names if len(parts) > 3 and parts[3].isdigit()]
    while opened and int(time.time()) <= max(opened):
        time.sleep(0.05)


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

            if self.purge_step is not None:
                after_earlier_sessions(self.folder)
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
        q, options = config.model.quantization_channels, GenerateConfig()
        model = on_generation_device(model)  # a copy on the CPU where training runs on a GPU
        generator = torch.Generator(device=model_device(model)).manual_seed(config.train.seed)
        model.eval()
        length, clips = int(config.train.audio_seconds * rate), max(1, len(labels))
        classes = generate(
            model,
            length,
            num=clips,
            temperature=options.temperature,
            generator=generator,
            labels=torch.arange(len(labels)) if labels else None,
            max_jump=options.max_jump,
            **snippet_inputs(source, config, options, length, clips),
        )
        audio = mu_law_decode(classes.cpu().numpy(), q)
        from ..audio.figures import add_spectrograms  # matplotlib, only when snippets are logged

        named = dict(zip(labels or ("generated",), audio, strict=True))
        for name, clip in named.items():
            tag = f"generated/{name}" if labels else "generated"
            self.writer.add_audio(tag, torch.from_numpy(clip)[None], step, rate)
        add_spectrograms(self.writer, named, rate, step)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


def snippet_inputs(
    source: WindowSource, config: Config, options: GenerateConfig, length: int, clips: int
) -> dict:
    """``generate``'s keyword arguments that steer the snippets (features, excitation,
    silence, floors, temperatures). Local models' snippets re-render the start of the
    first training file: a notes model plays its notes as ``render`` would (``to_audio``),
    a model of frame features hears its frames (clips, F, frames); an unconditioned
    model, nothing."""
    store = source.features
    if store is None:
        return {}
    first = source.segments[0]
    if isinstance(store, NoteStore):
        return notes_inputs(store.notes(first.notes), config, options, length, clips)
    frames = -(-length // store.hop)
    features = padded_slice(
        np.asarray(store.features(first.feature_source)), 0, frames, store.silence, np.float32
    )  # (K, F)
    return {
        "features": torch.from_numpy(features.T.copy())[None].repeat(clips, 1, 1),
        "silence": store.silence,
    }
