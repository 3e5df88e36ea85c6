"""Two syncs of one channel started at once (PostgreSQL pass: real concurrent connections)."""

import threading

import pytest
from django.db import connection, connections

from orders.models import Order, OrderEvent
from orders.tasks import run_sync
from sandbox.generators.etsy import generate

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql",
                                reason="needs concurrent connections: runs in the PostgreSQL pass of .ci/run")


def test_two_syncs_started_at_once_leave_one_row_and_one_event_per_order(etsy_sandbox):
    channel, store = etsy_sandbox
    generate(store, 120, mix=False, seed=9)
    barrier = threading.Barrier(2)
    summaries = []

    def sync():
        try:
            barrier.wait()
            summaries.append(run_sync(type(channel).objects.get(pk=channel.pk)))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sync) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    assert Order.objects.filter(channel=channel).count() == 120
    assert OrderEvent.objects.filter(kind="imported").count() == 120
    assert sorted(s.imported for s in summaries) == [0, 120]
    assert any("already syncing" in e for s in summaries for e in s.errors)

    # and the next sync, with nothing new, changes nothing
    again = run_sync(channel)
    assert again.imported == 0 and OrderEvent.objects.count() == 120
