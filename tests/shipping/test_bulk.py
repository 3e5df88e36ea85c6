"""Booking many orders from the admin: a background job, a progress page, one merged PDF."""

import io

from django.urls import reverse
from pypdf import PdfReader

from orders.models import Order
from shipping.models import BulkJob, Shipment
from tests.factories import OrderFactory, OrderLineFactory


def pages(field) -> list:
    with field.open("rb") as f:
        return PdfReader(io.BytesIO(f.read())).pages


def make_orders(n, **kw):
    orders = OrderFactory.create_batch(n, **kw)
    for order in orders:
        OrderLineFactory(order=order, weight_g=300)
    return orders


def run_action(staff_client, capture, action, orders, note=""):
    """Press the action and confirm its page (the note to the buyer, one for all); then run what
    it queued after commit (the job), as the cluster would. Tasks run inline in tests; the pushes
    the bookings queue stay queued (they are not the subject)."""
    with capture() as callbacks:
        response = staff_client.post(
            reverse("admin:orders_order_changelist"),
            {"action": action, "_selected_action": [o.pk for o in orders], "post": "yes", "note": note},
        )
    for callback in callbacks:
        callback()
    return response


def test_two_hundred_orders_book_through_the_admin_action_into_one_pdf(
    staff_client, selfprint, django_capture_on_commit_callbacks
):
    orders = make_orders(200)

    response = run_action(staff_client, django_capture_on_commit_callbacks, "book_shipments", orders)

    job = BulkJob.objects.get()
    assert response.status_code == 302 and response.url == reverse(
        "admin:shipping_bulkjob_progress", args=[job.pk]
    )
    assert (job.status, job.total, job.done, job.failed) == ("done", 200, 200, 0)
    assert Shipment.objects.count() == 200
    assert not Order.objects.filter(status=Order.Status.AWAITING_SHIPMENT).exists()
    labels = pages(job.output_file)
    assert len(labels) == 200
    assert {round(float(p.mediabox.width)) for p in labels} == {288}  # one 4x6 label per page
    assert len(pages(job.slips_file)) == 200  # a packing slip per order
    first = Shipment.objects.get(order=orders[0])
    assert first.tracking_number in labels[0].extract_text()  # in the order staff selected them

    page = staff_client.get(response.url).content.decode()
    assert "Booked 200 of 200." in page and "Print labels (one PDF)" in page and "Packing slips" in page
    download = staff_client.get(reverse("admin:shipping_bulkjob_file", args=[job.pk, "labels"]))
    assert download["Content-Type"] == "application/pdf"


def test_a4_sheets_hold_four_labels_each(staff_client, selfprint, django_capture_on_commit_callbacks):
    orders = make_orders(9)

    run_action(staff_client, django_capture_on_commit_callbacks, "book_shipments_a4", orders)

    job = BulkJob.objects.get()
    sheets = pages(job.output_file)
    assert len(sheets) == 3
    assert (round(float(sheets[0].mediabox.width)), round(float(sheets[0].mediabox.height))) == (595, 842)
    text = sheets[0].extract_text()
    tracking = [Shipment.objects.get(order=o).tracking_number for o in orders[:4]]
    assert all(t in text for t in tracking)


def test_failures_are_listed_per_order_and_can_be_retried(
    staff_client, selfprint, django_capture_on_commit_callbacks
):
    good = make_orders(3)
    no_address = make_orders(1, ship_line1="")[0]
    on_hold = make_orders(1, status=Order.Status.ON_HOLD)[0]

    run_action(
        staff_client, django_capture_on_commit_callbacks, "book_shipments", [*good, no_address, on_hold]
    )

    job = BulkJob.objects.get()
    assert (job.done, job.failed, job.status) == (3, 2, "done")
    assert len(pages(job.output_file)) == 3
    page = staff_client.get(reverse("admin:shipping_bulkjob_progress", args=[job.pk])).content.decode()
    assert f"{no_address} has no complete shipping address" in page
    assert f"{on_hold} is on hold; only orders awaiting shipment or partly shipped are booked" in page
    assert "Retry failed" in page

    no_address.ship_line1 = "1 High Street"
    no_address.save()
    with django_capture_on_commit_callbacks() as callbacks:
        response = staff_client.post(reverse("admin:shipping_bulkjob_retry", args=[job.pk]))
    for callback in callbacks:
        callback()

    retry = BulkJob.objects.exclude(pk=job.pk).get()
    assert response.url == reverse("admin:shipping_bulkjob_progress", args=[retry.pk])
    assert retry.params["retry_of"] == job.pk and retry.total == 1  # the on-hold order is not retried
    assert (retry.done, retry.failed) == (1, 0) and no_address.shipments.count() == 1


def test_the_progress_page_refreshes_itself_without_javascript_and_polls_json(staff_client, selfprint):
    job = BulkJob.objects.create(
        kind=BulkJob.Kind.BOOK_ORDERS, status=BulkJob.Status.RUNNING, total=50, done=20, failed=5
    )

    page = staff_client.get(reverse("admin:shipping_bulkjob_progress", args=[job.pk])).content.decode()
    state = staff_client.get(reverse("admin:shipping_bulkjob_status", args=[job.pk])).json()

    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in page
    assert '<progress id="job-progress" max="100" value="50"' in page and "25 of 50" in page
    assert state == {
        "id": job.pk,
        "status": "running",
        "status_label": "Running",
        "total": 50,
        "done": 20,
        "failed": 5,
        "percent": 50,
        "finished": False,
        "message": "",
        "files": {},
    }
    job.status = BulkJob.Status.DONE
    job.save()
    assert (
        "http-equiv"
        not in staff_client.get(reverse("admin:shipping_bulkjob_progress", args=[job.pk])).content.decode()
    )


def test_a_chunk_redelivered_after_its_worker_died_counts_each_order_once(selfprint):
    from shipping import bulk
    from shipping.booking import book_shipment

    orders = make_orders(3)
    ids = [o.pk for o in orders]
    job = BulkJob.objects.create(
        kind=BulkJob.Kind.BOOK_ORDERS,
        status=BulkJob.Status.RUNNING,
        total=3,
        params={"order_ids": ids, "layout": "a6"},
    )
    book_shipment(order=orders[0])  # the first delivery booked this one, then its worker died

    bulk.book_chunk(job.pk, ids[:2])  # delivered again
    bulk.book_chunk(job.pk, ids[:2])  # and once more, after all
    bulk.book_chunk(job.pk, ids[2:])

    job.refresh_from_db()
    assert (job.status, job.done, job.failed) == ("done", 3, 0)
    assert Shipment.objects.count() == 3 and len(pages(job.output_file)) == 3
