"""The bulk path merchants use when their carrier has no integration: export the orders waiting
for shipment, fill the tracking in a spreadsheet, upload it as "record": the tracking reaches
the channel (the sandbox Etsy API records what it received)."""

import csv
import io

import openpyxl
import pytest
from django.utils import timezone

from orders.models import Fulfilment, Order
from orders.tasks import run_sync
from sandbox.generators.etsy import generate
from sandbox.models import SandboxOrder, SandboxRequest
from shipping.models import Shipment
from tests.csv.helpers import confirm, export_orders, last_job, page_text, rows_of, upload
from tests.factories import UserFactory


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_fill_in_the_tracking_and_import_as_record(etsy_sandbox, client, fmt):
    channel, store = etsy_sandbox
    generate(store, 3, mix=False, seed=11)
    run_sync(channel)
    client.force_login(UserFactory())
    assert Order.objects.filter(status="awaiting_shipment").count() == 3

    # 1. Export what waits for shipment, as the order list shows it.
    rows = rows_of(export_orders(client, "?status__exact=awaiting_shipment", fmt), fmt)
    header, body = rows[0], rows[1:]
    assert len(body) == 3

    # 2. Fill carrier, tracking number and ship date in the spreadsheet.
    today = timezone.localdate()
    for i, row in enumerate(body):
        row[header.index("carrier")] = "Royal Mail"
        row[header.index("tracking_number")] = f"RM{i:08d}5GB"
        row[header.index("ship_date")] = today.strftime("%d/%m/%Y")
    if fmt == "csv":
        out = io.StringIO()
        csv.writer(out, delimiter=";").writerows([header, *body])  # saved again by French Excel
        content, name = ("\ufeff" + out.getvalue()).encode("utf-8"), "orders.csv"
    else:
        book = openpyxl.Workbook()
        for row in [header, *body]:
            book.active.append(row)
        buffer = io.BytesIO()
        book.save(buffer)
        content, name = buffer.getvalue(), "orders.xlsx"

    # 3. Upload as "record", check the preview, confirm.
    page = upload(client, content, name=name)
    assert "3 rows checked: 3 new." in page_text(page), page_text(page)
    confirm(client, last_job())

    shipments = Shipment.objects.select_related("order", "fulfilment").order_by("tracking_number")
    assert [s.tracking_number for s in shipments] == ["RM000000005GB", "RM000000015GB", "RM000000025GB"]
    for shipment in shipments:
        assert shipment.order.status == "shipped"
        assert shipment.fulfilment.state == Fulfilment.State.SENT  # pushed after the import committed
        pushed = SandboxRequest.objects.get(path__endswith=f"/receipts/{shipment.order.external_id}/tracking")
        assert pushed.parsed["tracking_code"] == shipment.tracking_number
        assert pushed.parsed["carrier_name"] == "royal-mail"
        receipt = SandboxOrder.objects.get(store=store, external_id=shipment.order.external_id).data
        assert receipt["is_shipped"] and receipt["shipments"][-1]["tracking_code"] == shipment.tracking_number
    assert SandboxRequest.objects.filter(path__endswith="/tracking").count() == 3

    # 4. The same file again changes nothing, here or on Etsy.
    upload(client, content, name=name)
    confirm(client, last_job())
    assert Shipment.objects.count() == 3
    assert SandboxRequest.objects.filter(path__endswith="/tracking").count() == 3
