#!/usr/bin/env bash
# Extra CI setup, run by .ci/run before the tests: tools the test suite needs that a clean
# machine may lack. Idempotent: installs only what is missing.
set -euo pipefail

# Headless Chromium for tests/browser_report.rs (loads report.html from disk, screenshots it).
if ! command -v chromium >/dev/null 2>&1; then
  echo "installing chromium (for tests/browser_report.rs)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends chromium
fi
chromium --version
