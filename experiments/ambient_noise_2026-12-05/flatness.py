"""Spectral flatness of WAV files, whole and per 3-s window, as written and finished.

    python flatness.py FILE.wav ...
"""

import sys

import numpy as np
import soundfile as sf

from wavenet_music.audio.finish import for_listening
from wavenet_music.audio.spectral import spectral_flatness

for path in sys.argv[1:]:
    x, rate = sf.read(path)
    windows = [spectral_flatness(x[i : i + 3 * rate]) for i in range(0, len(x) - 3 * rate + 1, 3 * rate)]
    print(
        f"{path}: {spectral_flatness(x):.3f} as written, {spectral_flatness(for_listening(x, rate)):.3f} "
        f"finished; per 3 s: {' '.join(f'{w:.2f}' for w in windows)}"
    )
