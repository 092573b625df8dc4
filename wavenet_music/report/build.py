"""A listening report for a trained run: one folder, ``index.html`` and its files beside it.

For every label (genre folder) the page pairs each generated clip with a real excerpt of
the same length from the training data, both as an ``<audio>`` player and a log-mel
spectrogram, and compares them, an untrained model's clip and white noise in a table of
``audio.spectral``. Then the learning curves, the held-out likelihood, the generation speed
and the config. Plain HTML and CSS with relative links: it opens from disk, offline.

What the clips are depends on the run: a plain run generates them; a locally conditioned
run re-synthesises held-out excerpts from their features; a run with a composer and an
unsteered WaveNet (``train.local_dropout``) composes a piece per label and sets plain
WaveNet beside it, followed by the long-range structure section (``composition.py``).
"""

from __future__ import annotations

import contextlib
import html
import os
import re
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import torch

from .. import runs
from ..audio.figures import add_spectrograms
from ..composer.checkpoint import composer_dirs
from ..config import MAX_SEED, Config, GenerateConfig, UserError
from ..runs import read_data_record, read_metrics
from ..runtime.device import generation_device, model_device, resolve_device
from ..wavenet import checkpoint as ckpt
from ..wavenet.data import Segment, whole_file
from ..wavenet.evaluate import LN2, segment_nats
from ..wavenet.model import WaveNet
from ..wavenet.resynthesis import resynthesize
from ..wavenet.to_audio import generate_audio
from ..wavenet.windows import window_source
from .check import SUMMARY
from .clips import (
    HeldOut,
    Row,
    Speed,
    changed_since_training,
    check_data_root,
    labeler,
    real_excerpts,
    run_label,
    run_labels,
    source_path,
)
from .composition import composition_section
from .page import write_report

__all__ = [
    "HeldOut",
    "Speed",
    "add_spectrograms",
    "held_out_bits",
    "real_excerpts",
    "report_main",
    "run_label",
    "timed_generation",
    "write_report",
]

# --- from a run to a report ----------------------------------------------------------------


def report_main(
    run_dir: Path,
    data_root: Path | None,
    out_dir: Path,
    clips: int = 4,
    seconds: float = 4.0,
    seed: int = 0,
    evaluate_seconds: float = 60.0,
) -> Path:
    """Load the run, generate ``clips`` clips of ``seconds`` (timed; a run with a composer:
    ``clips`` composed pieces and plain clips per label) and one from an untrained model of
    the same config, measure the held-out likelihood on up to ``evaluate_seconds``
    of validation audio, write the page; return the path of ``index.html``."""
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    data_root = None if data_root is None else Path(data_root)
    check_replaceable(out_dir)
    model, config = ckpt.load_model(run_dir, generation_device("auto"))
    if data_root is not None:
        check_data_root(run_dir, data_root, needed=resynthesises(run_dir, config))
    with _lock_if_inside(run_dir, out_dir), staged(out_dir) as staging:
        _report(model, config, run_dir, data_root, staging, clips, seconds, seed, evaluate_seconds)
    return out_dir / "index.html"


def composes(run_dir: Path, config: Config) -> bool:
    """Whether the report of this run composes pieces (its composer) beside plain WaveNet
    (the WaveNet unsteered: ``train.local_dropout``)."""
    return bool(composer_dirs(run_dir)) and config.train.local_dropout > 0


def resynthesises(run_dir: Path, config: Config) -> bool:
    """Whether the report of this run re-synthesises held-out excerpts of its data (a run
    steered by features that does not compose), which it cannot do without ``--data``."""
    return config.model.local_channels is not None and not composes(run_dir, config)


def check_replaceable(out_dir: Path) -> None:
    """A one-line error unless ``out_dir`` is new, empty or an earlier report (its page and
    summary: the new one replaces it whole)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"--out {out_dir}: a file; name a folder for the report")
    ours = all((out_dir / name).is_file() for name in ("index.html", SUMMARY))
    if out_dir.is_dir() and any(out_dir.iterdir()) and not ours:
        raise UserError(
            f"--out {out_dir}: holds files that are not a report (no index.html and "
            f"{SUMMARY}); name a new or empty folder: a report replaces the folder it is "
            "written to"
        )
    if ours and (added := sorted(_not_the_reports(out_dir))):
        shown = ", ".join(added[:3]) + (", ..." if len(added) > 3 else "")
        raise UserError(
            f"--out {out_dir}: holds {len(added)} file{'s' if len(added) > 1 else ''} the "
            f"earlier report did not write ({shown}); move them out, or name another "
            "folder: a report replaces the folder it is written to"
        )


# what a file browser leaves in a folder it shows (a Mac's Finder, Windows' Explorer)
BROWSER_FILES = (".DS_Store", "Thumbs.db", "desktop.ini")


def _not_the_reports(out_dir: Path) -> set[str]:
    """The names in the earlier report ``out_dir`` that it did not write: neither its
    page, its summary nor a file its page links (a musician's notes, clips kept from it),
    which replacing the folder would delete without a word; a file browser's own files
    aside."""
    page = (out_dir / "index.html").read_text(encoding="utf-8", errors="replace")
    linked = {html.unescape(link) for link in re.findall(r'(?:src|href)="([^"#]*)"', page)}
    written = {"index.html", SUMMARY, *linked, *map(unquote, linked)}
    names = {entry.name for entry in out_dir.iterdir()}
    return {n for n in names - written if n not in BROWSER_FILES and not n.startswith("._")}


@contextlib.contextmanager
def staged(out_dir: Path) -> Iterator[Path]:
    """A fresh folder beside ``out_dir`` to write the report into, put in its place once
    whole: an interrupted or failed report leaves the earlier one as it was, and a report
    never keeps an earlier one's files (fewer --clips left stale clips behind)."""
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
    except OSError as exc:
        raise UserError(
            f"--out {out_dir}: cannot write in {out_dir.parent} ({exc.strerror}); name a "
            "folder you can write to"
        ) from None
    umask = os.umask(0)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)  # as a folder made by mkdir (mkdtemp's is private)
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
        os.rename(out_dir, old)
        os.rename(staging, out_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(staging, out_dir)


@contextlib.contextmanager
def _lock_if_inside(run_dir: Path, out_dir: Path) -> Iterator[None]:
    """The run's lock (``runs.run_lock``) while the report writes inside the run (as it
    does by default, into RUN/report); a report written elsewhere only reads the run."""
    if not out_dir.resolve().is_relative_to(run_dir.resolve()):
        yield
        return
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(runs.run_lock(run_dir))
        except UserError as exc:
            raise UserError(f"{exc}; or write the report elsewhere with --out DIR") from None
        yield


def _report(
    model: WaveNet,
    config: Config,
    run_dir: Path,
    data_root: Path | None,
    out_dir: Path,
    clips: int,
    seconds: float,
    seed: int,
    evaluate_seconds: float,
) -> Path:
    """``report_main`` once the run is loaded (and locked where the page goes into it)."""
    labels = run_labels(run_dir, data_root, config)
    with torch.random.fork_rng(devices=[]):  # seeded weights, the caller's RNG untouched
        torch.manual_seed(seed)
        fresh = WaveNet(config.model).to(model_device(model)).eval()
    extra, plain, notes, redraws = [], None, None, None
    say = _phases()
    if composes(run_dir, config):
        say(f"composing {clips} pieces of {seconds:g} s a label, and plain WaveNet beside them")
        generated, plain, speed, section, notes = composed_and_plain(
            run_dir, out_dir, data_root, config, seconds, seed, clips
        )
        redraws = section["redraws"]
        extra, originals = [section["html"]], None
        untrained = GenerateConfig(seconds=min(seconds, 4.0), seed=seed, label=which_labels(config))
        baseline_audio = generate_audio(fresh, config, untrained, progress=False)  # (labels, T)
        baseline = {name: baseline_audio[i : i + 1] for i, name in enumerate(labels)}
    elif resynthesises(run_dir, config):
        say(f"re-synthesising {clips} held-out excerpts of {seconds:g} s a label")
        originals = held_out_originals(run_dir, data_root, config, labels, clips, seconds, seed)
        generated, speed = timed_resynthesis(model, config, originals, seed)
        firsts = {name: [rows[0]] for name, rows in originals.items()}
        baseline = resynthesize_rows(fresh, config, firsts, seed)
    else:
        which = which_labels(config)  # every label, ``clips`` each
        say(f"generating {clips} clips of {seconds:g} s a label")
        options = GenerateConfig(seconds=seconds, num=clips, seed=seed, label=which)
        audio, speed = timed_generation(model, config, options)  # (labels · clips, T)
        generated = {name: audio[i * clips : (i + 1) * clips] for i, name in enumerate(labels)}
        untrained = GenerateConfig(seconds=seconds, seed=seed, label=which)
        baseline_audio = generate_audio(fresh, config, untrained, progress=False)  # (labels, T)
        baseline = {name: baseline_audio[i : i + 1] for i, name in enumerate(labels)}
        originals = None
    say("the held-out likelihood")
    model = model.to(resolve_device("auto"))
    held_out = held_out_bits(model, config, run_dir, data_root, evaluate_seconds)
    say("figures and the page")
    page = write_report(
        run_dir,
        data_root,
        out_dir,
        generated,
        untrained={name: audio[0] for name, audio in baseline.items()},
        speed=speed,
        held_out=held_out,
        seed=seed,
        originals=originals,
        plain=plain,
        extra_sections=extra,
        notes=notes,
        redraws=redraws,
    )
    say("done")
    return page


def _phases() -> Callable[[str], None]:
    """``say(what)``: a line on stderr as each part of the report starts (a report takes
    minutes; without a progress bar, a log showed nothing for seven)."""
    start = time.perf_counter()

    def say(what: str) -> None:
        print(f"report: {what} [{time.perf_counter() - start:,.0f} s]", file=sys.stderr, flush=True)

    return say


def which_labels(config: Config) -> str | None:
    """``GenerateConfig.label`` for one clip (or ``num``) per label of the run."""
    return "all" if config.model.global_labels else None


def composed_and_plain(
    run_dir: Path,
    out_dir: Path,
    data_root: Path | None,
    config: Config,
    seconds: float,
    seed: int,
    pieces: int = 1,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], Speed, dict, dict | None]:
    """A run with a composer and an unsteered WaveNet (``train.local_dropout``): ``pieces``
    composed pieces and as many plain clips per label (label → (pieces, T) each; piece k
    from seed ``seed + k``, past ``MAX_SEED`` from 0 on, so one unlucky draw does not
    decide a label's figures), how fast they were made, the composition section of the
    first (long-range structure against real music; its "redraws": those of every piece,
    summed) and, for a run steered by notes, label → the notes of each piece."""
    start = time.perf_counter()
    sections = [
        composition_section(
            run_dir, out_dir, seconds, (seed + k) % (MAX_SEED + 1), data_root, write_audio=False
        )
        for k in range(pieces)
    ]
    wall = time.perf_counter() - start
    composed, plain = (
        {
            name: np.stack([s["clips"][kind][name] for s in sections])
            for name in sections[0]["clips"][kind]
        }
        for kind in ("composed", "plain")
    )
    notes = None
    if sections[0]["notes"]:
        notes = {name: [s["notes"][name] for s in sections] for name in sections[0]["notes"]}
    sections[0]["redraws"] = {
        kind: {
            label: {key: sum(s["redraws"][kind][label][key] for s in sections) for key in counts}
            for label, counts in by_label.items()
        }
        for kind, by_label in sections[0]["redraws"].items()
    }
    streams = sum(len(a) for a in (*composed.values(), *plain.values()))
    samples = next(iter(composed.values())).shape[1]
    device = str(generation_device("auto"))  # where compose ran
    speed = Speed(streams, samples, wall, config.data.sample_rate, device)
    return composed, plain, speed, sections[0], notes


def held_out_originals(
    run_dir: Path,
    data_root: Path | None,
    config: Config,
    labels: list[str],
    clips: int,
    seconds: float,
    seed: int,
) -> dict[str, list[Row]]:
    """``clips`` real excerpts per label to re-synthesise: held out (validation split)
    where the split holds ``seconds`` of the label, else from the training data."""
    if data_root is None:
        raise UserError(
            "this run is steered by local-conditioning features: pass --data DIR (its "
            "training data) so the report can re-synthesise held-out excerpts"
        )
    length = round(seconds * config.data.sample_rate)
    originals = {}
    for name in labels:
        rows = real_excerpts(run_dir, data_root, name, clips, length, config, seed, "validation")
        rows = rows or real_excerpts(run_dir, data_root, name, clips, length, config, seed)
        if not rows:
            raise UserError(f"--data {data_root}: no {seconds:g}-s excerpt of {name!r} found")
        originals[name] = [replace(r, name=f"original {i + 1}") for i, r in enumerate(rows)]
    return originals


def resynthesize_rows(
    model: WaveNet, config: Config, originals: dict[str, list[Row]], seed: int
) -> dict[str, np.ndarray]:
    """label → (num, T) re-syntheses of the label's original rows, all in one batch."""
    rows = [(name, row) for name, group in originals.items() for row in group]
    labels = [name for name, _ in rows] if config.model.global_labels else None
    audio = resynthesize(model, config, [row.audio for _, row in rows], labels, seed)  # (N, T)
    out: dict[str, list[np.ndarray]] = defaultdict(list)
    for (name, _), clip in zip(rows, audio, strict=True):
        out[name].append(clip)
    return {name: np.stack(clips) for name, clips in out.items()}


def timed_resynthesis(
    model: WaveNet, config: Config, originals: dict[str, list[Row]], seed: int
) -> tuple[dict[str, np.ndarray], Speed]:
    """``resynthesize_rows`` and how fast it ran."""
    start = time.perf_counter()
    audio = resynthesize_rows(model, config, originals, seed)
    wall = time.perf_counter() - start
    streams, samples = sum(len(a) for a in audio.values()), next(iter(audio.values())).shape[1]
    device = str(model_device(model))
    return audio, Speed(streams, samples, wall, config.data.sample_rate, device)


def timed_generation(
    model: WaveNet, config: Config, options: GenerateConfig
) -> tuple[np.ndarray, Speed]:
    """``generate_audio`` (num, T) and how fast it ran."""
    start = time.perf_counter()
    audio = generate_audio(model, config, options, progress=False)  # (num, T)
    wall = time.perf_counter() - start
    device = str(model_device(model))
    return audio, Speed(audio.shape[0], audio.shape[1], wall, config.data.sample_rate, device)


def held_out_bits(
    model: WaveNet,
    config: Config,
    run_dir: Path,
    data_root: Path | None,
    max_seconds: float = 60.0,
) -> HeldOut | None:
    """NLL over the run's validation segments (the first ``max_seconds`` of each label),
    exactly the held-out samples; without the data, the last validation in metrics.jsonl."""
    segments = _validation_segments(run_dir, data_root, config, max_seconds)
    if segments:
        source = window_source(config, segments)
        nats: dict[str, float] = defaultdict(float)
        samples: dict[str, int] = defaultdict(int)
        with torch.no_grad():
            for segment in segments:
                nats[segment.label] += segment_nats(model, source, segment, batch_size=4)
                samples[segment.label] += segment.length
        bits = sum(nats.values()) / sum(samples.values()) / LN2
        per_label = {label: nats[label] / samples[label] / LN2 for label in sorted(nats)}
        files = len({s.source for s in segments})
        how = f"{sum(samples.values()):,} validation samples of {files} file(s)"
        return HeldOut(bits, how, per_label)
    logged = [m for m in read_metrics(run_dir) if "validation_bits" in m]
    if not logged:
        return None
    last = logged[-1]
    return HeldOut(last["validation_bits"], f"validation windows at step {last['step']:,}")


def _validation_segments(
    run_dir: Path, data_root: Path | None, config: Config, max_seconds: float
) -> list[Segment]:
    if data_root is None:
        return []
    budget: dict[str, int] = defaultdict(lambda: int(max_seconds * config.data.sample_rate))
    label_of_source = labeler(config, data_root)
    segments = []
    for source, start, end in read_data_record(run_dir)["validation"]:
        path, label = source_path(data_root, source), label_of_source(source)
        if budget[label] <= 0 or not path.is_file():
            continue
        if changed_since_training(run_dir, data_root, source, config):
            continue
        whole = whole_file(path, source, label, config.data, config.model.quantization_channels)
        end = min(end, start + budget[label])
        segments.append(replace(whole, start=start, end=end))
        budget[label] -= end - start
    return segments
