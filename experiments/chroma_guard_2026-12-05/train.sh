set -e
W=/work/main/.venv/bin/wavenet-music
D=/tmp/demoN/data/demo
$W train $D --run /tmp/chroma/run --preset chroma --steps 2000 --quiet
$W train-composer /tmp/chroma/run --data $D --preset chroma --steps 700 --quiet
echo TRAINED
