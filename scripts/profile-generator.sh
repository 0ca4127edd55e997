#!/usr/bin/env bash
# Profiles the load generator (not the target): the reference API (`loadtest serve`,
# optimized mode, pinned to core 0) is driven by `loadtest run` (pinned to core 1) on two
# flows — `health` (every flow is GET /health: the generator's own per-request cost) and
# `validate` (GET /api/v1/auth/me with a JWT, the reference contract) — and the generator is
# profiled, printing its top functions by self and by inclusive cost.
#
#   TOOL=perf      (default when `perf record` works) CPU-clock samples with DWARF call
#                  graphs; percentages of the generator's CPU time.
#   TOOL=callgrind instruction counts (repeatable on a loaded machine: use it to compare
#                  before/after); also prints instructions per request.
#
# usage: scripts/profile-generator.sh [health|validate|both] [SECONDS] [USERS]
#   TOP=N (default 25) rows per table; KEEP=DIR keeps the raw profiles in DIR; BIN=PATH
#   profiles that binary instead of building target/release/loadtest.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
FLOWS=${1:-both}
S=${2:-10}
U=${3:-32}
TOP=${TOP:-25}
PORT=${PORT:-18171}
case "$FLOWS" in
  health|validate) FLOWS=("$FLOWS") ;;
  both) FLOWS=(health validate) ;;
  *) echo "usage: scripts/profile-generator.sh [health|validate|both] [SECONDS] [USERS]" >&2; exit 2 ;;
esac
if [ -z "${TOOL:-}" ]; then
  if perf record -q -e cpu-clock -o /dev/null true >/dev/null 2>&1; then TOOL=perf; else TOOL=callgrind; fi
fi
case "$TOOL" in
  perf) command -v perf >/dev/null || { echo "perf not installed (apt-get install -y linux-perf)" >&2; exit 2; } ;;
  callgrind) command -v valgrind >/dev/null || { echo "valgrind not installed (apt-get install -y valgrind)" >&2; exit 2; } ;;
  *) echo "TOOL must be perf or callgrind" >&2; exit 2 ;;
esac
# BIN=path profiles another build (e.g. a copy of the binary before a change) as is.
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet --bin loadtest
  BIN=$PWD/target/release/loadtest
fi
W=$(mktemp -d)
SERVER=
cleanup() {
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null || true
  if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP" && cp -a "$W"/. "$KEEP"/; fi
  rm -rf "$W"
}
trap cleanup EXIT
taskset -c 0 "$BIN" serve --bind 127.0.0.1:$PORT --hash-cost fast >"$W/serve.log" 2>&1 & SERVER=$!
wait_healthy "$PORT"

cp scripts/bare-health.toml "$W/health.toml"
cat >"$W/profiles.toml" <<TOML
[profiles.prof]
description = "validate only"
stages = [{ users = $U, ramp = "0s", hold = "${S}s", phase = "hold" }]
weights = { validate = 100, login = 0, refresh = 0, logout = 0 }
TOML

# Requests of every flow in a run.json.
requests() {
  python3 -c "import json,sys; print(sum(f['requests'] for f in json.load(open(sys.argv[1]))['flows']))" "$1"
}
# Keeps rows readable: long generic paths cut to 150 columns.
cut150() { cut -c1-150; }

echo "generator profile: $TOOL, $U users, ${S} s per flow, server on core 0, generator on core 1"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)  ($(nproc) cores; other work on the machine shows in wall-clock figures, not in instruction counts)"
for flow in "${FLOWS[@]}"; do
  args=(run prof --profiles "$W/profiles.toml" --host http://127.0.0.1:$PORT --quiet --no-abort
    --no-server-metrics --threshold 'all: p99<60s' --out "$W/$flow-run")
  [ "$flow" = health ] && args+=(--contract "$W/health.toml")
  echo
  echo "=== flow: $flow ==="
  case "$TOOL" in
    perf)
      taskset -c 1 perf record -q -e cpu-clock -F 999 --call-graph dwarf,8192 -o "$W/$flow.perf" \
        -- "$BIN" "${args[@]}" >"$W/$flow.out" 2>&1 || true
      n=$(requests "$W/$flow-run/run.json")
      echo "requests: $n ($(python3 -c "print(f'{$n/$S:.0f}')") req/s while profiled, perf overhead included)"
      echo "--- top $TOP by self time (% of generator samples) ---"
      echo "by binary: $(perf report -i "$W/$flow.perf" --stdio --no-children --sort dso -g none 2>/dev/null \
        | awk '/^ +[0-9]/ {printf "%s %s  ", $2, $1}' || true)"
      perf report -i "$W/$flow.perf" --stdio --no-children --sort symbol -g none --percent-limit 0.3 2>/dev/null \
        | grep -E '^ +[0-9]' | head -"$TOP" | cut150 || true
      echo "--- top $TOP by inclusive time (children included) ---"
      perf report -i "$W/$flow.perf" --stdio --children --sort symbol -g none --percent-limit 2 --max-stack 40 2>/dev/null \
        | grep -E '^ +[0-9]' | head -"$TOP" | cut150 || true
      ;;
    callgrind)
      taskset -c 1 valgrind --tool=callgrind --callgrind-out-file="$W/$flow.cg" \
        "$BIN" "${args[@]}" >"$W/$flow.out" 2>"$W/$flow.vg" || true
      n=$(requests "$W/$flow-run/run.json")
      ir=$(callgrind_annotate "$W/$flow.cg" 2>/dev/null | awk '/PROGRAM TOTALS/ && !done {gsub(",", "", $1); print $1; done = 1}' || true)
      echo "requests: $n; instructions: $ir; per request: $(python3 -c "print(f'{$ir/max(1,$n):,.0f}')") (startup included)"
      echo "--- top $TOP by self instructions ---"
      callgrind_annotate "$W/$flow.cg" 2>/dev/null | grep -E '^ *[0-9,]+ \(' | head -"$TOP" | cut150 || true
      echo "--- top $TOP by inclusive instructions ---"
      callgrind_annotate --inclusive=yes "$W/$flow.cg" 2>/dev/null | grep -E '^ *[0-9,]+ \(' | head -"$TOP" | cut150 || true
      ;;
  esac
done
