"""Peak memory of decoding a long recording into the training cache: whole file vs blocks.

    python benchmarks/bench_decode.py [--minutes 10] [--rate 48000] [--model-rates 16000,48000]

Writes a stereo 16-bit WAV of ``--minutes`` (a second to 4 hours: a shorter one decodes
nothing worth timing) at ``--rate`` (a tone and noise) and decodes
it into mu-law classes, each way in a fresh process:

- ``whole file``: the path training took before, kept here as the reference: every frame
  decoded at once, mixed, resampled, DC removed and encoded as whole arrays;
- ``in blocks``: ``write_training_classes`` (what ``cached_classes`` runs now);
- ``load_audio``: the float32 audio at the model's rate, as ``report`` (its real
  excerpts), ``generate --seed-audio`` and ``compose --prime`` read a recording (decoded in
  blocks too; measured before its classes are encoded and written for the comparison).

Columns: the model's sample rate, the peak resident memory the decoding added (the
process's ``VmHWM`` after it, less its ``VmRSS`` before it, imports done; Linux), the
seconds it took and whether the cache file is byte-identical to the whole-file one.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from arguments import Parser, listed, one_line_errors, positive_number, whole_number

from wavenet_music.audio.cache_blocks import write_training_classes
from wavenet_music.audio.io import (
    clean,
    load_audio,
    mix_to_mono,
    mu_law_encode,
    remove_dc,
    resample,
)
from wavenet_music.config import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE
from wavenet_music.runs import npy_bytes, write_atomically

WAYS = ("whole file", "in blocks", "load_audio")
MINUTES = positive_number("minutes", at_least=1 / 60, at_most=240)  # a second to 4 hours
RATE = whole_number(MIN_SAMPLE_RATE, MAX_SAMPLE_RATE)


def whole_file(path: Path, target: Path, sample_rate: int) -> None:
    """The cache as training wrote it before: the whole recording in memory at once."""
    with open(path, "rb") as file, sf.SoundFile(file) as f:
        frames, rate = f.read(dtype="float32", always_2d=True), f.samplerate  # (T, C)
    audio = clean(remove_dc(resample(clean(mix_to_mono(frames)), rate, sample_rate)))
    write_atomically(target, npy_bytes(mu_law_encode(audio).astype(np.uint8)))


def in_blocks(path: Path, target: Path, sample_rate: int) -> None:
    write_training_classes(path, target, sample_rate, 256, np.uint8)


def decoded(path: Path, sample_rate: int) -> np.ndarray:
    """(T,) float32: ``load_audio``, whose classes are written after the peak is read."""
    return load_audio(path, sample_rate)


def status_mb(key: str) -> float:
    """A ``VmRSS`` (now) or ``VmHWM`` (peak) line of /proc/self/status, in MB. Not
    ``ru_maxrss``: a child process inherits its parent's peak there (Linux, at exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024 / 1e6  # kB
    raise OSError(f"no {key} in /proc/self/status")


def child(way: str, path: Path, target: Path, sample_rate: int) -> None:
    """Decode once and print ``{"mb": peak RSS added, "seconds": ...}`` as JSON."""
    Path("/proc/self/clear_refs").write_text("5")  # the peak so far (imports) forgotten
    before, start = status_mb("VmRSS"), time.perf_counter()
    audio = None
    if way == WAYS[2]:
        audio = decoded(path, sample_rate)
    else:
        (whole_file if way == WAYS[0] else in_blocks)(path, target, sample_rate)
    seconds, mb = time.perf_counter() - start, status_mb("VmHWM") - before
    if audio is not None:
        write_atomically(target, npy_bytes(mu_law_encode(audio).astype(np.uint8)))
    print(json.dumps({"mb": mb, "seconds": seconds}))


def measure(way: str, path: Path, target: Path, sample_rate: int) -> dict[str, float]:
    """``child`` in a fresh process: each way starts from the same empty high-water mark."""
    command = [sys.executable, __file__, "--child", way, str(path), str(target), str(sample_rate)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def write_recording(path: Path, minutes: float, rate: int) -> None:
    """A stereo 16-bit WAV, written a minute at a time."""
    rng = np.random.default_rng(0)
    with sf.SoundFile(path, "w", rate, 2, "PCM_16") as f:
        for minute in range(int(np.ceil(minutes))):
            n = int(rate * 60 * min(1.0, minutes - minute))
            t = (minute * 60 * rate + np.arange(n)) / rate
            tone = 0.3 * np.sin(2 * np.pi * 220 * t)[:, None] + 0.05 * rng.standard_normal((n, 2))
            f.write(tone.astype(np.float32))


def main() -> None:
    parser = Parser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--minutes", type=MINUTES, default=10.0, help="length of the recording (a second or more)"
    )
    parser.add_argument("--rate", type=RATE, default=48000, help="the recording's sample rate")
    parser.add_argument(
        "--model-rates",
        type=listed(RATE),
        default=[16000, 48000],
        help="model sample rates, comma-separated",
    )
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)  # way, wav, npy, rate
    args = parser.parse_args()
    if args.child:
        way, wav, npy, rate = args.child
        return child(way, Path(wav), Path(npy), int(rate))
    from common import cpu_line, format_rate, markdown_table  # the parent alone imports torch

    print(cpu_line(1), flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-decode-") as tmp:
        wav = Path(tmp) / "recording.wav"
        write_recording(wav, args.minutes, args.rate)
        size = format_rate(wav.stat().st_size / 1e6)
        print(f"recording: {args.minutes:g} min, {args.rate} Hz stereo 16-bit WAV, {size} MB")
        for model_rate in args.model_rates:
            caches = {way: Path(tmp) / f"{i}-{model_rate}.npy" for i, way in enumerate(WAYS)}
            for way, cache in caches.items():
                result = measure(way, wav, cache, model_rate)
                same = caches[WAYS[0]].read_bytes() == cache.read_bytes()
                mb, seconds = format_rate(result["mb"]), format_rate(result["seconds"])
                rows.append([way, f"{model_rate:,}", mb, seconds, "yes" if same else "NO"])
    headers = ["decoding", "model rate (Hz)", "peak RSS added (MB)", "seconds", "same bytes"]
    print(markdown_table(headers, rows))


if __name__ == "__main__":
    one_line_errors(main)
