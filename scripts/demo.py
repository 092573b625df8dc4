"""`make demo`: build the 4-genre demo corpus, train ONE WaveNet on all genres (a label
per genre folder, steered by the notes of each recording: its score where the corpus has
one, else its transcription; the notes are withheld from 30% of the windows, so that it
also plays without them), train the composer that writes notes, and write the listening
report: per genre a composed piece (its MIDI, its piano roll, its audio) next to plain
WaveNet and real music. Then check the result on the report's own figures.

The budgets are steps, chosen from measurements so that the clips are music-like and the
composer beats its bigram baseline on every machine; how long they take depends on the
machine, so the demo measures this machine's speed first and says how long it will take.
``--minutes`` caps the training time; when the cap cuts training short, the demo and the
report say so.

A second run reuses the corpus and the trained run (it resumes an interrupted or capped
training up to the same steps) and only generates again.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import soundfile

from wavenet_music.cli import main as cli
from wavenet_music.composer.checkpoint import composer_dirs, load_composer
from wavenet_music.composer.config import ComposerConfig
from wavenet_music.composer.data import COMPOSER
from wavenet_music.config import (
    MAX_MINUTES,
    Config,
    ReportConfig,
    UserError,
    load_preset,
    load_yaml,
)
from wavenet_music.demo_corpus import build_demo_corpus
from wavenet_music.report import estimate
from wavenet_music.report.check import read_summary
from wavenet_music.runtime import stop, threads
from wavenet_music.runtime.device import resolve_device
from wavenet_music.wavenet.checkpoint import CHECKPOINTS, checkpoint_dirs, newest_meta
from wavenet_music.wavenet.discovery import find_audio_files

# Measured (README "Measured"): 2,000 steps of this WaveNet reach about 4.9 held-out bits
# per sample and music-like clips in every genre, composed and plain; the composer of notes
# beats its bigram well before 700 steps, and by 2,000 writes each genre's density of
# notes (the demo preset composes with its last weights).
WAVENET_STEPS = 2_000
COMPOSER_STEPS = 2_000
PIECES = 3  # composed pieces (and plain clips) per genre: the check reads their mean, not one draw
WAVENET_SHARE = 0.75  # of a --minutes cap: three quarters WaveNet, a quarter the composer
PRESET = "demo"  # wavenet_music/presets/demo.yaml: the WaveNet and the composer settings
EXIT_UNUSABLE = 3
EXIT_INTERRUPTED = 130  # as a shell reports Ctrl-C
MAX_CORPUS_MINUTES = 600.0  # per genre: the sources hold far less (each genre says so)
MAX_PROBE_SECONDS = 600.0


# train's advice for a budget inside the warm-up, in this script's flags (it has no
# --warmup-steps: the demo preset's warm-up is part of the recipe)
WARMUP_ADVICE = (
    "pass more --wavenet-steps (DEMO_WAVENET_STEPS) than the warm-up; a later run resumes to them"
)


def run_cli(*argv: str) -> None:
    print("$ wavenet-music " + " ".join(argv), flush=True)
    code = cli(list(argv), warmup_advice=WARMUP_ADVICE)
    if code != 0:
        sys.exit(code)


def about_minutes(seconds: float) -> str:
    """``seconds`` in whole minutes, for the estimates: "about 1 minute", "about 12
    minutes", "under a minute" (it read "about 1 minutes", "about 0 minutes")."""
    minutes = round(seconds / 60)
    if minutes == 0:
        return "under a minute"
    return f"about {minutes} minute{'s' * (minutes != 1)}"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--wavenet-steps", type=int, default=WAVENET_STEPS, help="WaveNet steps")
    parser.add_argument(
        "--composer-steps", type=int, default=COMPOSER_STEPS, help="composer steps (at most)"
    )
    parser.add_argument(
        "--minutes",
        type=float,
        default=None,
        help="optional cap on the training time (three quarters WaveNet, a quarter the "
        "composer); training cut short by it is reported as under-trained",
    )
    parser.add_argument(
        "--corpus-minutes",
        type=float,
        default=8.0,
        help="minutes of audio per genre in the demo corpus",
    )
    parser.add_argument("--data", type=Path, default=Path("data/demo"), help="corpus folder")
    parser.add_argument("--run", type=Path, default=Path("runs/demo"), help="run directory")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each piece")
    parser.add_argument(
        "--probe-seconds",
        type=float,
        default=estimate.PROBE_SECONDS,
        help="seconds each model's speed is timed for before training, for the estimate "
        "(less: sooner, and less steady on a busy machine)",
    )
    args = parser.parse_args()
    for name in ("wavenet_steps", "composer_steps"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')}: expected a positive number of steps")
    if args.minutes is not None and not 0 < args.minutes <= MAX_MINUTES / WAVENET_SHARE:
        parser.error(
            f"--minutes (DEMO_MINUTES): expected a number of minutes in (0, "
            f"{MAX_MINUTES / WAVENET_SHARE:g}], got {args.minutes:g}"
        )
    if not 0 < args.probe_seconds <= MAX_PROBE_SECONDS:
        parser.error(
            f"--probe-seconds: expected seconds in (0, {MAX_PROBE_SECONDS:g}], "
            f"got {args.probe_seconds:g}"
        )
    if not 0 < args.corpus_minutes <= MAX_CORPUS_MINUTES:
        parser.error(
            f"--corpus-minutes (CORPUS_MINUTES): expected minutes per genre in (0, "
            f"{MAX_CORPUS_MINUTES:g}], got {args.corpus_minutes:g}"
        )
    try:
        ReportConfig(clips=PIECES, seconds=args.seconds)  # checked as the report checks it
    except UserError as exc:
        parser.error(f"--{exc}")
    return args


class Clock:
    """Wall seconds of each phase of the demo, to set against the estimate."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.started = time.monotonic()

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = time.monotonic()
        try:
            yield
        finally:
            self.seconds[name] = time.monotonic() - start

    def total(self) -> float:
        return time.monotonic() - self.started


# --- the steps --------------------------------------------------------------------------------


def wavenet_config(args: argparse.Namespace) -> Config:
    """The config the WaveNet trains with: the run's own when it exists, else the demo's."""
    if checkpoint_dirs(args.run):
        return load_yaml(args.run / "config.yaml", Config())
    genres = sorted(p.name for p in args.data.iterdir() if p.is_dir())
    return estimate.with_labels(load_preset(PRESET), len(genres))


def trained_steps(run: Path, folder: str = CHECKPOINTS) -> int:
    """The step a resume of ``run`` goes on from (the composer's with ``folder=COMPOSER``):
    its newest checkpoint that verifies, 0 without one. A damaged newer one is not counted:
    the resume sets it aside and trains its steps again."""
    meta = newest_meta(Path(run) / folder)
    return int(meta["step"]) if meta is not None else 0


def budget_flags(steps: int, minutes: float | None, share: float) -> list[str]:
    """``--steps`` and, with a cap of ``minutes`` for the demo, this phase's ``share``."""
    cap = [] if minutes is None else ["--minutes", f"{minutes * share:g}"]
    return ["--steps", str(steps), *cap]


def train_wavenet(args: argparse.Namespace) -> None:
    run, data = str(args.run), str(args.data)
    budget = budget_flags(args.wavenet_steps, args.minutes, WAVENET_SHARE)
    if not checkpoint_dirs(args.run):
        run_cli("train", data, "--run", run, "--preset", PRESET, *budget)
        return
    trained = load_yaml(args.run / "config.yaml", Config())
    if trained.train.local_dropout == 0 or trained.data.features != "notes":
        raise ValueError(
            f"{run} was trained by an older demo ({trained.data.features} features, not "
            "notes, or none withheld): delete it, or pass RUN=runs/other to make"
        )
    run_cli("train", data, "--run", run, "--resume", *budget)


def train_composer(args: argparse.Namespace) -> None:
    run, data = str(args.run), str(args.data)
    budget = budget_flags(args.composer_steps, args.minutes, 1 - WAVENET_SHARE)
    if not composer_dirs(args.run):
        run_cli("train-composer", run, "--data", data, "--preset", PRESET, *budget)
        return
    previous = load_composer(args.run, weights_only=True)
    if not previous.config.transpose:
        raise ValueError(
            f"the composer of {run} was trained by an older demo (no transpositions): "
            f"delete {args.run / 'composer'}, or pass RUN=runs/other to make"
        )
    run_cli("train-composer", run, "--data", data, "--resume", *budget)


# --- how long, and how good -----------------------------------------------------------------


def plan(args: argparse.Namespace) -> list[estimate.Phase]:
    """The estimated phases still to come, from this machine's measured speed."""
    config = wavenet_config(args)
    steps = max(0, args.wavenet_steps - trained_steps(args.run))
    composer = load_preset(PRESET, ComposerConfig())
    composer_steps = max(0, args.composer_steps - trained_steps(args.run, COMPOSER))
    device = resolve_device(config.train.device)  # where training will run
    with threads.for_training(device, quiet=True):  # on as many threads
        speed = estimate.wavenet_step_seconds(config, device, args.probe_seconds)
        training = estimate.wavenet_training(config, steps, speed)
        where = resolve_device(composer.device)
        held_out = config.data.validation_fraction * corpus_seconds(args.data)
        composing = estimate.composer_training(
            composer, config, composer_steps, where, held_out, args.probe_seconds
        )
    report = estimate.report(
        config,
        args.seconds,
        per_window=speed[1],
        pieces=PIECES,
        composer=composer,
        probe_seconds=args.probe_seconds,
        held_out_seconds=held_out,
    )
    return [training, composing, report]


def corpus_seconds(folder: Path) -> float:
    """Seconds of audio in the corpus ``folder`` (its files' headers)."""
    seconds = 0.0
    for path in find_audio_files(folder):  # as training finds them
        with contextlib.suppress(RuntimeError):  # unreadable: training reports and skips it
            seconds += soundfile.info(str(path)).duration
    return seconds


def say_plan(phases: list[estimate.Phase], args: argparse.Namespace) -> float:
    total = sum(p.seconds for p in phases)
    print(f"\n{about_minutes(total)} on this machine from here:")
    for p in phases:
        print(f"  {p.name:<18} {p.seconds / 60:5.1f} min  ({p.how})")
    if args.minutes is not None:
        print(f"  training capped at {args.minutes:g} min (--minutes)")
    cpus = threads.usable_cpus()
    busy = threads.busy_elsewhere(cpus, seconds=1.0)
    if busy >= 0.5:  # the probe timed a shared machine (a run beside another job: +60%)
        print(
            f"  other work keeps {busy:.1f} of {len(cpus)} cores busy now: the estimate "
            "assumes it goes on (it takes less if that work ends)"
        )
    print(flush=True)
    return total


def say_pace(phases: list[estimate.Phase], index: int, clock: Clock, full: bool) -> None:
    """After phase ``index``: what it took, and the rest re-estimated at the pace this
    machine kept through it (where it ran its whole budget: a phase cut short by the time
    cap tells nothing of the pace)."""
    done = phases[index]
    spent = clock.seconds[done.name]
    line = f"{done.name} took {spent / 60:.1f} min (estimated {done.seconds / 60:.1f})"
    left = estimate.rest_at_pace(done, spent, phases[index + 1 :]) if full else None
    if left is not None:
        line += f"; the rest at this pace: {about_minutes(left)}"
    print(line, flush=True)


class Stopped(Exception):
    """Ctrl-C (or SIGTERM) stopped the demo; the training phases saved what they trained."""


def stop_if_asked(args: argparse.Namespace) -> None:
    """After a training phase that Ctrl-C ended (gracefully: its checkpoint saved), the
    demo stops too, rather than go on to the next phase and a report of a cut run."""
    if stop.asked():
        raise Stopped(
            f"stopped; {args.run} keeps what it trained (WaveNet step "
            f"{trained_steps(args.run):,} of {args.wavenet_steps:,}): run the same command "
            "again (make demo) to go on from there"
        )


def check(args: argparse.Namespace) -> int:
    """Print the report's quality check; the exit code: 0 usable, EXIT_UNUSABLE not."""
    summary = read_summary(args.run / "report")
    misses = summary["misses"]
    if not misses:
        notes = ", its notes not far more crowded than each genre's" if summary.get("notes") else ""
        print(
            "quality check passed: held-out likelihood, every genre far from noise, "
            f"the composer below its bigram{notes}"
        )
        return 0
    print("\nWARNING: the result is not usable yet:", file=sys.stderr)
    for miss in misses:
        print(f"  - {miss}", file=sys.stderr)
    if trained_steps(args.run) < args.wavenet_steps:  # cut short: finish the planned steps
        print(
            "finish the planned steps: run the same command again without a time cap (make "
            "demo without DEMO_MINUTES; it resumes the run)",
            file=sys.stderr,
        )
        return EXIT_UNUSABLE
    more = f"--wavenet-steps {2 * args.wavenet_steps}"
    print(
        f"train longer: python scripts/demo.py --run {args.run} --data {args.data} {more} "
        f"--composer-steps {2 * args.composer_steps} (it resumes the run)",
        file=sys.stderr,
    )
    return EXIT_UNUSABLE


def main() -> int:
    args = parse_args()
    clock = Clock()
    print(f"building the demo corpus in {args.data} ({args.corpus_minutes} min per genre)")
    with clock.phase("corpus"):
        build_demo_corpus(args.data, minutes=args.corpus_minutes)
    print("measuring this machine's speed (each model's steps on random data, under a minute)")
    with clock.phase("speed probe"):
        phases = plan(args)
    estimated = say_plan(phases, args)
    with clock.phase("WaveNet training"):
        train_wavenet(args)
    stop_if_asked(args)
    say_pace(phases, 0, clock, full=trained_steps(args.run) >= args.wavenet_steps)
    with clock.phase("composer training"):
        train_composer(args)
    stop_if_asked(args)
    say_pace(phases, 1, clock, full=trained_steps(args.run, COMPOSER) >= args.composer_steps)
    report = args.run / "report"
    with clock.phase("report"):
        pieces = ["--clips", str(PIECES), "--seconds", f"{args.seconds:g}"]
        run_cli("report", str(args.run), "--data", str(args.data), "--out", str(report), *pieces)
    code = check(args)
    print(f"\nlistening report: {(report / 'index.html').resolve()}")
    print(f"TensorBoard: tensorboard --logdir {args.run / 'tensorboard'}")
    taken = sum(clock.seconds[p.name] for p in phases)
    print(
        f"demo finished in {clock.total() / 60:.1f} min; the estimated part took "
        f"{taken / 60:.1f} min against {estimated / 60:.1f} estimated"
    )
    for p in phases:
        spent = clock.seconds[p.name] / 60
        print(f"  {p.name:<18} {spent:5.1f} min (estimated {p.seconds / 60:.1f})")
    return code


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Stopped as exc:
        print(f"demo: {exc}", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    except KeyboardInterrupt:  # building the corpus, measuring, or a second Ctrl-C
        print(
            "demo: interrupted; run the same command again to go on (what is done is kept)",
            file=sys.stderr,
        )
        sys.exit(EXIT_INTERRUPTED)
    except (ValueError, RuntimeError) as exc:  # missing packages, bad arguments: one line
        print(f"demo: error: {exc}", file=sys.stderr)
        sys.exit(2)
