"""Is the result usable? The report's own figures against stated bounds.

A trained WaveNet's clips sit near the real music on the report's statistics; an
under-trained one plays white noise (its spectrum flat, as far from the music as noise
is). ``check_summary`` reads the figures ``report_summary`` writes beside the page
(``summary.json``) and returns what misses its bound, each with the figure and what to do.
The bounds are chosen from measured runs (docs/measured.md): they separate the demo's
trained clips from its under-trained ones with room on both sides.

The distance to the genre is judged once the levels are matched (``shape_db``): a clip
10 dB quieter than the genre is as far from it as noise is on the plain log-mel distance,
yet plays music. Each of the six distance misses of the demo's trained runs up to
2026-12-03 was a level (7-12 dB; five quieter, one louder; shapes 0.29-0.70 of noise's);
trained clips' shapes measured 0.29-0.72 of noise's (experiments/demo_sampling_2026-12-03).
The level is kept beside it (``level_db``), and the plain distance (``distance_db``) stays
on the page.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..audio.spectral import clip_statistics, shape_and_level
from ..composer.standing import standing_of
from ..runs import write_atomically

SUMMARY = "summary.json"

# Held-out bits per sample of a usable model (the demo: 8.0 untrained, 6.9 after 153 steps
# of noise, 4.5 after 2,000 steps of music-like clips).
MAX_HELD_OUT_BITS = 5.5
# A clip's spectral flatness, as a share of white noise's at the same level (white noise:
# about 0.56; real music: 0.002-0.02; noise-like clips of an under-trained model: ~0.5).
MAX_FLATNESS_SHARE = 0.25
# The distance of a kind of clip to the real genre (long-term log-mel spectrum, levels
# matched, dB), as a share of white noise's: a clip must be clearly nearer the music than
# noise is.
MAX_DISTANCE_SHARE = 0.85
# Clicks per second (``audio.spectral.click_rate``): the demo's recordings 0-0.6; its plain
# ambient WaveNet crackled at 323 before generation limited each sample's jump (MAX_JUMP).
MAX_CLICKS_PER_SECOND = 2.0
# Notes sounding at once in composed pieces, against the genre's notes: at most
# CROWDING_FACTOR times the genre's plus CROWDING_MARGIN. The demo's composer, once it
# lifts the keys it holds (composer/event_rules.py), writes 0.9-5.7 per 30-s piece (16 per
# genre; ambient up to 3.7) where its genres hold 0.9-3.9 (bounds 4.9-10.7); before, it
# held 12-15 keys down at once (experiments/note_density_2026-12-03).
CROWDING_FACTOR = 2.0
CROWDING_MARGIN = 3.0


@dataclass(frozen=True)
class Miss:
    """One figure beyond its bound: ``what`` names it, ``why`` says what it means."""

    what: str
    why: str

    def __str__(self) -> str:
        return f"{self.what}: {self.why}"


# --- the figures the report measures ---------------------------------------------------------


def kind_figures(rows: Sequence, sample_rate: int) -> dict:
    """kind → {"flatness", "clicks_per_s": means over its clips, and against all the real
    clips (None without them; ``audio.spectral``): "distance_db", "shape_db", "level_db"}."""
    clips: dict[str, list[np.ndarray]] = {}
    for row in rows:
        clips.setdefault(row.kind, []).append(row.audio)
    real = clips.get("real")
    figures = {}
    for kind, audio in clips.items():
        stats = [clip_statistics(a, sample_rate) for a in audio]
        distance = shape = level = None
        if real and kind != "real":
            shape, level = shape_and_level(audio, real, sample_rate)
            distance = math.hypot(shape, level)  # = mean_log_mel_distance
        figures[kind] = {
            "flatness": float(np.mean([s["flatness"] for s in stats])),
            "clicks_per_s": float(np.mean([s["clicks_per_s"] for s in stats])),
            "distance_db": distance,
            "shape_db": shape,
            "level_db": level,
        }
    return figures


def report_summary(
    labels: Mapping[str, dict],
    held_out_bits: float | None,
    trained_steps: int,
    planned_steps: int | None,
    composer: Mapping[str, float] | None = None,
    notes: Mapping[str, Mapping] | None = None,
) -> dict:
    """The figures ``check_summary`` reads, as JSON-able data; ``notes``: label → the
    figures of the composed notes and the genre's (``report.notes.notes_figures``)."""
    return {
        "held_out_bits": held_out_bits,
        "trained_steps": trained_steps,
        "planned_steps": planned_steps,
        "labels": dict(labels),
        "composer": None if composer is None else dict(composer),
        "notes": None if notes is None else dict(notes),
    }


def composer_figures(metrics: Sequence[Mapping], keep_best: bool = True) -> dict[str, float] | None:
    """The held-out bits per token of the composer's kept weights (its best validation's,
    or with ``keep_best`` false its last) and its bigram baseline, from its
    ``metrics.jsonl`` records (None without a composer or its validations)."""
    standing = standing_of(metrics, keep_best)
    if standing is None:
        return None
    return {
        "held_out_bits": standing.held_out_bits,
        "bigram_bits": standing.bigram_bits,
        "steps": standing.steps,
    }


# --- the check -------------------------------------------------------------------------------


def check_summary(summary: Mapping) -> list[Miss]:
    """Every figure of ``summary`` beyond its bound (empty: the result is usable)."""
    misses = _budget(summary)
    bits = summary.get("held_out_bits")
    if bits is not None and not bits <= MAX_HELD_OUT_BITS:
        misses.append(
            Miss(
                f"held-out {bits:.2f} bits per sample",
                f"above {MAX_HELD_OUT_BITS} (an untrained model: 8); the WaveNet needs more steps",
            )
        )
    for label, kinds in summary.get("labels", {}).items():
        misses += _noise_like(label, kinds)
    for label, kinds in (summary.get("notes") or {}).items():  # absent before 2026-12-03
        misses += crowded_notes(label, kinds)
    composer = summary.get("composer")
    if composer is not None and not composer["held_out_bits"] < composer["bigram_bits"]:
        misses.append(
            Miss(
                f"composer held-out {composer['held_out_bits']:.2f} bits per token",
                f"not below its bigram baseline ({composer['bigram_bits']:.2f}); the composer "
                "needs more steps",
            )
        )
    return misses


def _budget(summary: Mapping) -> list[Miss]:
    trained, planned = summary.get("trained_steps"), summary.get("planned_steps")
    if planned is None or trained >= planned:
        return []
    return [
        Miss(
            f"under-trained: {trained:,} of {planned:,} steps",
            "training stopped early (a time cap, or Ctrl-C); expect noise",
        )
    ]


def _noise_like(label: str, kinds: Mapping[str, Mapping]) -> list[Miss]:
    """Generated kinds of ``label`` whose flatness or distance sit near white noise's."""
    noise = kinds.get("noise")
    if noise is None:
        return []
    misses = []
    for kind, figures in kinds.items():
        if kind in ("real", "noise", "untrained"):
            continue
        name = f"{label} {KIND_NAMES.get(kind, kind)}"
        share = figures["flatness"] / noise["flatness"]
        if not share <= MAX_FLATNESS_SHARE:
            misses.append(
                Miss(
                    f"{name} spectral flatness {figures['flatness']:.3f}",
                    f"{share:.0%} of white noise's ({noise['flatness']:.3f}; bound "
                    f"{MAX_FLATNESS_SHARE:.0%}): it sounds like noise",
                )
            )
        clicks = figures.get("clicks_per_s")  # absent from summaries before 2026-12-03
        if clicks is not None and not clicks <= MAX_CLICKS_PER_SECOND:
            misses.append(
                Miss(
                    f"{name} {clicks:.1f} clicks per second",
                    f"adjacent samples over half full scale apart (recordings: under 1 a "
                    f"second; bound {MAX_CLICKS_PER_SECOND:g}): it crackles",
                )
            )
        shape, noise_shape = figures.get("shape_db"), noise.get("shape_db")
        if shape is None or noise_shape is None:
            continue
        if not shape <= MAX_DISTANCE_SHARE * noise_shape:
            misses.append(
                Miss(
                    f"{name} {shape:.1f} dB from real {label} (spectra, levels matched)",
                    f"white noise is {noise_shape:.1f} dB from it (bound "
                    f"{MAX_DISTANCE_SHARE:.0%} of that): not music-like yet",
                )
            )
    return misses


def crowded_notes(label: str, kinds: Mapping[str, Mapping]) -> list[Miss]:
    """The composed notes of ``label`` where far more of them sound at once than in the
    genre's notes: keys left down, a growing cluster for the WaveNet to play."""
    composed, real = kinds.get("composed"), kinds.get("real")
    if composed is None or real is None:
        return []
    held, usual = composed["sounding_at_once"], real["sounding_at_once"]
    bound = CROWDING_FACTOR * usual + CROWDING_MARGIN
    if held <= bound or math.isnan(usual):
        return []
    return [
        Miss(
            f"{label} composed pieces hold {held:.1f} notes at once",
            f"the genre's notes {usual:.1f} (bound {bound:.1f}): keys left down; the "
            "composer needs more steps",
        )
    ]


KIND_NAMES = {"generated": "clips", "plain": "plain WaveNet clips"}


def write_summary(out_dir: Path, summary: Mapping) -> Path:
    return write_atomically(Path(out_dir) / SUMMARY, json.dumps(summary, indent=1))


def read_summary(out_dir: Path) -> dict:
    return json.loads((Path(out_dir) / SUMMARY).read_text())
