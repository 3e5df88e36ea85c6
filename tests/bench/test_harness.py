"""The benchmark harness itself: each benchmark runs in a process of its own, on a database
created for that run alone (dropped afterwards), and its result line says what really ran."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def run_bench(tmp_path, *args, **env) -> list[dict]:
    results = tmp_path / "results.jsonl"
    child = subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={
            **os.environ,
            "BENCH_RESULTS": str(results),
            "BENCH_RUN_ID": "t" + str(os.getpid()),
            "BENCH_CSV_ROWS": "300",
            "BENCH_CSV_DEFAULT_ROWS": "100",
            "DATABASE_URL": "",
            **env,
        },
    )
    assert child.returncode == 0, child.stdout[-2000:] + child.stderr[-3000:]
    return [json.loads(line) for line in results.read_text().splitlines()]


def test_a_sqlite_run_says_what_ran(tmp_path):
    [row] = run_bench(tmp_path, "--db", "sqlite", "csv")

    assert row["name"] == "csv" and row["database"] == "sqlite" and row["database_name"] == "bench.sqlite3"
    assert row["cores"] == os.cpu_count() and len(row["load_before"]) == 3 and len(row["load_after"]) == 3
    assert row["commit"] and row["commit"] != "unknown"
    assert row["peak_mb"] > row["heap_mb"] > 0  # the whole process, not just the Python heap


def test_the_csv_memory_is_the_import_process_alone(tmp_path):
    """The peak resident set of the CSV goal is the process that only imports: not the one that
    migrated, made the orders and ran django-import-export's rows (reported beside it)."""
    [row] = run_bench(tmp_path, "--db", "sqlite", "csv")

    assert row["peak_mb"] < row["bench_process_peak_mb"]
    assert 0 < row["ready_mb"] <= row["peak_mb"]


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs a PostgreSQL server: runs in the PostgreSQL pass of .ci/run",
)
def test_a_postgres_run_uses_a_database_of_its_own_and_drops_it(tmp_path):
    import psycopg

    [row] = run_bench(tmp_path, "--db", "postgres", "csv")

    assert row["database"] == "postgresql" and row["database_name"].startswith("bench_csv_t")
    with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres") as conn:
        left = conn.execute(
            "SELECT datname FROM pg_database WHERE datname = %s", [row["database_name"]]
        ).fetchall()
    assert left == []
