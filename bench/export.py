"""`make bench NAME=export`: exporting 100,000 orders from the order list as CSV and XLSX, ours against django-import-export's default.

Ours is the staff path through the admin (Django's test client, signed in): the export page
submitted with every column. A CSV streams (EXPORT_STREAM_MAX_ROWS is raised to the order
count here; by default a CSV past 50,000 rows is a job, as the XLSX is): first byte is when the first chunk of the response
arrives, total when the last has been read. An XLSX of that size is an export job: first byte is
when the request answers (a redirect to the job's page); total adds the job written by a worker
(run here in the same process, as the task cluster would). The default is django-import-export's
own export of the same rows with the same resource in the same run: `resource.export()` (a
tablib Dataset) then the format's bytes, the whole file built before its first byte can leave.
The orders come from bench/data.py (two lines, a fulfilment and a shipment each, skewed
statuses). Peak RSS is the whole process's, read after our exports and before the default ran
(the default's own peak is said too). Goal: first byte < 2 s and total well inside 30 s for
each format, memory flat. BENCH_EXPORT_ORDERS changes the count."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from bench.common import database_url, report, rss_mb, setup_django, timed

ORDERS = int(os.environ.get("BENCH_EXPORT_ORDERS", 100_000))


def run():
    tmp = Path(tempfile.mkdtemp(prefix="bench-export-files-"))
    try:
        _run(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _submit(client, fmt: str):
    from django.urls import reverse

    from orders.resources import OrderExportResource

    url = reverse("admin:orders_order_export")
    data = {"format": "0" if fmt == "csv" else "1", "resource": "0"}
    data |= {f"orderexportresource_{name}": "on" for name in OrderExportResource().get_export_order()}
    return client.post(url, data)


def _ours_csv(client) -> dict:
    start = time.perf_counter()
    response = _submit(client, "csv")
    assert response.status_code == 200 and response.streaming, response.status_code
    size, first = 0, None
    for chunk in response.streaming_content:
        if first is None:
            first = time.perf_counter() - start
        size += len(chunk)
    return {"first": first, "total": time.perf_counter() - start, "bytes": size}


def _ours_xlsx(client) -> dict:
    from orders import exporting
    from orders.models import ExportJob

    start = time.perf_counter()
    response = _submit(client, "xlsx")
    first = time.perf_counter() - start
    assert response.status_code == 302, response.status_code
    job = ExportJob.objects.order_by("-pk").first()
    assert exporting.run_export_job(job.pk) == "done"
    total = time.perf_counter() - start
    job.refresh_from_db()
    assert job.done == ORDERS, (job.done, job.error)
    return {"first": first, "total": total, "bytes": job.file.size}


def _default(fmt: str) -> float:
    """django-import-export's default export of the same rows: a Dataset, then the file."""
    from import_export.formats import base_formats

    from orders.models import Order
    from orders.resources import OrderExportResource

    resource = OrderExportResource()
    queryset = resource.prepare_export_queryset(
        Order.objects.select_related("channel").order_by("-ordered_at")
    )
    file_format = base_formats.CSV() if fmt == "csv" else base_formats.XLSX()
    with timed() as t:
        data = file_format.export_data(resource.export(queryset=queryset))
    assert data
    return t["seconds"]


def _run(tmp: Path) -> None:
    os.environ["MEDIA_ROOT"] = str(tmp / "media")
    setup_django(database_url("export"))
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django_q.conf import Conf

    from bench.data import load_orders
    from channels.models import Channel
    from tests.factories import BrandFactory, CarrierAccountFactory, UserFactory

    call_command("migrate", verbosity=0)
    settings.MEDIA_ROOT = str(tmp / "media")
    Conf.SYNC = False  # the export job is queued, then written below as a worker would
    settings.EXPORT_STREAM_MAX_ROWS = (
        ORDERS  # measure the CSV stream (past 50,000 rows it is a job, like the XLSX)
    )
    channels = [
        Channel.objects.create(
            name=f"Shop {i}", kind=kind, api_base_url="https://example.invalid/", shop_id=str(i)
        ).pk
        for i, kind in enumerate(["etsy", "shopify", "ebay", "amazon", "ecwid"])
    ]
    carrier = CarrierAccountFactory(name="Bench carrier").pk
    brand = BrandFactory(name="Bench", is_default=True).pk
    load_seconds = load_orders(channels=channels, carrier=carrier, brand=brand, first=1, last=ORDERS)
    client = Client()
    client.force_login(UserFactory(username="bench", is_superuser=True, is_staff=True))

    rss_start = rss_mb()
    ours = {"csv": _ours_csv(client), "xlsx": _ours_xlsx(client)}
    ours_peak = rss_mb()
    default = {"csv": _default("csv"), "xlsx": _default("xlsx")}
    default_peak = rss_mb()

    for fmt in ("csv", "xlsx"):
        o = ours[fmt]
        how = (
            "streamed to the browser"
            if fmt == "csv"
            else "queued as an export job (the request answers with its page) and written by a worker"
        )
        report(
            f"export_{fmt}",
            value=o["total"],
            unit="s",
            baseline=default[fmt],
            ratio=default[fmt] / o["first"],
            goal="first byte < 2 s; total well inside 30 s; memory flat",
            peak_mb=ours_peak,
            sentence=(
                f"Exported {ORDERS:,} orders as {fmt.upper()} ({o['bytes'] / 1e6:.1f} MB), {how}: first byte after "
                f"{o['first']:.2f} s, complete after {o['total']:.1f} s, against {default[fmt]:.1f} s before the "
                f"first byte of django-import-export's default export of the same rows (ratio: default's first "
                f"byte / ours). The whole process peaked at {ours_peak:.0f} MB resident after our two exports "
                f"({rss_start:.0f} MB before them), and at {default_peak:.0f} MB once the default had run. "
                f"Database: {connection.vendor}; the {ORDERS:,} orders loaded in {load_seconds:.0f} s."
            ),
            orders=ORDERS,
            first_byte_seconds=round(o["first"], 3),
            total_seconds=round(o["total"], 2),
            default_seconds=round(default[fmt], 2),
            rss_before_mb=round(rss_start, 1),
            default_peak_mb=round(default_peak, 1),
            bytes=o["bytes"],
        )
