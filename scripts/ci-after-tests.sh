#!/usr/bin/env bash
# Run by .ci/run after the tests: every criterion benchmark once (test mode) so they never
# rot, with PostgreSQL and Redis variants (DATABASE_URL / REDIS_URL are set by .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bench-quick.sh
