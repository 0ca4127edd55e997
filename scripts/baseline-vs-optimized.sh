#!/usr/bin/env bash
# Baseline vs optimized reference API, the recommended way: interleaved A/B runs.
# Starts `loadtest serve --mode baseline` and `--mode optimized` (100k seeded users each,
# loopback only), runs `loadtest ab` with a CI-sized profile, and leaves the comparison
# (compare.md, compare.html when available, compare.json) in reports/<timestamp>-ab-load/.
#
# usage: scripts/baseline-vs-optimized.sh [RUNS] [SEED_USERS] [PROFILE] [SCALE]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
SEED=${2:-100000}
PROFILE=${3:-load}
SCALE=${4:-0.1}
BIN=$PWD/target/release/loadtest
cargo build --release --quiet
LOGS=$(mktemp -d)
trap 'kill $BASE $OPT 2>/dev/null || true' EXIT
$BIN serve --bind 127.0.0.1:18121 --mode baseline --hash-cost fast --seed-users "$SEED" >"$LOGS/base.log" 2>&1 & BASE=$!
$BIN serve --bind 127.0.0.1:18122 --mode optimized --hash-cost fast --seed-users "$SEED" >"$LOGS/opt.log" 2>&1 & OPT=$!
for port in 18121 18122; do
  for _ in $(seq 1 600); do curl -sf http://127.0.0.1:$port/health >/dev/null && break; sleep 0.5; done
  curl -sf http://127.0.0.1:$port/health >/dev/null || { echo "server on $port did not start" >&2; cat "$LOGS"/*.log >&2; exit 3; }
done
OUT=reports/$(date -u +%Y%m%dT%H%M%SZ)-baseline-vs-optimized
set +e
$BIN ab "$PROFILE" --scale "$SCALE" --runs "$RUNS" --quiet --no-abort \
  --baseline-host http://127.0.0.1:18121 --candidate-host http://127.0.0.1:18122 \
  --out "$OUT" --json "$OUT/compare.json"
code=$?
set -e
echo "exit code of ab: $code (1 would mean the optimized side regressed)"
echo "comparison: $OUT/compare.md"
