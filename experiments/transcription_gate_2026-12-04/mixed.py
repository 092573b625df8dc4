"""Demo recordings with white or pink noise added at -40..-80 dBFS RMS: the notes the noise
adds (no clean note of the same pitch within 50 ms of the onset), with their levels, as
JSON lines.

    python mixed.py DEMO_DIR mixed.jsonl
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from measure import SR, rows

from wavenet_music.audio.io import load_audio

FILES = [
    "ambient/warzone2100_track18.flac",
    "ambient/warzone2100_track20.flac",
    "classical/wesnoth_battle-epic.flac",
    "classical/wesnoth_casualties_of_war.flac",
    "guitar/bach_bwv10.7.flac",
    "guitar/haydn_opus1no1_movement3.flac",
    "piano/beach_prayer_of_a_tired_child.flac",
    "piano/cpebach_h186.flac",
]


def noise(colour: str, n: int, level: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if colour == "white":
        base = rng.standard_normal(n)
    else:
        f = np.maximum(np.fft.rfftfreq(n, 1 / SR), 20.0)
        base = np.fft.irfft(np.fft.rfft(rng.standard_normal(n)) / np.sqrt(f), n)
    return (base / np.sqrt(np.mean(base**2)) * 10 ** (level / 20)).astype(np.float32)


def extra(clean: list[dict], noisy: list[dict]) -> list[dict]:
    return [
        n
        for n in noisy
        if not any(c["pitch"] == n["pitch"] and abs(c["onset"] - n["onset"]) <= 0.05 for c in clean)
    ]


def main(demo: Path, out: Path) -> None:
    with out.open("w") as f:
        for i, name in enumerate(FILES):
            audio = load_audio(demo / name, SR)
            clean = rows(audio, name, "clean")
            for colour in ("white", "pink"):
                for level in (-40, -50, -60, -80):
                    noisy = rows(
                        audio + noise(colour, audio.size, level, i), name, f"{colour} {level}"
                    )
                    noisy["extra"] = extra(clean["notes"], noisy["notes"])
                    noisy["missing"] = len(extra(noisy["notes"], clean["notes"]))
                    noisy["clean_notes"] = len(clean["notes"])
                    del noisy["notes"]
                    f.write(json.dumps(noisy) + "\n")
                    print(name, colour, level, len(noisy["extra"]), noisy["missing"], flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
