"""A softer pitch measure than transcription, and a rhythm measure.
chroma cos: per 32-ms frame (STFT 2048, hop 512), salience of each key 36-96 (magnitude
within ±40 cents of its fundamental, or its nearest bin) folded to 12 pitch classes, cosine with the score's
velocity-weighted sounding chroma; mean over frames after the prime where the score sounds.
floor: the same against the score transposed by +1..+11 (mean). onset r: Pearson
correlation of the render's positive spectral flux with the score's onset train (both
smoothed by 3 frames)."""
import sys
import numpy as np, soundfile as sf
from scoring import midi_notes
SR, N, HOPS = 16000, 2048, 512
freqs = np.fft.rfftfreq(N, 1 / SR)

def salience(a):
    frames = np.lib.stride_tricks.sliding_window_view(a, N)[::HOPS] * np.hanning(N)
    mag = np.abs(np.fft.rfft(frames, axis=1))
    chroma = np.zeros((len(mag), 12))
    for p in range(36, 97):
        f = 440 * 2 ** ((p - 69) / 12)
        sel = (np.abs(1200 * np.log2(np.maximum(freqs, 1) / f)) < 40) | (np.arange(len(freqs)) == np.argmin(np.abs(freqs - f)))
        chroma[:, p % 12] += mag[:, sel].max(axis=1)
    flux = np.r_[0, np.maximum(np.diff(np.log1p(mag), axis=0), 0).sum(1)]
    return chroma, flux

def score_chroma(ref, n, shift=0):
    c = np.zeros((n, 12)); on = np.zeros(n)
    t = (np.arange(n) * HOPS + N / 2) / SR
    for s, e, p, v in ref:
        c[(t >= s) & (t < e), (p + shift) % 12] += v
        k = int(round((s * SR - N / 2) / HOPS))
        if 0 <= k < n: on[k] += 1
    return c, on

def cos(a, b):
    m = (np.linalg.norm(b, axis=1) > 0) & (np.linalg.norm(a, axis=1) > 0)
    return float(np.mean((a[m] * b[m]).sum(1) / np.linalg.norm(a[m], axis=1) / np.linalg.norm(b[m], axis=1)))

sm = lambda x: np.convolve(x, np.ones(3) / 3, "same")
for wav in sys.argv[1:]:
    piece = "bach_bwv846" if "bach" in wav else "mozart_k545_movement1_exposition"
    ref = midi_notes(f"/tmp/notes_exp/data/heldout/{piece}.mid")
    a, _ = sf.read(wav, dtype="float32")
    ch, flux = salience(a)
    first = 1536 // HOPS + 2
    sc, on = score_chroma(ref, len(ch))
    c0 = cos(ch[first:], sc[first:])
    fl = np.mean([cos(ch[first:], score_chroma(ref, len(ch), k)[0][first:]) for k in range(1, 12)])
    r = np.corrcoef(sm(flux[first:]), sm(on[first:]))[0, 1]
    print(f"{wav.split('/')[-1]:55s} chroma cos {c0:.3f} (floor {fl:.3f}, lift {c0 - fl:+.3f})  onset r {r:+.3f}")
