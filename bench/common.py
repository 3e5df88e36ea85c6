"""What every benchmark shares: Django setup, timing, peak memory, and the results file."""

from __future__ import annotations

import json
import os
import resource
import sys
import threading
import time
import tracemalloc
from contextlib import contextmanager
from pathlib import Path

RESULTS = Path(__file__).with_name("results.jsonl")


def setup_django(database_url: str | None = None) -> None:
    """Configure Django for a benchmark run on a throwaway database (never the demo's)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.test_settings")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    import django

    django.setup()


@contextmanager
def timed():
    box = {}
    start = time.perf_counter()
    yield box
    box["seconds"] = time.perf_counter() - start


@contextmanager
def traced_peak():
    """Peak Python heap allocated inside the block, in MB."""
    tracemalloc.start()
    box = {}
    try:
        yield box
    finally:
        box["peak_mb"] = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def report(name: str, *, value: float, unit: str, baseline: float, ratio: float, goal: str, peak_mb: float,
           sentence: str, **extra) -> dict:
    """Print the sentence and append one JSON line to bench/results.jsonl."""
    row = {"name": name, "value": round(value, 3), "unit": unit, "baseline": round(baseline, 3),
           "ratio": round(ratio, 3), "goal": goal, "peak_mb": round(peak_mb, 1),
           "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **extra}
    print(sentence)
    with RESULTS.open("a") as f:
        f.write(json.dumps(row) + "\n")
    sys.stdout.flush()
    return row


def serve_in_thread():
    """This process's Django project on a loopback port, in a daemon thread (the sandbox APIs
    answer there): (server, base URL). Request logging is off: it would time the terminal."""
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
    from django.core.wsgi import get_wsgi_application

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadedWSGIServer(("127.0.0.1", 0), Quiet)
    server.set_app(get_wsgi_application())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"
