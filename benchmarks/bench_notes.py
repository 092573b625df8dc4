"""Does the WaveNet play the notes it is given? Note F1 of renders against training steps.

    python benchmarks/bench_notes.py [--data DIR] [--steps 500,1000,2000] [--seeds 0,1]
                                     [--arms notes,chroma] [--seconds 10] [--out DIR]
                                     [--json OUT]

For each arm and seed one run trains to the largest of ``--steps`` (the demo's WaveNet
budget is 2,000), keeping a checkpoint at every step listed; the run's validation split
(a quarter of the pieces, by a hash of their names: the same pieces for every arm and
seed) is held out. At every listed step the held-out pieces' first ``--seconds`` are
rendered from their notes and transcribed with basic-pitch (``wavenet.follow``):

- ``notes``: the ``notes`` preset (an 88-key roll plus the notes heard at audio rate,
  noise on the input history), rendered from the pieces' scores;
- ``chroma``: the ``chroma`` preset's WaveNet (12-band chromagrams, no labels),
  rendered from the real recording's chromagram: the representation it replaces.

Columns: note F1 (50-ms onsets), pitch-class note F1 and frame pitch-class F1 of the
renders against the notes (mean ± standard deviation over seeds × pieces), the chance
level (frame pitch-class F1 of the same renders against the notes moved by 1..11
semitones), the real recording transcribed the same way (the ceiling), and the same run
generating without its features (plain WaveNet: the floor). The data default is the demo
corpus's piano genre with the MIDI it was rendered from beside each clip, built into
``--out`` when missing. A run already in ``--out`` is scored as it is (resumed where it
stops short of the last step); one without a checkpoint at a step listed is refused
before any work, as is every other bad flag (one line, exit 2).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch
from arguments import (
    Parser,
    choice,
    fail,
    json_out,
    listed,
    one_line_errors,
    positive_number,
    whole_number,
)
from common import cpu_line, markdown_table, write_json

from wavenet_music.audio.io import load_audio, mu_law_decode, mu_law_encode
from wavenet_music.config import MAX_SECONDS, MAX_SEED, MAX_STEPS, apply_overrides, load_preset
from wavenet_music.notes.score import follows, score_notes, transcribe_audio
from wavenet_music.runs import read_data_record
from wavenet_music.wavenet.checkpoint import load_dir, step_dirs
from wavenet_music.wavenet.discovery import find_audio_files
from wavenet_music.wavenet.follow import Following, follow_notes, piece_notes
from wavenet_music.wavenet.generate import generate
from wavenet_music.wavenet.model import WaveNet
from wavenet_music.wavenet.train import train
from wavenet_music.wavenet.windows import feature_store

HELD_OUT = 0.25  # of the pieces
F1S = ("note_f1", "pitch_class_f1", "frame_pitch_class_f1")


def arm_config(arm: str, steps: int, every: int, seed: int, cache: Path):
    base = load_preset("notes") if arm == "notes" else load_preset("chroma")
    overrides = {
        "data.validation_fraction": HELD_OUT,
        "data.cache_dir": str(cache),
        "train.steps": steps,
        "train.checkpoint_every": every,
        "train.keep_checkpoints": 1000,
        "train.seed": seed,
        "train.audio_every": None,
    }
    if arm == "chroma":
        overrides["data.labels"] = None
    return apply_overrides(base, overrides)


def held_out_folder(run: Path, data: Path, out: Path) -> Path:
    """A folder of links to the run's validation pieces and their scores."""
    out.mkdir(parents=True, exist_ok=True)
    for source, _, _ in read_data_record(run)["validation"]:
        audio = data / source
        for path in (audio, audio.with_suffix(".mid")):
            link = out / path.name
            if path.exists() and not link.exists():
                link.symlink_to(path.resolve())
    return out


def model_at(run: Path, step: int) -> tuple[WaveNet, object]:
    folder = next(p for p in step_dirs(run / "checkpoints") if p.name.endswith(f"{step:08d}"))
    checkpoint = load_dir(folder, weights_only=True)
    model = WaveNet(checkpoint.config.model)
    model.load_state_dict(checkpoint.model)
    return model.eval(), checkpoint.config


@torch.no_grad()
def chroma_following(model, config, held: Path, seconds: float, seed: int) -> list[Following]:
    """The chroma run steered by each held-out recording's own chromagram, and unsteered."""
    rate, q = config.data.sample_rate, config.model.quantization_channels
    paths = sorted(p for p in held.iterdir() if p.suffix != ".mid")
    length = round(seconds * rate)
    audios = [load_audio(p, rate)[:length] for p in paths]
    store = feature_store(config)
    steered = [store.of_classes(mu_law_encode(a, q)) for a in audios]  # (K, 12) each
    frames = min(len(f) for f in steered)
    absent = [np.full_like(steered[0][:frames], np.nan)] * len(paths)  # unsteered: plain
    features = np.stack([f[:frames] for f in steered] + absent)  # (2N, K, 12)
    length = min(length, frames * config.model.hop_length)
    generator = torch.Generator().manual_seed(seed)
    classes = generate(
        model,
        length,
        len(features),
        generator=generator,
        features=torch.from_numpy(features).transpose(1, 2),
    )
    renders = mu_law_decode(classes.numpy(), q)
    results = []
    for k, (path, real) in enumerate(zip(paths, audios, strict=True)):
        notes = piece_notes(path, config, seconds)
        steered_scores, floor = follows(notes, renders[k], rate, 0.0, seconds)
        plain, _ = follows(notes, renders[len(paths) + k], rate, 0.0, seconds)
        ceiling = score_notes(notes, transcribe_audio(real, rate), 0.0, seconds)
        results.append(Following(path.name, len(notes), steered_scores, floor, ceiling, plain))
    return results


def summary(results: list[Following], part: str, name: str) -> str:
    values = [getattr(getattr(r, part), name) for r in results if getattr(r, part) is not None]
    return f"{np.mean(values):.2f} ± {np.std(values):.2f}" if values else "-"


def recordings(text: str) -> Path:
    """An argparse type: a folder that holds recordings."""
    folder = Path(text)
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(
            f"{text} is not a folder; name the folder of recordings (.mid beside them)"
        )
    if not find_audio_files(folder):
        raise argparse.ArgumentTypeError(f"no audio files under {text}; name a folder of them")
    return folder


def parse_args() -> argparse.Namespace:
    parser = Parser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=recordings, help="folder of recordings with .mid beside them"
    )
    parser.add_argument(
        "--steps",
        type=listed(whole_number(1, MAX_STEPS)),
        default=[500, 1000, 2000],
        help="training steps to score at, comma-separated",
    )
    parser.add_argument(
        "--seeds",
        type=listed(whole_number(0, MAX_SEED)),
        default=[0, 1],
        help="a run per seed and arm, comma-separated",
    )
    parser.add_argument(
        "--arms",
        type=listed(choice("notes", "chroma")),
        default=["notes", "chroma"],
        help="notes, chroma or both, comma-separated",
    )
    parser.add_argument(
        "--seconds",
        type=positive_number("seconds", at_most=MAX_SECONDS),
        default=10.0,
        help="of each held-out piece rendered",
    )
    parser.add_argument("--out", type=Path, default=Path("runs/bench_notes"), help="runs here")
    parser.add_argument("--json", type=json_out, help="also write the results here")
    args = parser.parse_args()
    if args.out.exists() and not args.out.is_dir():
        fail(f"argument --out: {args.out} is a file; name a folder for the runs")
    args.steps = sorted(set(args.steps))
    args.seeds = list(dict.fromkeys(args.seeds))
    args.arms = list(dict.fromkeys(args.arms))
    return args


def check_earlier_runs(args: argparse.Namespace) -> None:
    """A run already in ``--out`` is scored as it is: it must hold a checkpoint at every
    step listed (and its split), or be resumable to them; said before any work."""
    for arm in args.arms:
        for seed in args.seeds:
            run = args.out / f"{arm}-s{seed}"
            if not (run / "checkpoints").exists():
                continue
            names = [p.name.removeprefix("step_") for p in step_dirs(run / "checkpoints")]
            kept = {int(name) for name in names if name.isdigit()}
            if not kept:
                fail(f"argument --out: {run} holds no checkpoint; delete it to train afresh")
            if not (run / "data.json").is_file():
                fail(f"argument --out: {run} has no data.json (not a training run); move it away")
            missing = [s for s in args.steps if s not in kept and s <= max(kept)]
            if missing:
                fail(
                    f"argument --steps: {run} kept no checkpoint at step "
                    f"{', '.join(map(str, missing))}; list steps it kept or name another --out"
                )


def main() -> None:
    args = parse_args()
    check_earlier_runs(args)
    steps, seeds = args.steps, args.seeds
    every = int(np.gcd.reduce(steps))
    data = args.data
    if data is None:
        from wavenet_music.demo_corpus import build_demo_corpus

        build_demo_corpus(args.out / "corpus", minutes=8, genres=("piano",))
        data = args.out / "corpus" / "piano"
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "0")) or torch.get_num_threads())
    print(cpu_line(torch.get_num_threads()), flush=True)
    results: dict[tuple[str, int], list[Following]] = {}
    timing = {}
    for arm in args.arms:
        for seed in seeds:
            run = args.out / f"{arm}-s{seed}"
            started = time.time()
            if not (run / "checkpoints").exists() or not any(
                p.name.endswith(f"{steps[-1]:08d}") for p in step_dirs(run / "checkpoints")
            ):
                config = arm_config(arm, steps[-1], every, seed, args.out / "cache")
                train(data, run, config, quiet=True, resume=(run / "checkpoints").exists())
            timing[f"{arm}-s{seed}"] = round(time.time() - started)
            held = held_out_folder(run, data, args.out / f"held-{arm}-s{seed}")
            for step in steps:
                model, config = model_at(run, step)
                if arm == "notes":
                    found = follow_notes(model, config, held, args.seconds, seed)
                else:
                    found = chroma_following(model, config, held, args.seconds, seed)
                results.setdefault((arm, step), []).extend(found)
                print(
                    f"{arm} seed {seed} step {step}: "
                    + ", ".join(f"{f.piece} {f.steered.note_f1:.2f}" for f in found),
                    flush=True,
                )
    rows = []
    for (arm, step), found in sorted(results.items()):
        rows.append(
            [
                arm,
                f"{step:,}",
                *(summary(found, "steered", n) for n in F1S),
                summary(found, "floor", "frame_pitch_class_f1"),
                summary(found, "ceiling", "note_f1"),
                summary(found, "unsteered", "note_f1"),
                str(len(found)),
            ]
        )
    headers = [
        "arm",
        "steps",
        "note F1",
        "pitch-class F1",
        "frame PC F1",
        "chance frame PC",
        "real note F1",
        "unsteered note F1",
        "renders",
    ]
    print(f"\n{cpu_line(torch.get_num_threads())}")  # again: the load after training
    print(markdown_table(headers, rows))
    print(f"training seconds per run: {timing}")
    if args.json:
        write_json(
            args.json,
            {
                "cpu": cpu_line(torch.get_num_threads()),
                "steps": steps,
                "seeds": seeds,
                "seconds": args.seconds,
                "timing_s": timing,
                "results": {f"{a}@{s}": [f.to_dict() for f in r] for (a, s), r in results.items()},
            },
        )


if __name__ == "__main__":
    one_line_errors(main)
