"""Spectral flatness of every half second (8,192 samples) of the recordings louder than
-45 dBFS, per genre folder of DATA (section 5).

    python realwin.py DATA
"""

import sys, glob
import numpy as np, soundfile as sf, soxr
from wavenet_music.audio.spectral import spectral_flatness
from wavenet_music.audio.finish import subsonic_filtered
root = sys.argv[1]
for g in ["ambient", "classical", "guitar", "piano"]:
    fl = []; lv=[]
    for p in sorted(glob.glob(f"{root}/{g}/**/*.*", recursive=True)):
        try: x, r = sf.read(p, always_2d=True)
        except Exception: continue
        x = x.mean(1)
        if r != 16000: x = soxr.resample(x, r, 16000)
        x = subsonic_filtered(x, 16000)
        w = 8192
        for i in range(0, len(x) - w + 1, w):
            s = x[i:i+w]; d = 10*np.log10(np.mean(s**2)+1e-20)
            if d > -45: fl.append(spectral_flatness(s)); lv.append(d)
    fl = np.array(fl)
    print(g, len(fl), "p50 %.3f p99 %.3f p99.9 %.3f max %.3f  >0.4: %d" % (np.median(fl), *np.quantile(fl,[.99,.999]), fl.max(), (fl>0.4).sum()))
