#!/usr/bin/env bash
# The measurements a new kind of CPU owes the README (issues 14 and 18: an AVX2-only CPU),
# in one unattended run from a clean clone of HEAD:
#   1. the CPU (model, vector extensions, what torch uses);
#   2. `bash .ci/run` on the idle machine (the set-up included);
#   3. `make demo` on the idle machine (its time estimate, its check);
#   4. `make bench` (generation, training and composer ratio tables; compiled against eager);
#   5. `bash .ci/run` again with one other process spinning on a core throughout.
# Each step's log and exit code go to OUT (default /tmp/cpu_acceptance), with a summary
# of the lines the README quotes in OUT/summary.txt. About 2-3 hours on a 2-core Zen 3:
#   nohup bash scripts/cpu_acceptance.sh > /tmp/cpu_acceptance.log 2>&1 &
# Run again after an interruption (a session ended, the machine restarted), it keeps the
# steps that finished for the same commit on the same CPU and runs the rest; a new commit
# or another CPU starts over. The measured steps run one at a time: nothing else may run.
set -uo pipefail
OUT=${OUT:-/tmp/cpu_acceptance}
HERE=$(cd "$(dirname "$0")/.." && pwd)
COMMIT=$(git -C "$HERE" rev-parse --short HEAD)
CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
WHAT="$COMMIT on $CPU"
mkdir -p "$OUT"
if [ "$(cat "$OUT/what.txt" 2>/dev/null)" != "$WHAT" ]; then
    rm -rf "$OUT"/*.log "$OUT"/*.done "$OUT/summary.txt" "$OUT/clone"
    echo "$WHAT" > "$OUT/what.txt"
    echo "starting over: $WHAT"
else
    echo "going on: $WHAT (kept: $(cd "$OUT" && ls -- *.done 2>/dev/null | tr '\n' ' '))"
fi
CLONE="$OUT/clone"
if [ ! -d "$CLONE/.git" ]; then
    rm -rf "$CLONE"
    git clone -q "$HERE" "$CLONE"
    git -C "$CLONE" checkout -q "$COMMIT"
fi
cd "$CLONE" || exit 1

step() {  # step NAME COMMAND...: run it, keep its log, time and exit code; once per commit
    local name=$1
    shift
    if [ -f "$OUT/$name.done" ]; then
        echo "$name: kept from the earlier run: $(cat "$OUT/$name.done")"
        return
    fi
    local start=$SECONDS
    "$@" > "$OUT/$name.log" 2>&1
    local code=$?
    local said
    said="exit $code after $(((SECONDS - start) / 60)) min $(((SECONDS - start) % 60)) s"
    echo "$said" > "$OUT/$name.done"
    echo "$name: $said"
}

busy() {  # busy COMMAND...: run it with one other process spinning on a core throughout
    python3 -c 'while True: pass' &
    local spinner=$!
    trap 'kill $spinner 2>/dev/null' EXIT
    "$@"
    local code=$?
    kill "$spinner"
    trap - EXIT
    return $code
}

step ci_idle bash .ci/run
step demo make demo
step bench make bench
step ci_busy busy bash .ci/run

{
    echo "commit $COMMIT, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "model name: $CPU"
    echo "vector extensions: $(grep -m1 -o 'avx[0-9a-z_]*\|amx[0-9a-z_]*' /proc/cpuinfo \
        | sort -u | tr '\n' ' ')"
    echo "cores: $(nproc)"
    for name in ci_idle demo bench ci_busy; do
        echo "$name: $(cat "$OUT/$name.done")"
    done
    echo "--- make test totals"
    grep -h "passed\|failed" "$OUT/ci_idle.log" "$OUT/ci_busy.log" | grep -v "^tests/" | tail -4
    echo "--- benchmarks (their tables; compiled against eager in every row)"
    tr '\r' '\n' < "$OUT/bench.log" | grep -v "it/s\|step/s" | tail -80
    echo "--- demo"
    tr '\r' '\n' < "$OUT/demo.log" | grep -A12 "^about .* minutes on this machine" | head -6
    tr '\r' '\n' < "$OUT/demo.log" | grep -i "quality check\|WARNING\|  - \|demo finished\|estimated" \
        | tail -12
} > "$OUT/summary.txt"
cat "$OUT/summary.txt"
