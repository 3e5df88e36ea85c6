"""A "book" upload ships the default lines (what Shipdesk ships itself), carries a note to the
buyer per row, and says why an order was not booked."""

import csv
import io
from decimal import Decimal

from django.core.files.storage import default_storage
from django.urls import reverse

from orders.models import Order
from shipping.models import ShipmentLine
from suppliers.routing import route_orders
from tests.csv.helpers import confirm, last_job, page_text, upload
from tests.factories import (
    BrandFactory,
    CarrierAccountFactory,
    ChannelFactory,
    OrderFactory,
    OrderLineFactory,
)
from tests.suppliers.factories import SupplierFactory, SupplierProductFactory

HEAD = "order_number,channel,note\n"


def test_book_rows_ship_our_lines_with_their_note_and_say_why_an_order_is_not_booked(
    staff_client, db, django_capture_on_commit_callbacks
):
    BrandFactory()
    CarrierAccountFactory(name="Royal Mail (own account)")
    channel = ChannelFactory(name="Etsy-Main", default_note="Thanks from Northern Goods")
    SupplierProductFactory(
        supplier=SupplierFactory(name="Atelier Nord"), sku="NECK-45", cost_price=Decimal("9")
    )
    mixed, supplier_only, plain, late = (
        OrderFactory(channel=channel, order_number=n) for n in ("1001", "1002", "1003", "1004")
    )
    OrderLineFactory(order=mixed, sku="CANDLE", quantity=2, weight_g=300)
    OrderLineFactory(order=mixed, sku="NECK-45", weight_g=900)
    OrderLineFactory(order=supplier_only, sku="NECK-45")
    OrderLineFactory(order=plain, sku="MUG")
    OrderLineFactory(order=late, sku="NECK-45")
    route_orders(Order.objects.filter(pk__in=[mixed.pk, supplier_only.pk]))

    page = page_text(
        upload(
            staff_client,
            HEAD + "1001,Etsy-Main,Handle with care\n1002,Etsy-Main,\n1003,Etsy-Main,\n1004,Etsy-Main,\n",
            mode="book",
        )
    )
    assert "#1001: book carrier from the shipping rules, default service, note “Handle with care”" in page
    assert "#1002: all remaining lines are shipped by supplier Atelier Nord" in page  # skipped at the check
    route_orders(Order.objects.filter(pk=late.pk))  # routed between the check and the import
    with django_capture_on_commit_callbacks(execute=True):
        confirm(staff_client, last_job())

    shipment = mixed.shipments.get()
    assert [(sl.order_line.sku, sl.quantity) for sl in ShipmentLine.objects.filter(shipment=shipment)] == [
        ("CANDLE", 2)
    ]
    assert shipment.weight_g == 600
    assert shipment.note == shipment.fulfilment.note == "Handle with care"
    assert plain.shipments.get().note == "Thanks from Northern Goods"  # empty cell: the channel's default
    assert not supplier_only.shipments.exists() and not late.shipments.exists()
    job = last_job()
    done = page_text(staff_client.get(reverse("shipping_csv:job", args=[job.pk])))
    assert "Booked 2 labels; 1 failed (see the report)" in done
    with default_storage.open(job.params["failed_file"]) as f:
        report = list(csv.reader(io.StringIO(f.read().decode("utf-8-sig"))))
    assert report[1][-1] == "row 5: #1004: all remaining lines are shipped by supplier Atelier Nord"


def test_the_book_template_has_a_note_column(staff_client, db):
    book = staff_client.get(reverse("shipping_csv:template", args=["book", "csv"]))
    header = next(csv.reader(io.StringIO(book.content.decode("utf-8-sig"))))
    assert header[-1] == "note"
