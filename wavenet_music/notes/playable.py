"""What a WaveNet of the piano's keys can play of a set of notes, and saying it.

Bad input is one line naming the file (``UserError``): notes outside a range or after the
audio ends, several instruments where one is expected, drums alone (``check_notes``).
``playable`` keeps the notes the piano's keys play and says what it leaves out or joins;
``read_playable`` reads a MIDI file so, saying it on stderr; ``named_notes`` and
``instrument_summary`` name notes and instruments in one line.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import pretty_midi

from ..config import UserError
from ..runtime.console import warn
from .midi import PIANO_RANGE, Note, read_score

NAMED = 5  # offending notes named one by one in an error
QUIET_START = 3.0  # seconds of silence before the first note played said as a warning
BENT_WHAT = "bent over a semitone by the pitch wheel: played at their written keys"


def check_notes(
    notes: Sequence[Note],
    source: str,
    pitch_range: tuple[int, int] | None = None,
    seconds: float | None = None,
    one_instrument: bool = False,
    pitched: bool = False,
) -> None:
    """A one-line ``UserError`` naming ``source`` when ``notes`` is empty, when pitched
    notes lie outside ``pitch_range`` (lowest, highest MIDI pitch, inclusive), when notes
    start at or after ``seconds`` (the length of the audio they belong to), or, with
    ``one_instrument``, when they are played by several instruments, or, with ``pitched``,
    when every note is a drum's (nothing a WaveNet plays). The first ``NAMED`` offending
    notes are named. Drums have no pitch range."""
    if not notes:
        raise UserError(f"{source}: no notes")
    if pitched and all(n.is_drum for n in notes):
        raise UserError(f"{source}: only percussion (drum notes), no pitched notes to play")
    if pitch_range is not None:
        _check_range(notes, source, *pitch_range)
    if seconds is not None:
        late = [n for n in notes if n.onset >= seconds]
        if late:
            what = f"start after the audio ends ({seconds:.2f} s)"
            raise UserError(f"{source}: {named_notes(late, what)}")
    if one_instrument and len(by_instrument(notes)) > 1:
        raise UserError(f"{source}: expected one instrument, got {instrument_summary(notes)}")


def playable(notes: Sequence[Note], source: str) -> tuple[list[Note], list[str]]:
    """The notes of ``source`` a WaveNet of the piano's keys plays (every pitched part as
    one, keys of the piano), and a line for each kind left out or joined: drums, keys
    outside the piano, several instruments. A ``UserError`` where nothing is left."""
    low, high = PIANO_RANGE
    kept = [n for n in notes if not n.is_drum and not off_the_keys(n)]
    if not kept:
        check_notes(notes, source, PIANO_RANGE, pitched=True)  # says which: raises here
    drums = [n for n in notes if n.is_drum]
    outside = [n for n in notes if off_the_keys(n)]
    said = []
    if drums:
        said.append(f"{source}: {_count(drums)} of drums left out (no keys to play them)")
    if outside:
        span = f"{_key(low)}..{_key(high)} (MIDI {low}..{high})"
        said.append(f"{source}: {named_notes(outside, f'outside {span}')}: left out")
    if len(by_instrument(kept)) > 1:
        said.append(f"{source}: playing {instrument_summary(kept)} as one part")
    return kept, said


def read_playable(path: Path) -> list[Note]:
    """The notes of the MIDI file ``path`` that a WaveNet of the piano's keys plays
    (``playable``); each kind left out or joined, notes under a bent pitch wheel, and a
    long silence before the first note (``quiet_start``), said on stderr as a warning."""
    written, bent = read_score(path)
    notes, said = playable(written, str(path))
    if bent:
        said.append(f"{path}: {named_notes(bent, BENT_WHAT)}")
    said += quiet_start(notes, str(path))
    for line in said:
        warn(line)
    return notes


def quiet_start(notes: Sequence[Note], source: str) -> list[str]:
    """A line for ``source`` when its first note played (``notes`` sorted) starts over
    ``QUIET_START`` seconds in (a count-in, a DAW's lead-in bars): a render or a clip
    steered by it opens with that silence, which the musician did not hear as music."""
    first = notes[0]
    if first.onset <= QUIET_START:
        return []
    return [
        f"{source}: {first.onset:.1f} s of silence before the first note played, "
        f"{_named([first])}: the clip opens silent (cut the lead-in in the sequencer to "
        "start on the music)"
    ]


def off_the_keys(note: Note, low: int = PIANO_RANGE[0], high: int = PIANO_RANGE[1]) -> bool:
    """A pitched ``note`` whose key lies outside ``low``..``high`` (the piano's): a drum's
    pitch names a drum, never a key."""
    return not note.is_drum and not low <= note.pitch <= high


def _check_range(notes: Sequence[Note], source: str, low: int, high: int) -> None:
    outside = [n for n in notes if off_the_keys(n, low, high)]
    if outside:
        span = f"{_key(low)}..{_key(high)} (MIDI {low}..{high})"
        raise UserError(
            f"{source}: {_count(outside)} outside {span}: {_named(outside)}; "
            f"{_onto_the_keys(notes, low, high)}"
        )


def _onto_the_keys(notes: Sequence[Note], low: int, high: int) -> str:
    """What brings the pitched ``notes`` onto ``low``..``high``: the fewest octaves that
    move them all there (a part written an octave too high), else moving the notes
    outside."""
    pitches = [n.pitch for n in notes if not n.is_drum]
    shift = -(-(low - min(pitches)) // 12) if min(pitches) < low else 0  # octaves up
    shift -= -(-(max(pitches) - high) // 12) if max(pitches) > high else 0  # or down
    if shift and low <= min(pitches) + 12 * shift and max(pitches) + 12 * shift <= high:
        octaves = f"{abs(shift)} octave{'' if abs(shift) == 1 else 's'}"
        return f"transpose the part {'up' if shift > 0 else 'down'} {octaves} in the sequencer"
    return "notes outside are not played: move them onto the keys in the sequencer"


def by_instrument(notes: Iterable[Note]) -> dict[tuple[int, bool], list[Note]]:
    """``{(program, is_drum): its notes}`` in the order the instruments first play."""
    groups: dict[tuple[int, bool], list[Note]] = {}
    for note in notes:
        groups.setdefault((note.program, note.is_drum), []).append(note)
    return groups


def instrument_summary(notes: Iterable[Note]) -> str:
    """Each instrument by its General MIDI name with its notes, for one line: "3
    instruments: Acoustic Grand Piano (12 notes), Violin (8 notes), drums (4 notes)"."""
    groups = by_instrument(notes)
    names = [
        f"{'drums' if drum else pretty_midi.program_to_instrument_name(program)} ({_count(group)})"
        for (program, drum), group in groups.items()
    ]
    plural = "" if len(groups) == 1 else "s"
    return f"{len(groups)} instrument{plural}: {', '.join(names)}"


def named_notes(notes: Sequence[Note], what: str) -> str:
    """ "3 notes start after ...: F5 (77) at 12.24 s, ...": ``notes`` counted, ``what``
    they do, and the first ``NAMED`` named."""
    return f"{_count(notes)} {what}: {_named(notes)}"


def _key(pitch: int) -> str:
    return pretty_midi.note_number_to_name(pitch)


def _count(notes: Sequence[Note]) -> str:
    return f"{len(notes)} note{'' if len(notes) == 1 else 's'}"


def _named(notes: Sequence[Note]) -> str:
    shown = ", ".join(f"{n.name} ({n.pitch}) at {n.onset:.2f} s" for n in notes[:NAMED])
    return shown + (f" and {len(notes) - NAMED} more" if len(notes) > NAMED else "")
