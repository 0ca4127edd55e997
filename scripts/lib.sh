# Sourced by the measurement scripts (after their `cd` to the repository root).

# wait_healthy PORT [SECONDS]: waits until GET /health answers on 127.0.0.1:PORT (default
# 20 s); a server that never answers ends the script with one line and exit code 3, so no
# figure is ever taken against a server that did not start.
wait_healthy() {
  local port=$1 secs=${2:-20} i
  for ((i = 0; i < secs * 5; i++)); do
    curl -sf "http://127.0.0.1:$port/health" >/dev/null && return 0
    sleep 0.2
  done
  echo "the server on 127.0.0.1:$port did not answer /health within ${secs} s" >&2
  exit 3
}
