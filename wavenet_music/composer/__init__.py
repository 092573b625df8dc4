"""The composer: a second network that writes the WaveNet's conditioning features as
tokens, so that long-range structure comes from a model. Settings (``config``), the
codebook of feature tokens (``tokens``), the transformer (``model``), its data, training,
checkpoints and sampling calibration, and ``compose`` (composer → features → WaveNet,
streamed to a WAV file). Uses ``wavenet``; the WaveNet never uses it."""
