""".ci/run cannot go green by accident, and the PostgreSQL pass ends without a teardown error."""

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(sys.executable).parent.parent


def test_under_ci_an_unreachable_postgresql_fails_the_run_before_anything_slow():
    env = {
        **os.environ,
        "CI": "true",
        "VENV": str(VENV),
        "CI_POSTGRES_URL": "postgres://postgres@127.0.0.1:1/shipdesk",
    }  # nothing listens on port 1
    result = subprocess.run(
        ["bash", ".ci/run"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert "PostgreSQL pass is mandatory in CI" in out
    assert "pass 1" not in out and "SKIPPED" not in out


@pytest.mark.parametrize("failing", ["check", "test"])
def test_any_failing_step_fails_the_run_after_every_step_has_run(tmp_path, failing):
    # .ci/run against a stand-in Makefile whose targets pass or fail at will.
    (tmp_path / ".ci").mkdir()
    shutil.copy(ROOT / ".ci" / "run", tmp_path / ".ci" / "run")
    targets = {"install": "@true", "check": "@echo checked", "test": '@echo "== 3 passed in 0.01s =="'}
    targets[failing] = f"@echo {failing} failed; false"
    (tmp_path / "Makefile").write_text("".join(f"{t}:\n\t{cmd}\n" for t, cmd in targets.items()))
    env = {**os.environ, "CI": "true", "VENV": str(VENV)}
    env["CI_POSTGRES_URL"] = "postgres://postgres@127.0.0.1:5432/shipdesk"
    if connection.vendor != "postgresql" and not postgres_answers():
        env.pop("CI")  # no server here: the PostgreSQL pass is skipped, the rest still counts
    result = subprocess.run(
        ["bash", ".ci/run"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert ("!! static checks" if failing == "check" else "!! pass 1: SQLite") in out
    if failing == "check":
        assert "== pass 1: SQLite: passed" in out  # the steps after a failure still run and report
    assert "!! failed:" in out and "all steps passed" not in out


def postgres_answers() -> bool:
    try:
        import psycopg

        psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", connect_timeout=3).close()
        return True
    except Exception:  # noqa: BLE001
        return False


@pytest.mark.slow
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the teardown error is PostgreSQL's")
def test_a_connection_left_open_by_a_thread_does_not_break_dropping_the_test_database(tmp_path):
    # A separate pytest session, with this suite's django_db_setup, whose test leaves a connection
    # open in a thread (as a live_server request thread may at the end of the session).
    (tmp_path / "conftest.py").write_text("from tests.conftest import django_db_setup  # noqa: F401\n")
    (tmp_path / "test_leak.py").write_text(
        textwrap.dedent("""
        import threading

        import pytest
        from django.db import connections

        @pytest.mark.django_db(transaction=True)
        def test_a_thread_keeps_its_connection():
            ready = threading.Event()

            def hold():
                connections["default"].ensure_connection()
                ready.set()
                threading.Event().wait()

            threading.Thread(target=hold, daemon=True).start()
            assert ready.wait(10)
    """)
    )
    url = connection.settings_dict
    name = f"{url['NAME'].removeprefix('test_')}_teardown"
    env = {**os.environ, "DATABASE_URL": f"postgres://{url['USER']}@{url['HOST']}:{url['PORT']}/{name}"}
    env.pop("PYTEST_XDIST_WORKER", None)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-n",
            "0",
            "--rootdir",
            str(ROOT),
            "-c",
            str(ROOT / "pyproject.toml"),
            str(tmp_path / "test_leak.py"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = result.stdout + result.stderr
    assert "being accessed by other users" not in out
    assert result.returncode == 0, out
    assert "1 passed" in out
