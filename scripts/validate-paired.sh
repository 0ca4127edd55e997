#!/usr/bin/env bash
# Validates `loadtest ab --paired` with the reference API's fault flags as ground truth.
#
#   A, A': loadtest serve --inject-latency 10ms (two identical servers)
#   B:     loadtest serve --inject-latency 12ms
#
# Makes COMPARISONS paired A/A' runs and COMPARISONS paired A/B runs (in a random interleaved
# order, loopback only), each one `ab --paired` of HOLD seconds (8 users, validation only), and
# prints the false-regression rate (A/A') and the detection rate of the +2 ms (≈ +20% on
# validation p95) change, with the seconds each comparison took. NOISE=noisy runs
# scripts/cpu-hog.sh (every core busy for a random 1–4 s, idle for a random 1–4 s) for the
# whole measurement. Targets: ≤ 5% false regressions, ≥ 90% detected.
#
# usage: [NOISE=quiet|noisy] scripts/validate-paired.sh [COMPARISONS] [HOLD_SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
N=${1:-30}
HOLD=${2:-20}
NOISE=${NOISE:-quiet}
# BIN=PATH uses that binary as is (no build).
if [ -z "${BIN:-}" ]; then
  BIN=$PWD/target/release/loadtest
  cargo build --release --quiet
fi
WORK=${WORK:-$(mktemp -d)}
mkdir -p "$WORK"
HOG=
trap 'kill $A $A2 $B $HOG 2>/dev/null || true' EXIT
$BIN serve --bind 127.0.0.1:18121 --hash-cost fast --inject-latency 10ms >"$WORK/a.log" 2>&1 & A=$!
$BIN serve --bind 127.0.0.1:18123 --hash-cost fast --inject-latency 10ms >"$WORK/a2.log" 2>&1 & A2=$!
$BIN serve --bind 127.0.0.1:18122 --hash-cost fast --inject-latency 12ms >"$WORK/b.log" 2>&1 & B=$!
for port in 18121 18122 18123; do
  wait_healthy "$port"
done
cat >"$WORK/profiles.toml" <<TOML
[profiles.validate]
description = "validation-heavy, 8 users"
stages = [{ users = 8, ramp = "1s", hold = "${HOLD}s", phase = "hold" }]
weights = { validate = 100, login = 0, refresh = 0, logout = 0 }
TOML
if [ "$NOISE" = noisy ]; then
  scripts/cpu-hog.sh $((N * 2 * (HOLD + 15) + 60)) 20261130 & HOG=$!
fi
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
# A random interleaved order of N A/A' and N A/B comparisons.
ORDER=$(python3 -c "import random; r = random.Random(20261130); o = ['aa'] * $N + ['ab'] * $N; r.shuffle(o); print(' '.join(o))")
i=0
for kind in $ORDER; do
  i=$((i + 1))
  cand=18123; [ "$kind" = ab ] && cand=18122
  start=$(date +%s.%N)
  code=0
  $BIN ab validate --paired --profiles "$WORK/profiles.toml" --quiet --no-abort \
    --baseline-host http://127.0.0.1:18121 --candidate-host "http://127.0.0.1:$cand" \
    --out "$WORK/runs/$i-$kind" --json "$WORK/runs/$i-$kind.json" >/dev/null 2>"$WORK/runs-$i.err" || code=$?
  end=$(date +%s.%N)
  echo "$kind $code $(python3 -c "print(round($end - $start, 1))") $(cut -d' ' -f1 /proc/loadavg)" >>"$WORK/results.txt"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
python3 - "$WORK" "$N" "$HOLD" "$NOISE" <<'PY'
import json, os, statistics, sys
work, n, hold, noise = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rows = [l.split() for l in open(f"{work}/results.txt")]
def row(i, kind, metric="p95"):
    p = f"{work}/runs/{i}-{kind}.json"
    if not os.path.exists(p):
        return None
    c = json.load(open(p))
    return next(r for r in c["rows"] if r["flow"] == "validate" and r["metric"] == metric)
aa = [(int(code), row(i + 1, k)) for i, (k, code, *_rest) in enumerate(rows) if k == "aa"]
ab = [(int(code), row(i + 1, k)) for i, (k, code, *_rest) in enumerate(rows) if k == "ab"]
false_reg = sum(code == 1 for code, _ in aa)
detected = sum(code == 1 and r and r["verdict"] == "regression" for code, r in ab)
inconclusive = sum(code == 3 for code, _ in aa + ab)
changes = sorted(r["change"] for _, r in ab if r)
secs = [float(r[2]) for r in rows]
loads = [float(r[3]) for r in rows]
print(f"{'case (' + noise + ', paired)':<34}{'comparisons':>12}{'flagged':>9}{'rate':>8}   target")
print(f"{'A/A (identical servers)':<34}{len(aa):>12}{false_reg:>9}{false_reg / max(1, len(aa)):>8.1%}   <= 5% false regressions")
print(f"{'A/B (+2 ms on 10 ms, validate p95)':<34}{len(ab):>12}{detected:>9}{detected / max(1, len(ab)):>8.1%}   >= 90% detected")
if changes:
    print(f"median measured change of validate p95 A->B: {changes[len(changes) // 2]:+.1%}; inconclusive (exit 3): {inconclusive}")
# p50 and p99 are shown in every comparison but not gated: how often they alone would have been called.
for metric in ("p50", "p99"):
    aa_m = [row(i + 1, k, metric) for i, (k, *_rest) in enumerate(rows) if k == "aa"]
    ab_m = [row(i + 1, k, metric) for i, (k, *_rest) in enumerate(rows) if k == "ab"]
    fa = sum(bool(r) and r["verdict"] == "regression" for r in aa_m)
    de = sum(bool(r) and r["verdict"] == "regression" for r in ab_m)
    print(f"validate {metric} (shown, not gated): called a regression in {fa}/{len(aa_m)} A/A and {de}/{len(ab_m)} A/B")
print(f"one paired run per comparison: {hold} s hold, 8 users; {statistics.median(secs):.1f} s per comparison (median wall time); 1-min load average during the runs: median {statistics.median(loads):.1f}, max {max(loads):.1f}")
PY
