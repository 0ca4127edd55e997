#!/usr/bin/env bash
# Gate any CI system on auth-API latency. Runs a loadtest profile against HOST, keeps the
# reports, prints the Markdown summary, and exits with loadtest's code:
#   0 pass · 1 threshold failed · 2 bad input · 3 not judgeable (target down, invalid run)
#
# usage: scripts/ci-gate.sh HOST [PROFILE] [extra loadtest flags…]
#   e.g. scripts/ci-gate.sh http://127.0.0.1:8080 load --scale 0.1 --threshold 'validate: p95<50ms'
set -uo pipefail
HOST=${1:?usage: ci-gate.sh HOST [PROFILE] [flags…]}
PROFILE=${2:-load}
shift $(( $# >= 2 ? 2 : 1 ))
BIN=${LOADTEST:-loadtest}
command -v "$BIN" >/dev/null 2>&1 || BIN="$(dirname "$0")/../target/release/loadtest"
OUT=${LOADTEST_OUT:-reports/ci-$(date -u +%Y%m%dT%H%M%SZ)}
"$BIN" "$PROFILE" --host "$HOST" --out "$OUT" --quiet "$@"
code=$?
if [ -f "$OUT/summary.md" ]; then
  cat "$OUT/summary.md"
fi
case $code in
  0) echo "ci-gate: PASS" ;;
  1) echo "ci-gate: FAIL — a threshold failed (reports in $OUT)" ;;
  2) echo "ci-gate: bad input — see the message above" ;;
  3) echo "ci-gate: the run could not be judged (target unreachable or run invalid)" ;;
  *) echo "ci-gate: loadtest exited $code" ;;
esac
exit $code
