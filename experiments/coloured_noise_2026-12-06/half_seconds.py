"""The flatness of every half second (a quarter second apart, louder than -40 dBFS, freed of
infrasound) of the files each glob names, as the noise guard judges them; quantiles and the
share over each bound. Usage: python half_seconds.py GLOB [GLOB ...]"""

import sys, glob, numpy as np, soundfile as sf, soxr
from wavenet_music.wavenet.noise_guard import windows
from wavenet_music.audio.spectral import spectral_flatness
from wavenet_music.audio.finish import subsonic_filtered


def halves(path):
    x, sr = sf.read(path, dtype="float32", always_2d=True)
    x = x.mean(1)
    if sr != 16000:
        x = soxr.resample(x, sr, 16000)
    x = subsonic_filtered(x[None], 16000)[0]
    out = []
    for a, b in windows(len(x), 8000, 4000):
        seg = x[a:b]
        if 10 * np.log10(np.mean(seg.astype(np.float64) ** 2) + 1e-20) > -40:
            out.append(spectral_flatness(seg))
    return np.array(out)


for pattern in sys.argv[1:]:
    files = sorted(glob.glob(pattern))
    v = np.concatenate([halves(f) for f in files]) if files else np.array([])
    if len(v) == 0:
        print(pattern, "none")
        continue
    qs = np.quantile(v, [0.5, 0.9, 0.99, 1.0])
    print(
        f"{pattern}: {len(v)} halves, median {qs[0]:.3f} p90 {qs[1]:.3f} p99 {qs[2]:.3f} max {qs[3]:.3f}; >0.25 {np.mean(v > 0.25):.1%} >0.30 {np.mean(v > 0.30):.1%} >0.35 {np.mean(v > 0.35):.1%} >0.40 {np.mean(v > 0.40):.1%}"
    )
