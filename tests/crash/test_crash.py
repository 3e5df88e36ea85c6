"""Kill a task cluster with SIGKILL mid-way and prove nothing is lost and nothing done twice.

Two real `qcluster` processes on Redis, against the test database and the sandbox served by
live_server. Runs in the PostgreSQL pass of .ci/run (and needs Redis: CRASH_REDIS_URL)."""

from __future__ import annotations

import io
import time
from collections import Counter

import pytest
from pypdf import PdfReader

from channels.models import Channel
from orders.models import Fulfilment, Order, OrderEvent
from orders.tasks import run_sync
from sandbox.generators.etsy import generate
from sandbox.models import SandboxOrder
from sandbox.stores import store_for_channel
from shipping import bulk
from shipping.booking import LIVE, book_shipment
from shipping.models import BulkJob, BulkJobItem, Shipment
from tests.crash.conftest import wait_for
from tests.factories import ChannelFactory, catalogue

pytestmark = pytest.mark.postgres

BOOKED = 200  # orders in the bulk booking
FEED = 1000  # orders the interrupted sync reads, 100 a page


def etsy_channel(live_server, shop_id: str, name: str, **kw) -> tuple[Channel, object]:
    channel = ChannelFactory(
        name=name, api_base_url=f"{live_server.url}/sandbox/etsy/v3/application", shop_id=shop_id, **kw
    )
    return channel, store_for_channel(channel)


def tracking_on_channel(store) -> Counter:
    """How many times each tracking number was given to the sandbox channel."""
    return Counter(
        s["tracking_code"]
        for o in SandboxOrder.objects.filter(store=store)
        for s in o.data.get("shipments", [])
    )


def test_a_cluster_killed_mid_booking_and_mid_sync_loses_nothing_and_does_nothing_twice(
    clusters, live_server, selfprint, settings
):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "workers": 4}  # two clusters of two: four nudges per job
    shop, shop_store = etsy_channel(live_server, "10001", "Etsy-Main", sync_mode=Channel.SyncMode.MANUAL)
    generate(shop_store, BOOKED, mix=False, seed=1)
    run_sync(shop)  # in this process: the orders to book, which exist on the channel
    catalogue()  # customs data for the shop's SKUs: some of its orders go abroad
    ids = list(Order.objects.filter(channel=shop).order_by("pk").values_list("pk", flat=True))
    assert len(ids) == BOOKED
    feed, feed_store = etsy_channel(live_server, "10002", "Etsy-Second")
    generate(feed_store, FEED, mix=False, seed=2)
    feed_store.faults = [
        {"path": "/receipts", "delay": 0.5, "times": 1000}
    ]  # a slow channel: the sync takes a while
    feed_store.save()

    a, b = clusters.start(2)
    started = time.monotonic()
    clusters.enqueue("orders.tasks.sync_channel", feed.pk)
    job = bulk.start_bulk_booking(order_ids=ids)  # its nudges go to the clusters (see the fixture)

    held: list[int] = []

    def kill_one():
        """SIGKILL the cluster running the sync (past its first page) while its other worker books
        an order and plenty are left: neither of its workers is sending a push (another test's
        subject). Killed at once, inside the check, so the moment is the one just seen."""
        channel = Channel.objects.get(pk=feed.pk)
        if not channel.sync_claimed_by or int((channel.cursor or {}).get("offset") or 0) < 100:
            return None
        holder = next((c for c in (a, b) if c.owns(channel.sync_claimed_by)), None)
        running = BulkJobItem.objects.filter(job=job, state="running").values_list("pk", "claimed_by")
        mine = [pk for pk, worker in running if holder and holder.owns(worker)]
        if not mine or BulkJobItem.objects.filter(job=job, state="queued").count() < 30:
            return None
        holder.kill()
        held.extend(mine)
        return holder

    dead = wait_for(
        kill_one, timeout=60, every=0.05, what="a cluster syncing and booking at once", clusters=clusters
    )
    offset_at_kill = int(Channel.objects.get(pk=feed.pk).cursor.get("offset") or 0)
    # What it held when it died (it may have recorded an order in the instant before the kill).
    orphaned = list(BulkJobItem.objects.filter(pk__in=held, state="running").values_list("pk", flat=True))
    assert offset_at_kill < FEED and Channel.objects.get(pk=feed.pk).sync_claimed_by

    job = wait_for(
        lambda: BulkJob.objects.filter(pk=job.pk, status__in=["done", "failed"]).first(),
        timeout=150,
        what="the job to finish on the surviving cluster",
        clusters=clusters,
    )
    wait_for(
        lambda: Channel.objects.filter(
            pk=feed.pk, sync_started_at__isnull=True, last_sync_state="ok"
        ).exists(),
        timeout=90,
        what="the sync to be resumed and finish",
        clusters=clusters,
    )
    wait_for(
        lambda: not Fulfilment.objects.filter(order__channel=shop).exclude(state="sent").exists(),
        timeout=90,
        what="every fulfilment to reach the channel",
        clusters=clusters,
    )
    took = time.monotonic() - started

    # The job: every order booked exactly once, counts from the rows, the print file complete.
    assert (job.status, job.done, job.failed, job.total) == ("done", BOOKED, 0, BOOKED), job.message
    per_order = Counter(
        Shipment.objects.filter(order_id__in=ids, status__in=LIVE).values_list("order_id", flat=True)
    )
    assert set(per_order) == set(ids) and set(per_order.values()) == {1}
    assert Shipment.objects.filter(order_id__in=ids).count() == BOOKED  # and no voided extra label either
    assert BulkJobItem.objects.filter(job=job, state="booked").count() == BOOKED
    for item in BulkJobItem.objects.filter(pk__in=orphaned):  # taken over by the survivor
        assert item.attempts >= 2 and not dead.owns(item.claimed_by)
    with job.output_file.open("rb") as f:
        printed = len(PdfReader(io.BytesIO(f.read())).pages)
    # Every label once, each with its customs form when its parcel crosses a border.
    labels = 0
    for shipment in Shipment.objects.filter(order_id__in=ids):
        with shipment.label.open("rb") as f:
            labels += len(PdfReader(io.BytesIO(f.read())).pages)
    assert printed == labels and labels >= BOOKED
    # The sync: resumed from its cursor, nothing lost, nothing imported twice.
    feed.refresh_from_db()
    assert Order.objects.filter(channel=feed).count() == FEED
    assert OrderEvent.objects.filter(order__channel=feed, kind="imported").count() == FEED
    assert feed.last_sync_summary["seen"] <= FEED - offset_at_kill  # continued, not started over
    # The channel: one shipment per booked parcel.
    on_channel = tracking_on_channel(shop_store)
    booked = set(Shipment.objects.filter(order_id__in=ids).values_list("tracking_number", flat=True))
    assert set(on_channel) == booked and set(on_channel.values()) == {1}
    assert not tracking_on_channel(feed_store)  # nothing was booked for the other channel
    assert took < 200, f"recovery took {took:.0f}s"


def test_a_worker_killed_while_a_push_waits_on_a_slow_channel_sends_it_once(clusters, live_server, selfprint):
    shop, store = etsy_channel(live_server, "10003", "Etsy-Slow", sync_mode=Channel.SyncMode.MANUAL)
    generate(store, 1, mix=False, seed=3)
    run_sync(shop)
    order = Order.objects.get(channel=shop)
    store.faults = [{"path": "/tracking", "delay": 6}]  # the channel answers slowly: the push waits
    store.save()

    (first,) = clusters.start(1)
    catalogue()
    shipment = book_shipment(order=order)  # its push goes to the cluster
    fulfilment = shipment.fulfilment
    wait_for(
        lambda: Fulfilment.objects.filter(pk=fulfilment.pk, claimed_at__isnull=False).exists(),
        timeout=30,
        every=0.1,
        what="a worker to take the push",
        clusters=clusters,
    )
    time.sleep(1)  # the request is on its way; the channel will store it
    first.kill()
    clusters.start(1)  # the surviving worker

    # The dead worker's claim goes stale (one connector call's worst case, orders.pushing.claim_seconds),
    # the dispatcher queues the push again, and the survivor asks Etsy before sending anything.
    wait_for(
        lambda: Fulfilment.objects.filter(pk=fulfilment.pk, state="sent").exists(),
        timeout=150,
        what="the push to be resolved by the surviving cluster",
        clusters=clusters,
    )
    assert tracking_on_channel(store) == Counter({shipment.tracking_number: 1})
