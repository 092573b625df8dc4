"""What a listener gets: the audio a model wrote, made fit to play, as a mastering engineer
finishes a mix before it leaves the studio.

- **No infrasound.** A WaveNet can wander away from zero by up to half of full scale for
  seconds (measured on the demo's ambient pieces: 88-98% of their energy below 20 Hz, the
  music itself at -24 dBFS under a -9 dBFS wander), which no one hears, a loudspeaker
  moves for and every level meter counts. A second-order Butterworth high-pass at
  ``SUBSONIC_HZ`` run forwards and backwards (zero phase: -80 dB at 1 Hz, -25 dB at 5 Hz,
  -6 dB at 10 Hz, -0.5 dB at 20 Hz, -0.15 dB at the piano's lowest A, 27.5 Hz) takes it
  out.
- **No click at either end.** A clip that starts or stops mid-sound steps from or to
  silence: a raised-cosine fade over the first ``FADE_IN_S`` and over the last
  ``FADE_OUT_S`` (at most ``FADE_OUT_SHARE`` of a short clip), so a piece cut at its length
  ends instead of stopping dead.

Only what is written and heard is finished; the model's own history (the samples it
conditions on) never is.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, sosfiltfilt

SUBSONIC_HZ = 10.0  # the high-pass's corner, Hz
SUBSONIC_ORDER = 2  # per pass: zero-phase filtering runs it twice (-24 dB/octave in all)
FADE_IN_S = 0.01  # seconds: removes the step from silence, no more
FADE_OUT_S = 0.5  # seconds: a piece ends rather than stops
FADE_OUT_SHARE = 0.05  # at most this share of a clip fades out (a 1-s clip: 50 ms)


def subsonic_filtered(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """``audio`` (..., T) without what lies below ``SUBSONIC_HZ``, phase kept (float32).
    Clips too short for the filter's edge padding are only freed of their mean."""
    x = np.asarray(audio, dtype=np.float64)
    sos = butter(SUBSONIC_ORDER, SUBSONIC_HZ, btype="highpass", fs=sample_rate, output="sos")
    pad = 3 * (2 * len(sos) + 1)  # sosfiltfilt's own default padding
    if x.shape[-1] == 0:
        return x.astype(np.float32)
    if x.shape[-1] <= pad:
        return (x - x.mean(axis=-1, keepdims=True)).astype(np.float32)
    return sosfiltfilt(sos, x, axis=-1).astype(np.float32)


def faded(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """``audio`` (..., T) with raised-cosine fades: in over ``FADE_IN_S``, out over
    ``FADE_OUT_S`` or ``FADE_OUT_SHARE`` of the clip, whichever is shorter."""
    x = np.array(audio, dtype=np.float32)
    length = x.shape[-1]
    fade_in = min(round(FADE_IN_S * sample_rate), length)
    fade_out = min(round(FADE_OUT_S * sample_rate), int(FADE_OUT_SHARE * length))
    x[..., :fade_in] *= _rising(fade_in)
    if fade_out:
        x[..., length - fade_out :] *= _rising(fade_out)[::-1]
    return x


def for_listening(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """``audio`` (..., T) finished to be heard: ``subsonic_filtered``, then ``faded``, held
    within full scale as a WAV file holds it (the filter can overshoot a clip that swings
    from one extreme to the other)."""
    return np.clip(faded(subsonic_filtered(audio, sample_rate), sample_rate), -1.0, 1.0)


def _rising(length: int) -> np.ndarray:
    """Raised-cosine gains from 0 towards 1 over ``length`` samples, (length,)."""
    return (0.5 - 0.5 * np.cos(np.pi * np.arange(length) / max(length, 1))).astype(np.float32)
