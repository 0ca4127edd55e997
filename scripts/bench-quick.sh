#!/usr/bin/env bash
# Smoke-runs the criterion benchmarks: every benchmark executes once (criterion's `--test`
# mode), so CI proves they build and run without spending minutes measuring.
#
# PostgreSQL / Redis variants run when DATABASE_URL / REDIS_URL are set (as .ci/run sets
# them); without them, SQLite and the in-process cache only.
# Exits non-zero when a benchmark fails to build or run. Extra arguments go to cargo.
#
# For real figures: cargo bench --bench cache --bench query --bench validate_path
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo bench "$@" --bench cache --bench query --bench validate_path --bench harness -- --test
