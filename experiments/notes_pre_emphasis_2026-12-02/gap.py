"""Does the WaveNet listen to its treble notes? Held-out bits of the real recordings
(teacher forced) given all their notes, given them without the notes at or above C5
(MIDI 72), and, as a control, without as many of the lowest notes.

    python gap.py CHECKPOINT --held DIR --out TMP_DIR

The bits rise when a removed note was being used; a model that ignores its treble notes
scores the same without them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from wavenet_music.notes.midi import read_midi, write_midi  # noqa: E402
from wavenet_music.wavenet.checkpoint import load_dir  # noqa: E402
from wavenet_music.wavenet.evaluate import evaluate  # noqa: E402
from wavenet_music.wavenet.model import WaveNet  # noqa: E402

TREBLE = 72


def variants(held: Path, out: Path) -> dict[str, Path]:
    folders = {}
    for name in ("all notes", "without treble", "without as many low notes"):
        folder = out / name.replace(" ", "_") / "piano"
        folder.mkdir(parents=True, exist_ok=True)
        for audio in sorted(held.glob("*.flac")):
            notes = read_midi(audio.with_suffix(".mid"))
            treble = sum(n.pitch >= TREBLE for n in notes)
            by_pitch = sorted(notes, key=lambda n: n.pitch)
            kept = {
                "all notes": notes,
                "without treble": [n for n in notes if n.pitch < TREBLE],
                "without as many low notes": by_pitch[treble:],
            }[name]
            link = folder / audio.name
            if not link.exists():
                link.symlink_to(audio.resolve())
            write_midi(folder / f"{audio.stem}.mid", sorted(kept, key=lambda n: n.onset))
            print(f"{name}: {audio.stem} {len(kept)} of {len(notes)} notes", flush=True)
        folders[name] = folder.parent
    return folders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--held", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(2)
    saved = load_dir(args.checkpoint, weights_only=True)
    model = WaveNet(saved.config.model)
    model.load_state_dict(saved.model)
    for name, folder in variants(args.held, args.out).items():
        result = evaluate(model, saved.config, folder, batch_size=8, quiet=True)
        files = ", ".join(f"{Path(k).stem} {v:.3f}" for k, v in result.per_file.items())
        print(f"{name}: {result.bits_per_sample:.3f} bits per sample ({files})", flush=True)


if __name__ == "__main__":
    main()
