"""From a corpus's segments to training and validation windows.

A window holds ``receptive_field + sample_size`` samples of one segment. Samples before a
file's start read as silence, so the first samples of every file are trained too; targets
outside the segment are ``IGNORE``. With the model's conditioning, a window also carries
its label, its local-conditioning frames and what its inputs hear of the notes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from ..audio.features import FeatureStore
from ..audio.features import feature_store as audio_feature_store
from ..audio.io import mu_law_decode, mu_law_encode, padded_slice, silence_class
from ..config import Config, UserError
from ..notes.excitation import RecordingPhases
from ..notes.features import NoteStore
from ..runs import OpenArrays
from .data import Segment, load_classes
from .discovery import composed


@dataclass(frozen=True)
class Batch:
    inputs: torch.Tensor  # (B, receptive_field - 1 + S) classes
    targets: torch.Tensor  # (B, S) classes; IGNORE where no real sample is to be predicted
    labels: torch.Tensor | None = None  # (B,) global-conditioning label indices
    frames: torch.Tensor | None = None  # (B, F, K + 2) local-conditioning frames
    excitation: torch.Tensor | None = None  # (B, E, receptive_field - 1 + S) heard notes


class Window(NamedTuple):
    """One window of ``WindowSource.window``."""

    inputs: np.ndarray  # (RF - 1 + n,) classes
    targets: np.ndarray  # (n,) classes, IGNORE outside the segment
    frames: np.ndarray | None  # (F, K + 2) local-conditioning frames
    excitation: np.ndarray | None  # (E, RF - 1 + n) what each input hears of the notes


IGNORE = -1
ConditioningStore = FeatureStore | NoteStore


class WindowSource:
    """Cuts training windows from segments; owns the memory maps.

    With ``labels`` (the model's global-conditioning labels), batches carry each window's
    label index; with ``features`` (local conditioning), its frames, and windows start on
    a frame boundary; with ``excitation`` (notes), what every input hears of the notes."""

    def __init__(
        self,
        segments: Iterable[Segment],
        receptive_field: int,
        sample_size: int,
        silence: int,
        labels: Sequence[str] = (),
        features: ConditioningStore | None = None,
        excitation: bool = False,
        quantization_channels: int = 256,
        excitation_phase: str = "onset",
    ) -> None:
        self.segments = tuple(segments)
        if not self.segments:
            raise UserError("no audio to cut windows from")
        self.label_index = {label: i for i, label in enumerate(labels)}
        spelled = {composed(label): label for label in labels}  # the model's spelling
        unknown = {s.label for s in self.segments if composed(s.label) not in spelled}
        if labels and unknown:
            raise UserError(
                f"labels {sorted(unknown)} are not among the model's labels "
                f"{list(labels)}; train a new run for new labels"
            )
        if labels:  # a folder named on a Mac (decomposed) under a model's composed label
            self.segments = tuple(_spelled(s, spelled) for s in self.segments)
        self.receptive_field = receptive_field
        self.sample_size = sample_size
        self.silence = silence
        self.features = features
        if excitation and not isinstance(features, NoteStore):
            raise UserError(
                "model.excitation: the excitation is made of notes; train with --features notes"
            )
        self.excitation = excitation
        self.excitation_phase = excitation_phase
        self.quantization_channels = quantization_channels
        self._arrays = OpenArrays(load_classes)
        self._phases: dict[Path, RecordingPhases] = {}

    def classes(self, segment: Segment) -> np.ndarray:
        return self._arrays[segment.cache]

    def window(self, segment: Segment, target_start: int, targets: int | None = None) -> Window:
        """The window whose ``n`` targets are samples ``target_start ..`` of ``segment``."""
        n = self.sample_size if targets is None else targets
        rf = self.receptive_field
        classes = self.classes(segment)
        window = padded_slice(classes, target_start - rf, rf + n, self.silence, np.int64)
        target = window[rf:].copy()
        positions = np.arange(target_start, target_start + n)
        target[(positions < segment.start) | (positions >= segment.end)] = IGNORE
        frames = excitation = None
        if self.features is not None:
            source = segment.feature_source
            frames = self.features.frames(source, target_start - rf, rf - 1 + n)
        if self.excitation:
            first_input, inputs = target_start - rf, rf - 1 + n
            recording = self.recording_phases(segment)
            excitation = self.features.excitation(segment.notes, first_input, inputs, recording)
        return Window(window[:-1], target, frames, excitation)

    def recording_phases(self, segment: Segment) -> RecordingPhases | None:
        """Unless ``excitation_phase`` is onset, the phases of ``segment``'s recording (its
        mu-law classes decoded; silence outside it) that the excitation takes; else None
        (phase 0 at each onset, as in generation)."""
        if self.excitation_phase == "onset":
            return None
        if segment.cache not in self._phases:
            classes, silence = self.classes(segment), self.silence

            def read(first: int, count: int) -> np.ndarray:  # (count,) samples from first
                window = padded_slice(classes, first, count, silence, np.int64)
                return mu_law_decode(window, self.quantization_channels)

            rate, way = self.features.sample_rate, self.excitation_phase
            harmonics = self.features.harmonics
            self._phases[segment.cache] = RecordingPhases(read, rate, way, harmonics)
        return self._phases[segment.cache]

    def aligned(self, target_start: int) -> int:
        """With local conditioning, the nearest earlier start whose input starts a frame."""
        if self.features is None:
            return target_start
        return target_start - (target_start - self.receptive_field) % self.features.hop

    def batch(
        self,
        picks: Sequence[tuple[int, int]],
        withheld: np.ndarray | None = None,
        noise: np.ndarray | None = None,
        relative: bool = False,
    ) -> Batch:
        """Windows for ``(segment index, target start)`` pairs, stacked. Where ``withheld``
        (bool per pick) is set, the frames are NaN (absent: see ``model.LocalUpsampler``)
        and the excitation silent; ``noise`` (B, RF - 1 + S) is added to the inputs'
        waveform (``noisy_inputs``; with ``relative``, scaled by each window's RMS)."""
        windows = [self.window(self.segments[i], self.aligned(start)) for i, start in picks]
        inputs = np.stack([w.inputs for w in windows])  # (B, RF - 1 + S)
        if noise is not None:
            inputs = noisy_inputs(inputs, noise, self.quantization_channels, relative)
        labels = frames = excitation = None
        if self.label_index:
            labels = torch.tensor([self.label_index[self.segments[i].label] for i, _ in picks])
        if self.features is not None:
            stacked = np.stack([w.frames for w in windows]).astype(np.float32)  # (B, F, K + 2)
            if withheld is not None:
                stacked[withheld] = np.nan
            frames = torch.from_numpy(stacked)
        if self.excitation:
            heard = np.stack([w.excitation for w in windows])  # (B, E, RF - 1 + S)
            if withheld is not None:
                heard[withheld] = 0.0
            excitation = torch.from_numpy(heard)
        targets = np.stack([w.targets for w in windows])  # (B, S)
        return Batch(
            torch.from_numpy(inputs), torch.from_numpy(targets), labels, frames, excitation
        )


def _spelled(segment: Segment, spelled: dict[str, str]) -> Segment:
    """``segment`` under the model's spelling of its label (``spelled``: composed -> it)."""
    label = spelled[composed(segment.label)]
    return segment if label == segment.label else replace(segment, label=label)


def noisy_inputs(
    inputs: np.ndarray, noise: np.ndarray, quantization_channels: int, relative: bool = False
) -> np.ndarray:
    """Classes (B, T) whose waveform has ``noise`` (B, T) added (with ``relative``, times
    each row's RMS level), quantised again (clipped to [-1, 1]). Training on a corrupted
    history (targets clean) makes the model lean on its conditioning, which is never
    corrupted, instead of continuing its past alone."""
    wave = mu_law_decode(inputs, quantization_channels)  # (B, T)
    if relative:
        noise = noise * np.sqrt(np.mean(wave**2, axis=1, keepdims=True))  # (B, T)
    wave = wave + noise
    return mu_law_encode(np.clip(wave, -1.0, 1.0), quantization_channels).astype(inputs.dtype)


class WindowSampler:
    """Random training windows: a segment chosen in proportion to its length, then a target
    start uniform over the segment; with local conditioning, each window's features are
    withheld with probability ``withhold``; with ``input_noise``, each steered window's
    inputs get Gaussian noise of a standard deviation drawn from [0, input_noise] (of full
    scale, or with ``relative`` of the window's RMS level). Withheld windows stay clean:
    without features the model can only continue its past, so it learns that from a true
    past, as a plain WaveNet. Its random state is saved in checkpoints."""

    def __init__(
        self,
        source: WindowSource,
        seed: int,
        withhold: float = 0.0,
        input_noise: float = 0.0,
        relative: bool = False,
    ) -> None:
        self.source = source
        lengths = np.array([s.length for s in source.segments], dtype=np.float64)
        self.weights = lengths / lengths.sum()
        self.rng = np.random.default_rng(seed)
        self.withhold = withhold if source.features is not None else 0.0
        self.input_noise = input_noise
        self.relative = relative

    def next_batch(self, batch_size: int, rank: int = 0, world_size: int = 1) -> Batch:
        """The next ``batch_size`` windows, or with ``world_size`` processes the ``rank``-th
        consecutive share of them: every process draws all the picks (so their random
        states stay equal) and cuts only its own windows."""
        if batch_size % world_size or not 0 <= rank < world_size:
            raise ValueError(
                f"expected a batch divisible by world_size and 0 <= rank < world_size, "
                f"got batch {batch_size}, rank {rank}, world_size {world_size}"
            )
        picks = []
        for index in self.rng.choice(len(self.weights), size=batch_size, p=self.weights):
            segment = self.source.segments[index]
            last = max(segment.start, segment.end - self.source.sample_size)
            picks.append((int(index), int(self.rng.integers(segment.start, last + 1))))
        withheld = noise = None
        if self.withhold > 0:  # drawn only then: runs without it keep their data order
            withheld = self.rng.random(batch_size) < self.withhold
        if self.input_noise > 0:  # the same
            std = self.rng.uniform(0.0, self.input_noise, size=(batch_size, 1))  # (B, 1)
            length = self.source.receptive_field - 1 + self.source.sample_size
            noise = std * self.rng.standard_normal((batch_size, length))  # (B, RF - 1 + S)
            if withheld is not None:  # unsteered windows read a clean history: plain WaveNet
                noise[withheld] = 0.0
        mine = slice(rank * batch_size // world_size, (rank + 1) * batch_size // world_size)
        rows = (_rows(withheld, mine), _rows(noise, mine))
        return self.source.batch(picks[mine], *rows, self.relative)

    def state(self) -> dict:
        return self.rng.bit_generator.state

    def set_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state


def _rows(values: np.ndarray | None, rows: slice) -> np.ndarray | None:
    return None if values is None else values[rows]


def validation_picks(
    segments: Sequence[Segment], count: int, sample_size: int
) -> list[tuple[int, int]]:
    """``count`` windows spread evenly over all validation positions (deterministic)."""
    total = sum(s.length for s in segments)
    picks = []
    for k in range(count):
        position = int((k + 0.5) * total / count)
        for index, segment in enumerate(segments):
            if position < segment.length:
                start = min(segment.start + position, max(segment.start, segment.end - sample_size))
                picks.append((index, start))
                break
            position -= segment.length
    return sorted(set(picks))


def window_source(config: Config, segments, training: bool = False) -> WindowSource:
    """Windows of the model's receptive field + ``sample_size`` targets, with the model's
    conditioning (labels, local-conditioning frames, the notes' excitation). Only
    ``training`` windows hear the excitation in the recording's phase
    (``train.excitation_phase``); validation and evaluation hear what generation hears."""
    return WindowSource(
        segments,
        config.model.receptive_field,
        config.data.sample_size,
        silence_class(config.model.quantization_channels),
        config.model.global_labels,
        feature_store(config),
        config.model.excitation,
        config.model.quantization_channels,
        config.train.excitation_phase if training else "onset",
    )


def feature_store(config: Config) -> ConditioningStore | None:
    """The run's local-conditioning features (audio features, or notes), or None without
    local conditioning; a one-line error for settings that do not fit together."""
    m, d = config.model, config.data
    if m.excitation and (d.features != "notes" or m.local_channels is None):
        raise UserError(
            "model.excitation: the excitation is made of notes; train with --features notes "
            "(and --local-channels 176), or --preset notes"
        )
    if m.local_channels is None:
        return None
    if d.features != "notes":
        return audio_feature_store(config)
    if d.silence_threshold is not None:
        raise UserError(
            "data.silence_threshold: trimming silence would move the audio away from its "
            "notes; set it to null with --features notes"
        )
    return NoteStore(
        d.sample_rate,
        m.hop_length,
        m.local_channels,
        m.quantization_channels,
        m.excitation_mix,
        m.excitation_harmonics,
    )
