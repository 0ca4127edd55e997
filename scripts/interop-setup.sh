#!/usr/bin/env bash
# Installs the third-party auth servers that tests/interop.rs drives (Django + djoser +
# simplejwt + allauth, FastAPI + fastapi-users) into a venv under .tools/interop-venv, from
# the pinned tests/interop/requirements.txt, wheels only. Idempotent: when the venv already
# matches the requirements file it returns at once.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.tools/interop-venv
req=tests/interop/requirements.txt
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  echo "interop venv up to date ($venv)"
  exit 0
fi
python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
  echo "interop-setup: $python is older than 3.10" >&2
  exit 1
fi
echo "creating the interop venv ($venv)"
rm -rf "$venv"
mkdir -p .tools
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check --only-binary=:all: -r "$req"
"$venv/bin/python" -c 'import django, djoser, rest_framework_simplejwt, allauth, fastapi_users, uvicorn'
echo "$want" > "$stamp"
echo "interop venv ready ($venv)"
