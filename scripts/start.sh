#!/usr/bin/env bash
# `make start`: the demo served as in production, through the Procfile and honcho: WEB gunicorn
# processes (2 workers each) and WORKERS task clusters, sharing one database and one cache.
# Ctrl-C stops them all (honcho waits 5 s, then kills; config/cluster.py never leaves a worker).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${BIN:-.venv/bin}"
case "$BIN" in /*) ;; *) BIN="$PWD/$BIN" ;; esac
export PATH="$BIN:$PATH"
export DEBUG="${DEBUG:-true}"
export SANDBOX_ENABLED="${SANDBOX_ENABLED:-true}"
export PORT="${PORT:-8000}"
export SITE_URL="${SITE_URL:-http://127.0.0.1:$PORT}"
# Rate-limit counters shared by every process: Redis in production; the database here, so no
# Redis server is needed for a local start.
export CACHE_URL="${CACHE_URL:-dbcache://shipdesk_cache}"

python manage.py migrate --noinput
python manage.py createcachetable
# The demo's channels point at web.1 (PORT); the sandbox keeps its state in the database, so every
# web process serves the same shops.
python manage.py demo --port "$PORT" ${DEMO_ARGS:-}
exec honcho start --procfile Procfile --port "$PORT" \
  --concurrency "web=${WEB:-2},worker=${WORKERS:-2}"
