#!/usr/bin/env bash
# The harness's validate-flow throughput against the reference API, and plain wrk on the same
# endpoint with the same number of connections, in one script run. The server is pinned to
# core 0, the load generator (loadtest, then wrk) to core 1.
#
# usage: scripts/harness-vs-wrk.sh [CONNECTIONS] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
C=${1:-32}
S=${2:-15}
PORT=${PORT:-18099}
BIN=target/release/loadtest
command -v wrk >/dev/null || { echo "wrk not installed (apt-get install wrk)" >&2; exit 2; }
cargo build --release --quiet
TMP=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$TMP"' EXIT
taskset -c 0 $BIN serve --bind 127.0.0.1:$PORT --hash-cost fast >"$TMP/serve.log" 2>&1 &
SERVER=$!
wait_healthy "$PORT"
cat >"$TMP/profiles.toml" <<TOML
[profiles.validate]
description = "validation only"
stages = [{ users = $C, ramp = "1s", hold = "${S}s", phase = "hold" }]
weights = { validate = 100, login = 0, refresh = 0, logout = 0 }
TOML
taskset -c 1 $BIN run validate --profiles "$TMP/profiles.toml" --host http://127.0.0.1:$PORT \
  --quiet --out "$TMP/run" >"$TMP/run.out" 2>&1 || true
HARNESS=$(python3 - "$TMP/run/run.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
f = next(f for f in r["flows"] if f["name"] == "validate")
hold = next(p for p in r["phases"] if p["name"] == "hold")
n = sum(s["requests"] for s in f["per_second"] if hold["start_s"] + 1 <= s["t"] < hold["end_s"])
secs = max(1, int(hold["end_s"]) - int(hold["start_s"]) - 1)
print(f"{n / secs:.0f} {f['summary']['p50']:.3f} {f['summary']['p99']:.3f}")
PY
)
H=http://127.0.0.1:$PORT/api/v1/auth
curl -s -XPOST $H/signup -H 'content-type: application/json' -d '{"email":"wrk@example.com","password":"password1"}' >/dev/null
TOK=$(curl -s -XPOST $H/login -H 'content-type: application/json' -d '{"email":"wrk@example.com","password":"password1"}' | python3 -c 'import json,sys;print(json.load(sys.stdin)["access_token"])')
WRK=$(taskset -c 1 wrk -t1 -c"$C" -d"${S}s" -H "Authorization: Bearer $TOK" $H/me | awk '/Requests\/sec/ {print $2}')
read -r HRPS HP50 HP99 <<<"$HARNESS"
printf '%-28s %12s\n' "generator ($C connections)" "req/s"
printf '%-28s %12s   (p50 %s ms, p99 %s ms)\n' "loadtest validate flow" "$HRPS" "$HP50" "$HP99"
printf '%-28s %12s\n' "wrk GET /api/v1/auth/me" "$WRK"
python3 -c "print(f'ratio loadtest/wrk: {float($HRPS)/float($WRK):.2f}')"
