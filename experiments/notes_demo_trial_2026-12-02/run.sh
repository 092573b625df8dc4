#!/bin/bash
# Would `make demo` pass its own check on notes? The demo's pipeline by hand (scripts/demo.py
# is chroma-only): the 4-genre corpus (piano and guitar with their MIDI; classical and
# ambient transcribed), the notes preset with genre labels and 30% of windows without
# notes (plain WaveNet beside the composed pieces, as the demo), 2,000 steps; the composer
# of note events, at most 700 steps; the report of 30-s pieces and its quality check.
set -e
source /work/main/.venv/bin/activate
export OMP_NUM_THREADS=1
# Trial 2 (after commit 6f64e27):
#   DATA=/tmp/demo_data RUN=/tmp/trial2/run CACHE=/tmp/demo_cache bash run.sh
DATA=${DATA:-/tmp/demo_notes_data}
RUN=${RUN:-/tmp/demo_notes_run}
CACHE=${CACHE:-/tmp/demo_notes_cache}
python -c "
from pathlib import Path
from wavenet_music.demo_corpus import build_demo_corpus
print(build_demo_corpus(Path('$DATA'), minutes=8))"
date
wavenet-music train $DATA --run $RUN --preset notes --labels folders --local-dropout 0.3 \
  --steps 2000 --set data.cache_dir=$CACHE --quiet
date
wavenet-music train-composer $RUN --data $DATA --steps 700 --set composer.warmup_steps=30 \
  --set composer.validate_every=50 --set composer.transpose=true --quiet
date
wavenet-music report $RUN --data $DATA --seconds 30
date
python -c "
import json; s=json.load(open('$RUN/report/summary.json'))
print(json.dumps(s, indent=1)[:6000])"
