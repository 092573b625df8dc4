"""Excerpts of the game soundtracks shipped by Debian packages."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from ..audio.io import mix_to_mono, resample
from .sources import INTRO_SKIP_S, MIN_CLIP_S, PIECE_CAP_S, Clip, aftermath_tracks, wesnoth_tracks
from .writing import write_clip


def recording_genre(staging: Path, genre: str, target_s: float, sample_rate: int) -> list[Clip]:
    """Take an excerpt from each track in turn until the genre holds ``target_s`` seconds."""
    tracks = wesnoth_tracks() if genre == "classical" else aftermath_tracks()
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
        clips.append(write_clip(staging, clip, audio, sample_rate))
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
