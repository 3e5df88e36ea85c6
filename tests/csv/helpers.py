"""Helpers shared by the CSV tests: upload through the admin page, read what was written."""

import html
import io

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from orders.models import Fulfilment, OrderEvent
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
    import openpyxl

    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def page_text(response) -> str:
    return html.unescape(response.content.decode())
