"""The piano roll: notes as frame-rate conditioning features aligned with the audio samples.

Frame ``k`` covers samples ``k * hop .. (k + 1) * hop - 1`` at ``sample_rate``, exactly
as the audio features do (``audio.features``), so frame ``k`` steers those samples. A
note's onset lies at the (fractional) sample position ``onset * sample_rate``; its frame
is ``floor(onset * sample_rate / hop)``. Each of the 88 piano keys (A0 = MIDI 21 .. C8 =
108) has one channel per *plane*; the planes (``PLANES``, chosen by name):

- ``sounding``: the velocity / 127 of the note holding the key in this frame, else 0.
  A note sounds in every frame its span ``[onset, offset)`` touches, and at least in
  its onset frame.
- ``onset``: 1 in the frame where a note starts, else 0.
- ``onset_position``: where inside that frame the note starts, 0 (its first sample) ..
  1 (exclusive), else 0. With it the roll keeps onsets to the sample.

The channels are plane-major: channel ``p * 88 + (pitch - 21)`` is plane ``p``'s value of
``pitch`` (``channel_names`` spells them out). Drum notes and keys outside the piano are
not in the roll (``playable.check_notes`` refuses the latter where they matter).

``roll_to_notes`` is the inverse: every note comes back with its pitch and velocity, its
onset exact (within a frame without ``onset_position``) and its offset within one frame,
provided notes of one key start in different frames and do not overlap.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .midi import PIANO_RANGE, Note, sort_notes

LOWEST_KEY, HIGHEST_KEY = PIANO_RANGE
KEYS = HIGHEST_KEY - LOWEST_KEY + 1  # 88
PLANES = ("sounding", "onset", "onset_position")  # every plane, in channel order
NEEDED = ("sounding", "onset")  # the planes the inverse needs


def check_planes(planes: Sequence[str]) -> tuple[str, ...]:
    """``planes`` as a tuple, each known and named once (a ``ValueError`` otherwise)."""
    unknown = [p for p in planes if p not in PLANES]
    if unknown or len(set(planes)) != len(planes) or not planes:
        raise ValueError(f"roll planes: expected distinct names from {PLANES}, got {planes}")
    return tuple(planes)


def channel_count(planes: Sequence[str] = PLANES) -> int:
    """Channels of a roll with ``planes``: 88 per plane."""
    return KEYS * len(check_planes(planes))


def channel_names(planes: Sequence[str] = PLANES) -> list[str]:
    """The name of every channel in order: ``sounding:A0`` .. ``onset_position:C8``."""
    from pretty_midi import note_number_to_name

    keys = [note_number_to_name(p) for p in range(LOWEST_KEY, HIGHEST_KEY + 1)]
    return [f"{plane}:{key}" for plane in check_planes(planes) for key in keys]


def frame_of(seconds: float, hop: int, sample_rate: int) -> float:
    """The (fractional) frame in which time ``seconds`` falls: its integer part is the
    frame, its fraction the position inside the frame."""
    return seconds * sample_rate / hop


def piano_roll(
    notes: Sequence[Note], frames: int, hop: int, sample_rate: int, planes: Sequence[str] = PLANES
) -> np.ndarray:
    """The roll of ``notes`` over ``frames`` frames of ``hop`` samples.

    Returns:
        (frames, 88 * len(planes)) float32, plane-major as described above. Notes that
        start at or after the last frame are left out; a note that outlasts it is cut.
    """
    planes = check_planes(planes)
    roll = np.zeros((len(planes), frames, KEYS), dtype=np.float32)  # (P, K, 88)
    for note in sort_notes(notes):  # in onset order: a later note wins a shared frame
        if note.is_drum or not LOWEST_KEY <= note.pitch <= HIGHEST_KEY:
            continue
        start = frame_of(note.onset, hop, sample_rate)
        first = int(np.floor(start))
        if first >= frames:
            continue
        end = min(frames, max(first + 1, int(np.ceil(frame_of(note.offset, hop, sample_rate)))))
        values = {"sounding": note.velocity / 127, "onset": 1.0, "onset_position": start - first}
        key = note.pitch - LOWEST_KEY
        for p, plane in enumerate(planes):
            if plane == "sounding":
                roll[p, first:end, key] = values[plane]
            else:
                roll[p, first, key] = values[plane]
    return roll.transpose(1, 0, 2).reshape(frames, len(planes) * KEYS)  # (K, P * 88)


def roll_planes(roll: np.ndarray, planes: Sequence[str] = PLANES) -> dict[str, np.ndarray]:
    """``{plane: (frames, 88)}`` of a roll (frames, 88 * len(planes))."""
    planes = check_planes(planes)
    if roll.ndim != 2 or roll.shape[1] != KEYS * len(planes):
        raise ValueError(f"expected a roll (frames, {KEYS * len(planes)}), got {roll.shape}")
    split = roll.reshape(roll.shape[0], len(planes), KEYS)  # (K, P, 88)
    return {plane: split[:, p] for p, plane in enumerate(planes)}


def roll_to_notes(
    roll: np.ndarray, hop: int, sample_rate: int, planes: Sequence[str] = PLANES, program: int = 0
) -> list[Note]:
    """The notes of a roll (frames, 88 * len(planes)), sorted; ``planes`` must include
    ``sounding`` and ``onset``. A note starts at each onset (and where a key starts to
    sound without one) and lasts until the next onset on its key or the end of the
    sound; its velocity is the ``sounding`` value of its onset frame."""
    by_plane = roll_planes(roll, planes)
    missing = [p for p in NEEDED if p not in by_plane]
    if missing:
        raise ValueError(f"roll_to_notes needs the planes {NEEDED}, got {tuple(planes)}")
    position = by_plane.get("onset_position", np.zeros_like(by_plane["onset"]))
    seconds = hop / sample_rate  # one frame
    notes = []
    for key in range(KEYS):
        sounding, onset = by_plane["sounding"][:, key], by_plane["onset"][:, key] >= 0.5
        for first, end in note_spans(sounding > 0, onset):
            velocity = int(np.clip(np.rint(sounding[first] * 127), 1, 127))
            start = (first + float(np.clip(position[first, key], 0.0, 1.0))) * seconds
            offset = max(start, end * seconds)
            notes.append(Note(start, offset, LOWEST_KEY + key, velocity, program))
    return sort_notes(notes)


def note_spans(active: np.ndarray, onsets: np.ndarray) -> list[tuple[int, int]]:
    """``(first, end)`` frames of each note on one key: ``active`` (frames,) says where the
    key sounds, ``onsets`` (frames,) where notes start. A note starts at an onset or where
    the key starts sounding, and ends (exclusive) at the next start or where it stops."""
    active = active | onsets  # an onset sounds at least in its own frame
    rises = active & ~np.concatenate([[False], active[:-1]])
    starts = np.flatnonzero(onsets | rises)  # (N,)
    stops = np.flatnonzero(active & ~np.concatenate([active[1:], [False]])) + 1  # run ends
    spans = []
    for i, first in enumerate(starts):
        run_end = stops[np.searchsorted(stops, first, side="right")]
        following = starts[i + 1] if i + 1 < len(starts) else run_end
        spans.append((int(first), int(min(run_end, following))))
    return spans
