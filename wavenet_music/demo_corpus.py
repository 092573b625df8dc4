"""Build a small four-genre demo corpus from Debian packages and the music21 corpus.

Nothing is downloaded: ``piano`` and ``guitar`` are public-domain scores from the music21
corpus rendered with FluidSynth and the FluidR3_GM soundfont; ``classical`` is excerpted
from The Battle for Wesnoth's orchestral soundtrack and ``ambient`` from the Warzone 2100
Aftermath soundtrack. Output layout::

    OUT/<genre>/<name>.flac   16-bit mono FLAC at ``sample_rate``, peak at -1 dBFS
    OUT/manifest.csv          genre,file,source,licence,seconds (file relative to OUT)
    OUT/ATTRIBUTION.md        sources, authors, licences and the changes made
    OUT/.complete.json        build parameters; a rebuild with the same ones is skipped
"""

from __future__ import annotations

import csv
import importlib.util
import json
import math
import os
import shutil
import subprocess
import tempfile
from collections import deque
from collections.abc import Generator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import soundfile as sf

from .audio import mix_to_mono, resample, trim_silence

if TYPE_CHECKING:
    from music21 import stream

__all__ = ["GENRES", "CorpusSummary", "GenreStats", "build_demo_corpus", "summary_table"]

GENRES = ("piano", "guitar", "classical", "ambient")
BUILD_VERSION = 1  # bump when the selection or processing changes, so caches rebuild

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
WESNOTH_MUSIC = Path("/usr/share/games/wesnoth/1.16/data/core/music")
AFTERMATH = Path("/usr/share/games/warzone2100/music/albums/aftermath_soundtrack")

RENDER_RATE = 44100  # FluidSynth renders here; resampling afterwards avoids aliasing
RENDER_GAIN = 0.3  # float output cannot clip, so this only sets the level before normalising
RENDER_TIMEOUT_S = 300
PEAK = 10 ** (-1 / 20)  # -1 dBFS
SILENCE = 1e-4  # -80 dBFS RMS: the render's digital silence and reverb dust
PIECE_CAP_S = 90.0  # so one piece or track cannot fill a genre (raised if tracks run short)
INTRO_SKIP_S = 20.0  # recordings: start a little in, past fade-ins and intros
MIN_TRACK_S = 60.0  # recordings shorter than this are jingles (victory, defeat)
MIN_CLIP_S = 1.0  # a genre this close to its target is done

GPL = "GPL-2.0-or-later"
CC_BY_SA = "CC-BY-SA-3.0-or-later OR GPL-2.0-or-later"
SCORE_LICENCE = "public-domain composition; music21 corpus encoding; FluidR3_GM samples (MIT)"


@dataclass(frozen=True)
class Piece:
    """A score in the music21 corpus."""

    path: str  # corpus path without extension, e.g. "bach/bwv846"
    composer: str
    title: str


@dataclass(frozen=True)
class Track:
    """A recording shipped by a Debian package."""

    path: Path
    title: str
    artist: str
    package: str
    licence: str


@dataclass(frozen=True)
class Clip:
    """One written file and what the manifest and attribution say about it."""

    genre: str
    file: str  # relative to the corpus folder
    source: str
    licence: str
    seconds: float
    credit: str


@dataclass(frozen=True)
class GenreStats:
    """What one genre of a built corpus holds."""

    genre: str
    files: int
    seconds: float
    skipped: int  # scores that music21 could not turn into MIDI


@dataclass(frozen=True)
class CorpusSummary:
    """The result of ``build_demo_corpus``: per-genre file counts, seconds and skips."""

    out: Path
    genres: tuple[GenreStats, ...]
    cached: bool  # True when an up-to-date corpus was found and nothing was built

    @property
    def skipped_scores(self) -> int:
        return sum(g.skipped for g in self.genres)


def _bach(bwv: str, title: str) -> Piece:
    return Piece(f"bach/bwv{bwv}", "J. S. Bach", title)


# Keyboard music (and songs with piano) for the piano; string quartets and chorales for the
# guitar, so that the two rendered genres differ in repertoire as well as in timbre.
PIANO_PIECES = (
    _bach("846", "Prelude in C major (WTC I)"),
    Piece("mozart/k545/movement1_exposition", "W. A. Mozart", "Sonata K. 545, i (exposition)"),
    Piece("joplin/maple_leaf_rag", "Scott Joplin", "Maple Leaf Rag"),
    Piece("schumann_clara/polonaise_op1n1", "Clara Schumann", "Polonaise Op. 1 No. 1"),
    Piece("cpebach/h186", "C. P. E. Bach", "H. 186"),
    Piece("beach/prayer_of_a_tired_child", "Amy Beach", "Prayer of a Tired Child"),
    Piece("schumann_clara/polonaise_op1n2", "Clara Schumann", "Polonaise Op. 1 No. 2"),
    Piece("schubert/Lindenbaum", "Franz Schubert", "Der Lindenbaum"),
    Piece("chopin/mazurka06-2", "Frédéric Chopin", "Mazurka Op. 6 No. 2"),
    Piece("schumann_clara/polonaise_op1n3", "Clara Schumann", "Polonaise Op. 1 No. 3"),
    Piece("liliuokalani/aloha_oe", "Liliʻuokalani", "Aloha ʻOe"),
    Piece("schumann_clara/polonaise_op1n4", "Clara Schumann", "Polonaise Op. 1 No. 4"),
    Piece("schumann_robert/dichterliebe_no2", "Robert Schumann", "Dichterliebe No. 2"),
    Piece("schumann_clara/opus17/movement3", "Clara Schumann", "Piano Trio Op. 17, iii"),
    Piece("handel/rinaldo/Lascia_chio_pianga", "G. F. Handel", "Lascia ch'io pianga"),
)
GUITAR_PIECES = (
    Piece("haydn/opus1no1/movement1", "Joseph Haydn", "String Quartet Op. 1 No. 1, i"),
    _bach("66.6", "Chorale BWV 66.6"),
    Piece("mozart/k155/movement1", "W. A. Mozart", "String Quartet K. 155, i"),
    _bach("1.6", "Chorale BWV 1.6"),
    Piece("haydn/opus1no1/movement3", "Joseph Haydn", "String Quartet Op. 1 No. 1, iii"),
    _bach("10.7", "Chorale BWV 10.7"),
    Piece("mozart/k156/movement1", "W. A. Mozart", "String Quartet K. 156, i"),
    _bach("101.7", "Chorale BWV 101.7"),
    Piece("mozart/k458/movement2", "W. A. Mozart", "String Quartet K. 458, ii"),
    Piece("haydn/opus1no1/movement5", "Joseph Haydn", "String Quartet Op. 1 No. 1, v"),
    _bach("102.7", "Chorale BWV 102.7"),
    Piece("mozart/k155/movement3", "W. A. Mozart", "String Quartet K. 155, iii"),
    _bach("103.6", "Chorale BWV 103.6"),
    Piece("mozart/k156/movement4", "W. A. Mozart", "String Quartet K. 156, iv"),
    _bach("104.6", "Chorale BWV 104.6"),
    Piece("mozart/k458/movement3", "W. A. Mozart", "String Quartet K. 458, iii"),
    _bach("108.6", "Chorale BWV 108.6"),
    Piece("haydn/opus1no1/movement2", "Joseph Haydn", "String Quartet Op. 1 No. 1, ii"),
    _bach("11.6", "Chorale BWV 11.6"),
    Piece("mozart/k80/movement1", "W. A. Mozart", "String Quartet K. 80, i"),
    _bach("110.7", "Chorale BWV 110.7"),
)
GM_PROGRAM = {"piano": 0, "guitar": 24}  # acoustic grand piano, nylon-string guitar
SCORES = {"piano": PIANO_PIECES, "guitar": GUITAR_PIECES}


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
        _write_json(
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
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for genre in genres:
            if genre in SCORES:
                renders = _ordered_renders(
                    pool, workers, SCORES[genre], genre, target_s, sample_rate
                )
                made, skipped = _score_genre(renders, staging, genre, target_s, sample_rate)
            else:
                made, skipped = _recording_genre(staging, genre, target_s, sample_rate), 0
            clips += made
            stats.append(GenreStats(genre, len(made), sum(c.seconds for c in made), skipped))
    _write_manifest(staging / "manifest.csv", clips)
    _write_attribution(staging / "ATTRIBUTION.md", clips)
    return tuple(stats)


def _score_genre(
    renders: Generator[tuple[Piece, np.ndarray | None], None, None],
    staging: Path,
    genre: str,
    target_s: float,
    sample_rate: int,
) -> tuple[list[Clip], int]:
    """Write renders in list order until the genre holds ``target_s`` seconds."""
    program, clips, skipped, remaining = GM_PROGRAM[genre], [], 0, target_s
    for piece, audio in renders:
        if audio is None:
            skipped += 1
            continue
        audio = audio[: round(remaining * sample_rate)]
        seconds = round(len(audio) / sample_rate, 3)
        credit = (
            f"{piece.composer}, *{piece.title}* (music21 corpus `{piece.path}`), rendered with"
            f" FluidSynth and FluidR3_GM (Frank Wen, MIT) as General MIDI program {program};"
            f" first {seconds:.1f} s"
        )
        file = f"{genre}/{piece.path.replace('/', '_').lower()}.flac"
        clip = Clip(genre, file, f"music21:{piece.path}", SCORE_LICENCE, seconds, credit)
        clips.append(_write_clip(staging, clip, audio, sample_rate))
        remaining -= clip.seconds
        if remaining < MIN_CLIP_S:
            break
    renders.close()  # cancels the renders still queued
    return clips, skipped


def _ordered_renders(
    pool: ProcessPoolExecutor,
    window: int,
    pieces: Sequence[Piece],
    genre: str,
    target_s: float,
    sample_rate: int,
) -> Generator[tuple[Piece, np.ndarray | None], None, None]:
    """Yield renders in list order, keeping ``window`` of them in flight.

    Consuming in list order keeps the corpus deterministic whatever the timing; the small
    window bounds the work wasted once the genre is full.
    """
    args = (GM_PROGRAM[genre], min(PIECE_CAP_S, target_s), sample_rate)
    todo = iter(pieces)
    pending: deque[tuple[Piece, Future]] = deque()
    try:
        while True:
            while len(pending) < window and (piece := next(todo, None)) is not None:
                pending.append((piece, pool.submit(_render_piece, piece, *args)))
            if not pending:
                return
            piece, future = pending.popleft()
            yield piece, future.result()
    finally:
        for _, future in pending:
            future.cancel()


def _render_piece(piece: Piece, program: int, max_s: float, sample_rate: int) -> np.ndarray | None:
    """Score → MIDI (every part on ``program``) → FluidSynth → mono at ``sample_rate``.

    Returns None when music21 cannot turn the score into MIDI (badly formed repeats are
    the usual cause); at most ``max_s`` seconds after trimming the render's silence.
    """
    from music21.exceptions21 import Music21Exception

    with tempfile.TemporaryDirectory(prefix="demo-corpus-") as tmp:
        midi, wav = Path(tmp) / "piece.mid", Path(tmp) / "piece.wav"
        try:
            _write_midi(piece.path, program, max_s, midi)
        except Music21Exception:
            return None
        _run_fluidsynth(midi, wav)
        frames, rate = sf.read(wav, dtype="float32", always_2d=True)  # (T, 2)
    audio = trim_silence(mix_to_mono(frames), SILENCE)[: round(max_s * rate)]
    return resample(audio, rate, sample_rate)


def _write_midi(corpus_path: str, program: int, max_s: float, midi: Path) -> None:
    from music21 import corpus, instrument

    score = _first_seconds(corpus.parse(corpus_path), max_s)
    for part in score.parts:
        for old in part.recurse().getElementsByClass(instrument.Instrument):
            part.remove(old, recurse=True)
        part.insert(0, instrument.instrumentFromMidiProgram(program))
    score.write("midi", fp=midi)


def _first_seconds(score: stream.Score, max_s: float) -> stream.Score:
    """Expand the repeats, then keep the measures that can sound within ``max_s`` seconds.

    Only bounds the rendering work: the render is cut exactly afterwards, and the slack
    covers later tempo changes. Expanding first means a score with badly formed repeats
    fails here, however short the excerpt, and a cut never leaves a repeat unclosed.
    """
    from music21 import stream

    score = score.expandRepeats()
    marks = score.metronomeMarkBoundaries()
    quarter_bpm = marks[0][2].getQuarterBPM() if marks else 120.0
    cut = 1.25 * max_s * quarter_bpm / 60.0  # in quarter notes
    for part in score.parts:
        part.remove([m for m in part.getElementsByClass(stream.Measure) if m.offset >= cut])
    return score


def _run_fluidsynth(midi: Path, wav: Path) -> None:
    # Float output: no clipping before we normalise, and no dither noise, which would make
    # two renders of the same score differ.
    cmd = [
        "fluidsynth", "-ni", "-q", "-g", str(RENDER_GAIN), "-r", str(RENDER_RATE),
        "-O", "float", "-T", "wav", "-F", str(wav), str(SOUNDFONT), str(midi),
    ]  # fmt: skip
    try:
        subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=RENDER_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"fluidsynth took over {RENDER_TIMEOUT_S} s on {midi.name}") from None
    except subprocess.CalledProcessError as exc:
        last = ((exc.stderr or exc.stdout or "").strip() or "no output").splitlines()[-1]
        raise RuntimeError(f"fluidsynth failed (exit {exc.returncode}): {last}") from None


def _recording_genre(staging: Path, genre: str, target_s: float, sample_rate: int) -> list[Clip]:
    """Take an excerpt from each track in turn until the genre holds ``target_s`` seconds."""
    tracks = _wesnoth_tracks() if genre == "classical" else _aftermath_tracks()
    cap = max(PIECE_CAP_S, target_s / max(len(tracks), 1))  # long requests spread over all
    clips, remaining = [], target_s
    for track in tracks:
        if remaining < MIN_CLIP_S:
            break
        audio, start_s = _read_excerpt(track.path, min(cap, remaining), sample_rate)
        seconds = round(len(audio) / sample_rate, 3)
        credit = (
            f'"{track.title}" by {track.artist} ({track.package}, `{track.path.name}`),'
            f" {track.licence}; excerpt {start_s:.1f}–{start_s + seconds:.1f} s"
        )
        file = f"{genre}/{track.package.split('-')[0]}_{track.path.stem.lower()}.flac"
        source = f"{track.package}:{track.path.name}"
        clip = Clip(genre, file, source, track.licence, seconds, credit)
        clips.append(_write_clip(staging, clip, audio, sample_rate))
        remaining -= clip.seconds
    return clips


def _read_excerpt(path: Path, seconds: float, sample_rate: int) -> tuple[np.ndarray, float]:
    """Decode only ``seconds`` of ``path``, starting a little in; returns (mono, start_s)."""
    with sf.SoundFile(path) as f:
        duration = f.frames / f.samplerate
        start_s = min(INTRO_SKIP_S, 0.15 * duration)
        seconds = min(seconds, duration - start_s)
        f.seek(round(start_s * f.samplerate))
        frames = f.read(round(seconds * f.samplerate), dtype="float32", always_2d=True)  # (T, C)
        rate = f.samplerate
    return resample(mix_to_mono(frames), rate, sample_rate), start_s


def _wesnoth_tracks() -> list[Track]:
    """Every track long enough to excerpt, by file name; title and artist from its tags."""
    tracks = []
    for path in sorted(WESNOTH_MUSIC.glob("*.ogg")):
        with sf.SoundFile(path) as f:
            if f.frames < MIN_TRACK_S * f.samplerate:
                continue
            tags = f.copy_metadata()
        title, artist = tags.get("title", path.stem), tags.get("artist", "Wesnoth contributors")
        tracks.append(Track(path, title, artist, "wesnoth-1.16-music", GPL))
    return tracks


def _aftermath_tracks() -> list[Track]:
    """The CC-BY-SA tracks by LupusMechanicus, slowest first so the drones lead.

    track3_enhanced is left out: it is derived from Martin Severn's original and GPL only.
    """
    album = json.loads((AFTERMATH / "album.json").read_text())
    entries = [t for t in album["tracks"] if t["filename"] != "track3_enhanced.opus"]
    entries.sort(key=lambda t: t.get("bpm", 0))  # stable: album order within a tempo
    return [
        Track(AFTERMATH / t["filename"], t["title"], t["author"], "warzone2100-music", CC_BY_SA)
        for t in entries
    ]


# --- writing ----------------------------------------------------------------------------


def _write_clip(staging: Path, clip: Clip, audio: np.ndarray, sample_rate: int) -> Clip:
    """Normalise the peak to -1 dBFS and write ``clip.file`` as 16-bit FLAC."""
    peak = float(np.max(np.abs(audio), initial=0.0))
    if peak > 0:
        audio = audio * (PEAK / peak)
    (staging / clip.genre).mkdir(exist_ok=True)
    sf.write(staging / clip.file, audio, sample_rate, subtype="PCM_16", format="FLAC")
    return clip


def _write_manifest(path: Path, clips: Sequence[Clip]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["genre", "file", "source", "licence", "seconds"])
        writer.writerows([c.genre, c.file, c.source, c.licence, f"{c.seconds:.3f}"] for c in clips)


def _write_attribution(path: Path, clips: Sequence[Clip]) -> None:
    lines = [
        "# Demo corpus: sources and licences",
        "",
        "Every file is an excerpt, mixed to mono, resampled and peak-normalised to -1 dBFS.",
        "Scores: music21 corpus encodings of public-domain works (see music21/corpus/license.txt).",
        "Soundfont: FluidR3_GM by Frank Wen and contributors, MIT licence (fluid-soundfont-gm).",
        "Wesnoth: The Battle for Wesnoth soundtrack, GPL-2.0-or-later (wesnoth-1.16-music).",
        "Warzone 2100: *Aftermath Soundtrack*, © 2021-2022 LupusMechanicus, CC BY-SA 3.0",
        "(https://creativecommons.org/licenses/by-sa/3.0/) or any later version, or",
        "GPL-2.0-or-later, at your choice (warzone2100-music). These excerpts are changed",
        "as described above and may be shared under the same licence.",
    ]
    for genre in dict.fromkeys(c.genre for c in clips):
        lines += ["", f"## {genre}", ""]
        lines += [f"- `{c.file}`: {c.credit}" for c in clips if c.genre == genre]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
