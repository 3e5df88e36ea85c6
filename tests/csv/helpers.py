"""Helpers shared by the CSV tests: upload through the admin page, read what was written."""

import csv
import html
import io
import re

import openpyxl
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from orders.models import Fulfilment, OrderEvent
from orders.resources import OrderExportResource
from shipping.models import BulkJob, Shipment


def upload(
    client, content: bytes | str, name: str = "shipments.csv", mode: str = "record", follow: bool = True
):
    if isinstance(content, str):
        content = content.encode("utf-8")
    return client.post(
        reverse("shipping_csv:upload"),
        {"mode": mode, "file": SimpleUploadedFile(name, content)},
        follow=follow,
    )


def last_job() -> BulkJob:
    return BulkJob.objects.order_by("-pk").first()


def confirm(client, job: BulkJob, **data):
    return client.post(reverse("shipping_csv:confirm", args=[job.pk]), data, follow=True)


def written() -> tuple[int, int, int]:
    """What an import writes: shipments, fulfilments, order events."""
    return Shipment.objects.count(), Fulfilment.objects.count(), OrderEvent.objects.count()


def xlsx(rows: list[list]) -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def page_text(response) -> str:
    return html.unescape(response.content.decode())


def export_link(client, list_url: str) -> str | None:
    """The list's “Export (CSV / Excel)” link as the page shows it (None: it shows none)."""
    page = client.get(list_url)
    assert page.status_code == 200, list_url
    found = re.search(r'<a href="([^"]+)" class="export_link">', page.content.decode())
    return html.unescape(found.group(1)) if found else None


def export(client, url: str, fmt: str = "csv", resource=OrderExportResource) -> bytes:
    """Through the admin's export page, as staff do: open it (the list's link), submit it."""
    assert client.get(url).status_code == 200
    data = {"format": "0" if fmt == "csv" else "1", "resource": "0"}
    data |= {f"{resource.__name__.lower()}_{name}": "on" for name in resource().get_export_order()}
    response = client.post(url, data)
    assert response.status_code == 200
    assert response.streaming and response["Content-Disposition"].endswith(f'.{fmt}"')
    return b"".join(response.streaming_content)


def export_orders(client, query: str = "", fmt: str = "csv") -> bytes:
    """The order list, filtered by `query`, exported from its link."""
    # `_list`: the list itself even when its search finds one order (which otherwise opens it).
    query = query + ("&" if query else "?") + "_list=1"
    return export(client, export_link(client, reverse("admin:orders_order_changelist") + query), fmt)


def rows_of(content: bytes, fmt: str) -> list[list]:
    if fmt == "csv":
        return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    return [[c.value for c in row] for row in sheet.iter_rows()]
