"""The Orders export fills carrier, tracking number and ship date for orders that have a parcel
(the latest one that still stands), leaves them empty for the others, and costs the same number
of queries for one row or many."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from orders import resources as order_resources
from orders.models import Fulfilment, Order
from shipping.booking import book_shipment
from tests.csv.helpers import export, export_link, export_orders, rows_of
from tests.factories import ChannelFactory, FulfilmentFactory, OrderFactory, OrderLineFactory


def by_number(content: bytes, fmt: str) -> dict[str, dict]:
    rows = rows_of(content, fmt)
    header = rows[0]
    return {str(r[0]): dict(zip(header, r, strict=True)) for r in rows[1:]}


def _fulfilment(order, tracking, carrier, on, **kw):
    f = FulfilmentFactory(order=order, tracking_number=tracking, carrier_name=carrier, **kw)
    Fulfilment.objects.filter(pk=f.pk).update(created_at=on)
    return f


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_shipped_orders_carry_their_latest_parcel(staff_client, shipping_setup, fmt):
    channel = ChannelFactory(name="Etsy-Main")
    booked = OrderFactory(channel=channel, order_number="3001")
    OrderLineFactory(order=booked)
    shipment = book_shipment(order=booked)  # a label bought in Shipdesk
    two = OrderFactory(channel=channel, order_number="3002", status=Order.Status.SHIPPED)
    _fulfilment(two, "EV111", "Evri", datetime(2026, 11, 2, 9, tzinfo=UTC))
    _fulfilment(two, "EV222", "Evri", datetime(2026, 11, 3, 9, tzinfo=UTC))
    # a newer parcel whose label was cancelled after the channel heard does not stand
    _fulfilment(two, "DEAD1", "DPD", datetime(2026, 11, 4, 9, tzinfo=UTC), state=Fulfilment.State.CANCELLED)
    _fulfilment(
        two, "DEAD2", "DPD", datetime(2026, 11, 5, 9, tzinfo=UTC), retract_requested_at=datetime.now(UTC)
    )
    OrderFactory(channel=channel, order_number="3003")  # awaiting shipment

    rows = by_number(export_orders(staff_client, "", fmt), fmt)

    today = shipment.created_at.date().isoformat()
    assert (rows["3001"]["carrier"], rows["3001"]["tracking_number"], rows["3001"]["ship_date"]) == (
        "Royal Mail",
        shipment.tracking_number,
        today,
    )
    assert (rows["3002"]["carrier"], rows["3002"]["tracking_number"], rows["3002"]["ship_date"]) == (
        "Evri",
        "EV222",
        "2026-11-03",
    )
    assert [rows["3003"][c] or "" for c in ("carrier", "tracking_number", "ship_date")] == ["", "", ""]


def test_the_filled_columns_cost_no_query_per_row(staff_client, db, monkeypatch):
    monkeypatch.setattr(order_resources, "EXPORT_CHUNK_ROWS", 7)
    channel = ChannelFactory()
    link = export_link(staff_client, reverse("admin:orders_order_changelist"))

    def queries() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as captured:
            rows = rows_of(export(staff_client, link, "csv"), "csv")
        return len(captured), sum(1 for r in rows[1:] if r[-2])

    def shipped(n):
        _fulfilment(
            OrderFactory(channel=channel, order_number=str(n), status=Order.Status.SHIPPED),
            f"T{n}",
            "Royal Mail",
            datetime(2026, 11, 1, tzinfo=UTC),
        )

    shipped(1)
    one = queries()
    for n in range(2, 31):
        shipped(n)
    thirty = queries()

    assert (one[1], thirty[1]) == (1, 30)  # every row filled
    assert thirty[0] == one[0]


def test_a_row_exported_and_uploaded_back_records_nothing_twice(staff_client, shipping_setup):
    from tests.csv.helpers import confirm, last_job, upload, written

    order = OrderFactory(order_number="3101")
    OrderLineFactory(order=order)
    book_shipment(order=order)
    exported = export_orders(staff_client)
    before = written()

    upload(staff_client, exported, name="orders.csv")
    confirm(staff_client, last_job())

    assert written()[:2] == before[:2]  # no new shipment, no new fulfilment
