"""The training cache, decoded in blocks: a recording of any length becomes its mu-law
classes in a ``.npy`` file while at most ``CACHE_BLOCK`` frames are decoded at a time (the
bytes the whole-file path, ``mu_law_encode(load_audio(...))``, would write; tested), so
memory stays flat for a two-hour mix (``benchmarks/bench_decode.py``). ``audio_pieces``
gives what ``load_audio`` gives in pieces (transcription reads recordings through it)."""

from __future__ import annotations

import io
import os
import secrets
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
from numpy.typing import DTypeLike

from ..runs import fsync_dir, replace_atomically, write_new_file
from .io import (
    CACHE_BLOCK,
    TRIM_FRAME,
    AudioReadError,
    Damage,
    clean,
    frame_blocks,
    frame_rms,
    loud_span,
    mono_blocks,
    mu_law_encode,
    native_rate,
    shifted,
)


def write_training_classes(
    path: Path,
    target: Path,
    sample_rate: int,
    quantization_channels: int,
    dtype: DTypeLike,
    silence_threshold: float | None = None,
    block: int = CACHE_BLOCK,
    hint: str = "",
) -> list[str]:
    """Decode ``path`` into mu-law classes (``dtype``), written atomically to the ``.npy``
    file ``target``; return ``damage_notes``' notes.

    The bytes are those of the whole-file path, ``mu_law_encode`` of ``load_audio`` (after
    ``trim_silence`` with ``silence_threshold``), yet at most ``block`` frames are decoded
    at a time, so memory stays flat however long the recording: a first pass finds the
    mean (``remove_dc``) and counts damage, a second (when trimming) the loud range, the
    last encodes and writes. A file without one finite sample is an ``AudioReadError``.
    """
    audio, count, damage = audio_pieces(path, sample_rate, block)
    if damage.samples and damage.non_finite == damage.samples:
        raise AudioReadError(f"{path}: no finite samples (all NaN or infinite)")
    if (cancelled := damage.cancelled()) is not None:  # trained on as near silence before
        raise AudioReadError(f"{path}: {cancelled}")
    start, end = 0, count
    if silence_threshold is not None:
        rms = stream_frame_rms(audio())
        start, end = loud_span(rms, silence_threshold, count, TRIM_FRAME)
    pieces = unchanged(path, window(audio(), start, end), end - start)
    classes = (mu_law_encode(p, quantization_channels).astype(dtype) for p in pieces)
    write_npy_atomically(target, classes, end - start, dtype, hint)
    return damage.notes()


def audio_pieces(
    path: Path, sample_rate: int, block: int = CACHE_BLOCK
) -> tuple[Callable[[], Iterator[np.ndarray]], int, Damage]:
    """``load_audio(path, sample_rate)`` in pieces, decoding at most ``block`` frames at a
    time: ``(pieces, length, damage)`` where each call of ``pieces()`` decodes the file
    again into float32 pieces (T_i,) that together hold the samples ``load_audio``
    returns, ``length`` of them, and ``damage`` counts what the first pass (which found
    ``remove_dc``'s mean) decoded, and says where a decoding that failed part way stopped
    (``frame_blocks``: the frames before it are used)."""
    rate, damage = native_rate(path), Damage()
    total, count = float64_sum(
        mono_blocks(damage.counting(frame_blocks(path, block, damage)), rate, sample_rate)
    )
    mean = np.float64(total) / max(count, 1)

    def pieces() -> Iterator[np.ndarray]:  # where the first pass stopped, said once
        for mono in mono_blocks(frame_blocks(path, block, Damage()), rate, sample_rate):
            yield clean(shifted(mono, mean))

    return pieces, count, damage


def float64_sum(blocks: Iterable[np.ndarray]) -> tuple[float, int]:
    """The sum and the count of the float32 samples in ``blocks``; the sum to the bit what
    ``np.concatenate(blocks).sum(dtype=np.float64)`` gives. numpy adds up the pairwise sums
    of ``np.getbufsize()``-sample chunks in turn; the same chunks added in turn give the
    same float, and ``remove_dc``'s mean stays byte for byte."""
    chunk = np.getbufsize()
    total, count = 0.0, 0
    for piece in rechunk(blocks, chunk):
        for start in range(0, piece.size, chunk):
            total += float(piece[start : start + chunk].sum(dtype=np.float64))
        count += piece.size
    return total, count


def stream_frame_rms(blocks: Iterable[np.ndarray], frame: int = TRIM_FRAME) -> np.ndarray:
    """``frame_rms`` of the concatenated ``blocks`` (frames,), a block at a time."""
    parts = [frame_rms(piece, frame) for piece in rechunk(blocks, frame)]
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def rechunk(blocks: Iterable[np.ndarray], size: int) -> Iterator[np.ndarray]:
    """The samples of ``blocks`` again, in pieces whose lengths are multiples of ``size``
    (the last: what is left), so that ``size``-sample chunks of each piece begin where
    they begin in the concatenated whole."""
    pending = np.zeros(0, np.float32)
    for block in blocks:
        joined = np.concatenate([pending, block])
        whole = joined.size - joined.size % size
        if whole:
            yield joined[:whole]
        pending = joined[whole:]
    if pending.size:
        yield pending


def window(blocks: Iterable[np.ndarray], start: int, end: int) -> Iterator[np.ndarray]:
    """The samples ``start:end`` of the concatenated ``blocks``, in pieces; reads no
    block past ``end``."""
    offset = 0
    for block in blocks:
        piece = block[max(start - offset, 0) : max(end - offset, 0)]
        if piece.size:
            yield piece
        offset += block.size
        if offset >= end:
            return


def unchanged(path: Path, pieces: Iterable[np.ndarray], length: int) -> Iterator[np.ndarray]:
    """``pieces``, which must hold ``length`` samples as the first pass counted: fewer mean
    that ``path`` changed while it was decoded."""
    count = 0
    for piece in pieces:
        count += piece.size
        yield piece
    if count != length:
        raise AudioReadError(f"{path}: changed while it was decoded; run again")


def write_npy_atomically(
    path: Path, pieces: Iterable[np.ndarray], length: int, dtype: DTypeLike, hint: str = ""
) -> Path:
    """``runs.write_atomically(path, npy_bytes(np.concatenate(pieces)))`` for a (length,)
    array that is never whole in memory: the ``.npy`` header, then each piece as it comes,
    go to a temporary file beside ``path`` that replaces it in one rename once complete and
    synced. Whatever fails (making the pieces too), the previous file is intact and no
    temporary file is left; an OSError is a ``UserError`` naming the file and the reason,
    followed by ``hint``."""

    def replace(real: Path) -> None:
        _replace_in_pieces(real, pieces, length, np.dtype(dtype))

    return replace_atomically(path, replace, hint)


def _replace_in_pieces(
    path: Path, pieces: Iterable[np.ndarray], length: int, dtype: np.dtype
) -> None:
    tmp = path.with_name(f".{path.name[:200]}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        old = path.stat() if path.exists() else None
        write_new_file(tmp, _npy_header(length, dtype), old)  # keeps a replaced file's mode
        with open(tmp, "ab") as file:
            written = 0
            for piece in pieces:
                file.write(np.ascontiguousarray(piece, dtype=dtype).data)
                written += piece.size
            if written != length:
                raise ValueError(f"expected {length} values for {path}, got {written}")
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def _npy_header(length: int, dtype: np.dtype) -> bytes:
    """The header ``np.save`` writes for a (length,) array of ``dtype``."""
    buffer = io.BytesIO()
    descr = np.lib.format.dtype_to_descr(dtype)
    header = {"descr": descr, "fortran_order": False, "shape": (length,)}
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue()
