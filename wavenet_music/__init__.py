"""wavenet-music: learn music from raw audio and compose new audio sample by sample.

The small Python API::

    from wavenet_music import load_run, generate_audio, evaluate, GenerateConfig
    model, config = load_run("runs/piano")                  # model (eval mode) + its config
    audio = generate_audio(model, config, GenerateConfig(seconds=2, num=3))  # (3, 32000)
    print(evaluate(model, config, "held_out/").bits_per_sample)
"""

from .checkpoint import load_model as load_run
from .config import Config, DataConfig, GenerateConfig, ModelConfig, TrainConfig, load_preset
from .evaluate import evaluate
from .generate import generate, generate_audio, generate_naive
from .model import WaveNet
from .train import train

__all__ = [
    "Config",
    "DataConfig",
    "GenerateConfig",
    "ModelConfig",
    "TrainConfig",
    "WaveNet",
    "evaluate",
    "generate",
    "generate_audio",
    "generate_naive",
    "load_preset",
    "load_run",
    "train",
]
__version__ = "0.1.0"
