#!/bin/bash
source /work/main/.venv/bin/activate
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
cd /tmp/notes_exp
for arm in exc roll both; do
  python train.py $arm 700 0 > logs/train_$arm.txt 2>&1
done
