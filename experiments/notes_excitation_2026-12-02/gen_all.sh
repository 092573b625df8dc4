#!/bin/bash
source /work/main/.venv/bin/activate
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
cd /tmp/notes_exp
while kill -0 $(cat logs/run_all.pid) 2>/dev/null; do sleep 10; done
for arm in exc roll both; do
  python gen.py runs/${arm}_s0_700 $arm 10 > logs/gen_$arm.txt 2>&1
done
python score_all.py exc_s0_700 roll_s0_700 both_s0_700 > logs/score.txt 2>&1
