"""bench.common.timed measures CPU time beside wall time, the database server's included."""

import time

import pytest
from django.db import connection

from bench.common import timed


def test_cpu_time_is_this_process_work_and_not_its_waiting(db):
    with timed() as busy:
        sum(i * i for i in range(2_000_000))
    with timed() as idle:
        time.sleep(0.3)

    assert busy["cpu_seconds"] > 0.05
    assert idle["seconds"] >= 0.3 and idle["cpu_seconds"] < 0.1


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs a PostgreSQL server: runs in the PostgreSQL pass of .ci/run",
)
def test_on_postgresql_the_servers_work_is_counted(db):
    with connection.cursor() as cursor, timed() as t:
        cursor.execute("SELECT count(*) FROM generate_series(1, 4000000) a, generate_series(1, 3) b")

    assert t["cpu_seconds"] > 0.2  # the server counted 12 million rows; this process only waited
