#!/bin/bash
# Trial 2 (after commit 6f64e27: windows without notes read a clean history), as run.sh: the 4-genre corpus (piano and guitar with their MIDI; classical and
# ambient transcribed), the notes preset with genre labels and 30% of windows without
# notes (plain WaveNet beside the composed pieces, as the demo), 2,000 steps; the composer
# of note events, at most 700 steps; the report of 30-s pieces and its quality check.
set -e
source /work/main/.venv/bin/activate
export OMP_NUM_THREADS=1
DATA=${DATA:-/tmp/demo_data}
RUN=${RUN:-/tmp/trial2/run}
python -c "
from pathlib import Path
from wavenet_music.demo_corpus import build_demo_corpus
print(build_demo_corpus(Path('$DATA'), minutes=8))"
date
wavenet-music train $DATA --run $RUN --preset notes --labels folders --local-dropout 0.3 \
  --steps 2000 --set data.cache_dir=/tmp/demo_cache --quiet
date
wavenet-music train-composer $RUN --data $DATA --steps 700 --set composer.warmup_steps=30 \
  --set composer.validate_every=50 --set composer.transpose=true --quiet
date
wavenet-music report $RUN --data $DATA --seconds 30
date
python -c "
import json; s=json.load(open('$RUN/report/summary.json'))
print(json.dumps(s, indent=1)[:6000])"
