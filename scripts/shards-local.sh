#!/usr/bin/env bash
# Local proof of a distributed run: N shard processes on this machine against one reference
# API (`loadtest serve`, loopback only), sharing a run id and a start instant a few seconds
# ahead, then merged into reports/<run id>-merged/ (run.json and every report).
#
# usage: scripts/shards-local.sh [N] [PROFILE] [extra run flags…]
#   e.g. scripts/shards-local.sh 3 load --users 30 --ramp 5s --duration 20s
# env:   PORT (default 18123), LEAD (seconds until the common start, default 5),
#        BIN (default target/release/loadtest; built when missing)
# Exit code: the merge's (0 pass, 1 a threshold failed on the merged data, 2, 3).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-3}
PROFILE=${2:-load}
shift $(( $# < 2 ? $# : 2 ))
EXTRA=("$@")
if [ ${#EXTRA[@]} -eq 0 ]; then EXTRA=(--users "$((N * 10))" --ramp 5s --duration 20s); fi
PORT=${PORT:-18123}
LEAD=${LEAD:-5}
BIN=${BIN:-target/release/loadtest}
[ -x "$BIN" ] || cargo build --release --quiet

RUN_ID=local-$(date -u +%Y%m%d-%H%M%S)
OUT=reports/$RUN_ID
mkdir -p "$OUT"
SERVER=
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -n "$SERVER" ]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
}
trap cleanup EXIT

"$BIN" serve --bind "127.0.0.1:$PORT" --hash-cost fast >"$OUT/serve.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
  kill -0 "$SERVER" 2>/dev/null || { echo "loadtest serve failed:" >&2; cat "$OUT/serve.log" >&2; exit 3; }
  sleep 0.1
done

START_AT=$(date -u -d "+$LEAD sec" +%Y-%m-%dT%H:%M:%SZ)
echo "run $RUN_ID: $N shards of '$PROFILE' ${EXTRA[*]} against http://127.0.0.1:$PORT, starting at $START_AT"
for i in $(seq 0 $((N - 1))); do
  "$BIN" run "$PROFILE" "${EXTRA[@]}" --host "http://127.0.0.1:$PORT" --quiet \
    --shard "$i/$N" --run-id "$RUN_ID" --start-at "$START_AT" --out "$OUT/shard-$i" \
    >"$OUT/shard-$i.log" 2>&1 &
  PIDS+=($!)
done
for i in "${!PIDS[@]}"; do
  rc=0
  wait "${PIDS[$i]}" || rc=$?
  # 1 = a threshold failed on this shard's data alone: the merge judges the whole run.
  if [ "$rc" -gt 1 ]; then echo "shard $i/$N exited $rc:" >&2; tail -n 5 "$OUT/shard-$i.log" >&2; exit "$rc"; fi
  echo "shard $i/$N done (exit $rc)"
done
PIDS=()

SHARDS=()
for i in $(seq 0 $((N - 1))); do SHARDS+=("$OUT/shard-$i/run.json"); done
rc=0
"$BIN" merge "${SHARDS[@]}" --out "$OUT-merged" || rc=$?
echo "shards in $OUT/, merged run in $OUT-merged/"
exit "$rc"
