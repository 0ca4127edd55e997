#!/usr/bin/env bash
# Accuracy suite: the reference API's fault flags are the ground truth for what loadtest
# reports (loopback only, ~90 s).
#   1. --inject-latency 10ms at a fixed rate: reported p50/p99 of validate vs the server's own
#      duration quantiles (/metrics summary) — goal: within +0.3 ms.
#   2. --stall 1s/10s at a fixed rate (open model): reported p99 vs the analytic value
#      s + D − (1 − 0.99)·T ≈ 0.9 s + s — goal: within 5%; the closed-model p99 beside it.
# Exits 1 when a case misses its goal.
#
# usage: [LT_ARGS="--transport goose"] scripts/accuracy.sh [RATE] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
RATE=${1:-100}
SECS=${2:-30}
BIN=$PWD/target/release/loadtest
cargo build --release --quiet
W=$(mktemp -d)
trap 'kill $A $B 2>/dev/null || true; rm -rf "$W"' EXIT
$BIN serve --bind 127.0.0.1:18131 --hash-cost fast --inject-latency 10ms >"$W/a.log" 2>&1 & A=$!
$BIN serve --bind 127.0.0.1:18132 --hash-cost fast --stall 1s/10s >"$W/b.log" 2>&1 & B=$!
for port in 18131 18132; do
  wait_healthy "$port"
done
cat >"$W/profiles.toml" <<TOML
[profiles.paced]
description = "validation at a fixed rate"
stages = [{ rate = "${RATE}/s", ramp = "0s", hold = "${SECS}s", phase = "hold" }]
weights = { validate = 100, login = 0, refresh = 0, logout = 0 }

[profiles.closed]
description = "validation, closed model"
stages = [{ users = 10, ramp = "1s", hold = "${SECS}s", phase = "hold" }]
weights = { validate = 100, login = 0, refresh = 0, logout = 0 }
TOML
common=(--profiles "$W/profiles.toml" --quiet --no-abort --timeout 5s --threshold 'all: p99<60s')
# LT_ARGS: extra flags for every loadtest run, e.g. LT_ARGS="--transport goose".
read -r -a extra <<<"${LT_ARGS:-}"
common+=("${extra[@]}")
$BIN run paced "${common[@]}" --host http://127.0.0.1:18131 --out "$W/latency" >/dev/null 2>&1 || true
curl -s http://127.0.0.1:18131/metrics >"$W/latency.metrics"
$BIN run paced "${common[@]}" --host http://127.0.0.1:18132 --out "$W/stall" >/dev/null 2>&1 || true
$BIN run closed "${common[@]}" --host http://127.0.0.1:18132 --out "$W/closed" >/dev/null 2>&1 || true
python3 - "$W" "$RATE" <<'PY'
import json, re, sys
w, rate = sys.argv[1], float(sys.argv[2])
def flow(run, name="validate"):
    r = json.load(open(f"{w}/{run}/run.json"))
    return r, next(f for f in r["flows"] if f["name"] == name)
def server_q(q):
    pat = re.compile(r'http_request_duration_summary_seconds\{route="/api/v1/auth/me",quantile="%s"\} ([0-9.e+-]+)' % q)
    m = pat.search(open(f"{w}/latency.metrics").read())
    return float(m.group(1)) * 1000 if m else float("nan")
ok = True
rows = []
r, f = flow("latency")
for q, name in (("0.5", "p50"), ("0.99", "p99")):
    measured = f["summary"][name]
    expected = server_q(q)
    err = measured - expected
    good = 0 <= err <= 0.3
    ok &= good
    rows.append((f"inject 10ms @{rate:.0f}/s: {name}", f"{expected:.3f} ms (server)", f"{measured:.3f} ms", f"{err:+.3f} ms", "ok" if good else "MISSED (goal 0…+0.3 ms)"))
rate_stats = r["meta"].get("rate") or {}
r, f = flow("stall")
s = f["summary"]["p50"]
expected = s + 1000.0 - 0.01 * 10000.0
measured = f["summary"]["p99"]
err = (measured - expected) / expected
good = abs(err) <= 0.05
ok &= good
rows.append((f"stall 1s/10s @{rate:.0f}/s: p99 (open)", f"{expected:.1f} ms", f"{measured:.1f} ms", f"{err:+.1%}", "ok" if good else "MISSED (goal ±5%)"))
rc, fc = flow("closed")
rows.append(("stall 1s/10s, 10 users: p99 (closed)", "–", f"{fc['summary']['p99']:.1f} ms", "–", "coordinated omission: shown for contrast"))
print(f"{'case':<40}{'expected':>20}{'measured':>14}{'error':>12}   verdict")
for row in rows:
    print(f"{row[0]:<40}{row[1]:>20}{row[2]:>14}{row[3]:>12}   {row[4]}")
st = (r["meta"].get("rate") or {})
print(f"open-model stall run: target {st.get('target_rps', 0):.1f}/s, achieved {st.get('achieved_rps', 0):.1f}/s, late {st.get('late')}, dropped {st.get('dropped')}, send lag p99 {st.get('send_lag_summary', {}).get('p99', 0):.2f} ms, pool {st.get('users')} users")
sys.exit(0 if ok else 1)
PY
