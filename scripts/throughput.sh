#!/usr/bin/env bash
# Generator efficiency: the same trivial endpoint (GET /health of the reference API) driven by
# loadtest (a bare-GET contract: every flow is that GET), by plain Goose with one GET
# transaction (examples/plain_goose.rs) and by wrk, one after the other; the server is pinned
# to core 0 and each generator to core 1. Then loadtest's peak RSS at 1k and 10k users.
# Goals: loadtest ≥ 0.95× plain Goose; ≤ 100 KB per user.
#
# usage: scripts/throughput.sh [CONNECTIONS] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
C=${1:-32}
S=${2:-10}
PORT=18161
command -v wrk >/dev/null || { echo "wrk not installed (apt-get install wrk)" >&2; exit 2; }
cargo build --release --quiet --bin loadtest --example plain_goose
BIN=$PWD/target/release/loadtest
GOOSE=$PWD/target/release/examples/plain_goose
W=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$W"' EXIT
taskset -c 0 $BIN serve --bind 127.0.0.1:$PORT --hash-cost fast >"$W/serve.log" 2>&1 & SERVER=$!
wait_healthy "$PORT"
cp scripts/bare-health.toml "$W/bare.toml"
cat >"$W/profiles.toml" <<TOML
[profiles.bare]
description = "GET only"
stages = [{ users = $C, ramp = "0s", hold = "${S}s", phase = "hold" }]
weights = { validate = 100, login = 0, refresh = 0, logout = 0 }
[profiles.k1]
description = "1k users"
stages = [{ users = 1000, ramp = "2s", hold = "8s", phase = "hold" }]
weights = { validate = 100, login = 0, refresh = 0, logout = 0 }
[profiles.k10]
description = "10k users"
stages = [{ users = 10000, ramp = "5s", hold = "8s", phase = "hold" }]
weights = { validate = 100, login = 0, refresh = 0, logout = 0 }
TOML
common=(--profiles "$W/profiles.toml" --contract "$W/bare.toml" --host http://127.0.0.1:$PORT --quiet --no-abort --no-server-metrics --threshold 'all: p99<60s')
taskset -c 1 $BIN run bare "${common[@]}" --out "$W/lt" >/dev/null 2>&1 || true
LT=$(python3 -c "
import json; r=json.load(open('$W/lt/run.json'))
f=next(f for f in r['flows'] if f['name']=='validate')
print(f'{f[\"requests\"]/$S:.0f}')")
PG=$(taskset -c 1 $GOOSE http://127.0.0.1:$PORT "$C" "$S" 2>/dev/null | awk '/plain-goose/ {print $3}')
WRK=$(taskset -c 1 wrk -t1 -c"$C" -d"${S}s" http://127.0.0.1:$PORT/health | awk '/Requests\/sec/ {print $2}')
printf '%-34s %10s\n' "generator ($C connections, 1 core)" "req/s"
printf '%-34s %10s\n' "loadtest (validate flow)" "$LT"
printf '%-34s %10s\n' "plain Goose (one GET)" "$PG"
printf '%-34s %10s\n' "wrk" "$WRK"
python3 -c "print(f'loadtest / plain Goose: {$LT/$PG:.2f}   loadtest / wrk: {$LT/$WRK:.2f}')"
for p in k1 k10; do
  /usr/bin/time -f "%M" -o "$W/$p.rss" $BIN run $p "${common[@]}" --out "$W/$p" >/dev/null 2>&1 || true
done
python3 - "$W" <<'PY'
import sys
w = sys.argv[1]
k1, k10 = (int(open(f"{w}/{p}.rss").read().split()[-1]) for p in ("k1", "k10"))
print(f"peak RSS: {k1/1024:.0f} MB at 1k users, {k10/1024:.0f} MB at 10k users; "
      f"{(k10 - k1) / 9000:.0f} KB per additional user (goal <= 100 KB)")
PY
