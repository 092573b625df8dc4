#!/bin/bash
# More piano music at the demo's budget (issue 17): the `notes` preset trained 2,000 steps
# on 13 of the demo corpus's 15 piano pieces (up to 90 s each) instead of bench_notes' 5,
# and scored on the same two dense held-out pieces (Joplin's Maple Leaf Rag and Clara
# Schumann's Polonaise Op. 1 No. 1) the same way (10-s renders from silence, note F1 at
# 50 ms). Run from the repository root; OUT defaults to /tmp/more_music.
set -euo pipefail
OUT=${OUT:-/tmp/more_music}
PY=${PY:-.venv/bin/python}
HERE=experiments/notes_more_music_2026-12-02
HELD_OUT="joplin_maple_leaf_rag schumann_clara_polonaise_op1n1"
$PY -c "from pathlib import Path; from wavenet_music.demo_corpus import build_demo_corpus; \
print(build_demo_corpus(Path('$OUT/corpus'), minutes=30, genres=('piano',)))"
mkdir -p "$OUT/train/piano" "$OUT/held/piano"
for f in "$OUT"/corpus/piano/*.flac; do
  stem=$(basename "$f" .flac)
  to=train; [[ " $HELD_OUT " == *" $stem "* ]] && to=held
  ln -sf "$(realpath "$f")" "$OUT/$to/piano/$stem.flac"
  ln -sf "$(realpath "${f%.flac}.mid")" "$OUT/$to/piano/$stem.mid"
done
ls "$OUT/train/piano" "$OUT/held/piano"
[ -d "$OUT/run/checkpoints" ] || .venv/bin/wavenet-music train "$OUT/train/piano" --run "$OUT/run" \
  --preset notes --steps 2000 --checkpoint-every 1000 --keep-checkpoints 10 \
  --audio-every null --validation-fraction 0 --seed 0 --cache-dir "$OUT/cache" --quiet
$PY experiments/notes_long_training_2026-12-02/follow.py "$OUT/run" \
  "$OUT"/run/checkpoints/step_00001000 "$OUT"/run/checkpoints/step_00002000 \
  --held "$OUT/held" --seconds 10 --seeds 0,1 --json "$HERE/follow.json"
