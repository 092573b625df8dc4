#!/usr/bin/env bash
# The measurements a new kind of CPU owes the README (issues 14 and 18: an AVX2-only CPU),
# in one unattended run from a clean clone of HEAD:
#   1. the CPU (model, vector extensions, what torch uses);
#   2. `bash .ci/run` on the idle machine (the set-up included);
#   3. `bash .ci/run` again with one other process spinning on a core throughout;
#   4. `make bench` (generation, training and composer ratio tables; compiled against eager);
#   5. `make demo` on the idle machine (its time estimate, its check).
# Each step's log and exit code go to OUT (default /tmp/cpu_acceptance), with a summary
# of the lines the README quotes in OUT/summary.txt. About 2-3 hours on a 2-core Zen 3:
#   nohup bash scripts/cpu_acceptance.sh > /tmp/cpu_acceptance.log 2>&1 &
set -uo pipefail
OUT=${OUT:-/tmp/cpu_acceptance}
HERE=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$OUT"
CLONE="$OUT/clone"
rm -rf "$CLONE"
git clone -q "$HERE" "$CLONE"
cd "$CLONE"

step() {  # step NAME COMMAND...: run it, keep its log, time and exit code
    local name=$1
    shift
    local start=$SECONDS
    "$@" > "$OUT/$name.log" 2>&1
    local code=$?
    echo "$name: exit $code after $(((SECONDS - start) / 60)) min $(((SECONDS - start) % 60)) s" \
        | tee -a "$OUT/summary.txt"
}

{
    echo "commit $(git rev-parse --short HEAD), $(date -u '+%Y-%m-%d %H:%M UTC')"
    grep -m1 'model name' /proc/cpuinfo
    echo "vector extensions: $(grep -m1 -o 'avx[0-9a-z_]*\|amx[0-9a-z_]*' /proc/cpuinfo \
        | sort -u | tr '\n' ' ')"
    echo "cores: $(nproc)"
} > "$OUT/summary.txt"

step ci_idle bash .ci/run
python3 -c 'while True: pass' &
SPINNER=$!
step ci_busy bash .ci/run
kill "$SPINNER"
step bench make bench
step demo make demo

{
    echo "--- make test totals"
    grep -h "passed\|failed" "$OUT/ci_idle.log" "$OUT/ci_busy.log" | grep -v "^tests/" | tail -4
    echo "--- benchmarks (their tables; compiled against eager in every row)"
    tr '\r' '\n' < "$OUT/bench.log" | grep -v "it/s\|step/s" | tail -80
    echo "--- demo"
    tr '\r' '\n' < "$OUT/demo.log" | grep -A12 "^about .* minutes on this machine" | head -6
    tr '\r' '\n' < "$OUT/demo.log" | grep -i "quality check\|WARNING\|  - \|demo finished\|estimated" \
        | tail -12
} >> "$OUT/summary.txt"
cat "$OUT/summary.txt"
