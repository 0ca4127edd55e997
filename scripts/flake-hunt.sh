#!/usr/bin/env bash
# Runs the whole test suite N times (the README command, with --no-fail-fast) and prints every
# test that failed at least once, how often, and its first error line; plus the time per run.
#
#   scripts/flake-hunt.sh 5            # quiet machine
#   BUSY=1 scripts/flake-hunt.sh 5     # with a parallel build competing for the cores
#
# The backends are used as CI uses them when DATABASE_URL / REDIS_URL are set. Logs stay in
# $FLAKE_DIR (default: a temporary folder), one per run.
set -uo pipefail
cd "$(dirname "$0")/.."
n=${1:-5}
case "$n" in ''|*[!0-9]*) echo "usage: scripts/flake-hunt.sh N" >&2; exit 2 ;; esac
dir=${FLAKE_DIR:-$(mktemp -d /tmp/flake-hunt.XXXXXX)}
mkdir -p "$dir"
cargo test --release --no-run >/dev/null 2>&1 || { echo "build failed" >&2; exit 2; }

busy_pid=""
if [ "${BUSY:-0}" = 1 ]; then
  # A competing parallel build in a scratch copy, restarted whenever it finishes.
  scratch=$(mktemp -d /tmp/flake-busy.XXXXXX)
  ( while true; do
      cargo build --release --quiet --target-dir "$scratch/target" >/dev/null 2>&1
      rm -rf "$scratch/target/release/.fingerprint/loadtest-"*
    done ) &
  busy_pid=$!
  trap 'kill -- -$busy_pid 2>/dev/null; kill $busy_pid 2>/dev/null; pkill -f "$scratch" 2>/dev/null' EXIT
  echo "busy mode: a parallel build is running (pid $busy_pid)"
fi

for i in $(seq 1 "$n"); do
  start=$(date +%s)
  cargo test --release --no-fail-fast >"$dir/run-$i.log" 2>&1
  rc=$?
  secs=$(( $(date +%s) - start ))
  passed=$(grep -Eo '[0-9]+ passed' "$dir/run-$i.log" | awk '{s+=$1} END {print s+0}')
  failed=$(grep -Eo '[0-9]+ failed' "$dir/run-$i.log" | awk '{s+=$1} END {print s+0}')
  echo "run $i: exit $rc, ${secs}s, $passed passed, $failed failed"
done

echo
echo "tests that failed at least once (of $n runs):"
found=0
for t in $(grep -h -E '^test .* \.\.\. FAILED$' "$dir"/run-*.log | awk '{print $2}' | sort -u); do
  found=1
  count=$(grep -l -E "^test $t \.\.\. FAILED$" "$dir"/run-*.log | wc -l)
  first=$(grep -h -A4 -E "^---- $t stdout ----" "$dir"/run-*.log | grep -v -E '^(----|--$)' \
    | grep -m1 -E 'panicked|Error|error')
  echo "  $t: $count/$n — ${first:-see $dir}"
done
[ "$found" = 1 ] || echo "  none"
echo "logs: $dir"
