"""Render every piece in pieces/ with one variant of the noise guard (seed 0, the demo's
render settings), writing WAVs to OUT/VARIANT/ and printing the guard's lines.

    python render.py RUN OUT VARIANT     VARIANT: head | straddle | reach

head: the package at af7384f (a worktree at $HEAD_TREE, default /tmp/esc/head): spans
judged alone, tries from the span before only. straddle: the package of this commit (a
copy at $TREE, default this checkout; never the tree being edited while it renders) with
``REDRAW_REACHES = (1,)`` (the window across two spans judged too). reach: that package as
it is (straddle, then tries from 3 spans before)."""

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
CLI = "import sys\nfrom wavenet_music.cli import main\nsys.exit(main(sys.argv[1:]))\n"
ONE_REACH = (  # NoiseGuard.of giving guards that try from the span before only
    "import dataclasses\n"
    "from wavenet_music.wavenet import noise_guard\n"
    "of = noise_guard.NoiseGuard.of.__func__\n"
    "def one_reach(cls, *args):\n"
    "    guard = of(cls, *args)\n"
    "    return guard and dataclasses.replace(guard, reaches=(1,))\n"
    "noise_guard.NoiseGuard.of = classmethod(one_reach)\n"
)


def main() -> None:
    run, out, variant = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    (out / variant).mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if variant == "head":
        env["PYTHONPATH"] = os.environ.get("HEAD_TREE", "/tmp/esc/head")
    else:
        env["PYTHONPATH"] = os.environ.get("TREE", str(HERE.parents[1]))
    code = ONE_REACH + CLI if variant == "straddle" else CLI
    for midi in sorted((HERE / "pieces").glob("*.mid")):
        label = next(g for g in ("ambient", "classical", "guitar", "piano") if g in midi.name)
        wav = out / variant / f"{midi.stem}.wav"
        args = ["render", run, str(midi), "--label", label, "--out", str(wav), "--quiet"]
        done = subprocess.run(
            [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True
        )
        lines = [line for line in (done.stdout + done.stderr).splitlines() if "noise" in line]
        print(midi.stem, *lines, sep="\n  ", flush=True)


if __name__ == "__main__":
    main()
