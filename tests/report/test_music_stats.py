"""Is it music or noise? The trained model's clips are measurably closer to real music."""

from __future__ import annotations

import numpy as np
import soundfile as sf
import torch

from wavenet_music.audio.spectral import mean_log_mel_distance
from wavenet_music.config import GenerateConfig
from wavenet_music.wavenet.checkpoint import load_model
from wavenet_music.wavenet.model import WaveNet
from wavenet_music.wavenet.to_audio import generate_audio


def test_trained_clips_are_closer_to_real_piano_than_untrained_and_noise(piano_run, music_root):
    run, _ = piano_run
    model, config = load_model(run)
    rate, half_second = config.data.sample_rate, config.data.sample_rate // 2
    real = np.concatenate(
        [sf.read(p, dtype="float32")[0] for p in sorted((music_root / "piano").glob("*.flac"))]
    )
    excerpts = [real[i : i + half_second] for i in range(0, real.size - half_second, 2 * rate)]
    options = GenerateConfig(seconds=0.5, num=4, seed=0)
    trained = generate_audio(model, config, options, progress=False)
    torch.manual_seed(config.train.seed)
    untrained = generate_audio(WaveNet(config.model).eval(), config, options, progress=False)
    rms = float(np.sqrt(np.mean(np.square(excerpts))))
    noise = np.random.default_rng(0).normal(0.0, rms, (4, half_second)).astype(np.float32)

    def distance(clips) -> float:
        return mean_log_mel_distance(list(clips), excerpts, rate)

    assert distance(trained) < distance(untrained) - 2.0, (distance(trained), distance(untrained))
    assert distance(trained) < distance(noise) - 2.0, (distance(trained), distance(noise))
