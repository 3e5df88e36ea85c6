"""Big exports: a CSV streams (its header leaves before any row is read, then chunks of rows), an
XLSX past EXPORT_INLINE_MAX_ROWS becomes a background job with a download link; formula
neutralisation holds in both."""

import io
from datetime import timedelta

import openpyxl
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from orders import exporting
from orders.models import ExportJob
from orders.resources import OrderExportResource
from orders.tasks import dispatch_due_syncs
from tests.csv.helpers import export_link, rows_of
from tests.factories import ChannelFactory, OrderFactory, UserFactory

HOSTILE = '=HYPERLINK("http://evil","x")'


def orders(n: int):
    channel = ChannelFactory(name="Etsy-Main")
    for i in range(n):
        OrderFactory(
            channel=channel,
            order_number=str(3000 + i),
            customer_name=HOSTILE if i == 1 else f"Customer {i}",
        )


def submit_export(client, fmt: str, query: str = "?o=1"):
    query = query + ("&" if query else "?") + "_list=1"  # a one-hit search stays a list
    url = export_link(client, reverse("admin:orders_order_changelist") + query)
    data = {"format": "0" if fmt == "csv" else "1", "resource": "0"}
    data |= {f"orderexportresource_{name}": "on" for name in OrderExportResource().get_export_order()}
    return client.post(url, data)


def test_a_csv_export_streams_its_header_before_reading_rows_then_rows_in_chunks(staff_client, monkeypatch):
    monkeypatch.setattr(exporting, "STREAM_ROWS", 2)
    orders(5)

    response = submit_export(staff_client, "csv")

    assert response.status_code == 200 and response.streaming
    assert (
        response["Content-Disposition"]
        == f'attachment; filename="orders-{timezone.localdate():%Y-%m-%d}.csv"'
    )
    chunks = iter(response.streaming_content)
    with CaptureQueriesContext(connection) as first:
        header = next(chunks)
    assert len(first) == 0  # the first bytes leave before the database is read
    assert header.startswith(b"\xef\xbb\xbforder_number,channel,status")
    rest = list(chunks)
    assert len([c for c in rest if c]) == 3  # 2 + 2 + 1 rows, each chunk sent as it is read
    rows = rows_of(header + b"".join(rest), "csv")
    assert [r[0] for r in rows[1:]] == [str(3000 + i) for i in range(5)]
    names = [r[rows[0].index("customer_name")] for r in rows[1:]]
    assert names[1] == "'" + HOSTILE  # neutralised, as every export cell is


def test_a_large_xlsx_export_is_a_job_with_a_download_link(
    staff_client, settings, django_capture_on_commit_callbacks
):
    settings.EXPORT_INLINE_MAX_ROWS = 2
    orders(3)

    with django_capture_on_commit_callbacks(execute=True):
        response = submit_export(staff_client, "xlsx")

    job = ExportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:orders_exportjob_progress", args=[job.pk])
    assert (job.status, job.total, job.done) == (ExportJob.Status.DONE, 3, 3)
    page = staff_client.get(response["Location"]).content.decode()
    download = reverse("admin:orders_exportjob_download", args=[job.pk])
    assert f'href="{download}"' in page and "Ready to download" in page
    content = b"".join(staff_client.get(download).streaming_content)
    book = openpyxl.load_workbook(io.BytesIO(content))
    rows = rows_of(content, "xlsx")
    assert [r[0] for r in rows[1:]] == ["3000", "3001", "3002"]
    assert rows[2][rows[0].index("customer_name")] == "'" + HOSTILE
    assert all(c.data_type != "f" for row in book.active.iter_rows() for c in row)


def test_a_small_xlsx_export_is_written_in_the_request(staff_client, settings):
    settings.EXPORT_INLINE_MAX_ROWS = 3
    orders(3)

    response = submit_export(staff_client, "xlsx")

    assert response.status_code == 200 and not ExportJob.objects.exists()
    assert len(rows_of(b"".join(response.streaming_content), "xlsx")) == 4


def test_another_staff_member_cannot_open_or_download_someone_elses_export(
    client, staff_client, settings, django_capture_on_commit_callbacks
):
    settings.EXPORT_INLINE_MAX_ROWS = 1
    orders(2)
    with django_capture_on_commit_callbacks(execute=True):
        submit_export(staff_client, "xlsx")
    job = ExportJob.objects.get()
    other = UserFactory(username="other", is_superuser=False)
    client.force_login(other)

    assert client.get(reverse("admin:orders_exportjob_download", args=[job.pk])).status_code == 404
    assert client.get(reverse("admin:orders_exportjob_progress", args=[job.pk])).status_code == 404


def test_the_dispatcher_finishes_an_export_whose_worker_died(staff_client, settings):
    settings.EXPORT_INLINE_MAX_ROWS = 1
    orders(2)
    submit_export(staff_client, "xlsx")  # queued on commit, which never comes here: as if lost
    job = ExportJob.objects.get()
    assert job.status == ExportJob.Status.QUEUED
    long_ago = timezone.now() - timedelta(hours=1)
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportJob.Status.RUNNING, claimed_by="dead:1", heartbeat_at=long_ago, done=1
    )

    dispatch_due_syncs()

    job.refresh_from_db()
    assert (job.status, job.done, job.total) == (ExportJob.Status.DONE, 2, 2)
    assert exporting.run_export_job(job.pk) == "not claimed"  # a finished job is never written twice


def test_the_fast_rows_are_the_resources_own_rows(db):
    from shipping.resources import ShipmentExportResource
    from tests.shipping.factories import ShipmentFactory

    orders(3)
    ShipmentFactory()
    for resource, model in [(OrderExportResource(), "order"), (ShipmentExportResource(), "shipment")]:
        queryset = resource._meta.model.objects.order_by("pk")
        for native in (False, True):
            ours = list(exporting.export_rows(resource, queryset, selected_fields=None, native=native))
            prepare = getattr(resource, "prepare_export_queryset", lambda qs: qs)
            theirs = [resource.export_resource(obj, force_native_type=native) for obj in prepare(queryset)]
            assert ours == theirs and ours, model


def test_an_export_job_keeps_the_lists_filters_and_search(
    staff_client, settings, django_capture_on_commit_callbacks
):
    settings.EXPORT_INLINE_MAX_ROWS = 0
    orders(4)
    OrderFactory(order_number="4000", customer_name="Customer 2", status="shipped")

    with django_capture_on_commit_callbacks(execute=True):
        submit_export(staff_client, "xlsx", "?q=Customer+2&status__exact=awaiting_shipment")
    with django_capture_on_commit_callbacks(execute=True):
        submit_export(staff_client, "xlsx", "?status__exact=awaiting_shipment&o=-1")

    searched, ordered = ExportJob.objects.order_by("pk")
    read = lambda job: [r[0] for r in rows_of(job.file.read(), "xlsx")[1:]]  # noqa: E731
    assert read(searched) == ["3002"]
    assert read(ordered) == ["3003", "3002", "3001", "3000"]


def test_a_csv_past_the_stream_limit_is_a_job_too(staff_client, settings, django_capture_on_commit_callbacks):
    settings.EXPORT_STREAM_MAX_ROWS = 2
    orders(3)

    with django_capture_on_commit_callbacks(execute=True):
        response = submit_export(staff_client, "csv")

    job = ExportJob.objects.get()
    assert response.status_code == 302 and (job.file_format, job.status) == ("csv", ExportJob.Status.DONE)
    download = staff_client.get(reverse("admin:orders_exportjob_download", args=[job.pk]))
    assert download["Content-Type"] == "text/csv"
    content = b"".join(download.streaming_content)
    assert content.startswith(b"\xef\xbb\xbforder_number,")  # Excel reads UTF-8 only with the BOM
    rows = rows_of(content, "csv")
    assert [r[0] for r in rows[1:]] == ["3000", "3001", "3002"]
    assert rows[2][rows[0].index("customer_name")] == "'" + HOSTILE
