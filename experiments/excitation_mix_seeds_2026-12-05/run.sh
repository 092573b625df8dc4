#!/usr/bin/env bash
# Seed-to-seed spread of the equal-power change (../render_loudness_2026-12-05 measured one
# model each way). For each mix and training seed: train the demo's WaveNet on the demo
# corpus (2,000 steps, as `make demo`), score held-out bits and how renders follow the two
# held-out scored recordings, and the gap from a line alone to two lines (render seeds 0-2).
#
#   DATA=/path/to/data/demo HELD=/path/to/held OUT=/tmp/mixseeds bash run.sh
# HELD: the demo split's held-out piano and guitar recordings with their MIDI
# (piano/cpebach_h186.*, guitar/haydn_opus1no1_movement3.*). The line MIDI files come from
# ../render_loudness_2026-12-05/render_levels.py (m1_90.mid, m2_90.mid) in $MIDI.
# GAIN: the excitation gain of the renders (1: as ../render_loudness_2026-12-05 measured,
# before generation had one).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
py=${PY:-python}
for spec in ${RUNS:-equal_power:1 sum:1 equal_power:2 sum:2}; do
  mix=${spec%%:*}; seed=${spec##*:}
  run=$OUT/${mix}_seed$seed
  if [ ! -d "$run/checkpoints/step_00002000" ]; then
    $py -m wavenet_music.cli train "$DATA" --run "$run" --preset demo --excitation-mix "$mix" \
      --seed "$seed" --steps 2000 --quiet > "$OUT/${mix}_seed$seed.train.log" 2>&1
  fi
  gain=${GAIN:-1}
  $py -m wavenet_music.cli evaluate "$run" --data "$HELD" --follow-seconds 10 --json --quiet \
    --excitation-gain "$gain" > "$OUT/${mix}_seed${seed}_gain$gain.follow.json"
  (cd "$MIDI" && $py "$here/gap.py" "$run" "${mix}_seed$seed" "$gain") >> "$OUT/gap_gain$gain.txt"
done
