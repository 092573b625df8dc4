set -e
cd /tmp/chroma
PY=/work/main/.venv/bin/python
PYTHONPATH=/work/main $PY measure.py run guarded.jsonl --seeds 0 1 2 3 4 5 --seconds 15
PYTHONPATH=/tmp/old8c $PY measure.py run before.jsonl --seeds 0 1 2 3 4 5 --seconds 15
PYTHONPATH=/work/main $PY measure.py run unguarded.jsonl --seeds 0 1 2 3 4 5 --seconds 15 --redraw-noise 0
echo DONE
