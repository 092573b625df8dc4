"""What the demo corpus is made of: the scores, the recordings, their licences."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import soundfile as sf

GENRES = ("piano", "guitar", "classical", "ambient")
BUILD_VERSION = 2  # bump when the selection or processing changes, so caches rebuild

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
    notes_file: str | None = None  # the notes it plays as MIDI, relative to the corpus folder


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


def wesnoth_tracks() -> list[Track]:
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


def aftermath_tracks() -> list[Track]:
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
