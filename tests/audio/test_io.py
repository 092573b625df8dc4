"""Signal maths against independent formulas, and real decoding of every container."""

from __future__ import annotations

import io
import math
import os
import re
import signal
import sys
import types

import numpy as np
import pytest
import soundfile as sf
import soxr

from wavenet_music.audio import io as io_module
from wavenet_music.audio.io import (
    AudioReadError,
    check_damage,
    frame_blocks,
    load_audio,
    load_audio_with_damage,
    loud_range,
    mu_law_decode,
    mu_law_encode,
    padded_slice,
    silence_class,
    trim_silence,
    write_wav,
)


def reference_mu_law(x: float, mu: int = 255) -> int:
    """G.711 mu-law written out scalar by scalar with the math module."""
    x = min(1.0, max(-1.0, x))
    y = math.copysign(math.log(1.0 + mu * abs(x)) / math.log(1.0 + mu), x)
    return math.floor((y + 1.0) * mu / 2.0 + 0.5)


def reference_mu_law_inverse(k: int, mu: int = 255) -> float:
    y = 2.0 * k / mu - 1.0
    return math.copysign(((1.0 + mu) ** abs(y) - 1.0) / mu, y)


def test_encode_matches_closed_form():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-1, 1, 5000), rng.normal(0, 0.01, 5000), [-1, 0, 1, 2, -3]])
    expected = np.array([reference_mu_law(float(v)) for v in x])
    np.testing.assert_array_equal(mu_law_encode(x), expected)


def test_every_level_round_trips():
    levels = np.arange(256)
    decoded = mu_law_decode(levels)
    np.testing.assert_allclose(decoded, [reference_mu_law_inverse(k) for k in levels], atol=1e-6)
    np.testing.assert_array_equal(mu_law_encode(decoded), levels)
    assert decoded.min() == pytest.approx(-1.0) and decoded.max() == pytest.approx(1.0)


def test_other_quantizations_round_trip():
    for q in (2, 16, 1024):
        levels = np.arange(q)
        np.testing.assert_array_equal(mu_law_encode(mu_law_decode(levels, q), q), levels)


def test_silence_is_the_middle_class():
    assert silence_class(256) == 128
    assert mu_law_encode(np.zeros(3)).tolist() == [128, 128, 128]
    assert all(silence_class(q) == q // 2 for q in (2, 3, 16, 255, 256, 1024, 65536))


def test_padded_slice_fills_outside_the_array():
    classes = np.arange(10, dtype=np.uint8)
    assert padded_slice(classes, -3, 6, 128, np.int64).tolist() == [128, 128, 128, 0, 1, 2]
    assert padded_slice(classes, 8, 4, 128, np.int64).tolist() == [8, 9, 128, 128]
    assert padded_slice(classes, 12, 2, 7, np.int64).tolist() == [7, 7]
    frames = np.ones((3, 2), dtype=np.float16)
    out = padded_slice(frames, 2, 3, -100.0, np.float32)  # rows keep their width
    assert out.dtype == np.float32 and out.tolist() == [[1, 1], [-100, -100], [-100, -100]]


def test_quantization_error_is_small_for_quiet_signals():
    x = np.linspace(-0.01, 0.01, 1001)
    error = np.abs(mu_law_decode(mu_law_encode(x)) - x)
    uniform_8_bit_error = 1 / 256  # half a step of a uniform 256-level quantizer
    assert error.max() < uniform_8_bit_error / 10  # mu-law spends its levels near zero


def _tone(rate: int, seconds: float, channels: int, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    mono = 0.5 * np.sin(2 * np.pi * freq * t)
    return np.stack([mono] * channels, axis=1).astype(np.float32)


@pytest.mark.parametrize(
    "suffix, fmt, subtype",
    [
        (".wav", "WAV", "PCM_16"),
        (".flac", "FLAC", "PCM_16"),
        (".ogg", "OGG", "VORBIS"),
        (".opus", "OGG", "OPUS"),
        (".mp3", "MP3", "MPEG_LAYER_III"),
    ],
)
def test_every_container_decodes_resampled_and_mono(tmp_path, suffix, fmt, subtype):
    rate = 48000 if suffix == ".opus" else 44100
    path = tmp_path / f"tone{suffix}"
    sf.write(path, _tone(rate, 1.0, 2), rate, format=fmt, subtype=subtype)
    audio = load_audio(path, 16000)
    assert audio.ndim == 1 and audio.dtype == np.float32
    assert abs(audio.size - 16000) < 1200  # codecs add priming/padding frames
    spectrum = np.abs(np.fft.rfft(audio[2000:14000]))
    peak_hz = np.argmax(spectrum) * 16000 / 12000
    assert abs(peak_hz - 440) < 5


def test_resampling_keeps_frequency_and_removes_images(tmp_path):
    path = tmp_path / "high.wav"
    sf.write(path, _tone(44100, 1.0, 1, freq=1000.0), 44100)
    audio = load_audio(path, 16000)
    spectrum = np.abs(np.fft.rfft(audio))
    freqs = np.fft.rfftfreq(audio.size, 1 / 16000)
    assert abs(freqs[np.argmax(spectrum)] - 1000) < 2
    assert spectrum[freqs > 2000].max() < 1e-2 * spectrum.max()


def test_mixdown_of_eight_channels(tmp_path):
    frames = np.zeros((16000, 8), dtype=np.float32)
    frames[:, 3] = _tone(16000, 1.0, 1)[:, 0]
    path = tmp_path / "eight.wav"
    sf.write(path, frames, 16000, subtype="FLOAT")
    np.testing.assert_allclose(load_audio(path, 16000), frames[:, 3] / 8, atol=1e-5)


def test_channels_that_cancel_in_the_mix_are_refused_and_stereo_music_is_not(tmp_path):
    """A stereo file whose right channel is the left inverted mixes to near silence (in
    16 bits, -82 dB: rounding keeps it off digital silence), used as sound before; a
    seed audio or prime of it is one line. Uncorrelated channels, one channel among many
    and a partly inverted one are mixed as before."""
    tone = _tone(16000, 1.0, 1)[:, 0]
    noise = np.random.default_rng(0).standard_normal((16000, 2)).astype(np.float32) * 0.1
    one_of_many = np.zeros((16000, 64), np.float32)
    one_of_many[:, 7] = tone
    cases = {
        "inverted.wav": (np.stack([tone, -tone], 1), True),
        "wide.wav": (noise, False),
        "one_of_many.wav": (one_of_many, False),
        "partly.wav": (np.stack([tone, -0.7 * tone], 1), False),
    }
    for name, (frames, cancels) in cases.items():
        sf.write(tmp_path / name, frames, 16000, subtype="PCM_16")
        audio, damage = load_audio_with_damage(tmp_path / name, 16000)
        if not cancels:
            assert damage.cancelled() is None, name
            check_damage(tmp_path / name, damage, "the seed audio", "pass another")
            continue
        assert np.abs(audio).max() < 1e-3  # what the mix left
        with pytest.raises(AudioReadError) as caught:
            check_damage(tmp_path / name, damage, "the seed audio", "pass another")
        message = str(caught.value)
        assert "\n" not in message and message.startswith(f"{tmp_path / name}: its channels")
        assert re.search(r"cancel when mixed to mono \(the mix is \d+ dB below them", message)
        assert message.endswith("invert one channel, or keep one (the seed audio: pass another)")


def test_non_finite_samples_become_silence_and_dc_goes(tmp_path):
    frames = _tone(16000, 1.0, 1)[:, 0] + 0.3
    frames[[10, 20, 30]] = [np.nan, np.inf, -np.inf]
    path = tmp_path / "bad.wav"
    sf.write(path, frames, 16000, subtype="FLOAT")
    audio = load_audio(path, 16000)
    assert np.isfinite(audio).all() and abs(float(audio.mean())) < 1e-4
    expected = np.delete(frames, [10, 20, 30]) - 0.3
    np.testing.assert_allclose(np.delete(audio, [10, 20, 30]), expected, atol=2e-4)


def test_garbage_is_reported_with_its_name(tmp_path):
    path = tmp_path / "noise.ogg"
    path.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(AudioReadError, match=r"noise\.ogg"):
        load_audio(path, 16000)


def test_trim_silence_only_touches_the_ends():
    quiet, loud = np.zeros(4096, np.float32), np.full(4096, 0.5, np.float32)
    audio = np.concatenate([quiet, loud, quiet, loud, quiet])
    trimmed = trim_silence(audio, threshold=0.01, frame=1024)
    assert trimmed.size == 3 * 4096  # the quiet passage in the middle stays
    assert trim_silence(quiet, 0.01).size == 0


def test_loud_range_is_what_trim_silence_keeps():
    quiet, loud = np.zeros(3000, np.float32), np.full(2000, 0.5, np.float32)
    audio = np.concatenate([quiet, loud, quiet])
    start, end = loud_range(audio, threshold=0.01, frame=1000)
    assert (start, end) == (3000, 5000)
    np.testing.assert_array_equal(trim_silence(audio, 0.01, frame=1000), audio[start:end])
    assert loud_range(quiet, 0.01) == (0, 0) and loud_range(quiet[:0], 0.01) == (0, 0)


def test_write_wav_is_16_bit_and_exact(tmp_path):
    audio = np.linspace(-1, 1, 1000, dtype=np.float32)
    write_wav(tmp_path / "x.wav", audio, 16000)
    info = sf.info(tmp_path / "x.wav")
    assert (info.samplerate, info.subtype, info.frames) == (16000, "PCM_16", 1000)
    back, _ = sf.read(tmp_path / "x.wav", dtype="float32")
    np.testing.assert_allclose(back, audio, atol=1 / 32767)
    assert not list(tmp_path.glob(".*tmp"))


class _CtrlCOnRead(io.FileIO):
    """A file whose first read (soundfile's, from inside a cffi callback) meets a Ctrl-C,
    as a user pressing it while a long FLAC decodes does."""

    def readinto(self, buffer) -> int:
        if not getattr(self, "pressed", False):
            self.pressed = True
            os.kill(os.getpid(), signal.SIGINT)  # handled inside the callback
        return super().readinto(buffer)


def load_audio_16k(path):
    return load_audio(path, 16000)


@pytest.mark.parametrize("read", [lambda path: list(frame_blocks(path, 1024)), load_audio_16k])
def test_a_ctrl_c_while_soundfile_reads_stops_the_decoding(tmp_path, monkeypatch, read):
    """cffi prints and drops an exception raised in its callback: the Ctrl-C was lost in 4
    of 6 tries and training went on; held until soundfile returns, it stops the read."""
    path = tmp_path / "long.flac"
    sf.write(path, np.random.default_rng(0).uniform(-0.5, 0.5, 5 * 16000), 16000)
    monkeypatch.setattr(io_module, "open", lambda p, mode: _CtrlCOnRead(p, "r"), raising=False)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # xdist's ignores it
    try:
        with pytest.raises(KeyboardInterrupt):
            read(path)
    finally:
        signal.signal(signal.SIGINT, previous)


def test_decoding_holds_four_bytes_a_sample_and_the_values_of_the_formula():
    """The decode of a long batch peaked at about 40 bytes a sample (float64 steps over
    the whole array): 18 GB for 8 clips of an hour at the end of a generation."""
    import tracemalloc

    classes = np.random.default_rng(0).integers(0, 256, (8, 500_000))
    tracemalloc.start()
    audio = mu_law_decode(classes)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert audio.dtype == np.float32 and peak <= 4.1 * classes.size
    for k in (0, 1, 127, 128, 200, 255):
        assert audio[classes == k][:1].tolist() in ([], [np.float32(reference_mu_law_inverse(k))])


def _with_frame_count(flac: bytes, frames: int) -> bytes:
    """``flac`` with the 36-bit total-samples field of its STREAMINFO set to ``frames``
    (the block starts at byte 8: "fLaC", then a 4-byte block header)."""
    info = bytearray(flac)
    assert info[:4] == b"fLaC" and info[4] & 0x7F == 0  # STREAMINFO comes first
    field = int.from_bytes(info[8 + 10 : 8 + 18], "big")  # rate, channels, bits, samples
    field = (field & ~((1 << 36) - 1)) | frames
    info[8 + 10 : 8 + 18] = field.to_bytes(8, "big")
    return bytes(info)


def test_a_header_that_claims_more_frames_than_memory_decodes_the_frames_there_are(tmp_path):
    """A FLAC whose header counts 68.7 billion frames (256 GiB as float32) and holds one
    second: soundfile allocated what the header counted, and `report` blamed its own
    --seconds for "out of memory (256. GiB asked for at once)". Now the frames there are."""
    honest, forged = tmp_path / "honest.flac", tmp_path / "forged.flac"
    sf.write(honest, _tone(16000, 1.0, 2), 16000, subtype="PCM_16")
    forged.write_bytes(_with_frame_count(honest.read_bytes(), (1 << 36) - 1))
    assert sf.info(str(forged)).frames == (1 << 36) - 1
    np.testing.assert_array_equal(load_audio(forged, 16000), load_audio(honest, 16000))
    header_only = tmp_path / "header_only.flac"  # the metadata alone, no audio frame
    header_only.write_bytes(forged.read_bytes()[: _metadata_end(forged.read_bytes())])
    assert load_audio(header_only, 16000).size == 0  # nothing there: nothing decoded


def _metadata_end(flac: bytes) -> int:
    """Where the audio frames of ``flac`` start: after its last metadata block."""
    at = 4
    while True:
        last, length = flac[at] & 0x80, int.from_bytes(flac[at + 1 : at + 4], "big")
        at += 4 + length
        if last:
            return at


def test_a_damaged_header_prints_no_traceback_from_soundfile_s_callbacks(tmp_path, monkeypatch):
    """An RF64 whose ds64 chunk counts 260 TB of data: libsndfile seeks past what the
    file holds, soundfile's seek callback raised, and Python printed two tracebacks
    ("Exception ignored from cffi callback ... OSError: [Errno 22] Invalid argument")
    while the file decoded. Found by fuzzing the decoder. Now it decodes quietly, to the
    honest file's samples, and the hook is as it was afterwards."""
    honest, damaged = tmp_path / "honest.rf64", tmp_path / "damaged.rf64"
    sf.write(honest, _tone(16000, 0.5, 1), 16000, format="RF64", subtype="PCM_16")
    header = bytearray(honest.read_bytes())
    assert header[12:16] == b"ds64"
    header[33] = 0xED  # the data size, bytes 28-35: the sixth byte
    damaged.write_bytes(bytes(header))
    reached: list = []
    monkeypatch.setattr(sys, "unraisablehook", reached.append)
    np.testing.assert_array_equal(load_audio(damaged, 16000), load_audio(honest, 16000))
    assert np.concatenate(list(frame_blocks(damaged))).size == 8000
    assert reached == []
    elsewhere = RuntimeError("not soundfile's")
    sys.unraisablehook(types.SimpleNamespace(err_msg="Exception ignored in", exc_value=elsewhere))
    assert [u.exc_value for u in reached] == [elsewhere]  # the hook is back as it was


def _mp3_with_garbage(tmp_path, seconds: float = 10.0) -> tuple:
    """(a healthy MP3 of a tone at 16 kHz, the same with 1 KiB of garbage at its middle,
    more than the decoder resyncs past)."""
    healthy, damaged = tmp_path / "healthy.mp3", tmp_path / "damaged.mp3"
    sf.write(healthy, _tone(16000, seconds, 1), 16000, format="MP3")
    data = healthy.read_bytes()
    damaged.write_bytes(data[: len(data) // 2] + bytes(range(256)) * 4 + data[len(data) // 2 :])
    return healthy, damaged


def test_a_file_that_fails_part_way_gives_the_frames_before_the_failure_and_says_so(tmp_path):
    """An MP3 of 10 s with a stretch of garbage at 5 s: the decoder gives up there, and the
    whole file was skipped ("cannot decode (Unspecified internal error)"), an hour-long
    mix for one glitch. Where the caller counts damage, the blocks before the failure are
    used (the first 4.1 s: one block of 65,536 frames, as the healthy file decodes them)
    and the damage says where it stopped; the training cache holds them with that
    warning. Without a damage to say it in, it is an error as before."""
    from wavenet_music.audio.cache_blocks import write_training_classes
    from wavenet_music.audio.io import Damage, load_audio_with_damage

    healthy, damaged = _mp3_with_garbage(tmp_path)
    with pytest.raises(AudioReadError, match=r"damaged\.mp3: cannot decode"):
        load_audio(damaged, 16000)
    with pytest.raises(AudioReadError, match=r"damaged\.mp3: cannot decode"):
        list(frame_blocks(damaged))
    damage = Damage()
    before = np.concatenate(list(frame_blocks(damaged, damage=damage)))
    expected = np.concatenate(list(frame_blocks(healthy)))[: io_module.CACHE_BLOCK]
    np.testing.assert_array_equal(before, expected)
    assert damage.stopped.startswith("decoding failed after 4.1 s of the 10.")
    assert damage.stopped.endswith("; the first 4.1 s are used")
    audio, whole = load_audio_with_damage(damaged, 16000)
    assert audio.size == io_module.CACHE_BLOCK and whole.notes() == [damage.stopped]
    notes = write_training_classes(damaged, tmp_path / "cache.npy", 16000, 256, np.uint8)
    assert notes == [damage.stopped] and np.load(tmp_path / "cache.npy").size == audio.size


def test_a_file_that_fails_in_its_first_block_is_an_error_even_where_damage_is_counted(tmp_path):
    from wavenet_music.audio.io import Damage

    _, damaged = _mp3_with_garbage(tmp_path, seconds=2.0)  # one block: nothing before it
    with pytest.raises(AudioReadError, match=r"damaged\.mp3: cannot decode"):
        list(frame_blocks(damaged, damage=Damage()))


def test_an_mp3_cut_short_gives_the_frames_there_are_and_says_so(tmp_path):
    """A download cut off part way: an MP3 of 10 s whose second half is missing decodes
    without an error (its Xing header still counts 10 s) and was used without a word.
    Where damage is counted it says how much of the counted length there was, in the
    whole-file read, in blocks and in the training cache; the healthy file says nothing,
    and a WAV cut the same way needs no note (its length comes from what is there)."""
    from wavenet_music.audio.cache_blocks import write_training_classes
    from wavenet_music.audio.io import Damage, load_audio_with_damage

    healthy, cut = tmp_path / "healthy.mp3", tmp_path / "cut.mp3"
    sf.write(healthy, _tone(16000, 10.0, 1), 16000, format="MP3")
    data = healthy.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    audio, damage = load_audio_with_damage(cut, 16000)
    assert 4.5 * 16000 < audio.size < 5.5 * 16000
    (note,) = damage.notes()
    seconds = f"{audio.size / 16000:.1f} s"
    assert note == (
        f"decoding ended after {seconds} of the 10.0 s its header counts (the file is cut "
        f"short); the first {seconds} are used"
    )
    blocks = Damage()
    decoded = np.concatenate(list(frame_blocks(cut, block=4096, damage=blocks)))
    assert decoded.shape[0] == audio.size and blocks.notes() == [note]
    notes = write_training_classes(cut, tmp_path / "cache.npy", 16000, 256, np.uint8)
    assert notes == [note] and np.load(tmp_path / "cache.npy").size == audio.size
    assert load_audio_with_damage(healthy, 16000)[1].notes() == []
    assert write_training_classes(healthy, tmp_path / "whole.npy", 16000, 256, np.uint8) == []
    wav = tmp_path / "cut.wav"
    sf.write(wav, _tone(16000, 10.0, 1), 16000)
    wav.write_bytes(wav.read_bytes()[: 44 + 2 * 80000])
    audio, damage = load_audio_with_damage(wav, 16000)
    assert audio.size == 80000 and damage.notes() == []


def test_decoding_holds_the_result_at_the_model_s_rate_not_the_file_s_frames(tmp_path):
    """A minute of 44.1 kHz stereo decoded to 16 kHz mono: the whole-file read held every
    frame at the file's rate and channels and each step between (1.1 GB for 20 minutes,
    measured; `report` and `--seed-audio` on a two-hour mix would have taken 6.7 GB).
    Now the peak is the result's pieces and their join, 8 bytes a sample at 16 kHz, and a
    block; the samples those of the formula: mixed, resampled whole, less the mean."""
    import tracemalloc

    path = tmp_path / "minute.flac"
    rng = np.random.default_rng(0)
    stereo = _tone(44100, 60.0, 2) * 0.5 + 0.01 * rng.standard_normal((44100 * 60, 2))
    sf.write(path, stereo.astype(np.float32), 44100, subtype="PCM_16")
    tracemalloc.start()
    audio = load_audio(path, 16000)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert audio.dtype == np.float32 and audio.size == 16000 * 60
    assert peak <= 8 * audio.nbytes // 4 + 2 * io_module.CACHE_BLOCK * 2 * 4 + (1 << 20)
    frames, _ = sf.read(path, dtype="float32", always_2d=True)
    mono = soxr.resample(frames.mean(axis=1, dtype=np.float32), 44100, 16000, quality="HQ")
    expected = np.clip(mono.astype(np.float32) - mono.mean(dtype=np.float64), -1, 1)
    np.testing.assert_array_equal(audio, expected.astype(np.float32))
