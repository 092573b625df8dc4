"""Is the uneven onset rate of the composed audio in the composed notes or in their
rendering? Onset-rate variation of the notes beside that of the audio, genre by genre.

    python density.py RUN DATA SEEDS_DIR [SEEDS_DIR ...] [--seeds 48] [--json OUT]

``measure_structure.py`` scores onset-rate variation (``onset_rate_cv``: onsets counted
per 2 s, std / mean, in every 20-s window) on audio only. Here the same statistic is also
taken on notes: the onsets of the notes, merged when closer than 50 ms (the audio onset
detector's own minimum gap, so a chord counts once on both sides).

- composed: each seed's notes, composed again by RUN's composer exactly as
  ``report.composition`` composes them (same seed, the calibrated temperature and hold
  penalty, one clip per label, 30 s), beside the audio that ``measure_structure.py`` wrote
  for that seed (``SEEDS_DIR/seed_N/composed-LABEL.wav``; several folders: one per WaveNet
  that played the same notes, e.g. after 2,000 and after 10,000 steps);
- real: every 30-s excerpt (consecutive, no overlap) of the run's training segments, its
  notes (the score beside the recording, else its cached transcription) beside its audio.

If composed notes vary like real notes while the composed audio varies more than real
audio, the rendering adds the unevenness; if the notes already vary more, the composer
does.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from wavenet_music.audio.io import load_audio  # noqa: E402
from wavenet_music.audio.structure import (  # noqa: E402
    count_cv,
    onset_rate_cv,
    structure_statistics,
)
from wavenet_music.composer.checkpoint import (  # noqa: E402
    build_composer,
    calibrated_sampling,
    load_composer,
)
from wavenet_music.composer.config import PieceConfig  # noqa: E402
from wavenet_music.composer.note_piece import compose_events, piece_notes  # noqa: E402
from wavenet_music.config import GenerateConfig  # noqa: E402
from wavenet_music.notes.midi import Note  # noqa: E402
from wavenet_music.report.clips import labeler, run_labels  # noqa: E402
from wavenet_music.runs import read_data_record  # noqa: E402
from wavenet_music.wavenet.checkpoint import load_model  # noqa: E402
from wavenet_music.wavenet.follow import piece_notes as recording_notes  # noqa: E402
from wavenet_music.wavenet.to_audio import clip_plan  # noqa: E402

SECONDS = 30.0
WINDOW_S, MIN_WINDOW_S, SUB_S, MERGE_S = 20.0, 10.0, 2.0, 0.05


def onset_events(notes: list[Note]) -> np.ndarray:
    """Note onsets in seconds, those within ``MERGE_S`` of the previous kept one dropped."""
    kept: list[float] = []
    for t in sorted(n.onset for n in notes):
        if not kept or t - kept[-1] >= MERGE_S:
            kept.append(t)
    return np.array(kept)


def notes_cv(onsets: np.ndarray, start: float, length: float) -> float:
    """``onset_rate_cv`` of the onsets in [start, start + length)."""
    return count_cv(onsets - start, length, SUB_S)


def windows_of(total: float) -> list[tuple[float, float]]:
    """The (start, length) of the windows ``structure_statistics`` cuts a clip into."""
    out, start = [], 0.0
    while total - start >= MIN_WINDOW_S:
        out.append((start, min(WINDOW_S, total - start)))
        start += WINDOW_S
    return out


def composed_notes(run: Path, seed: int) -> dict[str, list[Note]]:
    """The notes ``report.composition`` composes for ``seed``, by label."""
    _, config = load_model(run)
    saved = load_composer(run, weights_only=True)
    composer = build_composer(saved)
    temperature, hold = calibrated_sampling(saved, None, None)
    which = "all" if config.model.global_labels else None
    options = PieceConfig(
        seconds=SECONDS, label=which, temperature=temperature, hold_penalty=hold, seed=seed
    )
    labels, tags = clip_plan(config, GenerateConfig(label=which))
    generator = torch.Generator().manual_seed(seed)  # the composer's stream in compose()
    torch.set_num_threads(1)
    events = compose_events(composer, np.zeros(0, np.int64), labels, len(tags), options, generator)
    notes = [piece_notes(np.zeros(0, np.int64), row, SECONDS) for row in events]
    return dict(zip(run_labels(run, None, config), notes, strict=True))


def real_rows(run: Path, data: Path) -> dict[str, list[tuple[float, float]]]:
    """(notes CV, audio CV) of every real 20-s window, by label."""
    _, config = load_model(run)
    rate = config.data.sample_rate
    label_of = labeler(config, data)
    rows: dict[str, list[tuple[float, float]]] = {}
    for source, start, end in read_data_record(run)["train"]:
        path = data / source
        audio = load_audio(path, rate)
        onsets = onset_events(recording_notes(path, config, len(audio) / rate))
        for at in range(start, end - int(SECONDS * rate) + 1, int(SECONDS * rate)):
            clip = audio[at : at + int(SECONDS * rate)]
            audio_cvs = [w["onset_rate_cv"] for w in structure_statistics([clip], rate)]
            for (s, n), a in zip(windows_of(SECONDS), audio_cvs, strict=True):
                rows.setdefault(label_of(source), []).append(
                    (notes_cv(onsets, at / rate + s, n), a)
                )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("data", type=Path)
    parser.add_argument("seed_dirs", type=Path, nargs="+")
    parser.add_argument("--seeds", type=int, default=48)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result: dict[str, dict[str, list]] = {}
    for label, rows in real_rows(args.run, args.data).items():
        result.setdefault(label, {})["real"] = rows
    for seed in range(args.seeds):
        for label, notes in composed_notes(args.run, seed).items():
            onsets = onset_events(notes)
            cvs = [notes_cv(onsets, s, n) for s, n in windows_of(SECONDS)]
            entry = result.setdefault(label, {})
            entry.setdefault("composed_notes", []).extend(cvs)
            entry.setdefault("composed_onsets_per_s", []).append(len(onsets) / SECONDS)
            for k, folder in enumerate(args.seed_dirs):
                audio = load_audio(folder / f"seed_{seed}" / f"composed-{label}.wav", 16000)
                audio_cvs = [
                    onset_rate_cv(audio[int(s * 16000) : int((s + n) * 16000)], 16000)
                    for s, n in windows_of(SECONDS)
                ]
                entry.setdefault(f"composed_audio_{k}", []).extend(audio_cvs)
        print(f"seed {seed} done", file=sys.stderr, flush=True)
    if args.json:
        args.json.write_text(json.dumps(result))
    print_table(result, len(args.seed_dirs))


def print_table(result: dict[str, dict[str, list]], audios: int) -> None:
    def mean(values) -> str:
        v = np.array(values, dtype=np.float64)
        return f"{np.nanmean(v):.3f}"

    heads = ["real notes", "real audio", "composed notes"]
    heads += [f"composed audio ({k})" for k in range(audios)]
    print("| genre | " + " | ".join(heads) + " | composed onsets/s |")
    print("|---|" + "---:|" * (len(heads) + 1))
    for label in sorted(result):
        e = result[label]
        real = np.array(e["real"], dtype=np.float64)
        cells = [mean(real[:, 0]), mean(real[:, 1]), mean(e["composed_notes"])]
        cells += [mean(e[f"composed_audio_{k}"]) for k in range(audios)]
        print(f"| {label} | " + " | ".join(cells) + f" | {mean(e['composed_onsets_per_s'])} |")


if __name__ == "__main__":
    main()
