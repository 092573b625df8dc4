"""A run directory, and the config a training starts or resumes with in it.

A run directory holds everything about a run::

    RUN/config.yaml        the full config (the checkpoint holds it too)
    RUN/data.json          the train/validation split, each file's label and fingerprint,
                           the skipped files
    RUN/metrics.jsonl      one JSON line per logged step / validation
    RUN/checkpoints/       step_NNNNNNNN folders (see checkpoint.py)
    RUN/tensorboard/       TensorBoard event files
    RUN/init_from.json     where a fine-tuned run's first weights came from (finetune.py)
    RUN/composer/          the composer, when one is trained (composer/train.py)
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import yaml

from .. import runs
from ..config import Config, UserError, dump_yaml, load_yaml
from ..runtime.training import Budget
from . import checkpoint as ckpt
from . import distributed
from .data import Corpus, prepare_corpus, require_recorded_split
from .discovery import composed
from .distributed import Distributed
from .windows import feature_store

BUDGET = ("train.steps", "train.minutes")  # what a resumed run may change (flat keys)


def run_config(
    run_dir: Path, config: Config, resume: bool
) -> tuple[Config, ckpt.Checkpoint | None]:
    """The run's config (the checkpoint's, on resume) and the checkpoint to resume."""
    checkpoint = None
    if resume:
        checkpoint = ckpt.load(run_dir)
        require_recorded_config(run_dir, checkpoint)
        config = resumed_config(run_dir, checkpoint.config, config)
    elif ckpt.checkpoint_dirs(run_dir):
        raise UserError(
            f"{run_dir} already holds checkpoints; pass --resume to continue it (with no "
            "--init-from: a resume goes on from its own weights) or choose a new --run"
        )
    Budget(config.train.steps, config.train.minutes).require()
    check_fits_together(config)  # refused before a file is written
    return config, checkpoint


def agreed_resume(
    dist: Distributed, run_dir: Path, config: Config, checkpoint: ckpt.Checkpoint, asked: Config
) -> tuple[Config, ckpt.Checkpoint]:
    """Rank 0's checkpoint, and the config resumed from it (``asked``'s budget), in every
    process. Each process chose the newest checkpoint that verifies before the processes
    met, while rank 0 alone put back a checkpoint a crash had hidden: a process that read
    the folder meanwhile may have chosen an older one, and would train on out of step with
    the others (or, finding nothing left to do, end alone). Rank 0's choice is in place now
    and stays so until the first step: the others load it (where one cannot, every process
    ends)."""
    step = distributed.from_rank_zero(dist, checkpoint.step)
    chosen = run_dir / ckpt.CHECKPOINTS / f"step_{step:08d}"

    def load_chosen() -> tuple[Config, ckpt.Checkpoint]:
        if dist.is_main or checkpoint.path == chosen:
            return config, checkpoint
        loaded = ckpt.load_dir(chosen)
        return resumed_config(run_dir, loaded.config, asked), loaded

    return distributed.agreed(dist, load_chosen)


def check_fits_together(config: Config) -> None:
    """A one-line error for settings that do not fit together (features and their
    channels, notes heard without notes, features withheld from a run without any): what
    ``train`` refuses, ``info`` refuses too."""
    feature_store(config)
    if config.train.local_dropout and config.model.local_channels is None:
        raise UserError(
            "train.local_dropout withholds local features, but this run has none: "
            "set model.local_channels (e.g. --local-channels 80) or drop it"
        )


# what a session writes as it goes: a run that saved no checkpoint starts again without them
SESSION_RECORDS = ("metrics.jsonl", "tensorboard", "init_from.json")


def claim_run_dir(run_dir: Path) -> None:
    """Make the locked ``run_dir`` a new run's: it must be empty (but for the lock) or a
    run of ours (``is_run``); one that saved no checkpoint starts again from step 0, its
    ``SESSION_RECORDS`` removed (curves never mix two runs), said in one line. A folder
    of other files is a one-line error, and nothing in it is changed."""
    if ckpt.checkpoint_dirs(run_dir):
        return  # ``run_config`` refuses it: --resume
    present = sorted(p.name for p in run_dir.iterdir() if p.name != runs.LOCK_FILE)
    if not present:
        return
    if not is_run(run_dir):
        shown = ", ".join(present[:3]) + (", ..." if len(present) > 3 else "")
        raise UserError(
            f"--run {run_dir} is a folder of other files ({shown}), not a run; choose a new "
            "--run (or --resume for a run)"
        )
    cleared = [name for name in SESSION_RECORDS if (run_dir / name).exists()]
    for name in cleared:
        _remove(run_dir / name)
    if cleared:
        print(
            f"note: {run_dir} saved no checkpoint; training it again from step 0 "
            f"(its {', '.join(cleared)} removed)",
            file=sys.stderr,
        )


@contextlib.contextmanager
def unprepared_if_stopped(run_dir: Path, fresh: bool) -> Iterator[None]:
    """For a ``fresh`` run (new, no checkpoint): where the body (between ``prepare_run_dir``
    and the first step) is stopped by Ctrl-C or fails, what the run wrote so far is removed
    (``config.yaml``, ``data.json``, ``SESSION_RECORDS``), so that no half run is left: the
    lock's release removes a folder this command made, as before the corpus was decoded."""
    try:
        yield
    except BaseException:
        if fresh and not ckpt.checkpoint_dirs(run_dir):
            for name in ("config.yaml", "data.json", *SESSION_RECORDS):
                if (run_dir / name).exists() or (run_dir / name).is_symlink():
                    _remove(run_dir / name)
        raise


def is_run(run_dir: Path) -> bool:
    """``run_dir`` holds what ``prepare_run_dir`` writes: a ``data.json`` with a split and a
    ``config.yaml`` that reads as a config."""
    try:
        data = runs.read_data_record(run_dir)
        Config.from_dict(yaml.safe_load((run_dir / "config.yaml").read_text()))
    except (OSError, ValueError, TypeError, AttributeError, yaml.YAMLError):
        return False
    return isinstance(data, dict) and {"train", "validation"} <= data.keys()


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def budget_spent(run_dir: Path, checkpoint: ckpt.Checkpoint, config: Config) -> str | None:
    """What to say when the resumed ``checkpoint`` has reached ``config``'s steps already
    (nothing to train, validate or save); None when there is training left."""
    t = config.train
    if t.steps is not None and checkpoint.step >= t.steps:
        return (
            f"{run_dir} is already at step {checkpoint.step} (>= --steps {t.steps}); "
            "nothing to do; raise --steps to train on"
        )
    return None  # a spent time cap is training's to report: under-trained, how to go on


def resumed_config(run_dir: Path, stored: Config, asked: Config) -> Config:
    """The checkpoint's config ``stored`` with the budget (``train.steps``,
    ``train.minutes``) of ``asked``; any other setting of ``asked`` that differs is a
    one-line error naming it (``runs.resumed_settings``). Labels come from the data: an
    ``asked`` without them takes the run's."""
    if not asked.model.global_labels:
        labels = stored.model.global_labels
        asked = replace(asked, model=replace(asked.model, global_labels=labels))
    flat = runs.resumed_settings(str(run_dir), _flat(stored), _flat(asked), BUDGET)
    t = replace(stored.train, steps=flat["train.steps"], minutes=flat["train.minutes"])
    return replace(stored, train=t)


WARMUP_ADVICE = "lower --warmup-steps"


def warmup_warning(config: Config, advice: str = WARMUP_ADVICE) -> str | None:
    """A warning where the learning rate's warm-up outlasts the budget of steps: the model
    would train at a fraction of its learning rate throughout. ``advice``: what to do, in
    the flags of the command that was run (scripts/demo.py has no ``--warmup-steps``)."""
    t = config.train
    if t.steps is None or t.warmup_steps < t.steps:
        return None
    return (
        f"warning: train.warmup_steps ({t.warmup_steps:,}) is not below train.steps "
        f"({t.steps:,}): the learning rate never reaches train.learning_rate "
        f"({t.learning_rate:g}); {advice}"
    )


def require_recorded_config(run_dir: Path, checkpoint: ckpt.Checkpoint) -> None:
    """``RUN/config.yaml`` records the settings the run trains with (written again at every
    start): one that differs from the checkpoint to resume in more than the budget was
    edited by hand, or the checkpoint was copied in from another run. Either way resuming
    would train with other settings than the file says, and overwrite it: a one-line error
    naming the settings; one that no longer reads as a config (an edit gone wrong) is
    refused likewise, left as it is. A run without the file passes (it is written again)."""
    path = run_dir / "config.yaml"
    if not path.exists():
        return
    try:
        recorded = _flat(load_yaml(path, Config()))
    except UserError as exc:
        raise UserError(
            f"{exc}; {path} records the run and is not read on resume: put it back as it "
            "was, or delete it (it is written again from the checkpoint)"
        ) from None
    stored = _flat(checkpoint.config)
    differ = runs.differing_settings(stored, recorded, BUDGET)
    if not differ:
        return
    first, names = differ[0], runs.listed(differ, 4)
    raise UserError(
        f"{path} differs from the checkpoint {checkpoint.path} in {names} ({first}: "
        f"{recorded.get(first)!r} in the file, {stored[first]!r} in the checkpoint); the "
        "file records the run and is not read on resume: put it back, start a new run with "
        f"the change (--init-from {run_dir} keeps the weights), or, if the checkpoint is "
        "another run's, move it out"
    )


def _flat(config: Config) -> dict:
    return {f"{s}.{k}": v for s, values in config.to_dict().items() for k, v in values.items()}


def process_corpus(
    data_root: Path, config: Config, quiet: bool, dist: Distributed, run_dir: Path | None = None
) -> Corpus:
    """Rank 0 decodes the audio (into the cache) first; the other processes then read it.
    Where rank 0 fails (no usable audio, a bad labels file), the others end with it, at
    once and quietly (``distributed.rank_zero_first``). Nothing under ``run_dir`` is data
    (a run kept inside its data folder writes clips and reports there)."""
    return distributed.rank_zero_first(
        dist,
        lambda: prepare_corpus(
            data_root,
            config.data,
            config.model.quantization_channels,
            config.model.receptive_field,
            quiet=quiet,
            exclude=run_dir,
        ),
    )


def corpus_config(
    run_dir: Path, config: Config, corpus: Corpus, resumed: bool, data_root: Path
) -> Config:
    """The config a run trains with on ``corpus`` (from ``data_root``): a new run's with
    the corpus's labels, a resumed run's once the corpus is found to be the split it
    recorded (before data.json is written again)."""
    if resumed:
        require_recorded_split(run_dir, corpus, data_root)
        return config
    return with_corpus_labels(config, corpus)


def with_corpus_labels(config: Config, corpus: Corpus) -> Config:
    """Global conditioning on: the model's labels are the corpus's, sorted."""
    if config.data.labels is None:
        if config.model.global_labels:
            raise UserError(
                "model.global_labels is set but data.labels is null; set "
                "data.labels=folders (or a CSV file) to train with labels"
            )
        return config
    labels = tuple(sorted({s.label for s in corpus.train + corpus.validation}))
    require_distinct_file_names(labels, config.data.labels)
    return replace(config, model=replace(config.model, global_labels=labels))


def require_distinct_file_names(labels: tuple[str, ...], spec: str) -> None:
    """Labels name the files generate and the report write (``x-Piano.wav``): two that
    differ only in case (``Piano``, ``piano``) would overwrite each other's clips on a disk
    that ignores case (macOS, Windows), so one line refuses them, where they are written.
    A run trained before may hold them: its files take a suffix (``distinct_file_names``)."""
    seen: dict[str, str] = {}
    for label in labels:
        other = seen.setdefault(composed(label).casefold(), label)
        if other != label:
            where = "rename one folder (data.labels=folders)"
            if spec != "folders":
                where = f"use one spelling in {spec} (data.labels)"
            raise UserError(
                f"labels {other!r} and {label!r} differ only in case: their clips would "
                f"overwrite each other on macOS or Windows; {where}"
            )


def prepare_run_dir(run_dir: Path, data_root: Path, config: Config, corpus: Corpus) -> None:
    """``config.yaml`` and ``data.json`` (the split, and the data folder a resume must use)."""
    data = {"root": str(Path(data_root).resolve()), **corpus.summary()}
    runs.write_atomically(run_dir / "config.yaml", dump_yaml(config))
    runs.write_atomically(run_dir / "data.json", json.dumps(data, indent=1))
