"""A confirmed booking file is booked row by row by the crash-safe bulk workers: each row is a
BulkJobItem, a worker that dies mid-row leaves it to another, and no row buys two labels."""

import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from shipping import bulk, tasks
from shipping.booking import book_shipment, booking_reference
from shipping.csv_run import row_booking
from shipping.models import BulkJob, BulkJobItem, Shipment
from tests.csv.helpers import confirm, last_job, page_text, upload
from tests.csv.test_book import HEAD
from tests.factories import BrandFactory, CarrierAccountFactory


@pytest.fixture
def carriers(db):
    BrandFactory()
    return (
        CarrierAccountFactory(name="Royal Mail (own account)", tracking_company="Royal Mail"),
        CarrierAccountFactory(
            name="Parcelforce (own account)", tracking_company="Parcelforce", prefix="PF", is_default=False
        ),
    )


def confirmed_but_not_booked(staff_client, content, capture) -> BulkJob:
    """Staff confirm the file; the task cluster turns it into items, and then dies before any
    nudge it queued ran."""
    upload(staff_client, content, mode="book")
    with capture(execute=False) as confirmed:
        confirm(staff_client, last_job())
    with capture(execute=False):
        for callback in confirmed:
            callback()  # run_job: the checked rows become items
    return last_job()


def test_a_row_whose_worker_died_after_buying_its_label_is_not_booked_twice(
    staff_client, shop, carriers, django_capture_on_commit_callbacks
):
    royal_mail, parcelforce = carriers
    content = HEAD + (
        "1001,Etsy-Main,Parcelforce (own account),Express 24,450,,,,\n"
        "1002,Etsy-Main,,,300,,,,\n"
        "1003,Etsy-Main,,,,,,,\n"
    )
    job = confirmed_but_not_booked(staff_client, content, django_capture_on_commit_callbacks)
    items = list(job.items.order_by("position"))
    assert [i.state for i in items] == ["queued"] * 3 and job.total == 3
    assert items[0].options["carrier_account_id"] == parcelforce.pk and items[0].options["row"] == 2

    # Worker A claims row 2 (#1001), buys its label with the row's choices, and is killed.
    claimed = bulk.claim_item(job.pk, worker="worker-a:111")
    reference, _ = booking_reference(claimed.order)
    BulkJobItem.objects.filter(pk=claimed.pk).update(
        reference=reference, heartbeat_at=timezone.now() - timedelta(minutes=10)
    )
    bought = book_shipment(order=claimed.order, **row_booking(claimed.options))

    assert tasks.resume_bulk_jobs() == 1  # the dispatcher's minute (nudges run inline in tests)

    job.refresh_from_db()
    assert (job.status, job.done, job.failed) == ("done", 3, 0)
    assert "Booked 3 labels. Download the labels as one PDF." in job.message
    for order in [o for o in shop[1] if o.order_number in ("1001", "1002", "1003")]:
        assert Shipment.objects.filter(order=order).count() == 1  # one label per row, ever
    first = BulkJobItem.objects.get(pk=claimed.pk)
    assert (first.shipment_id, first.attempts, first.state) == (bought.pk, 2, "booked")
    assert bought.carrier_account == parcelforce and bought.service == "Express 24"
    assert Shipment.objects.get(order__order_number="1002").weight_g == 300
    pdf = staff_client.get(reverse("shipping_csv:download", args=[job.pk, "labels"]))
    assert len(PdfReader(io.BytesIO(b"".join(pdf.streaming_content))).pages) == 3
    text = page_text(staff_client.get(reverse("shipping_csv:job", args=[job.pk])))
    assert "Booked 3 labels" in text and bought.tracking_number in text


def test_a_row_that_fails_is_in_the_report_and_the_others_are_booked(
    staff_client, shop, carriers, django_capture_on_commit_callbacks
):
    content = HEAD + "1001,Etsy-Main,,,450,,,,\n1002,Etsy-Main,,,300,,,,\n"
    job = confirmed_but_not_booked(staff_client, content, django_capture_on_commit_callbacks)
    shop[1][1].delete()  # #1002 is deleted between the check and the booking

    bulk.run(job.pk)

    job.refresh_from_db()
    assert (job.status, job.done, job.failed) == ("done", 1, 1)
    assert "Booked 1 label; 1 failed (see the report)" in job.message
    report = staff_client.get(reverse("shipping_csv:download", args=[job.pk, "failed"]))
    body = b"".join(report.streaming_content).decode()
    assert "1002" in body and "row 3: the order no longer exists" in body


def test_a_file_waiting_for_confirmation_is_neither_resumed_nor_reported_stuck(
    staff_client, shop, carriers, settings
):
    upload(staff_client, HEAD + "1001,Etsy-Main,,,450,,,,\n", mode="book")
    job = last_job()
    BulkJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(hours=3))

    assert tasks.resume_bulk_jobs() == 0
    assert bulk.run(job.pk) == "nothing to do"
    assert [j for j, _ in bulk.problem_jobs()] == []
    job.refresh_from_db()
    assert job.params["phase"] == "preview" and not Shipment.objects.exists()


RECORD_HEAD = "order_number,channel,carrier,tracking_number,ship_date\n"


def test_a_record_file_whose_worker_died_is_queued_again_and_recorded_once(
    staff_client, shop, settings, django_capture_on_commit_callbacks
):
    from shipping import csv_import

    settings.CSV_INLINE_MAX_ROWS = 0  # the task cluster records it
    upload(staff_client, RECORD_HEAD + "1001,Etsy-Main,Royal Mail,RM1,\n1002,Etsy-Main,DPD,DPD2,\n")
    job = last_job()
    with django_capture_on_commit_callbacks(execute=False):
        confirm(staff_client, job)  # its task is lost with the cluster
    assert csv_import._claim(job, "import")  # a worker took it and was killed at once
    job.refresh_from_db()
    assert job.status == "running" and job.claimed_by and job.heartbeat_at

    assert tasks.resume_bulk_jobs() == 0  # alive (heartbeat fresh): left alone
    BulkJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=10))
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.resume_bulk_jobs() == 1  # the dispatcher's minute queues it again (inline in tests)

    job.refresh_from_db()
    assert job.status == "done" and "Recorded 2 shipments" in job.message
    assert sorted(Shipment.objects.values_list("tracking_number", flat=True)) == ["DPD2", "RM1"]
    assert tasks.resume_bulk_jobs() == 0


def test_a_record_file_whose_worker_died_long_ago_is_a_stuck_job_on_the_desk(staff_client, shop, settings):
    from shipping import csv_import

    upload(staff_client, RECORD_HEAD + "1001,Etsy-Main,Royal Mail,RM1,\n")
    job = last_job()
    assert [j for j, _ in bulk.problem_jobs()] == [] and not bulk.stuck_jobs().exists()  # waiting for staff
    BulkJob.objects.filter(pk=job.pk).update(
        params={**job.params, "phase": "import"},
        status="queued",
        created_at=timezone.now() - timedelta(hours=2),
    )
    job.refresh_from_db()
    assert csv_import._claim(job, "import")
    BulkJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert list(bulk.stuck_jobs()) == [job]
