#!/bin/bash
# $1: run name (demoF or demoH)
export OMP_NUM_THREADS=1
for k in 0 1 2 3 4 5; do
  /work/main/.venv/bin/wavenet-music compose /tmp/$1/runs/demo --label ambient --seconds 15 --seed $k --out /tmp/amb/$1-$k.wav > /dev/null 2>&1
done
echo done
