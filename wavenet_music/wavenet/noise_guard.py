"""Drawing again what falls into noise.

A WaveNet drawing sample by sample can fall into a state it does not leave: white noise at
a steady level. The demo's ambient WaveNet did, at random times (2 of 6 plain 15-s clips
after 4,000 steps, 4 of 6 composed pieces after 2,000): every half second after the fall
read a spectral flatness of 0.49-0.56 (white noise: 0.56), at -24 to -31 dBFS, to the end of
the clip, where the recordings it learnt from read 0.002 in the median half second and
never above 0.13 (experiments/ambient_noise_2026-12-05). Another WaveNet of the same recipe
fell, unsteered, into a coloured noise (0.30-0.41) for seconds at a time, again and again
(experiments/coloured_noise_2026-12-06). The fall is one draw among many, and a draw can be
made again.

``generate`` with a ``NoiseGuard`` draws in spans of about half a second. After each span
it judges every stream's span and the half second across it and the span before
(``windows``: a burst of noise from the middle of one span to the middle of the next hides
in both spans' music) by the flatness of its loud frames (``noise_like``); a stream that
reads as noise is drawn again from the start of the span before (where the fall began),
from a random stream of its own, up to ``tries`` times until every window reads as music,
then, while it still reads as noise, from the further ``reaches`` (3 spans, 1.5 s, before:
a fall those tries cannot clear may have begun earlier). A stream still noisy after that
is left as its last try drew it, and its noise is not drawn again
until it plays music again (a model that plays noise throughout, such as an under-trained
one, costs one round of tries, not one per span, and still sounds as it is; a passage its
tries could not clear does not unguard the rest of a piece). Streams the guard leaves alone
draw exactly what they would without it (tested), and every redraw is reported
(``Redraw``). Every path that draws audio goes through ``generate``: ``generate`` and
``render``, the report's clips, and ``compose`` of either kind of composer
(``composer/playing.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..audio.finish import subsonic_filtered
from ..audio.spectral import frame_flatness, frame_level_db
from ..config.settings import REDRAW_NOISE

# A half second reads as noise above this spectral flatness (white noise: 0.56): the
# settings' default, where its measurements are (``config.settings.REDRAW_NOISE``).
NOISE_FLATNESS = REDRAW_NOISE
# ... and is louder than this (dBFS), its flatness read in its frames louder than this: a
# quiet hiss in a rest is not a fall into noise, alone or between notes. The demo's falls
# played at -24 to -31 dBFS; the hiss of its composed pieces' quiet rests reads 0.40-0.49 at
# -45 to -49 dBFS, and drawing it again does not quiet it (the first demo run with the guard
# at -50 drew two such rests 4 times each, in vain; a rest of 0.4 s between two phrases,
# judged with the notes around it, was drawn 8 times in every report and left as noise).
NOISE_LEVEL_DB = -40.0
SPAN_SECONDS = 0.5  # judged at a time (rounded to whole frames of local conditioning)
REDRAW_TRIES = 4  # draws again of a fall from each reach before the stream is left as it is
# How far back a fall is drawn again from, in spans before the span judged noise: from the
# span before (where the fall began), then, when its tries all fall again, from 1.5 s before.
# Of 4 falls of the demo's ambient WaveNet that 4 tries from the span before could not clear
# (in bass alone: low notes it does not hold), 3 cleared from further back
# (experiments/noise_guard_reach_2026-12-06).
REDRAW_REACHES = (1, 3)
# A bound above any spectral flatness: a guard that judges every span and never draws one
# again (its work measured alone: the report's speed probe, bench_noise_guard.py).
NEVER_NOISE = 2.0


@dataclass(frozen=True)
class Redraw:
    """A fall into noise drawn again: stream ``stream`` from sample ``start`` (of the
    generated samples; the last reach's) on; ``resolved``: whether a try read as music
    (else the stream is left as its last try drew it); ``draws``: the tries made."""

    stream: int
    start: int
    resolved: bool
    draws: int


RedrawFn = Callable[[Redraw], None]


@dataclass(frozen=True)
class NoiseGuard:
    """How ``generate`` judges its spans: ``span`` samples at a time, at ``sample_rate``;
    a span is noise above ``flatness`` and ``level_db``; ``tries`` redraws of a fall."""

    span: int
    sample_rate: int
    quantization_channels: int
    flatness: float = NOISE_FLATNESS
    level_db: float = NOISE_LEVEL_DB
    tries: int = REDRAW_TRIES
    reaches: tuple[int, ...] = REDRAW_REACHES

    @classmethod
    def of(
        cls, flatness: float, sample_rate: int, quantization_channels: int, hop: int | None
    ) -> NoiseGuard | None:
        """The guard for a setting ``flatness`` (0: none) of a model whose local
        conditioning has frames of ``hop`` samples (None: none)."""
        if flatness == 0:
            return None
        span = max(1, round(SPAN_SECONDS * sample_rate))
        if hop:
            span = max(1, round(span / hop)) * hop
        return cls(span, sample_rate, quantization_channels, flatness)

    @property
    def hop(self) -> int:
        """Samples between the starts of the windows judged: half a span, so that a
        burst of noise across two spans is judged whole in the window between them."""
        return max(1, self.span // 2)

    def noisy(self, audio: np.ndarray) -> np.ndarray:
        """Which of the streams (B, T) float audio reads as noise in any of its windows
        (``windows``): (B,) bool. Audio shorter than a quarter of ``span`` (a clip's
        short last span) is not judged."""
        audio = np.atleast_2d(audio)
        noisy = np.zeros(len(audio), dtype=bool)
        for start, end in windows(audio.shape[1], self.span, self.hop):
            noisy |= noise_like(audio[:, start:end], self.sample_rate, self.flatness, self.level_db)
        return noisy


def windows(length: int, span: int, hop: int) -> list[tuple[int, int]]:
    """The windows judged in ``length`` samples: ``span`` long, ``hop`` apart, and one
    ending at ``length`` where they stop short of it (one window, cut at ``length``, when
    it is shorter than ``span``; none when shorter than a quarter of ``span``)."""
    if length < max(1, span // 4):
        return []
    starts = list(range(0, length - span + 1, hop)) or [0]
    if starts[-1] + span < length:
        starts.append(length - span)
    return [(start, min(start + span, length)) for start in starts]


def noise_like(audio: np.ndarray, sample_rate: int, flatness: float, level_db: float) -> np.ndarray:
    """(B,) bool: whether each row of ``audio`` (B, T) sounds as noise: louder than
    ``level_db`` (RMS, dBFS) and its loud frames spectrally flatter than ``flatness``
    (``loud_flatness``), once freed of infrasound as a listener gets it
    (``audio.finish.subsonic_filtered``: a wander below 10 Hz would make noise read tonal)."""
    audio = subsonic_filtered(np.atleast_2d(audio), sample_rate)  # (B, T)
    power = np.mean(np.square(audio, dtype=np.float64), axis=1)  # (B,)
    loud = 10 * np.log10(np.maximum(power, 1e-20)) > level_db
    flat = [
        bool(is_loud) and loud_flatness(row, level_db) > flatness
        for is_loud, row in zip(loud, audio, strict=True)
    ]
    return np.array(flat, dtype=bool)


def loud_flatness(audio: np.ndarray, level_db: float) -> float:
    """The mean spectral flatness (``audio.spectral.frame_flatness``) of the frames of
    ``audio`` (T,) louder than ``level_db`` (``frame_level_db``); 0 where none is. A quiet
    hiss between loud notes is not what a half second sounds like: the notes are (the
    hiss of a rest between a composed piano piece's phrases, -45 dBFS for 0.4 s, read
    0.36-0.38 over the whole half second, whose level its next notes made -29 dBFS; its
    loud frames 0.06-0.08: experiments/noise_guard_loud_frames_2026-12-06)."""
    loud = frame_level_db(audio) > level_db  # (F,)
    return float(frame_flatness(audio)[loud].mean()) if loud.any() else 0.0
