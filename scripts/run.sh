#!/usr/bin/env bash
# `make run`: migrate, load the demo, start the task cluster and the web server.
# Ctrl-C (or a SIGTERM to this script or its process group) stops both within Q_STOP_SECONDS
# (10 s) plus a second: the cluster runs under its supervisor, config/cluster.py, which stops it
# cleanly and kills tasks still running after that (the dispatcher queues their work again).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
export DEBUG="${DEBUG:-true}"
export SANDBOX_ENABLED="${SANDBOX_ENABLED:-true}"
export PORT="${PORT:-8000}"
export SITE_URL="${SITE_URL:-http://127.0.0.1:$PORT}"

$PY manage.py migrate --noinput
$PY manage.py demo --port "$PORT" ${DEMO_ARGS:-}

# Background jobs of a script ignore SIGINT, so Ctrl-C reaches this shell alone: the trap passes
# it on as SIGTERM, once, to both, and waits for them.
PIDS=()
stop() {
  trap - INT TERM
  kill -TERM "${PIDS[@]}" 2>/dev/null || true
  wait "${PIDS[@]}" 2>/dev/null || true
}
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM

$PY -m config.cluster &
PIDS+=($!)
echo "Task cluster started (pid $!). Orders appear in the admin within a minute."
# runserver closes its database connection after each request (config/settings.py says why).
$PY manage.py runserver "127.0.0.1:$PORT" --noreload &
PIDS+=($!)

# Either one ending (a crash, a port already in use) stops the other.
status=0
wait -n "${PIDS[@]}" || status=$?
stop
exit "$status"
