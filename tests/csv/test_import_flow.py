"""Upload → preview → confirm → import, through the admin pages."""

import csv
import io

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from django_q.models import Task

from orders.models import Fulfilment, Order, OrderEvent
from shipping.booking import record_external_shipment
from shipping.models import BulkJob, Shipment
from tests.csv.helpers import confirm, last_job, page_text, upload, written
from tests.factories import OrderFactory

HEAD = "order_number,channel,carrier,tracking_number,ship_date\n"


def _download(client, job, what) -> str:
    response = client.get(reverse("shipping_csv:download", args=[job.pk, what]))
    assert response.status_code == 200
    return b"".join(response.streaming_content).decode("utf-8-sig")


def test_preview_marks_every_row_then_confirm_records_and_queues_the_push(
    staff_client, shop, django_capture_on_commit_callbacks
):
    channel, orders = shop
    shipped = OrderFactory(channel=channel, external_id="1006", order_number="1006", status="shipped")
    record_external_shipment(order=orders[2], tracking_number="RM3", carrier="Royal Mail")
    before = written()

    page = upload(
        staff_client,
        HEAD + "1001,Etsy-Main,Royal Mail,RM1,2025-11-20\n"
        "1006,Etsy-Main,Royal Mail,RM6,\n"
        "1003,Etsy-Main,Royal Mail,RM3,\n",
    )

    text = page_text(page)
    assert "3 rows checked: 1 new, 1 updated, 1 skipped." in text
    assert "#1001: Royal Mail RM1, shipped 2025-11-20" in text
    assert "#1006 already shipped: adds parcel Royal Mail RM6" in text
    assert "already recorded: #1003 has tracking RM3" in text
    assert written() == before  # a preview writes nothing

    job = last_job()
    with django_capture_on_commit_callbacks() as callbacks:
        done = page_text(confirm(staff_client, job))

    assert "Recorded 2 shipments." in done
    assert len(callbacks) == 1  # one queued task pushes both fulfilments, after commit
    assert written() == (before[0] + 2, before[1] + 2, before[2] + 3)  # 2 "recorded" events + 1 status change
    first = Shipment.objects.get(tracking_number="RM1")
    assert (
        first.order == orders[0] and first.carrier_account is None and first.tracking_company == "Royal Mail"
    )
    assert first.booked_by.username == "staff" and first.created_at.date().isoformat() == "2025-11-20"
    assert (
        first.fulfilment.state == Fulfilment.State.PENDING and first.fulfilment.carrier_name == "Royal Mail"
    )
    orders[0].refresh_from_db()
    shipped.refresh_from_db()
    assert orders[0].status == shipped.status == "shipped"
    assert list(orders[0].events.order_by("id").values_list("kind", "message")) == [
        ("booked", f"Shipment recorded: Royal Mail RM1 (CSV import #{job.pk}, row 2)"),
        ("status", "Awaiting shipment → Shipped: shipment RM1 booked"),
    ]
    assert not shipped.events.filter(kind="status").exists()


def test_the_same_file_uploaded_twice_records_once(staff_client, shop):
    content = HEAD + "1001,Etsy-Main,Royal Mail,RM1,\n1002,Etsy-Main,DPD,DPD2,\n"
    upload(staff_client, content)
    confirm(staff_client, last_job())
    after_first = written()

    page = upload(staff_client, content)
    second = last_job()

    assert "2 rows checked: 2 skipped. There is nothing to import." in page_text(page)
    assert f"#{second.pk - 1}" in page_text(page)  # "the same file was uploaded before"
    confirm(staff_client, second)
    assert written() == after_first
    assert Shipment.objects.filter(tracking_number="RM1").count() == 1


def test_confirm_imports_the_rows_checked_without_reading_the_file_again(staff_client, shop):
    upload(staff_client, HEAD + "1001,Etsy-Main,Royal Mail,RM1,\n")
    job = last_job()
    # The upload is replaced by garbage after the preview: the import does not read it.
    default_storage.delete(job.source_file.name)
    default_storage.save(job.source_file.name, ContentFile(b"\x00garbage"))

    confirm(staff_client, job)

    job.refresh_from_db()
    assert job.params["phase"] == "done" and Shipment.objects.get().tracking_number == "RM1"


def test_errors_block_the_file_then_the_report_is_fixed_and_uploaded(staff_client, shop):
    page = upload(
        staff_client,
        "order_number;channel;carrier;tracking_number;note\n"
        "1001;Etsy-Main;Royal Mail;RM1;fragile\n"
        "1042;Etsy-Main;Royal Mail;RM42;=1+1\n"
        "1003;Etsy-Main;Roal Mail;RM3;\n",
    )
    job = last_job()
    text = page_text(page)
    assert "2 rows have errors" not in text  # the counts speak for themselves
    assert "3 rows checked: 1 new, 2 error. Nothing has been imported." in text
    assert "Columns not used (ignored): note." in text

    refused = confirm(staff_client, job)  # all or nothing by default
    assert "not waiting for confirmation" in page_text(refused) and written() == (0, 0, 0)

    report = list(csv.reader(io.StringIO(_download(staff_client, job, "errors")), delimiter=";"))
    assert report == [
        ["order_number", "channel", "carrier", "tracking_number", "note", "error"],
        [
            "1042",
            "Etsy-Main",
            "Royal Mail",
            "RM42",
            "'=1+1",
            "row 3, order_number: no order #1042 on channel Etsy-Main",
        ],
        [
            "1003",
            "Etsy-Main",
            "Roal Mail",
            "RM3",
            "",
            "row 4, carrier: “Roal Mail” is not a carrier Shipdesk knows; "
            "did you mean Royal Mail? (add it to a carrier account's tracking company, or to CSV_EXTRA_CARRIERS)",
        ],
    ]

    # Staff import the valid row now, fix the report and upload it as it is.
    confirm(staff_client, job, valid_rows_only="1")
    assert list(Shipment.objects.values_list("tracking_number", flat=True)) == ["RM1"]
    report[1][0], report[2][2] = "1002", "Royal Mail"
    fixed = io.StringIO()
    csv.writer(fixed, delimiter=";").writerows(report)
    upload(staff_client, fixed.getvalue())
    confirm(staff_client, last_job())

    assert set(Shipment.objects.values_list("tracking_number", flat=True)) == {"RM1", "RM42", "RM3"}


def test_a_big_file_is_checked_and_imported_by_the_task_cluster(
    staff_client, shop, settings, django_capture_on_commit_callbacks
):
    settings.CSV_INLINE_MAX_BYTES = 10
    settings.CSV_INLINE_MAX_ROWS = 1
    settings.CSV_CHUNK_ROWS = 2
    rows = "".join(f"{n},Etsy-Main,Royal Mail,RM{n},\n" for n in range(1001, 1006))

    with django_capture_on_commit_callbacks(execute=True):
        page = upload(staff_client, HEAD + rows)
        # The upload returned at once with a page that refreshes itself (also without JavaScript).
        text = page_text(page)
        assert "Checking the file" in text and '<meta http-equiv="refresh" content="3">' in text
        job = last_job()
        assert staff_client.get(reverse("shipping_csv:job_status", args=[job.pk])).json()["finished"] is False

    status = staff_client.get(reverse("shipping_csv:job_status", args=[job.pk])).json()
    assert status["phase"] == "preview" and status["finished"] and status["total"] == 5
    assert Task.objects.filter(name=f"csv-validate-{job.pk}", success=True).exists()

    with django_capture_on_commit_callbacks(execute=True):
        confirm(staff_client, job)
    status = staff_client.get(reverse("shipping_csv:job_status", args=[job.pk])).json()
    assert status == {**status, "phase": "done", "percent": 100, "done": 5, "failed": 0, "total": 5}
    assert Task.objects.filter(name=f"csv-run-{job.pk}", success=True).exists()
    assert Order.objects.filter(status="shipped").count() == 5
    assert OrderEvent.objects.filter(kind="booked").count() == 5


def test_an_order_cancelled_after_the_preview_fails_alone_with_a_report(staff_client, shop):
    channel, orders = shop
    upload(staff_client, HEAD + "1001,Etsy-Main,Royal Mail,RM1,\n1002,Etsy-Main,Royal Mail,RM2,\n")
    job = last_job()
    Order.objects.filter(pk=orders[1].pk).update(status="cancelled")

    text = page_text(confirm(staff_client, job))

    assert "Recorded 1 shipment; 1 failed (see the report)." in text
    report = _download(staff_client, job, "failed")
    assert "row 3: #1002 was cancelled after the file was checked" in report
    assert list(Shipment.objects.values_list("tracking_number", flat=True)) == ["RM1"]


def test_past_jobs_are_listed_and_a_preview_can_be_discarded(staff_client, shop):
    upload(staff_client, HEAD + "1001,Etsy-Main,Royal Mail,RM1,\n")
    job = last_job()

    staff_client.post(reverse("shipping_csv:discard", args=[job.pk]))
    confirm(staff_client, job)

    job.refresh_from_db()
    assert job.params["phase"] == "discarded" and job.status == BulkJob.Status.FAILED
    assert written() == (0, 0, 0)
    listing = page_text(staff_client.get(reverse("shipping_csv:jobs")))
    assert "shipments.csv" in listing and "Discarded by staff" in listing
    assert staff_client.get(reverse("shipping_csv:download", args=[job.pk, "source"])).status_code == 200


def test_the_preview_pages_and_filters_rows(staff_client, shop):
    rows = "".join(f"{1001 + i % 5},Etsy-Main,Royal Mail,RM{i},\n" for i in range(150))
    upload(staff_client, HEAD + rows)
    job = last_job()
    url = reverse("shipping_csv:job", args=[job.pk])

    first = page_text(staff_client.get(url))
    errors_page_2 = page_text(staff_client.get(url + "?only=error&page=2"))

    assert "RM0" in first and "next ›" in first
    assert (
        "RM105," not in errors_page_2
        and "is already on row" in errors_page_2
        and "next ›" not in errors_page_2
    )
