"""Signal maths below both models, numpy only (no torch): decoding and writing audio,
mu-law (``io``), spectra and clip statistics (``spectral``), the per-frame features that
steer the WaveNet and their cache (``features``), long-range structure statistics
(``structure``) and spectrogram images (``figures``, matplotlib)."""
