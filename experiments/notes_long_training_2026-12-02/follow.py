"""Note F1 of the demo WaveNet's held-out renders at several checkpoints (issue 17).

    python experiments/notes_long_training_2026-12-02/follow.py RUN \
        CHECKPOINT_DIR [CHECKPOINT_DIR ...] [--held DIR] [--seconds 10] [--seeds 0,1,2]
        [--json OUT]

The held-out files are ``--held`` (recordings with their .mid beside them) or else the
run's own validation split (``RUN/data.json``: whole files), linked into a folder per
label so that each is rendered under its genre. For every
checkpoint and seed, ``wavenet.follow.follow_notes`` renders the first ``--seconds`` of each
file's notes (its score, else its transcription) and the same model without notes, and
scores both against the notes. Printed: note F1, pitch-class F1 and frame pitch-class F1
per checkpoint and genre (mean over seeds), beside the ceiling (the real recording).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import torch

from wavenet_music.runs import read_data_record
from wavenet_music.wavenet.checkpoint import load_dir
from wavenet_music.wavenet.follow import Following, follow_notes, mean_scores
from wavenet_music.wavenet.model import WaveNet


def held_out_folder(run: Path, out: Path) -> Path:
    """Links to the run's validation files (and the .mid beside each), by label folder."""
    record = read_data_record(run)
    root = Path(record["root"])
    for relative, _, _ in record["validation"]:
        audio = root / relative
        (out / audio.parent.name).mkdir(parents=True, exist_ok=True)
        for path in (audio, audio.with_suffix(".mid")):
            if path.exists():
                (out / audio.parent.name / path.name).symlink_to(path.resolve())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="the run whose validation split is scored")
    parser.add_argument("checkpoints", type=Path, nargs="+", help="step_* folders")
    parser.add_argument("--held", type=Path, help="held-out recordings (default: the split)")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows, found = [], []  # JSON rows; (checkpoint, Following) for the table
    with tempfile.TemporaryDirectory() as tmp:
        held = args.held or held_out_folder(args.run, Path(tmp))
        for folder in args.checkpoints:
            checkpoint = load_dir(folder, weights_only=True)
            model = WaveNet(checkpoint.config.model)
            model.load_state_dict(checkpoint.model)
            model.eval()
            for seed in (int(s) for s in args.seeds.split(",")):
                for r in follow_notes(model, checkpoint.config, held, args.seconds, seed):
                    row = {"checkpoint": folder.name, "seed": seed, **r.to_dict()}
                    rows.append(row)
                    found.append((folder.name, r))
                    print(
                        f"{folder.name} seed {seed} {r.piece}: note F1 "
                        f"{r.steered.note_f1:.2f} (unsteered "
                        f"{r.unsteered.note_f1 if r.unsteered else float('nan'):.2f}, real "
                        f"{r.ceiling.note_f1:.2f}), pitch-class {r.steered.pitch_class_f1:.2f},"
                        f" frame pitch-class {r.steered.frame_pitch_class_f1:.2f}",
                        flush=True,
                    )
    print("\n| checkpoint | piece | note F1 | pitch-class F1 | frame pc F1 | unsteered note F1 |")
    print("|---|---|---:|---:|---:|---:|")
    for name in dict.fromkeys(n for n, _ in found):
        for piece in dict.fromkeys(r.piece for _, r in found):
            mine: list[Following] = [r for n, r in found if n == name and r.piece == piece]
            steered, plain = mean_scores(mine, "steered"), mean_scores(mine, "unsteered")
            print(
                f"| {name} | {piece} | {steered['note_f1']:.2f} | {steered['pitch_class_f1']:.2f} "
                f"| {steered['frame_pitch_class_f1']:.2f} | {plain.get('note_f1', np.nan):.2f} |"
            )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
