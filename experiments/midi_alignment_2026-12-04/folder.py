"""``alignment_warning`` on every recording of a folder that has a MIDI file beside it
(``features.score_of``), as training would meet them: one line of figures each, then its
warning. The hostile tester's training folder (report D3) holds the cases it names.

    python folder.py DIR
"""

from __future__ import annotations

import argparse
from pathlib import Path

from wavenet_music.audio.io import AUDIO_EXTENSIONS, load_audio
from wavenet_music.config import UserError
from wavenet_music.notes.alignment import align, alignment_warning
from wavenet_music.notes.features import score_of
from wavenet_music.notes.midi import read_midi

RATE = 16000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="recordings, each with its MIDI beside it")
    args = parser.parse_args()
    for audio in sorted(p for p in args.folder.iterdir() if p.suffix in AUDIO_EXTENSIONS):
        score = score_of(audio)
        if score is None:
            continue
        try:
            notes = read_midi(score)
        except UserError as exc:
            print(f"{audio.name}: {exc}")
            continue
        a = align(load_audio(audio, RATE), RATE, notes)
        print(
            f"{audio.name}: match {a.match_at_zero:.2f} at lag 0, {a.match:.2f} at "
            f"{a.lag:+.2f} s; coverage {a.coverage:.2f}"
        )
        print(f"    {alignment_warning(score.name, a)}")


if __name__ == "__main__":
    main()
