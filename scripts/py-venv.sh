#!/usr/bin/env bash
# Creates (or completes) the Python venv the tests use as independent consumers of our
# outputs: .tools/venv with xmlschema (JUnit vs junit-10.xsd), hdrhistogram (reads the hlog
# export), PyYAML (parses every YAML file) and prometheus-client (parses the reference API's
# /metrics). Idempotent; prints the venv's python path.
# Tests find it at .tools/venv/bin/python (override with LOADTEST_PY).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.tools/venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" >&2
fi
if ! "$venv/bin/python" -c 'import xmlschema, hdrh.log, yaml, prometheus_client' 2>/dev/null; then
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    'xmlschema>=3,<5' 'hdrhistogram>=0.10,<0.11' 'pyyaml>=6,<7' 'prometheus-client>=0.20,<1' >&2
fi
"$venv/bin/python" -c 'import xmlschema, hdrh.log, yaml, prometheus_client' >&2
echo "$PWD/$venv/bin/python"
