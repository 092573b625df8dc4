#!/bin/bash
export OMP_NUM_THREADS=1
W=/work/main/.venv/bin/wavenet-music
go() { # name flags...
  n=$1; shift
  for k in 3 4 5; do $W compose /tmp/demoH/runs/demo --label ambient --seconds 15 --seed $k --out /tmp/amb/k-$n-$k.wav "$@" > /dev/null 2>&1; done
}
go t09 --wavenet-temperature 0.9 &
go t08 --wavenet-temperature 0.8 &
wait
go f01 --wavenet-floor 0.01 &
go s04 --wavenet-note-temperature-scale 0.4 &
wait
echo done
