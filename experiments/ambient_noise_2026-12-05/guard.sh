#!/bin/bash
# Section 5: composed ambient (seeds 0-5, the 2,000-step model) and plain ambient (one
# batch of 6, the 4,000-step model), with the noise guard (on by default).
export OMP_NUM_THREADS=1
W=/work/main/.venv/bin/wavenet-music
mkdir -p /tmp/ng/amb
for k in 0 1 2 3 4 5; do
  $W compose /tmp/demoH/runs/demo --label ambient --seconds 15 --seed $k --out /tmp/ng/amb/H-$k.wav > /dev/null 2>&1
done
$W generate /tmp/demoH/runs/demo4k --label ambient --seconds 15 --num 6 --seed 0 --out /tmp/ng/p4k.wav --quiet
python flatness.py /tmp/ng/amb/H-*-ambient.wav /tmp/ng/p4k-ambient-*.wav
