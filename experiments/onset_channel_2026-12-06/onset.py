"""A fourth excitation channel that marks each note's onset: does the WaveNet play a
struck string's attack (the 2-5 kHz the composed piano lacks) when it hears where each
note starts?

    python onset.py train DATA RUN [SEED]      # the demo's WaveNet recipe, 2,000 steps
    [ONSET=1] python onset.py render RUN REPORT SECONDS  # as channel_probe.py renders

The package's excitation (``notes/excitation.py``) has three channels: fundamentals,
harmonics, decaying harmonics. Here a fourth is added, by patching the package before
the model is built: each note's ``velocity / 127 * exp(-τ / ONSET_DECAY)``, ``τ`` the
seconds since its onset sample, over ``ONSET_LENGTH`` decays, the notes summed. It names
no frequency, only when an attack happens and how hard; the spectrum of the attack is
the model's to learn from the recordings. ``render`` with a run trained without it
renders the package's three channels (the baseline). ``ONSET_GAIN=g`` renders the attacks
``g`` times as loud as the other channels (all heard ``NOTE_EXCITATION_GAIN`` times as
loud as in training: 3).
"""

from __future__ import annotations

import glob
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import wavenet_music.notes.excitation as excitation_module  # noqa: E402
import wavenet_music.notes.features as features_module  # noqa: E402
import wavenet_music.wavenet.model as model_module  # noqa: E402
import wavenet_music.wavenet.to_audio as to_audio_module  # noqa: E402

ONSET_DECAY = 0.03  # seconds: the attack's time constant
ONSET_LENGTH = 6  # decays after which the attack is cut to 0
CHANNELS = excitation_module.CHANNELS + 1
plain_excitation = excitation_module.excitation


def onsets(notes, first_sample: int, count: int, sample_rate: int) -> np.ndarray:
    """(count,) float64: the notes' attack envelopes, summed."""
    attack = np.zeros(count)
    length = round(ONSET_LENGTH * ONSET_DECAY * sample_rate)
    for note in notes:
        if note.is_drum:
            continue
        onset, _ = excitation_module.note_samples(note, sample_rate)
        low, high = max(onset, first_sample), min(onset + length, first_sample + count)
        if low < high:
            tau = (np.arange(low, high) - onset) / sample_rate
            attack[low - first_sample : high - first_sample] += (
                note.velocity / 127 * np.exp(-tau / ONSET_DECAY)
            )
    return attack


def onset_excitation(notes, first_sample, count, sample_rate, *args, **kwargs) -> np.ndarray:
    """(CHANNELS, count): the package's three channels and the attacks."""
    plain = plain_excitation(notes, first_sample, count, sample_rate, *args, **kwargs)
    attack = onsets(notes, first_sample, count, sample_rate)[None].astype(np.float32)
    if "ONSET_GAIN" in os.environ and to_audio_module.notes_excitation is onset_excitation:
        attack *= float(os.environ["ONSET_GAIN"])  # rendering: times the others' gain
    return np.concatenate([plain, attack])


def patch() -> None:
    features_module.excitation = onset_excitation
    to_audio_module.notes_excitation = onset_excitation
    to_audio_module.EXCITATION_CHANNELS = CHANNELS
    model_module.EXCITATION_CHANNELS = CHANNELS


def train(data: str, run: str, seed: int) -> None:
    from wavenet_music.cli import main

    args = ["train", data, "--run", run, "--preset", "demo", "--steps", "2000"]
    sys.exit(main([*args, "--set", f"train.seed={seed}"]))


def render(run: Path, report: Path, seconds: float) -> None:
    """The first ``seconds`` of every composed MIDI file of ``report``, one batch, the
    report's sampling, no noise guard; per genre: what reaches the ear, flatness, the
    spectrum's shape and level against the genre's real excerpts, and 8 mel bands of the
    composed minus the real spectrum (levels matched, dB, low to high)."""
    import soundfile as sf
    import torch

    from wavenet_music.audio.spectral import average_log_mel, clip_statistics, shape_and_level
    from wavenet_music.notes.midi import read_midi
    from wavenet_music.report.notes import heard_figures
    from wavenet_music.wavenet.checkpoint import load_model
    from wavenet_music.wavenet.follow import render_notes

    torch.set_num_threads(1)
    model, config = load_model(run)
    mids = sorted(glob.glob(str(report / "*-composed-*.mid")))
    labels = [Path(m).name.split("-composed-")[0] for m in mids]
    pieces = [[n for n in read_midi(Path(m)) if n.onset < seconds] for m in mids]
    index = torch.tensor([config.model.global_labels.index(lab) for lab in labels])
    rate = config.data.sample_rate
    seed = int(os.environ.get("SEED", "3"))
    audio = render_notes(model, config, pieces, seconds, index, seed=seed)
    out = os.environ.get("WAVS")
    for label in sorted(set(labels)):
        rows = [i for i, lab in enumerate(labels) if lab == label]
        h = heard_figures([pieces[i] for i in rows], audio[rows], rate)
        real = [
            sf.read(p, dtype="float32")[0][: audio.shape[1]]
            for p in sorted(glob.glob(str(report / f"{label}-real-*.wav")))
        ]
        shape, level = shape_and_level(list(audio[rows]), real, rate)
        bands = average_log_mel(list(audio[rows]), rate) - average_log_mel(real, rate)
        bands -= bands.mean()
        profile = " ".join(f"{b.mean():+5.1f}" for b in np.array_split(bands, 8))
        flat = np.mean([clip_statistics(audio[i], rate)["flatness"] for i in rows])
        print(
            f"{label:9s} note F1 {h['note_f1']:.2f} frame pc {h['frame_pitch_class_f1']:.2f} "
            f"notes/s {h['notes_per_second']:.1f} flatness {flat:.3f} shape {shape:.1f} "
            f"level {level:+.1f} dB | {profile}",
            flush=True,
        )
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        for i, m in enumerate(mids):
            sf.write(Path(out) / (Path(m).stem + ".wav"), audio[i], rate)


if __name__ == "__main__":
    command, rest = sys.argv[1], sys.argv[2:]
    if command == "train":
        patch()
        train(rest[0], rest[1], int(rest[2]) if len(rest) > 2 else 0)
    elif command == "render":
        if os.environ.get("ONSET") == "1":  # the run was trained with the attacks
            patch()
        render(Path(rest[0]), Path(rest[1]), float(rest[2]))
    else:
        raise SystemExit(f"expected train or render, got {command!r}")
