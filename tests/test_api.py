"""The Python API as the README shows it: the same lines, run on a trained run."""

from __future__ import annotations

import re
import subprocess
import sys
import types
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_python_example() -> str:
    """The code block under "### Python API" in the README."""
    section = README.read_text().split("### Python API", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


def test_the_readme_python_example_runs(piano_run, music_root, tmp_path, monkeypatch):
    run, _ = piano_run
    code = readme_python_example()
    assert '"runs/piano"' in code and '"held_out/"' in code
    code = code.replace('"runs/piano"', repr(str(run)))
    code = code.replace('"held_out/"', repr(str(music_root / "piano")))
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # our own README
    audio = namespace["audio"]
    assert audio.shape == (3, 32000) and audio.dtype == np.float32
    assert np.abs(audio).max() <= 1.0 and audio.std() > 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "x-1.wav",
        "x-2.wav",
        "x-3.wav",
    ]


def test_public_names_are_the_functions_whatever_was_imported_first():
    """No submodule shares a name with an exported function, so importing the submodules
    first (as the CLI does) leaves the public names functions. And importing the package
    alone does not load torch."""
    script = (
        "import sys, types\n"
        "import wavenet_music\n"
        "assert 'torch' not in sys.modules\n"
        "import wavenet_music.cli, wavenet_music.wavenet.train, wavenet_music.wavenet.evaluate\n"
        "import wavenet_music.wavenet.generate\n"
        "from wavenet_music import evaluate, generate, generate_audio, load_run, train\n"
        "names = [evaluate, generate, generate_audio, load_run, train]\n"
        "assert all(isinstance(f, types.FunctionType) for f in names), names\n"
        "assert [f.__module__ for f in (evaluate, generate, train)] == [\n"
        "    'wavenet_music.wavenet.evaluate',\n"
        "    'wavenet_music.wavenet.generate',\n"
        "    'wavenet_music.wavenet.train',\n"
        "]\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_submodules_stay_importable_by_their_full_name():
    import importlib

    module = importlib.import_module("wavenet_music.wavenet.train")
    assert isinstance(module, types.ModuleType) and callable(module.train)


def test_the_package_docstring_imports_functions_and_dir_lists_the_api():
    """``help(wavenet_music)``'s example imported ``evaluate`` from ``wavenet_music.wavenet``:
    the module, not the function (calling it raised); and ``dir`` showed none of the API."""
    import wavenet_music

    imports = re.findall(r"^\s*(from wavenet_music\S* import .+)$", wavenet_music.__doc__, re.M)
    assert imports
    namespace: dict = {}
    for line in imports:
        exec(line, namespace)  # our own docstring
    names = [n.strip() for line in imports for n in line.split(" import ")[1].split(",")]
    assert all(not isinstance(namespace[n], types.ModuleType) for n in names), names
    assert {"evaluate", "generate_audio", "load_run", "train"} <= set(dir(wavenet_music))
