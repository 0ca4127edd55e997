#!/usr/bin/env bash
# Validates compare's verdicts with the reference API's fault flags as ground truth.
#
#   A: loadtest serve --inject-latency 10ms      B: loadtest serve --inject-latency 12ms
#
# Builds a pool of short validation-heavy runs against A and B (interleaved, loopback only),
# then draws COMPARISONS random A/A comparisons (K runs per side, disjoint within a draw) and
# COMPARISONS A/B comparisons, and prints the false-regression rate (A/A) and the detection
# rate of the +2 ms (≈ +20% on validation p95) change. Targets: ≤ 5% and ≥ 90%.
# NOISE=noisy runs scripts/cpu-hog.sh (every core busy for a random 1–4 s, idle for a random
# 1–4 s) while the pool is built. The paired counterpart is scripts/validate-paired.sh.
#
# REUSE_POOL=1 with the WORK folder of an earlier call draws the comparisons from that call's
# pool again (e.g. with another K, so k = 2 and k = 8 see the same runs) without running it anew.
#
# usage: [NOISE=quiet|noisy] [WORK=DIR [REUSE_POOL=1]] scripts/validate-verdicts.sh [COMPARISONS] [K] [POOL_A] [POOL_B]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
N=${1:-30}
K=${2:-5}
POOL_A=${3:-30}
POOL_B=${4:-15}
# BIN=PATH uses that binary as is (no build).
if [ -z "${BIN:-}" ]; then
  BIN=$PWD/target/release/loadtest
  cargo build --release --quiet
fi
WORK=${WORK:-$(mktemp -d)}
mkdir -p "$WORK"
NOISE=${NOISE:-quiet}
HOG=
trap 'kill $A $B $HOG 2>/dev/null || true' EXIT
$BIN serve --bind 127.0.0.1:18111 --hash-cost fast --inject-latency 10ms >"$WORK/a.log" 2>&1 & A=$!
$BIN serve --bind 127.0.0.1:18112 --hash-cost fast --inject-latency 12ms >"$WORK/b.log" 2>&1 & B=$!
for port in 18111 18112; do
  wait_healthy "$port"
done
cat >"$WORK/profiles.toml" <<'TOML'
[profiles.validate]
description = "validation-heavy, 8 users"
stages = [{ users = 8, ramp = "1s", hold = "5s", phase = "hold" }]
weights = { validate = 100, login = 0, refresh = 0, logout = 0 }
TOML
run() { # side index port
  $BIN run validate --profiles "$WORK/profiles.toml" --host "http://127.0.0.1:$3" --quiet \
    --no-abort --out "$WORK/pool/$1-$2" >/dev/null 2>&1 || true
}
if [ "${REUSE_POOL:-0}" = 1 ] && [ -f "$WORK/pool-seconds" ]; then
  POOL_SECONDS=$(cat "$WORK/pool-seconds")
  echo "reusing the pool in $WORK/pool (built in $POOL_SECONDS s)" >&2
else
  if [ "$NOISE" = noisy ]; then
    scripts/cpu-hog.sh $(((POOL_A + POOL_B) * 15 + 60)) 20261130 & HOG=$!
  fi
  echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  SECONDS=0
  echo "building the pool: $POOL_A runs against A, $POOL_B against B (interleaved)…" >&2
  i=0; j=0
  while [ $i -lt "$POOL_A" ] || [ $j -lt "$POOL_B" ]; do
    if [ $i -lt "$POOL_A" ]; then i=$((i + 1)); run a $i 18111; fi
    if [ $j -lt "$POOL_B" ]; then j=$((j + 1)); run b $j 18112; fi
  done
  POOL_SECONDS=$SECONDS
  [ -n "$HOG" ] && kill "$HOG" 2>/dev/null || true
  echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  echo "$POOL_SECONDS" >"$WORK/pool-seconds"
fi
python3 - "$WORK" "$BIN" "$N" "$K" "$POOL_A" "$POOL_B" "$POOL_SECONDS" "$NOISE" <<'PY'
import json, random, subprocess, sys
work, binary, n, k, pa, pb, pool_s = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:8])
noise = sys.argv[8]
rng = random.Random(20261122)
def compare(base, cand):
    args = [binary, "compare", "--baseline", *base, "--candidate", *cand, "--json", f"{work}/c.json"]
    p = subprocess.run(args, capture_output=True, text=True)
    c = json.load(open(f"{work}/c.json"))
    row = next(r for r in c["rows"] if r["flow"] == "validate" and r["metric"] == "p95")
    return p.returncode, row
A = [f"{work}/pool/a-{i}" for i in range(1, pa + 1)]
B = [f"{work}/pool/b-{i}" for i in range(1, pb + 1)]
false_reg = inconclusive_aa = 0
for _ in range(n):
    pick = rng.sample(A, 2 * k)
    code, row = compare(pick[:k], pick[k:])
    false_reg += code == 1
    inconclusive_aa += row["verdict"] == "inconclusive"
detected = 0; changes = []
for _ in range(n):
    code, row = compare(rng.sample(A, k), rng.sample(B, k))
    detected += code == 1 and row["verdict"] == "regression"
    changes.append(row["change"])
changes.sort()
print(f"{'case':<34}{'comparisons':>12}{'flagged':>9}{'rate':>8}   target")
print(f"{'A/A (same server)':<34}{n:>12}{false_reg:>9}{false_reg / n:>8.1%}   <= 5% false regressions")
print(f"{'A/B (+2 ms on 10 ms, validate p95)':<34}{n:>12}{detected:>9}{detected / n:>8.1%}   >= 90% detected")
print(f"median measured change of validate p95 A->B: {changes[len(changes) // 2]:+.1%}; A/A inconclusive: {inconclusive_aa}")
print(f"k = {k} runs per side, drawn from a pool of {pa} A and {pb} B runs (6 s each, 8 users; {noise})")
print(f"pool built in {pool_s} s: {pool_s / (pa + pb):.1f} s per run, so one comparison of k = {k} costs {2 * k * pool_s / (pa + pb):.0f} s of runs")
PY
