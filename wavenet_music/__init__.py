"""wavenet-music: learn music from raw audio and compose new audio sample by sample.

The small Python API::

    from wavenet_music import load_run, generate_audio, evaluate, GenerateConfig
    model, config = load_run("runs/piano")                  # model (eval mode) + its config
    audio = generate_audio(model, config, GenerateConfig(seconds=2, num=3))  # (3, 32000)
    print(evaluate(model, config, "held_out/").bits_per_sample)
"""

import importlib
import sys
import types

_EXPORTS = {
    "load_run": ("checkpoint", "load_model"),
    "Config": ("config", "Config"),
    "DataConfig": ("config", "DataConfig"),
    "GenerateConfig": ("config", "GenerateConfig"),
    "ModelConfig": ("config", "ModelConfig"),
    "TrainConfig": ("config", "TrainConfig"),
    "apply_overrides": ("config", "apply_overrides"),
    "load_preset": ("config", "load_preset"),
    "evaluate": ("evaluate", "evaluate"),
    "generate": ("generate", "generate"),
    "generate_audio": ("generate_run", "generate_audio"),
    "generate_naive": ("generate", "generate_naive"),
    "WaveNet": ("model", "WaveNet"),
    "train": ("train", "train"),
}
__all__ = sorted(_EXPORTS)
__version__ = "0.1.0"


def __getattr__(name: str):
    """Import on first use: scripts that need only a submodule skip loading torch."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'wavenet_music' has no attribute {name!r}")
    module, attribute = _EXPORTS[name]
    return getattr(importlib.import_module(f".{module}", __name__), attribute)


class _Package(types.ModuleType):
    """``evaluate``, ``generate`` and ``train`` name both a function and the submodule that
    defines it. Importing a submodule makes it an attribute of its package, which would
    shadow the function for good (``from wavenet_music import train`` would give the
    module); here the function wins: such submodules are reached through their full
    name (``from wavenet_music.train import ...``), as everywhere in the package."""

    def __setattr__(self, name: str, value) -> None:
        if name in _EXPORTS and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
