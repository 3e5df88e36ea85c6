"""Helpers shared by the CSV tests: upload through the admin page, read what was written."""

import csv
import html
import io

import openpyxl
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from orders.models import Fulfilment, OrderEvent
from orders.resources import OrderExportResource
from shipping.models import BulkJob, Shipment


def upload(client, content: bytes | str, name: str = "shipments.csv", mode: str = "record", follow: bool = True):
    if isinstance(content, str):
        content = content.encode("utf-8")
    return client.post(reverse("shipping_csv:upload"), {"mode": mode, "file": SimpleUploadedFile(name, content)},
                       follow=follow)


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


def export_orders(client, query: str = "", fmt: str = "csv") -> bytes:
    """Through the admin's export page, as staff do: open it from the filtered list, submit."""
    url = reverse("admin:orders_order_export") + query
    assert client.get(url).status_code == 200
    data = {"format": "0" if fmt == "csv" else "1", "resource": "0"}
    data |= {f"orderexportresource_{name}": "on" for name in OrderExportResource().get_export_order()}
    response = client.post(url, data)
    assert response.status_code == 200, response.content[:500]
    return response.content


def rows_of(content: bytes, fmt: str) -> list[list]:
    if fmt == "csv":
        return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    return [[c.value for c in row] for row in sheet.iter_rows()]
