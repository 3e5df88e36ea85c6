#!/usr/bin/env bash
# `make run`: migrate, load the demo, start the task cluster and the web server.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export DEBUG="${DEBUG:-true}"
export SANDBOX_ENABLED="${SANDBOX_ENABLED:-true}"
export PORT="${PORT:-8000}"
export SITE_URL="${SITE_URL:-http://127.0.0.1:$PORT}"

$PY manage.py migrate --noinput
$PY manage.py demo --port "$PORT"

$PY manage.py qcluster &
CLUSTER=$!
trap 'kill $CLUSTER 2>/dev/null; wait $CLUSTER 2>/dev/null' EXIT INT TERM
echo "Task cluster started (pid $CLUSTER). Orders appear in the admin within a minute."
$PY manage.py runserver "127.0.0.1:$PORT" --noreload
