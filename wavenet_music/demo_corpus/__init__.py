"""Build a small four-genre demo corpus from Debian packages and the music21 corpus.

Nothing is downloaded: ``piano`` and ``guitar`` are public-domain scores from the music21
corpus rendered with FluidSynth and the FluidR3_GM soundfont; ``classical`` is excerpted
from The Battle for Wesnoth's orchestral soundtrack and ``ambient`` from the Warzone 2100
Aftermath soundtrack. Output layout::

    OUT/<genre>/<name>.flac   16-bit mono FLAC at ``sample_rate``, peak at -1 dBFS
    OUT/<genre>/<name>.mid    piano and guitar: the notes rendered, aligned with the FLAC
    OUT/manifest.csv          genre,file,source,licence,seconds (file relative to OUT)
    OUT/ATTRIBUTION.md        sources, authors, licences and the changes made
    OUT/.complete.json        build parameters; a rebuild with the same ones is skipped
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import shutil
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path

from ..runtime.stop import ignore_interrupts
from .recordings import recording_genre
from .scores import ordered_renders, score_genre
from .sources import (
    AFTERMATH,
    BUILD_VERSION,
    GENRES,
    SCORES,
    SOUNDFONT,
    WESNOTH_MUSIC,
    Clip,
    CorpusSummary,
    GenreStats,
)
from .writing import write_attribution, write_json, write_manifest

__all__ = ["GENRES", "CorpusSummary", "GenreStats", "build_demo_corpus", "summary_table"]


def build_demo_corpus(
    out: Path, minutes: float, sample_rate: int = 16000, genres: tuple[str, ...] = GENRES
) -> CorpusSummary:
    """Build about ``minutes`` of audio per genre into ``out``, or reuse an identical build.

    The corpus is written to a hidden folder next to ``out`` and renamed into place at
    the end, so an interrupted build never leaves a half corpus that looks complete.

    Args:
        out: corpus folder; replaced if it holds an earlier corpus, refused if it holds
            anything else.
        minutes: audio per genre, > 0; a genre falls short only when its sources run out.
        sample_rate: output rate in Hz (default 16000).
        genres: a subset of ``GENRES`` (default all four).

    Raises:
        ValueError: bad arguments, or ``out`` holds files that are not a corpus.
        RuntimeError: a tool or package is missing (the message names the install
            command), or FluidSynth failed.
    """
    out = Path(out)
    params = _params(minutes, sample_rate, genres)
    cached = _cached_summary(out, params)
    if cached is not None:
        return cached
    _check_replaceable(out)
    _check_tools(genres)
    staging = out.with_name(f".{out.name}.building-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)  # left by a killed build with our pid
    staging.mkdir(parents=True)
    try:
        stats = _build(staging, minutes * 60.0, sample_rate, genres)
        write_json(
            staging / ".complete.json", {**params, "genres_built": [asdict(s) for s in stats]}
        )
        _publish(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return CorpusSummary(out, stats, cached=False)


def summary_table(summary: CorpusSummary) -> str:
    """A short plain-text table: one row per genre, then the totals."""
    rows = [f"{'genre':<10} {'files':>5} {'minutes':>8} {'skipped':>8}"]
    for g in summary.genres:
        rows.append(f"{g.genre:<10} {g.files:>5} {g.seconds / 60:>8.2f} {g.skipped:>8}")
    total_s = sum(g.seconds for g in summary.genres)
    files = sum(g.files for g in summary.genres)
    rows.append(f"{'total':<10} {files:>5} {total_s / 60:>8.2f} {summary.skipped_scores:>8}")
    return "\n".join(rows)


# --- parameters, cache and publishing -------------------------------------------------


def _params(minutes: float, sample_rate: int, genres: Sequence[str]) -> dict:
    if not (isinstance(minutes, int | float) and math.isfinite(minutes) and minutes > 0):
        raise ValueError(f"expected minutes > 0, got {minutes!r}")
    if not (isinstance(sample_rate, int) and 1000 <= sample_rate <= 48000):
        raise ValueError(f"expected an integer sample_rate in 1000..48000 Hz, got {sample_rate!r}")
    unknown = [g for g in genres if g not in GENRES]
    if unknown or not genres or len(set(genres)) != len(genres):
        raise ValueError(f"expected distinct genres from {GENRES}, got {tuple(genres)}")
    return {
        "version": BUILD_VERSION,
        "minutes": float(minutes),
        "sample_rate": sample_rate,
        "genres": list(genres),
    }


def _cached_summary(out: Path, params: dict) -> CorpusSummary | None:
    try:
        done = json.loads((out / ".complete.json").read_text())
        if {k: done.get(k) for k in params} != params:
            return None
        stats = tuple(GenreStats(**s) for s in done["genres_built"])
    except (OSError, ValueError, KeyError, TypeError):  # absent or damaged: rebuild
        return None
    return CorpusSummary(out, stats, cached=True)


def _check_replaceable(out: Path) -> None:
    """Refuse to replace a folder that is not an earlier corpus: it would be deleted."""
    if out.is_file() or (
        out.is_dir()
        and any(out.iterdir())
        and not ((out / ".complete.json").exists() or (out / "manifest.csv").exists())
    ):
        raise ValueError(
            f"expected {out} to be absent, empty or an earlier demo corpus, got other files"
        )


def _publish(staging: Path, out: Path) -> None:
    """Swap the finished staging folder into place; the old corpus goes only afterwards."""
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    if out.exists():
        out.rename(old)
    staging.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def _check_tools(genres: Sequence[str]) -> None:
    needs = []  # (what is missing, apt package)
    if {"piano", "guitar"} & set(genres):
        if shutil.which("fluidsynth") is None:
            needs.append(("the fluidsynth program", "fluidsynth"))
        if not SOUNDFONT.is_file():
            needs.append((f"the soundfont {SOUNDFONT}", "fluid-soundfont-gm"))
    if "classical" in genres and not WESNOTH_MUSIC.is_dir():
        needs.append((f"the Wesnoth music in {WESNOTH_MUSIC}", "wesnoth-1.16-music"))
    if "ambient" in genres and not (AFTERMATH / "album.json").is_file():
        needs.append((f"the Warzone 2100 music in {AFTERMATH}", "warzone2100-music"))
    problems = []
    if needs:
        what = ", ".join(n[0] for n in needs)
        packages = " ".join(n[1] for n in needs)
        problems.append(f"missing {what}: run `sudo apt-get install -y {packages}`")
    if {"piano", "guitar"} & set(genres) and importlib.util.find_spec("music21") is None:
        problems.append("missing the Python package music21: run `pip install music21`")
    if problems:
        raise RuntimeError("; ".join(problems))


# --- building ---------------------------------------------------------------------------


def _build(
    staging: Path, target_s: float, sample_rate: int, genres: Sequence[str]
) -> tuple[GenreStats, ...]:
    clips: list[Clip] = []
    stats = []
    workers = os.cpu_count() or 1
    with ProcessPoolExecutor(max_workers=workers, initializer=ignore_interrupts) as pool:
        for genre in genres:
            if genre in SCORES:
                renders = ordered_renders(
                    pool, workers, SCORES[genre], genre, target_s, sample_rate
                )
                made, skipped = score_genre(renders, staging, genre, target_s, sample_rate)
            else:
                made, skipped = recording_genre(staging, genre, target_s, sample_rate), 0
            clips += made
            stats.append(GenreStats(genre, len(made), sum(c.seconds for c in made), skipped))
    write_manifest(staging / "manifest.csv", clips)
    write_attribution(staging / "ATTRIBUTION.md", clips)
    return tuple(stats)
