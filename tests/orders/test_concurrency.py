"""Two syncs of one channel started at once (PostgreSQL pass: real concurrent connections)."""

import threading

import pytest
from django.db import connection, connections

from orders.models import Order, OrderEvent
from orders.tasks import run_sync
from sandbox.generators.etsy import generate
from tests.channels.conftest import shopify_sandbox  # noqa: F401 (fixture)

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs concurrent connections: runs in the PostgreSQL pass of .ci/run",
)


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


def test_a_webhook_arriving_during_a_sync_loses_nothing_and_adds_no_duplicate(shopify_sandbox, client):  # noqa: F811
    from sandbox.generators import shopify as shopify_orders
    from tests.channels.test_webhooks import shopify_post

    channel, store = shopify_sandbox
    shopify_orders.generate(store, 30, mix=False, seed=4)
    run_sync(channel)  # first pass done: the next ones read what changed
    from tests.factories import FulfilmentFactory

    # The next sync reads its orders, then pushes a pending shipment: the push is slow, so the
    # webhook below arrives after the sync has read past the new order.
    FulfilmentFactory(order=Order.objects.filter(channel=channel).first(), next_attempt_at=None)
    store.faults = [{"path": "/fulfillment_orders", "delay": 2}]
    store.save()
    result = []
    sync = threading.Thread(
        target=lambda: (
            result.append(run_sync(type(channel).objects.get(pk=channel.pk))),
            connections.close_all(),
        )
    )
    sync.start()
    import time

    # Wait until the slow push has reached the channel (the sandbox took the delay fault): the
    # sync has finished reading orders, so only the webhook can bring the new one in. (A fixed
    # sleep let the webhook come before the sync's read on a slow machine, and the test passed
    # whether or not a webhook during a sync was handled.)
    deadline = time.monotonic() + 30
    while store.faults and time.monotonic() < deadline:
        time.sleep(0.05)
        store.refresh_from_db()
    assert not store.faults, "the sync never reached its push"
    before = Order.objects.filter(channel=channel).count()
    shopify_orders.generate(store, 1, mix=False, seed=5)  # a new order, announced by a webhook
    assert shopify_post(client, channel, event_id="evt-during-sync").status_code == 200
    assert Order.objects.filter(channel=channel).count() == before  # the channel was busy: not yet
    sync.join(60)

    # The sync saw that a webhook came in while it ran and ran once more: the order is in.
    assert Order.objects.filter(channel=channel).count() == 31
    assert OrderEvent.objects.filter(order__channel=channel, kind="imported").count() == 31
