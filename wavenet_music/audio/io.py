"""Signal maths as small pure functions: decode, mix, resample, mu-law, trim, write.

Nothing here knows about torch.nn; arrays are numpy, audio is float32 in [-1, 1].

Training decodes a file into its mu-law cache in blocks (``write_training_classes``), so
that memory stays flat however long the recording; the cache holds the bytes the
whole-file path (``load_audio`` plus ``trim_silence`` and ``mu_law_encode``) would give.
"""

from __future__ import annotations

import contextlib
import functools
import io
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import soxr
from numpy.typing import DTypeLike

from ..config import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, UserError
from ..runs import write_atomically
from ..runtime.console import warn
from ..runtime.stop import held_signals

# libsndfile decodes a file by its content; besides the common names, the containers DAWs and
# field recorders write: AIFF-C and CAF (Logic, GarageBand), Broadcast Wave, and Wave64 and
# RF64 for recordings past 4 GB; and the other names of WAV (.wave) and of Sun's AU (.snd)
AUDIO_EXTENSIONS = (
    *(".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".aifc", ".caf"),
    *(".bwf", ".w64", ".rf64", ".au", ".wave", ".snd"),
)
# audio this tool cannot decode (libsndfile reads none of them): counted, never read
UNDECODED_EXTENSIONS = (".m4a", ".m4b", ".aac", ".wma", ".alac", ".ape", ".wv", ".mka", ".ac3")
FULL_SCALE = 0.999  # a decoded sample this loud sits at the format's limit: it was clipped
CACHE_BLOCK = 1 << 16  # frames decoded at a time into the training cache
CUT_SHORT_SECONDS = 0.1  # frames fewer than the header counts, more than this: cut short
TRIM_FRAME = 2048  # samples per frame whose RMS ``trim_silence`` compares with its threshold
# a mono mix this far below the mix of as loud uncorrelated channels: they cancel (one is
# the other inverted; stereo music mixes above it, one channel sounding among many at it)
CANCEL_DB = 20.0
AUDIBLE_POWER = 1e-8  # channels' mean power (-80 dBFS) below which nothing is said to cancel


class AudioReadError(UserError):
    """A file that cannot be used as audio; the message names the file and the reason."""


def load_audio(path: Path, sample_rate: int) -> np.ndarray:
    """Decode ``path`` into mono float32 at ``sample_rate``, a block of frames at a time:
    memory holds the result and one block, whatever the file's rate, channels or length.

    Returns:
        Tensor[T] float32 without DC offset, non-finite samples replaced by 0, clipped
        to [-1, 1].
    """
    return _mono_at(path, sample_rate, None)


def load_audio_with_damage(path: Path, sample_rate: int) -> tuple[np.ndarray, Damage]:
    """``load_audio`` and the ``Damage`` its cleaning hides (non-finite samples, clipping)
    counted over the frames as decoded, and where a decoding that failed part way
    stopped (the frames before it are used)."""
    damage = Damage()
    return _mono_at(path, sample_rate, damage), damage


def _mono_at(path: Path, sample_rate: int, damage: Damage | None) -> np.ndarray:
    """(T,) float32: ``path``'s blocks of frames mixed to mono, resampled to
    ``sample_rate`` as they come, joined, less their mean, clipped; given ``damage``, the
    frames counted in it and a decoding that fails part way ended there
    (``frame_blocks``). The whole file decoded at once held its frames at their own rate
    and channels and the steps between: 1.1 GB for 20 minutes of 44.1 kHz stereo, where
    this holds 8 bytes a sample at ``sample_rate`` (the pieces and their join), 154 MB."""
    frames = frame_blocks(path, damage=damage)
    pieces = mono_blocks(
        frames if damage is None else damage.counting(frames), native_rate(path), sample_rate
    )
    mono = np.concatenate([np.zeros(0, np.float32), *pieces])  # (T,)
    if mono.size:  # remove_dc and clean, in place: the values they give
        np.subtract(mono, mono.mean(dtype=np.float64), out=mono, casting="same_kind")
        np.clip(mono, -1.0, 1.0, out=mono)
    return mono


def mono_blocks(frames: Iterable[np.ndarray], from_rate: int, to_rate: int) -> Iterator[np.ndarray]:
    """Decoded blocks (T_i, C) at ``from_rate`` → float32 mono blocks (T_j,) at ``to_rate``,
    NaN/inf out: together, what ``load_audio`` holds before ``remove_dc``."""
    resample_block = stream_resampler(from_rate, to_rate)
    for block in frames:
        yield resample_block(clean(mix_to_mono(block)), False)
    yield resample_block(np.zeros(0, np.float32), True)


def stream_resampler(from_rate: int, to_rate: int) -> Callable[[np.ndarray, bool], np.ndarray]:
    """``resample`` a block at a time: ``(block, last) -> resampled``, ``last`` with the
    final block. soxr's stream gives the samples ``soxr.resample`` gives for the whole."""
    if from_rate == to_rate:
        return lambda audio, last: audio.astype(np.float32, copy=False)
    stream = soxr.ResampleStream(from_rate, to_rate, 1, dtype="float32", quality="HQ")
    return lambda audio, last: stream.resample_chunk(audio, last=last)


def damage_notes(frames: np.ndarray, clip_share: float = 0.01) -> list[str]:
    """What cleaning hides in decoded frames (T, C): non-finite samples (replaced by
    silence), and more than ``clip_share`` of the samples at full scale (clipped)."""
    damage = Damage()
    damage.add(frames)
    return damage.notes(clip_share)


@dataclass
class Damage:
    """Counts over decoded frames, added a block at a time: what ``damage_notes`` says."""

    samples: int = 0
    non_finite: int = 0
    clipped: int = 0  # finite samples at full scale
    stopped: str | None = None  # where a decoding that failed part way ended (frame_blocks)
    mixed: int = 0  # frames of several channels (mixed to mono)
    channels: int = 1
    channel_energy: float = 0.0  # their channels' summed squares, over the channels
    mix_energy: float = 0.0  # the summed squares of their mono mix (the channels' mean)

    def add(self, frames: np.ndarray) -> None:
        finite = np.isfinite(frames)
        self.samples += frames.size
        self.non_finite += frames.size - np.count_nonzero(finite)
        values = np.where(finite, frames, 0)
        self.clipped += np.count_nonzero(finite & (np.abs(values) >= FULL_SCALE))
        if frames.ndim == 2 and frames.shape[1] > 1:  # (T, C)
            self.mixed, self.channels = self.mixed + len(frames), frames.shape[1]
            self.channel_energy += float(np.square(values, dtype=np.float64).mean(axis=1).sum())
            self.mix_energy += float(np.square(values.mean(axis=1, dtype=np.float64)).sum())

    def cancelled(self) -> str | None:
        """Where the channels cancel in the mono mix, what to say, else None: a stereo
        file whose one channel is the other with its polarity inverted mixes to near
        silence (16-bit rounding leaves it above digital silence), trained on as sound."""
        if self.channel_energy <= AUDIBLE_POWER * self.mixed:  # mono, or all but silent
            return None
        uncorrelated = self.channel_energy / self.channels  # what such channels' mix holds
        if self.mix_energy * 10 ** (CANCEL_DB / 10) > uncorrelated:
            return None
        drop = 10 * np.log10(self.channel_energy / self.mix_energy) if self.mix_energy else None
        level = "silent" if drop is None else f"{drop:.0f} dB below them"
        return (
            f"its channels cancel when mixed to mono (the mix is {level}: one is the other "
            "with its polarity inverted); invert one channel, or keep one"
        )

    def notes(self, clip_share: float = 0.01) -> list[str]:
        notes = [] if self.stopped is None else [self.stopped]
        if self.non_finite:
            notes.append(f"{self.non_finite} non-finite samples replaced by 0")
        if self.samples and self.clipped > clip_share * self.samples:
            notes.append(
                f"{self.clipped / self.samples:.1%} of its samples are clipped at full scale"
            )
        return notes

    def counting(self, blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """``blocks`` unchanged, each added as it passes."""
        for frames in blocks:
            self.add(frames)
            yield frames


def check_damage(path: Path, damage: Damage, what: str, advice: str) -> None:
    """Say what cleaning hides in ``path`` (``what`` it is to the command: "the seed
    audio"), as training says it: a file without one finite sample is a one-line
    ``AudioReadError`` ending in ``advice`` (it was used as silence, without a word);
    non-finite samples among real ones (now silence) and clipping are a warning each."""
    if damage.samples and damage.non_finite == damage.samples:
        raise AudioReadError(f"{path}: no finite samples (all NaN or infinite): {advice}")
    if (cancelled := damage.cancelled()) is not None:
        raise AudioReadError(f"{path}: {cancelled} ({what}: {advice})")
    for note in damage.notes():
        warn(f"{path}: {note} ({what})")


def native_rate(path: Path) -> int:
    """The sample rate ``path`` is stored at (its header alone is read)."""
    with _decoding(path), open(path, "rb") as file, _in_libsndfile(), sf.SoundFile(file) as f:
        return _audio_rate(path, f.samplerate)


def frame_blocks(
    path: Path, block: int = CACHE_BLOCK, damage: Damage | None = None
) -> Iterator[np.ndarray]:
    """The frames of ``path`` as decoded, ``block`` at a time: (<= block, C) float32 each;
    together the frames the file holds (no more than the header counts). A Ctrl-C while a
    block decodes stops after it (``_in_libsndfile``). Given ``damage``, a file that fails
    to decode after its first block (an MP3 with a stretch of garbage the decoder cannot
    resync past) ends there, and ``damage.stopped`` says where; else it is an error. A file
    whose frames end well before its header's count (an MP3 cut short: its header counts
    the whole) ends there, said in ``damage.stopped`` too (``_cut_short``)."""
    with _decoding(path), open(path, "rb") as file, _opened(file) as f:
        _audio_rate(path, f.samplerate)
        left = f.frames
        while left > 0:
            try:
                with _in_libsndfile():
                    frames = f.read(min(block, left), dtype="float32", always_2d=True)
            except sf.LibsndfileError as exc:  # (<= B, C) frames, or none of them
                if damage is None or left == f.frames:
                    raise
                damage.stopped = _stopped(f.frames - left, f.frames, f.samplerate, exc)
                return
            if not len(frames):  # cut short: the header promised more
                if damage is not None:
                    damage.stopped = _cut_short(f.frames - left, f.frames, f.samplerate)
                return
            left -= len(frames)
            yield frames


def _stopped(decoded: int, counted: int, rate: int, exc: BaseException) -> str:
    """What ``Damage.stopped`` says of a decoding that failed after ``decoded`` frames."""
    return (
        f"decoding failed after {decoded / rate:.1f} s of the {counted / rate:.1f} s its "
        f"header counts ({_short(exc)}); the first {decoded / rate:.1f} s are used"
    )


def _cut_short(decoded: int, counted: int, rate: int) -> str | None:
    """What ``Damage.stopped`` says of a file whose ``decoded`` frames end more than
    ``CUT_SHORT_SECONDS`` before the ``counted`` its header promised, else None. Only an
    MP3 does this (its Xing header counts the frames it was written with; a download cut
    off part way decodes without an error to where it ends); libsndfile counts the frames
    of a cut WAV, AIFF or Ogg file from what is there, and a cut FLAC fails to decode."""
    if counted - decoded <= CUT_SHORT_SECONDS * rate:
        return None
    return (
        f"decoding ended after {decoded / rate:.1f} s of the {counted / rate:.1f} s its "
        f"header counts (the file is cut short); the first {decoded / rate:.1f} s are used"
    )


@contextlib.contextmanager
def _opened(file: io.BufferedReader) -> Iterator[sf.SoundFile]:
    """``file`` opened as a ``_FrontToBack`` sound file, signals held while its header is
    read and while it closes."""
    with _in_libsndfile():
        sound = _FrontToBack(file)
    try:
        yield sound
    finally:
        with _in_libsndfile():
            sound.close()


@contextlib.contextmanager
def _in_libsndfile() -> Iterator[None]:
    """Around a call into libsndfile, which reads a Python file through soundfile's cffi
    callbacks: Ctrl-C and SIGTERM held back (``runtime.stop.held_signals``), and the
    errors raised in those callbacks kept off the terminal. A damaged header asks for a
    seek before the file's start; soundfile's callback raised, and Python printed two
    tracebacks ("Exception ignored from cffi callback ... OSError: [Errno 22] Invalid
    argument") before the file's one line said what was wrong with it."""
    printing = sys.unraisablehook
    sys.unraisablehook = functools.partial(_unless_from_a_callback, printing)
    try:
        with held_signals():
            yield
    finally:
        sys.unraisablehook = printing


def _unless_from_a_callback(printing: Callable[[Any], None], unraisable: Any) -> None:
    """``printing(unraisable)``, unless it is an OS error raised in a cffi callback."""
    message = getattr(unraisable, "err_msg", None) or ""
    if "cffi callback" in message and isinstance(unraisable.exc_value, OSError | ValueError):
        return
    printing(unraisable)


class _FrontToBack(sf.SoundFile):
    """A ``SoundFile`` read front to back without seeking. soundfile seeks to where it
    already is after each read; libsndfile's MP3 decoder then loses its bit reservoir, and
    a mono 16-24 kHz MP3 read in blocks had glitches (up to 0.16) a whole read has not."""

    def seekable(self) -> bool:
        return False


@contextlib.contextmanager
def _decoding(path: Path) -> Iterator[None]:
    """Any failure to open or decode ``path`` as one ``AudioReadError`` line. (Files are
    opened by Python: soundfile cannot encode a name that is not UTF-8.)"""
    try:
        yield
    except AudioReadError:
        raise
    except (sf.LibsndfileError, RuntimeError, OSError, ValueError) as exc:
        raise AudioReadError(f"{path}: cannot decode ({_short(exc)})") from None


def _audio_rate(path: Path, rate: int) -> int:
    """``rate``, the sample rate ``path`` is stored at, where it is one audio is stored at
    (the model's range); else an ``AudioReadError``: resampling a file stored at 1 Hz to
    16 kHz takes gigabytes for a few kilobytes of samples, none of them sound."""
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise AudioReadError(
            f"{path}: stored at {rate:,} Hz, not an audio sample rate "
            f"({MIN_SAMPLE_RATE:,}-{MAX_SAMPLE_RATE:,} Hz); resample it, or leave it out"
        )
    return rate


def mix_to_mono(frames: np.ndarray) -> np.ndarray:
    """(T, C) → (T,): the mean of the channels."""
    return frames.mean(axis=1, dtype=np.float32) if frames.ndim == 2 else frames


def resample(audio: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Band-limited resampling with soxr (high quality); a no-op at equal rates."""
    if from_rate == to_rate or audio.size == 0:
        return audio.astype(np.float32, copy=False)
    return soxr.resample(audio, from_rate, to_rate, quality="HQ").astype(np.float32)


def remove_dc(audio: np.ndarray) -> np.ndarray:
    """Subtract the mean: a DC offset is inaudible but wastes the mu-law levels that are
    finest near zero."""
    if audio.size == 0:
        return audio
    return shifted(audio, audio.mean(dtype=np.float64))


def shifted(audio: np.ndarray, mean: np.float64) -> np.ndarray:
    """(T,) float32 ``audio - mean``, rounded as ``remove_dc`` rounds it."""
    return (audio - mean).astype(np.float32)


def clean(audio: np.ndarray) -> np.ndarray:
    """Replace NaN/inf by silence and clip to [-1, 1]."""
    return np.clip(np.nan_to_num(audio, nan=0.0, posinf=0.0, neginf=0.0), -1.0, 1.0)


def mu_law_encode(audio: np.ndarray, quantization_channels: int = 256) -> np.ndarray:
    """Float audio in [-1, 1] → integer classes 0..Q-1 (ITU-T G.711 mu-law companding).

    Silence (0.0) maps to class Q // 2.
    """
    mu = quantization_channels - 1
    x = np.clip(np.asarray(audio, dtype=np.float64), -1.0, 1.0)
    companded = np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)  # in [-1, 1]
    return np.floor((companded + 1.0) / 2.0 * mu + 0.5).astype(np.int64)


def mu_law_decode(classes: np.ndarray, quantization_channels: int = 256) -> np.ndarray:
    """Integer classes 0..Q-1 → float32 audio in [-1, 1]; the inverse of the encoder. A
    look-up of ``decode_table``: 4 bytes a sample (the formula on the whole array peaked
    at about 40: 18 GB for 8 clips of an hour)."""
    return decode_table(quantization_channels)[np.asarray(classes)]


@functools.cache
def decode_table(quantization_channels: int) -> np.ndarray:
    """The float32 value (Q,) of every mu-law class, computed in float64."""
    mu = quantization_channels - 1
    companded = 2.0 * np.arange(quantization_channels, dtype=np.float64) / mu - 1.0
    x = (np.sign(companded) * ((1.0 + mu) ** np.abs(companded) - 1.0) / mu).astype(np.float32)
    x.flags.writeable = False  # shared by every caller
    return x


def silence_class(quantization_channels: int = 256) -> int:
    """The mu-law class of digital silence (0.0), used to pad before the first sample."""
    return int(mu_law_encode(np.zeros(1), quantization_channels)[0])


def padded_slice(
    values: np.ndarray, start: int, length: int, fill: float, dtype: DTypeLike
) -> np.ndarray:
    """``values[start : start + length]`` (length, ...) as ``dtype``, ``fill`` where the
    range leaves ``values`` (before its start or past its end)."""
    out = np.full((length, *values.shape[1:]), fill, dtype=dtype)
    lo, hi = max(start, 0), min(start + length, len(values))
    if hi > lo:
        out[lo - start : hi - start] = values[lo:hi]
    return out


def trim_silence(audio: np.ndarray, threshold: float, frame: int = TRIM_FRAME) -> np.ndarray:
    """Drop leading and trailing frames whose RMS is below ``threshold``.

    Off by default in the configs: trimming inside a piece would drop quiet passages, so
    only the ends are touched.
    """
    start, end = loud_range(audio, threshold, frame)
    return audio[start:end]


def loud_range(audio: np.ndarray, threshold: float, frame: int = TRIM_FRAME) -> tuple[int, int]:
    """The samples ``trim_silence`` keeps, as ``(start, end)``: from the first to the end of
    the last ``frame``-sample frame whose RMS reaches ``threshold``; ``(0, 0)`` when none."""
    return loud_span(frame_rms(audio, frame), threshold, audio.size, frame)


def frame_rms(audio: np.ndarray, frame: int = TRIM_FRAME) -> np.ndarray:
    """(ceil(T / frame),) float32 RMS of each ``frame``-sample frame of (T,) ``audio``, the
    last one padded with silence."""
    n = -(-audio.size // frame)
    padded = np.zeros(n * frame, dtype=np.float32)
    padded[: audio.size] = audio
    return np.sqrt(np.mean(padded.reshape(n, frame) ** 2, axis=1))  # (frames,)


def loud_span(rms: np.ndarray, threshold: float, size: int, frame: int) -> tuple[int, int]:
    """``loud_range`` of ``size`` samples from the RMS of their frames."""
    loud = np.flatnonzero(rms >= threshold)
    if loud.size == 0:
        return 0, 0
    return int(loud[0]) * frame, min(size, (int(loud[-1]) + 1) * frame)


def write_wav(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    """Write 16-bit PCM WAV atomically (``runs.write_atomically``: a full disk or a
    special file is one line, the previous file intact)."""
    write_atomically(path, wav_bytes(audio, sample_rate))


def wav_bytes(audio: np.ndarray, sample_rate: int) -> bytes:
    """(T,) float audio as the bytes of a 16-bit PCM WAV file."""
    buffer = io.BytesIO()
    sf.write(buffer, clean(audio), sample_rate, subtype="PCM_16", format="WAV")
    return buffer.getvalue()


def _short(exc: BaseException) -> str:
    if isinstance(exc, sf.LibsndfileError):  # its str() repeats the file object
        return exc.error_string.strip().rstrip(".")
    if isinstance(exc, OSError) and exc.strerror:  # its str() repeats the path
        return exc.strerror
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
