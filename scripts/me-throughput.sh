#!/usr/bin/env bash
# GET /api/v1/auth/me throughput of the reference API in one mode at N seeded users, measured
# with wrk (pinned to core 1) on loopback. Used for the baseline-vs-optimized figures in README.
#
# usage: scripts/me-throughput.sh baseline|optimized [SEED_USERS] [extra serve flags…]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
MODE=${1:?usage: me-throughput.sh baseline|optimized [SEED_USERS]}
SEED=${2:-100000}
shift $(( $# >= 2 ? 2 : 1 ))
PORT=${PORT:-18090}
command -v wrk >/dev/null || { echo "wrk not installed (apt-get install wrk)" >&2; exit 2; }
cargo build --release --quiet --bin loadtest
BIN=$PWD/target/release/loadtest
$BIN serve --bind 127.0.0.1:$PORT --mode "$MODE" --hash-cost fast --seed-users "$SEED" "$@" >/dev/null 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
wait_healthy "$PORT" 120
H=http://127.0.0.1:$PORT/api/v1/auth
curl -s -XPOST $H/signup -H 'content-type: application/json' -d '{"email":"wrk@example.com","password":"password1"}' >/dev/null
TOK=$(curl -s -XPOST $H/login -H 'content-type: application/json' -d '{"email":"wrk@example.com","password":"password1"}' | python3 -c 'import json,sys;print(json.load(sys.stdin)["access_token"])')
echo "mode $MODE, $SEED seeded users and sessions; X-DB-Queries / X-Cache of one request:"
curl -s -i $H/me -H "Authorization: Bearer $TOK" | grep -i "x-db\|x-cache"
taskset -c 1 wrk -t1 -c32 -d10s --latency -H "Authorization: Bearer $TOK" $H/me | grep -E "Requests/sec|50%|90%|99%"
