"""Where a composer stands: its held-out bits per token against a bigram's.

A bigram (each token guessed from the one before, counted on the training music) is the
weakest model worth the name. A composer not below it has learned no more than which token
follows which, and its pieces wander as a bigram's would. ``train-composer`` says where
its composer stands as it ends, ``compose`` warns after composing with one that is not
below its bigram, and the report's check misses on it (``report/check.py``). The figures
are ``RUN/composer/metrics.jsonl``'s: the bigram's at step 0, the held-out scores at each
validation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..runs import read_metrics
from ..wavenet.checkpoint import newest_meta
from .data import COMPOSER

BIGRAM_KEY = "bigram_bits_per_token"  # the baseline record at step 0 (``train.py``)
ADVISED_STEPS = 2000  # the demo's budget: its composer comes well under its bigram there


@dataclass(frozen=True)
class Standing:
    """The held-out bits per token of the weights ``compose`` uses, the bigram's, and the
    steps trained."""

    held_out_bits: float
    bigram_bits: float
    steps: int

    @property
    def learned(self) -> bool:
        """Below the bigram: more than which token follows which."""
        return self.held_out_bits < self.bigram_bits

    def words(self, unit: str) -> str:
        """E.g. "held-out 4.654 bits per note event, 1.457 under a bigram's 6.111"."""
        said = f"held-out {self.held_out_bits:.3f} bits per {unit}"
        bigram = f"a bigram's {self.bigram_bits:.3f} (each {unit} guessed from the one before)"
        if self.learned:
            return f"{said}, {self.bigram_bits - self.held_out_bits:.3f} under {bigram}"
        return (
            f"{said} after {self.steps:,} steps, not below {bigram}: it has learned no more "
            f"than which {unit} follows which"
        )

    def advice(self, run_dir: Path) -> str:
        """The command that trains it on: to twice its steps, at least the demo's budget."""
        steps = max(2 * self.steps, ADVISED_STEPS)
        return f"wavenet-music train-composer {run_dir} --resume --steps {steps}"


def trained_words(standing: Standing, unit: str, stalled: bool, run_dir: Path) -> str:
    """What ``train-composer`` says as it ends: where its composer stands, and for one not
    below its bigram what to do: train on (the command), or, where held-out bits had
    stopped improving (``stalled``: patience spent), give it more music."""
    said = f"the composer: {standing.words(unit)}"
    if standing.learned:
        return said
    if stalled:
        return (
            f"{said}; held-out bits stopped improving, so more steps will not help: more music will"
        )
    return f"{said}; train it on: {standing.advice(run_dir)}"


def standing_of(records: Sequence[Mapping], keep_best: bool = True) -> Standing | None:
    """The standing in ``metrics.jsonl`` ``records`` of the weights kept: the best held-out
    validation's, or with ``keep_best`` false the last's (None without the bigram's record
    or a validation)."""
    bigram = next((r[BIGRAM_KEY] for r in records if BIGRAM_KEY in r), None)
    held_out = [r["validation_bits"] for r in records if "validation_bits" in r]
    if bigram is None or not held_out:
        return None
    kept = min(held_out) if keep_best else held_out[-1]
    return Standing(float(kept), float(bigram), int(records[-1]["step"]))


def run_standing(run_dir: Path, keep_best: bool = True) -> Standing | None:
    """The standing of ``run_dir``'s composer, from its records (None where none are)."""
    return standing_of(read_metrics(Path(run_dir) / COMPOSER), keep_best)


def unlearned_warning(run_dir: Path) -> str | None:
    """For ``compose``: a warning line where ``run_dir``'s composer is not below its
    bigram, with the command that trains it on; None where it is, or nothing says."""
    meta = newest_meta(Path(run_dir) / COMPOSER)
    if meta is None:
        return None
    keep_best = bool(meta.get("composer", {}).get("keep_best", True))
    standing = run_standing(run_dir, keep_best)
    if standing is None or standing.learned:
        return None
    unit = "note event" if meta.get("tokens") == "events" else "token"
    return (
        f"warning: the composer of {run_dir}: {standing.words(unit)}, so its pieces wander "
        f"as a bigram's would; train it on: {standing.advice(run_dir)}"
    )
