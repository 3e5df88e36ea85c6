"""Bulk bookings survive a dead worker: every order is a row with a claim and a heartbeat, the
dispatcher re-queues what a dead worker left, and nothing is booked twice."""

from datetime import timedelta

from django.core import mail
from django.urls import reverse
from django.utils import timezone

from orders.alerts import send_due_alerts
from orders.models import AlertSubscription
from shipping import bulk, tasks
from shipping.booking import book_shipment, booking_reference
from shipping.models import BulkJob, BulkJobItem, Shipment
from tests.factories import UserFactory
from tests.shipping.test_bulk import make_orders, pages

Item = BulkJobItem.State


def start(orders, capture, **kw) -> BulkJob:
    """A job as the admin action creates it, without running the nudges it queues (a cluster
    that took them died)."""
    with capture(execute=False):
        job = bulk.start_bulk_booking(order_ids=[o.pk for o in orders], **kw)
    return job


def die_holding(item: BulkJobItem, *, book: bool) -> Shipment | None:
    """A worker claimed `item`, remembered its reference, maybe bought the label, then was killed
    (its heartbeat goes stale: see stale())."""
    claimed = bulk.claim_item(item.job_id, worker="worker-a:111")
    assert claimed.pk == item.pk
    order = claimed.order
    reference, _ = booking_reference(order)
    BulkJobItem.objects.filter(pk=item.pk).update(reference=reference)
    return book_shipment(order=order) if book else None


def stale(*items, seconds_ago: int = 600) -> None:
    BulkJobItem.objects.filter(pk__in=[i.pk for i in items]).update(
        heartbeat_at=timezone.now() - timedelta(seconds=seconds_ago)
    )


def test_an_order_whose_worker_died_after_buying_its_label_is_taken_over_without_a_second_label(
    selfprint, django_capture_on_commit_callbacks
):
    orders = make_orders(4)
    job = start(orders, django_capture_on_commit_callbacks)
    items = list(job.items.order_by("position"))
    assert [i.state for i in items] == ["queued"] * 4 and job.total == 4
    bought = die_holding(items[0], book=True)  # label bought, outcome never recorded
    die_holding(items[1], book=False)  # killed before the carrier answered
    stale(items[0], items[1])

    assert tasks.resume_bulk_jobs() == 1  # the dispatcher's minute: nudges run inline in tests

    job.refresh_from_db()
    assert (job.status, job.done, job.failed, job.total) == ("done", 4, 0, 4)
    for order in orders:
        assert order.shipments.count() == 1  # one label per order, ever
    first = BulkJobItem.objects.get(pk=items[0].pk)
    assert first.shipment_id == bought.pk and first.attempts == 2 and first.state == Item.BOOKED
    assert BulkJobItem.objects.get(pk=items[1].pk).attempts == 2
    labels = pages(job.output_file)
    assert len(labels) == 4 and bought.tracking_number in labels[0].extract_text()


def test_a_live_worker_keeps_its_order_until_its_heartbeat_goes_stale(
    selfprint, django_capture_on_commit_callbacks, settings
):
    settings.BULK_HEARTBEAT_STALE_SECONDS = 120
    orders = make_orders(2)
    job = start(orders, django_capture_on_commit_callbacks)
    held = bulk.claim_item(job.pk, worker="worker-a:111")  # alive: heartbeat just now

    tasks.resume_bulk_jobs()

    job.refresh_from_db()
    assert job.status == "running" and (job.done, job.failed) == (1, 0)  # the other order only
    assert BulkJobItem.objects.get(pk=held.pk).state == Item.RUNNING and not held.order.shipments.exists()
    assert bulk.claim_item(job.pk, worker="worker-b:222") is None  # not due yet

    BulkJobItem.objects.filter(pk=held.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=121))
    tasks.resume_bulk_jobs()

    job.refresh_from_db()
    assert (job.status, job.done) == ("done", 2) and Shipment.objects.count() == 2


def test_counts_stay_right_when_nudges_are_delivered_twice_and_a_slow_duplicate_fails_late(
    selfprint, django_capture_on_commit_callbacks
):
    orders = make_orders(3)
    job = start(orders, django_capture_on_commit_callbacks)

    tasks.run_bulk_job(job.pk)
    tasks.run_bulk_job(job.pk)  # delivered again
    tasks.book_chunk(job.pk, [orders[0].pk])  # a chunk task queued by the previous version
    item = job.items.get(position=0)
    bulk.record_outcome(item, {"ok": False, "message": "late duplicate"})  # cannot undo a booking

    job.refresh_from_db()
    assert (job.status, job.done, job.failed, job.total) == ("done", 3, 0, 3)
    assert bulk.refresh_counts(job.pk) == (3, 0)
    assert Shipment.objects.count() == 3 and len(pages(job.output_file)) == 3
    assert job.items.get(position=0).message == ""


def test_a_merge_whose_worker_died_is_finished_by_the_dispatcher(
    selfprint, django_capture_on_commit_callbacks, settings
):
    orders = make_orders(2)
    job = start(orders, django_capture_on_commit_callbacks)
    while (item := bulk.claim_item(job.pk, worker="worker-a:111")) is not None:
        bulk.process_item(job, item, account=None, ruleset=None)
    BulkJob.objects.filter(pk=job.pk).update(
        status="merging", claimed_by="worker-a:111", heartbeat_at=timezone.now()
    )  # merging... and killed

    assert bulk.finish_if_complete(job.pk, worker="worker-b:222") is False  # its merge is still fresh
    BulkJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=5))
    tasks.resume_bulk_jobs()

    job.refresh_from_db()
    assert (job.status, job.message) == ("done", "Booked 2 of 2.") and len(pages(job.output_file)) == 2


def test_the_job_page_lists_every_order_with_its_tracking_and_label_or_the_reason(
    staff_client, selfprint, django_capture_on_commit_callbacks
):
    good = make_orders(2)
    no_address = make_orders(1, ship_line1="")[0]
    job = start([*good, no_address], django_capture_on_commit_callbacks)
    tasks.run_bulk_job(job.pk)

    page = staff_client.get(reverse("admin:shipping_bulkjob_progress", args=[job.pk])).content.decode()

    shipment = Shipment.objects.get(order=good[0])
    assert "Every order (3)" in page
    assert (
        shipment.tracking_number in page
        and reverse("admin:shipping_shipment_label", args=[shipment.pk]) in page
    )
    assert f"Failed: {no_address} has no complete shipping address" in page
    assert "Retry failed orders" in page


def test_a_stale_job_shows_which_orders_are_pending_and_why_and_is_emailed_once(
    staff_client, selfprint, django_capture_on_commit_callbacks, settings
):
    AlertSubscription.objects.create(
        user=UserFactory(username="ops", email="ops@example.com"), all_channels=True
    )
    orders = make_orders(3)
    job = start(orders, django_capture_on_commit_callbacks)
    dead = job.items.get(position=0)
    die_holding(dead, book=False)
    stale(dead, seconds_ago=3600)
    BulkJob.objects.filter(pk=job.pk).update(status="running", created_at=timezone.now() - timedelta(hours=1))

    page = staff_client.get(reverse("admin:shipping_bulkjob_progress", args=[job.pk])).content.decode()

    assert "Pending (3)" in page
    assert "its worker worker-a:111 stopped answering at" in page
    assert "waiting for a worker" in page
    assert "This job is stuck: no progress since" in page and "0 of 3 orders done, 3 pending" in page
    desk = staff_client.get(reverse("admin:index")).content.decode()
    assert f"{job} is stuck" in desk

    assert bulk.alert_problem_jobs() == 1
    assert bulk.alert_problem_jobs() == 0  # once
    send_due_alerts()
    assert len(mail.outbox) == 1 and f"{job} is stuck" in mail.outbox[0].body


def test_the_resume_schedule_exists_after_migrate(db):
    from django_q.models import Schedule

    schedule = Schedule.objects.get(name="resume_bulk_jobs")
    assert schedule.func == "shipping.tasks.resume_bulk_jobs" and schedule.minutes == 1
