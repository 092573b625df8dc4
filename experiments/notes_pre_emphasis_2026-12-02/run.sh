#!/bin/bash
# What the renders of dense piano lack, and pre-emphasis (issue 17); see README.md. Needs the
# runs of ../notes_more_music_2026-12-02 (MORE) and ../notes_model_size_2026-12-02 (WIDE).
set -euo pipefail
OUT=${OUT:-/tmp/preemph}
MORE=${MORE:-/tmp/more_music}
WIDE=${WIDE:-/tmp/wide}
PY=${PY:-.venv/bin/python}
HERE=experiments/notes_pre_emphasis_2026-12-02
HELD="$MORE/held/piano"
$PY $HERE/prep.py "$MORE/train/piano" "$OUT/train/piano"
[ -d "$OUT/run/checkpoints" ] || .venv/bin/wavenet-music train "$OUT/train/piano" --run "$OUT/run" \
  --preset notes --steps 2000 --checkpoint-every 1000 --keep-checkpoints 10 --audio-every null \
  --validation-fraction 0 --seed 0 --cache-dir "$OUT/cache" --quiet
$PY $HERE/score.py "$OUT/run/checkpoints/step_00002000" --held "$HELD" --de-emphasis \
  --json $HERE/score_pre_emphasis_2000.json
$PY $HERE/score.py "$MORE/run/checkpoints/step_00002000" --held "$HELD" --json $HERE/score_tiny_2000.json
$PY $HERE/score.py "$MORE/run/checkpoints/step_00002000" --held "$HELD" --temperature 0.5 \
  --json $HERE/score_tiny_2000_T0.5.json
$PY $HERE/score.py "$WIDE/run/checkpoints/step_00002000" --held "$HELD" --json $HERE/score_wide_2000.json
$PY $HERE/gap.py "$MORE/run/checkpoints/step_00002000" --held "$HELD" --out "$OUT/gap"
