"""What every benchmark shares: a fresh database of its own, Django setup, timing, memory, and
the results file.

`python -m bench` starts each benchmark in a process of its own, once per database (see
bench/__main__.py); inside it, `database_url(name)` creates an empty database whose name
carries the run's id (`bench_<name>_<run id>` on PostgreSQL, a temporary file on SQLite) and
drops it when the process ends, so two runs never touch each other's data. `report()` writes
one JSON line that says what really ran: the database's engine and name, the machine's load
average before and after, its core count, the git commit, and the process's peak resident set."""

from __future__ import annotations

import atexit
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from contextlib import contextmanager
from pathlib import Path

RESULTS = Path(os.environ.get("BENCH_RESULTS") or Path(__file__).with_name("results.jsonl"))
ROOT = Path(__file__).resolve().parent.parent
RUN_ID = os.environ.setdefault(
    "BENCH_RUN_ID", time.strftime("%Y%m%d%H%M%S", time.gmtime()) + f"p{os.getpid()}"
)
POSTGRES_SERVER = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432").rstrip("/")
LOAD_BEFORE = os.getloadavg()
_current: dict[str, str] = {}


def wanted_database() -> str:
    """The engine this process benchmarks: BENCH_DB=sqlite (default) or postgres."""
    return os.environ.get("BENCH_DB", "sqlite")


def postgres_available() -> bool:
    try:
        import psycopg

        psycopg.connect(POSTGRES_SERVER + "/postgres", connect_timeout=3).close()
    except Exception:  # noqa: BLE001 - any failure means: no server to benchmark on
        return False
    return True


def database_url(name: str) -> str:
    """A new, empty database for this benchmark in this run, dropped when the process exits
    (BENCH_KEEP_DB=1 keeps it for a look afterwards)."""
    if wanted_database() == "postgres":
        import psycopg

        db = f"bench_{name}_{RUN_ID}".lower()[:63]
        with psycopg.connect(POSTGRES_SERVER + "/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{db}"')
        if not os.environ.get("BENCH_KEEP_DB"):
            atexit.register(_drop_postgres, db)
        url = f"{POSTGRES_SERVER}/{db}"
    else:
        tmp = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
        if not os.environ.get("BENCH_KEEP_DB"):
            atexit.register(shutil.rmtree, tmp, True)
        url = f"sqlite:///{tmp / 'bench.sqlite3'}"
    _current["url"] = url
    return url


def _drop_postgres(db: str) -> None:
    import psycopg

    try:
        from django.db import connections

        connections.close_all()
    except Exception:  # noqa: BLE001 - Django may never have been set up
        pass
    with psycopg.connect(POSTGRES_SERVER + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def setup_django(database_url: str | None = None) -> None:
    """Configure Django for a benchmark run on its throwaway database (never the demo's)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.test_settings")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
    if database_url:
        os.environ["DATABASE_URL"] = database_url
        _current["url"] = database_url
    import django

    django.setup()


def cpu_seconds() -> float:
    """CPU time spent so far on this benchmark's work: this process's, plus, on PostgreSQL, the
    server process behind Django's connection (read from /proc: the server runs on this machine).
    Unlike wall time it does not grow when other work on a shared machine takes the cores, so a
    ratio of CPU times holds under load where a ratio of wall times drifts (round trips and waits
    are not in it: the wall-time ratio stays the headline)."""
    used = time.process_time()
    try:
        from django.db import connection

        if connection.vendor == "postgresql" and connection.connection is not None:
            pid = connection.connection.info.backend_pid
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            used += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    except (ImportError, OSError, ValueError, IndexError):
        pass
    return used


@contextmanager
def timed():
    """Wall time of the block in box["seconds"], its CPU time (cpu_seconds) in box["cpu_seconds"]."""
    box = {}
    start, cpu_start = time.perf_counter(), cpu_seconds()
    yield box
    box["seconds"] = time.perf_counter() - start
    box["cpu_seconds"] = cpu_seconds() - cpu_start


@contextmanager
def traced_peak():
    """Peak Python heap allocated inside the block, in MB (reported beside the resident set)."""
    tracemalloc.start()
    box = {}
    try:
        yield box
    finally:
        box["peak_mb"] = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()


def rss_mb() -> float:
    """This process's peak resident set so far, in MB: VmHWM, or ru_maxrss where /proc has none."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (out.stdout.strip() or "unknown") + ("+changes" if dirty else "")


def database_label(url: str | None = None) -> tuple[str, str]:
    """(engine, database name) of the benchmark's database."""
    url = url or _current.get("url") or os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        return "postgresql", url.rsplit("/", 1)[1]
    return "sqlite", url.rsplit("/", 1)[-1] if url else "?"


def report(
    name: str,
    *,
    value: float,
    unit: str,
    baseline: float,
    ratio: float,
    goal: str,
    sentence: str,
    peak_mb: float | None = None,
    **extra,
) -> dict:
    """Print the sentence and append one JSON line to bench/results.jsonl. `peak_mb` is the
    whole process's peak resident set (this process's unless the caller measured a child)."""
    engine, db_name = database_label()
    extra.pop("database", None)  # the line says which database really ran, whatever the caller thought
    row = {
        "name": name,
        "value": round(value, 3),
        "unit": unit,
        "baseline": round(baseline, 3),
        "ratio": round(ratio, 3),
        "goal": goal,
        "peak_mb": round(peak_mb if peak_mb is not None else rss_mb(), 1),
        "database": engine,
        "database_name": db_name,
        "commit": git_commit(),
        "cores": os.cpu_count(),
        "load_before": [round(x, 2) for x in LOAD_BEFORE],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "run_id": RUN_ID,
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **extra,
    }
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
