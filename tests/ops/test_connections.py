"""`make run` on PostgreSQL does not pile up idle connections: the development server answers each
request in a new thread, and with CONN_MAX_AGE=60 each thread's connection stayed open (36 idle
after 100 portal requests in the report). Measured with pg_stat_activity around 100 real requests."""

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.db import connection

from tests.factories import BrandFactory

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="counts PostgreSQL backends"),
]


def other_connections() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def status(url: str) -> int:
    try:
        return urllib.request.urlopen(url, timeout=5).status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_runserver_keeps_no_connection_after_100_portal_requests(transactional_db, tmp_path):
    brand = BrandFactory()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST_"))}
    env.update(
        SECRET_KEY="x",
        DEBUG="true",
        CONN_MAX_AGE="60",
        MEDIA_ROOT=str(tmp_path),
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
    )
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/returns/{brand.slug}/"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                status(url)
                break
            except OSError:
                time.sleep(0.2)
        before = other_connections()
        answers = [status(url) for _ in range(100)]
        time.sleep(0.5)
        after = other_connections()
    finally:
        server.terminate()
        server.wait(10)
    assert answers == [200] * 100
    print(f"PostgreSQL connections held by runserver: {before} before, {after} after 100 requests")
    assert after <= 1, f"{after} connections left open after 100 requests"
