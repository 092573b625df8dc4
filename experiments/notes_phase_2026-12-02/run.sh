#!/bin/bash
# The excitation in the recording's phase (issue 17); see README.md. Needs the data of
# ../notes_more_music_2026-12-02 (MORE: 12 piano pieces to learn from, 2 dense held out).
set -euo pipefail
OUT=${OUT:-/tmp/phase}
MORE=${MORE:-/tmp/more_music}
PY=${PY:-.venv/bin/python}
HERE=experiments/notes_phase_2026-12-02
$PY $HERE/phase.py consistency "$MORE/train/piano"
for seed in 0 1; do
  run="$OUT/seed$seed/run"
  [ -d "$run/checkpoints" ] || .venv/bin/wavenet-music train "$MORE/train/piano" --run "$run" \
    --preset notes --steps 2000 --checkpoint-every 1000 --keep-checkpoints 10 --audio-every null \
    --validation-fraction 0 --seed $seed --cache-dir "$MORE/cache" --quiet
  for step in 1000 2000; do
    $PY $HERE/phase.py score "$run/checkpoints/step_0000$step" --held "$MORE/held/piano" \
      --json "$HERE/score_seed${seed}_$step.json"
  done
done
# 2026-12-03: the phase each note starts in (the demo preset's excitation_phase: start)
run="$OUT/start/run"
[ -d "$run/checkpoints" ] || .venv/bin/wavenet-music train "$MORE/train/piano" --run "$run" \
  --preset notes --excitation-phase start --steps 2000 --checkpoint-every 500 \
  --keep-checkpoints 10 --audio-every null --validation-fraction 0 --seed 0 \
  --cache-dir "$MORE/cache" --quiet
for step in 500 1000 1500 2000; do
  $PY $HERE/phase.py score "$run/checkpoints/step_$(printf %08d $step)" --held "$MORE/held/piano" \
    --json "$HERE/score_start_seed0_$step.json"
done
# and the recording's phase again, through the package, at four budgets
run="$OUT/recording/run"
[ -d "$run/checkpoints" ] || .venv/bin/wavenet-music train "$MORE/train/piano" --run "$run" \
  --preset notes --steps 2000 --checkpoint-every 500 --keep-checkpoints 10 \
  --audio-every null --validation-fraction 0 --seed 0 --cache-dir "$MORE/cache" --quiet
for step in 500 1000 1500 2000; do
  $PY $HERE/phase.py score "$run/checkpoints/step_$(printf %08d $step)" --held "$MORE/held/piano" \
    --json "$HERE/score_recording_seed0_$step.json"
done
