#!/bin/bash
# A wider WaveNet at the demo's budget (issue 17): the `notes` preset with 64 residual and
# dilation channels and 256 skip channels (the preset: 32, 32, 128; same 18 layers), 2,000
# steps on the 12 piano pieces of ../notes_more_music_2026-12-02 (run its run.sh first),
# scored on the same two dense held-out pieces the same way. OUT defaults to /tmp/wide.
set -euo pipefail
OUT=${OUT:-/tmp/wide}
MORE=${MORE:-/tmp/more_music}
PY=${PY:-.venv/bin/python}
HERE=experiments/notes_model_size_2026-12-02
[ -d "$OUT/run/checkpoints" ] || .venv/bin/wavenet-music train "$MORE/train/piano" --run "$OUT/run" \
  --preset notes --steps 2000 --residual-channels 64 --dilation-channels 64 --skip-channels 256 \
  --checkpoint-every 500 --keep-checkpoints 10 --audio-every null --validation-fraction 0 \
  --seed 0 --cache-dir "$MORE/cache" --quiet
$PY experiments/notes_long_training_2026-12-02/follow.py "$OUT/run" \
  "$OUT"/run/checkpoints/step_00001000 "$OUT"/run/checkpoints/step_00002000 \
  --held "$MORE/held" --seconds 10 --seeds 0,1 --json "$HERE/follow.json"
