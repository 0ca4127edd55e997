#!/usr/bin/env bash
# Times `loadtest merge` on 16 synthetic shards of a 10-minute run (600 per-second histograms
# × 3 flows per shard, log-normal latencies; see examples/merge_bench_shards.rs). Goal: < 1 s.
#
# usage: scripts/merge-bench.sh [SHARDS] [SECONDS] [REPEATS]
set -euo pipefail
cd "$(dirname "$0")/.."
SHARDS=${1:-16}
SECONDS_=${2:-600}
REPEATS=${3:-5}
cargo build --release --quiet --bin loadtest --example merge_bench_shards
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
target/release/examples/merge_bench_shards "$TMP/shards" "$SHARDS" "$SECONDS_"
du -sh "$TMP/shards" | awk '{print "shard records: " $1 " on disk"}'
best=
for r in $(seq 1 "$REPEATS"); do
  rm -rf "$TMP/merged"; rc=0
  start=$(date +%s.%N)
  target/release/loadtest merge "$TMP"/shards/shard-*/run.json --out "$TMP/merged" --quiet || rc=$?
  end=$(date +%s.%N)
  t=$(python3 -c "print(f'{$end - $start:.3f}')")
  echo "run $r: merge of $SHARDS shards × ${SECONDS_} s: $t s (exit $rc)"
  best=$(python3 -c "b='$best'; print(min(float(b), $t) if b else $t)")
done
python3 - "$TMP/merged/run.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print("merged:", ", ".join(f"{f['name']} {f['requests']} req / {len(f['per_second'])} s" for f in r["flows"]))
PY
echo "best of $REPEATS: ${best} s (goal < 1 s), $(nproc) cores"
