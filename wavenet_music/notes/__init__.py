"""Notes as the music's intermediate representation, below the WaveNet: the ``Note`` type
and MIDI files read and written (``midi``), read as a General MIDI player plays them
(``midi_playing``), what a WaveNet of the piano's keys plays of them (``playable``), the
piano roll that steers the WaveNet, exactly aligned with the audio's samples, and its
inverse (``roll``), audio transcribed into notes with basic-pitch on onnxruntime
(``transcribe``), and what a player reads off a set of notes (``statistics``)."""
