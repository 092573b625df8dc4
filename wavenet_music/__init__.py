"""wavenet-music: learn music from raw audio and compose new audio sample by sample.

The small Python API::

    from wavenet_music import load_run, generate_audio, evaluate, GenerateConfig
    model, config = load_run("runs/piano")                  # model (eval mode) + its config
    audio = generate_audio(model, config, GenerateConfig(seconds=2, num=3))  # (3, 32000)
    print(evaluate(model, config, "held_out/").bits_per_sample)

A run with labels (the demo's) generates with ``GenerateConfig(..., label="piano")``.
"""

import importlib

_EXPORTS = {
    "load_run": ("wavenet.checkpoint", "load_model"),
    "Config": ("config", "Config"),
    "DataConfig": ("config", "DataConfig"),
    "GenerateConfig": ("config", "GenerateConfig"),
    "ModelConfig": ("config", "ModelConfig"),
    "TrainConfig": ("config", "TrainConfig"),
    "apply_overrides": ("config", "apply_overrides"),
    "load_preset": ("config", "load_preset"),
    "evaluate": ("wavenet.evaluate", "evaluate"),
    "generate": ("wavenet.generate", "generate"),
    "generate_audio": ("wavenet.to_audio", "generate_audio"),
    "generate_naive": ("wavenet.generate", "generate_naive"),
    "WaveNet": ("wavenet.model", "WaveNet"),
    "train": ("wavenet.train", "train"),
}
__all__ = sorted(_EXPORTS)
__version__ = "0.1.0"


def __dir__() -> list[str]:
    """The exports too (loaded on first use), so that completion and ``dir`` show them."""
    return sorted({*globals(), *_EXPORTS})


def __getattr__(name: str):
    """Import on first use: scripts that need only a submodule skip loading torch. No
    submodule of the package shares a name with an export, so none can shadow one."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'wavenet_music' has no attribute {name!r}")
    module, attribute = _EXPORTS[name]
    return getattr(importlib.import_module(f".{module}", __name__), attribute)


def main() -> int:
    """The ``wavenet-music`` command (``[project.scripts]``): ``cli.main``, imported under a
    Ctrl-C handler. Importing the CLI loads torch, a second or two in which Ctrl-C printed
    Python's KeyboardInterrupt traceback; now it is one line and exit 130, as at any later
    moment (nothing is written before ``cli.main`` runs)."""
    import sys

    try:
        from .cli import main as command_line
    except KeyboardInterrupt:
        print("wavenet-music: interrupted while starting; nothing was written", file=sys.stderr)
        return 130
    return command_line()
