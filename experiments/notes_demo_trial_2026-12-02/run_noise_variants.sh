#!/bin/bash
# Variants of trial 2's WaveNet: bash run_noise_variants.sh NOISE RUN [--set ...]; the composer
# is copied from trial 2 (it reads only the notes, not the WaveNet). As run 2026-12-02:
#   bash run_noise_variants.sh 0.02 /tmp/e1/run
#   bash run_noise_variants.sh 0.4 /tmp/e2/run --set train.input_noise_relative=true
set -e
source /work/main/.venv/bin/activate
export OMP_NUM_THREADS=1
NOISE=$1; RUN=$2; shift 2
date
wavenet-music train /tmp/demo_data --run $RUN --preset notes --labels folders --local-dropout 0.3 \
  --steps 2000 --set data.cache_dir=/tmp/demo_cache --set train.input_noise=$NOISE "$@" --quiet
date
cp -r /tmp/trial2/run/composer $RUN/composer
wavenet-music report $RUN --data /tmp/demo_data --seconds 30 --clips 1
date
python -c "
import json; s=json.load(open('$RUN/report/summary.json'))
print(s['held_out_bits'], s['misses'])
for g,k in s['labels'].items(): print(g, {n: (round(v['flatness'],3), v['distance_db'] and round(v['distance_db'],1)) for n,v in k.items()})"
