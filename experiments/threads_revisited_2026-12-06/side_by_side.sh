#!/bin/bash
# Two demo-preset trainings side by side: A alone for 30 s, then B beside it for 80 steps.
# Usage: side_by_side.sh PACKAGE_TREE DATA OUT.txt  (from the repository with PACKAGE_TREE
# its own root, or from a folder with no wavenet_music/; PYTHON overrides the interpreter;
# the runs go in ./pa and ./pb)
# OUT.txt gets one line every 5 s: unix time, A's training steps so far, B's.
set -u
tree=$1 data=$2 out=$3
python=${PYTHON:-python}
train() {
    PYTHONPATH=$tree "$python" -m wavenet_music.cli train "$data" --run "$1" --preset demo \
        --steps "$2" --log-every 1 --validate-every 1000 --checkpoint-every 1000
}
rm -rf pa pb "$out"
train pa 260 > pa.log 2>&1 &
a=$!
(while kill -0 $a 2>/dev/null; do
    echo "$(date +%s) $(grep -c train_bits pa/metrics.jsonl 2>/dev/null) $(grep -c train_bits pb/metrics.jsonl 2>/dev/null)" >> "$out"
    sleep 5
done) &
sleep 30
train pb 80 > pb.log 2>&1
wait $a
tr '\r' '\n' < pa.log | grep "thread"
tr '\r' '\n' < pb.log | grep "thread"
# the pair's pace while both trained (batch 8 x 2,000 samples a step)
awk 'NR > 1 { da = ($2 - a) * 16000 / ($1 - t); db = ($3 - b) * 16000 / ($1 - t)
              if (db > 0 && $3 > 5) { n++; sa += da; sb += db } }
     { t = $1; a = $2; b = $3 }
     END { printf "side by side (%d looks): A %.0f + B %.0f = %.0f samples/s\n", n, sa/n, sb/n, (sa+sb)/n }' "$out"
