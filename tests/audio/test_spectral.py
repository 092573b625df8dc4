"""Audio statistics against independent formulas, known signals and real music."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from wavenet_music.audio.io import load_audio
from wavenet_music.audio.spectral import (
    click_rate,
    clip_statistics,
    frame_flatness,
    frame_level_db,
    hz_to_mel,
    log_mel_spectrogram,
    mean_log_mel_distance,
    mel_filterbank,
    mel_to_hz,
    power_spectrogram,
    rms_envelope,
    shape_and_level,
    spectral_centroid,
    spectral_flatness,
)

SR = 16000
N_FFT = 1024
EULER_GAMMA = 0.5772156649015329


def slaney_mel(hz: float) -> float:
    """Slaney's Auditory Toolbox, written out independently: 3 mel per 200 Hz up to 1 kHz,
    then 27 mel per factor 6.4 in frequency."""
    return 3 * hz / 200 if hz < 1000 else 15 + 27 * math.log(hz / 1000) / math.log(6.4)


def slaney_hz(mel: float) -> float:
    return 200 * mel / 3 if mel < 15 else 1000 * 6.4 ** ((mel - 15) / 27)


def band_edges(n_mels: int) -> list[float]:
    """n_mels + 2 edge frequencies, equally spaced in mel from 0 Hz to Nyquist."""
    top = slaney_mel(SR / 2)
    return [slaney_hz(top * k / (n_mels + 1)) for k in range(n_mels + 2)]


def tone(freq: float, seconds: float = 1.0, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return amplitude * np.sin(2 * np.pi * freq * t)


def noise(seconds: float = 2.0, rms: float = 0.1, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(int(seconds * SR)) * rms


def tilted(audio: np.ndarray, slope: float) -> np.ndarray:
    """Multiply the spectrum by (f / 1 kHz)^slope: a tilt of 6·slope dB per octave."""
    spectrum = np.fft.rfft(audio)
    freqs = np.maximum(np.fft.rfftfreq(audio.size, 1 / SR), 20.0)
    return np.fft.irfft(spectrum * (freqs / 1000) ** slope, n=audio.size)


# --- the mel scale and filterbank -------------------------------------------------------


def test_slaney_mel_scale_at_known_points():
    assert hz_to_mel(500) == pytest.approx(7.5)
    assert hz_to_mel(1000) == pytest.approx(15.0)
    assert hz_to_mel(6400) == pytest.approx(42.0)
    for hz in (50.0, 440.0, 999.0, 1001.0, 3000.0, 7999.0):
        assert hz_to_mel(hz) == pytest.approx(slaney_mel(hz))


@given(st.floats(min_value=0.0, max_value=24000.0))
def test_mel_to_hz_inverts_hz_to_mel(hz):
    assert mel_to_hz(hz_to_mel(hz)) == pytest.approx(hz, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("n_mels", [40, 80])
def test_filter_peaks_sit_at_the_mel_spaced_centres(n_mels):
    filters = mel_filterbank(SR, N_FFT, n_mels)  # (M, K)
    bins = np.fft.rfftfreq(N_FFT, 1 / SR)
    bin_width = SR / N_FFT
    edges = band_edges(n_mels)
    assert filters.shape == (n_mels, N_FFT // 2 + 1)
    for m in range(n_mels):
        lower, centre, upper = edges[m], edges[m + 1], edges[m + 2]
        support = bins[filters[m] > 0]
        assert abs(bins[filters[m].argmax()] - centre) < bin_width  # one of the 2 nearest bins
        assert support.min() > lower and support.max() < upper  # zero outside its neighbours
    np.testing.assert_allclose(filters.sum(axis=1), 1.0)


@pytest.mark.parametrize("freq", [150.0, 440.0, 1000.0, 2500.0, 6000.0])
def test_a_pure_tone_lands_in_its_band(freq):
    spectrum = log_mel_spectrogram(tone(freq), SR).mean(axis=0)  # (80,)
    centres = np.array(band_edges(80)[1:-1])
    nearest = int(np.argmin(np.abs(centres - freq)))
    assert abs(int(spectrum.argmax()) - nearest) <= 1
    assert spectrum.max() - np.median(spectrum) > 40  # the rest of the spectrum is far below


def test_white_noise_has_a_flat_log_mel_spectrum():
    spectrum = log_mel_spectrogram(noise(seconds=8.0), SR).mean(axis=0)  # (80,)
    assert spectrum.std() < 1.0


def test_a_full_scale_sine_reads_0_db_in_its_peak_bin():
    freq = 64 * SR / N_FFT  # exactly on bin 64
    power = power_spectrogram(tone(freq, amplitude=1.0))
    assert power[:, 64] == pytest.approx(1.0, rel=1e-6)


# --- flatness, centroid, envelope ---------------------------------------------------------


def test_flatness_of_white_noise_is_exp_minus_gamma_and_of_a_sine_near_zero():
    # One frame's periodogram bins of white noise are exponentially distributed, and for
    # an exponential variable E[ln P] = ln E[P] - γ, so geometric / arithmetic → e^-γ.
    assert spectral_flatness(noise()) == pytest.approx(math.exp(-EULER_GAMMA), abs=0.02)
    assert spectral_flatness(tone(440.0)) < 1e-3
    assert spectral_flatness(tone(440.0)) < spectral_flatness(noise()) / 100
    assert math.isnan(spectral_flatness(np.zeros(SR)))


def test_each_frame_has_its_own_flatness_and_level():
    """Noise, then silence, then a sine, frame by frame (1024 samples, 256 apart): each
    frame's flatness is its own (e^-γ, NaN, near 0), its level its mean square in dB (an
    independent formula: 10 log10(rms²); a sine of amplitude A, A² / 2), and the clip's
    flatness is the mean over its frames that sound."""
    clip = np.concatenate([noise(0.5, rms=0.1), np.zeros(SR // 2), tone(440.0, 0.5, 0.5)])
    flatness, level = frame_flatness(clip), frame_level_db(clip)
    frames = (len(clip) - N_FFT) // 256 + 1
    assert flatness.shape == level.shape == (frames,)
    inside = {"noise": slice(0, 25), "silence": slice(35, 56), "sine": slice(67, frames)}
    assert np.mean(flatness[inside["noise"]]) == pytest.approx(math.exp(-EULER_GAMMA), abs=0.03)
    assert np.isnan(flatness[inside["silence"]]).all()
    assert (flatness[inside["sine"]] < 1e-3).all()
    assert level[inside["noise"]] == pytest.approx(20 * math.log10(0.1), abs=0.5)
    assert (level[inside["silence"]] == -200).all()
    assert level[inside["sine"]] == pytest.approx(10 * math.log10(0.5**2 / 2), abs=0.05)
    assert spectral_flatness(clip) == pytest.approx(np.nanmean(flatness))
    assert frame_level_db(np.ones(100)).tolist() == pytest.approx([10 * math.log10(100 / N_FFT)])


@pytest.mark.parametrize("freq", [220.0, 440.0, 1234.5, 5000.0])
def test_centroid_of_a_sine_is_its_frequency(freq):
    assert spectral_centroid(tone(freq), SR) == pytest.approx(freq, abs=1.0)


def test_centroid_of_white_noise_is_a_quarter_of_the_sample_rate():
    assert spectral_centroid(noise(), SR) == pytest.approx(SR / 4, rel=0.03)


def test_rms_envelope_of_known_signals():
    frame = 100
    steps = np.concatenate([np.zeros(frame), np.full(frame, 0.5), np.full(frame, -0.25)])
    np.testing.assert_allclose(rms_envelope(steps, frame), [0.0, 0.5, 0.25])
    sine = tone(SR / frame, seconds=0.5, amplitude=0.8)  # whole periods in every frame
    np.testing.assert_allclose(rms_envelope(sine, frame), 0.8 / math.sqrt(2), rtol=1e-9)
    ragged = np.concatenate([np.full(frame, 1.0), np.full(30, 0.3)])  # a short last frame
    np.testing.assert_allclose(rms_envelope(ragged, frame), [1.0, 0.3])


def test_clip_statistics_of_a_sine():
    stats = clip_statistics(tone(440.0, amplitude=0.5), SR)
    assert stats["seconds"] == pytest.approx(1.0)
    assert stats["rms_db"] == pytest.approx(20 * math.log10(0.5 / math.sqrt(2)), abs=0.01)
    assert stats["peak_db"] == pytest.approx(20 * math.log10(0.5), abs=0.01)
    assert stats["centroid_hz"] == pytest.approx(440.0, abs=1.0)
    assert stats["loudness_spread_db"] < 0.1
    assert stats["clicks_per_s"] == 0.0


def test_clicks_are_counted_where_adjacent_samples_jump_over_half_full_scale():
    """A loud 1-kHz sine never jumps that far in a sample; 8 one-sample spikes (16 jumps)
    in 2 s read 8 a second; one step of 0.51 in 2 s reads 0.5, a step of exactly 0.5 none."""
    audio = tone(1000.0, seconds=2.0, amplitude=0.9)
    assert click_rate(audio, SR) == 0.0
    steps = np.zeros(2 * SR)
    steps[1000:9000:1000] = 0.6  # 8 single-sample spikes: 2 jumps each
    assert click_rate(steps, SR) == pytest.approx(8.0)
    assert click_rate(np.repeat([0.0, 0.5], [SR, SR]), SR) == 0.0
    assert click_rate(np.repeat([0.0, 0.51], [SR, SR]), SR) == pytest.approx(0.5)
    assert click_rate(np.zeros(0), SR) == 0.0


# --- the distance between sets of clips ---------------------------------------------------


def test_log_mel_distance_is_zero_to_itself_and_a_gain_in_db():
    clips = [noise(seed=1), tone(440.0, seconds=2.0) + noise(rms=0.01, seed=2)]
    assert mean_log_mel_distance(clips, clips, SR) == pytest.approx(0.0, abs=1e-9)
    doubled = [2 * c for c in clips]
    assert mean_log_mel_distance(clips, doubled, SR) == pytest.approx(20 * math.log10(2), abs=1e-6)


def test_log_mel_distance_grows_with_spectral_tilt():
    clips = [noise(seed=s) for s in range(3)]
    distances = [
        mean_log_mel_distance(clips, [tilted(c, slope) for c in clips], SR)
        for slope in (0.1, 0.3, 0.6, 1.0)
    ]
    assert distances == sorted(distances), distances
    assert distances[0] > 0.5


def test_shape_and_level_split_the_distance_into_tilt_and_gain():
    """A gain moves the level by exactly its dB and leaves the shape 0; a tilt moves the
    shape, which grows with it; shape² + level² is the distance²."""
    clips = [noise(seed=s) for s in range(3)]
    shape, level = shape_and_level([0.25 * c for c in clips], clips, SR)
    assert shape == pytest.approx(0.0, abs=1e-6)
    assert level == pytest.approx(20 * math.log10(0.25), abs=1e-6)
    shapes = []
    for slope in (0.1, 0.3, 0.6, 1.0):
        other = [0.5 * tilted(c, slope) for c in clips]
        shape, level = shape_and_level(other, clips, SR)
        distance = mean_log_mel_distance(other, clips, SR)
        assert shape**2 + level**2 == pytest.approx(distance**2, rel=1e-9)
        shapes.append(shape)
    assert shapes == sorted(shapes) and shapes[0] > 0.5, shapes


def test_real_piano_is_far_from_white_noise(music_root):
    piano = load_audio(sorted((music_root / "piano").glob("*.flac"))[0], SR)
    length = 2 * SR
    excerpts = [piano[start : start + length] for start in (5 * SR, 12 * SR, 20 * SR)]
    rms = float(np.sqrt(np.mean(np.concatenate(excerpts) ** 2)))
    white = [noise(seconds=2.0, rms=rms, seed=s) for s in range(3)]
    to_noise = mean_log_mel_distance(excerpts, white, SR)
    piano_to_piano = mean_log_mel_distance(excerpts[:1], excerpts[1:], SR)
    assert to_noise > 10.0  # measured 11.6 dB; 2-second piano excerpts differ by ~5 dB
    assert piano_to_piano < to_noise / 2
    noise_shape, _ = shape_and_level(white, excerpts, SR)  # levels matched: still far
    piano_shape, _ = shape_and_level(excerpts[:1], excerpts[1:], SR)
    assert noise_shape > 8.0 and piano_shape < 0.6 * noise_shape  # measured 10.0 and 5.4 dB
    assert clip_statistics(excerpts[0], SR)["flatness"] < 0.1
