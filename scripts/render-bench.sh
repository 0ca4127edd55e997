#!/usr/bin/env bash
# Render benchmark for issue 4's acceptance: builds a synthetic 30-minute, 3-flow RunRecord
# (1800 per-second HDR histograms per flow, ~600k requests), renders report.html,
# summary.md and junit.xml from it, and prints each render time (best of 3) and size.
# Goal: report.html renders in < 1 s and is < 2 MB.
#
#   scripts/render-bench.sh [OUT_DIR [SECONDS]]     (default reports/render-bench 1800)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-reports/render-bench}"
seconds="${2:-1800}"
cargo build --release --quiet --example render_bench
target/release/examples/render_bench "$out" "$seconds"
html="$out/report.html"
bytes=$(stat -c %s "$html")
if [ "$bytes" -ge 2000000 ]; then
  echo "FAIL: $html is $bytes bytes (limit 2 MB)" >&2
  exit 1
fi
echo "ok: $html is $bytes bytes (< 2 MB)"
