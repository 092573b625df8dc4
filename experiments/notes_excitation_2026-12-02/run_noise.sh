#!/bin/bash
source /work/main/.venv/bin/activate
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
cd /tmp/notes_exp
python train.py both 700 0 0.05 > logs/train_both_noise.txt 2>&1
python gen.py runs/both_s0_700_noise0.05 both 10 > logs/gen_both_noise.txt 2>&1
python score_all.py exc_s0_700 roll_s0_700 both_s0_700 both_s0_700_noise0.05 > logs/score2.txt 2>&1
