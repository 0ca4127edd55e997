#!/usr/bin/env bash
# The generator's memory per virtual user: peak RSS (VmHWM from /proc/PID/status, read just
# before the process exits, which is the kernel's own high-water mark) of `loadtest run` at
# two user counts against the reference API (`loadtest serve`, optimized mode), every user
# looping on one flow; prints the peak at each count and the RSS per additional user.
# Goals (issue #17): <= 60 MB at 1k users, <= 30 KB per additional user at 10k.
#
#   FLOW=health   (default) every flow is GET /health: the generator's own per-user state
#                 (Goose user, session, connection), no signup cost on the target.
#   FLOW=validate the reference contract (signup + login once, then GET /me with the JWT):
#                 adds each user's identity and tokens; needs the target to hash 2 passwords
#                 per user (slow at 10k users on a busy machine).
#
# usage: scripts/memory-per-user.sh [LOW] [HIGH] [HOLD_SECONDS]   (default 1000 10000 8)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
LOW=${1:-1000}
HIGH=${2:-10000}
HOLD=${3:-8}
FLOW=${FLOW:-health}
PORT=${PORT:-18172}
case "$FLOW" in health|validate) ;; *) echo "FLOW must be health or validate" >&2; exit 2 ;; esac
[[ "$LOW" =~ ^[0-9]+$ && "$HIGH" =~ ^[0-9]+$ && "$HIGH" -gt "$LOW" ]] \
  || { echo "usage: scripts/memory-per-user.sh [LOW] [HIGH] [HOLD_SECONDS] with HIGH > LOW" >&2; exit 2; }
cargo build --release --quiet --bin loadtest
BIN=$PWD/target/release/loadtest
W=$(mktemp -d)
SERVER=
trap '[ -n "$SERVER" ] && kill $SERVER 2>/dev/null; rm -rf "$W"' EXIT
ulimit -n 65536 2>/dev/null || true
taskset -c 0 "$BIN" serve --bind 127.0.0.1:$PORT --hash-cost fast >"$W/serve.log" 2>&1 & SERVER=$!
wait_healthy "$PORT"
cp scripts/bare-health.toml "$W/health.toml"
# Ramp 1k users a second: every user is alive at the peak.
profile() {
  local n=$1 ramp=$(( ($1 + 999) / 1000 ))
  cat <<TOML
[profiles.u$n]
description = "$n users"
stages = [{ users = $n, ramp = "${ramp}s", hold = "${HOLD}s", phase = "hold" }]
weights = { validate = 100, login = 0, refresh = 0, logout = 0 }
TOML
}
{ profile "$LOW"; profile "$HIGH"; } >"$W/profiles.toml"

# Peak RSS (kB) of one run: VmHWM polled until the process is gone (the last value read is
# the high-water mark up to a few ms before exit; the peak is reached while users are alive).
peak() {
  local n=$1 args=(run "u$1" --profiles "$W/profiles.toml" --host http://127.0.0.1:$PORT --quiet
    --no-abort --no-server-metrics --threshold 'all: p99<60s' --out "$W/run-$1")
  [ "$FLOW" = health ] && args+=(--contract "$W/health.toml")
  taskset -c 1 "$BIN" "${args[@]}" >"$W/run-$n.out" 2>&1 & local pid=$! hwm=0 v
  while kill -0 $pid 2>/dev/null; do
    v=$(awk '/^VmHWM/ {print $2}' /proc/$pid/status 2>/dev/null || true)
    [ -n "$v" ] && hwm=$v
    sleep 0.1
  done
  wait $pid || true
  local users
  users=$(python3 -c "import json,sys; print(max(json.load(open(sys.argv[1]))['users_per_second']))" "$W/run-$n/run.json" 2>/dev/null || echo "?")
  echo "$hwm $users"
}
read -r K_LOW U_LOW <<<"$(peak "$LOW")"
read -r K_HIGH U_HIGH <<<"$(peak "$HIGH")"
echo "generator peak RSS (VmHWM), flow $FLOW, load average $(cut -d' ' -f1-3 /proc/loadavg)"
python3 -c "
low, high, n = $K_LOW, $K_HIGH, $HIGH - $LOW
print(f'{$LOW:>8} users ($U_LOW active at peak): {low / 1024:6.1f} MB')
print(f'{$HIGH:>8} users ($U_HIGH active at peak): {high / 1024:6.1f} MB')
print(f'per additional user: {(high - low) / n:.1f} KB (goal <= 30 KB); at $LOW users: {low / 1024:.1f} MB (goal <= 60 MB)')"
