"""The order page: work first (address, lines, booking panel), the rest below, the timeline
paged, and a fixed number of queries whatever the order's size."""

from decimal import Decimal

from django.urls import reverse

from orders.models import OrderEvent
from returns.models import ReturnLine, ReturnRequest
from shipping.models import ShipmentLine
from suppliers.models import SupplierOrder, SupplierOrderLine
from tests.factories import (
    BrandFactory,
    CarrierAccountFactory,
    FulfilmentFactory,
    OrderFactory,
    OrderLineFactory,
    UserFactory,
)
from tests.shipping.factories import ShipmentFactory
from tests.suppliers.factories import SupplierFactory


def build_order(*, lines: int, events: int, shipments: int, with_return: bool, with_supplier: bool):
    """An order as a busy one looks: lines, parcels (a shipment, its lines and fulfilment
    each), a return, a supplier order, and a timeline written by several staff."""
    brand = BrandFactory()
    carrier = CarrierAccountFactory(is_default=False)
    order = OrderFactory(status="partly_shipped")
    order_lines = [
        OrderLineFactory(
            order=order,
            quantity=2,
            options={"Colour": "Blue", "Personalisation": f"Line {i}"},
            image_url=f"https://img.example/{i}.jpg",
        )
        for i in range(lines)
    ]
    for i in range(shipments):
        line = order_lines[i % len(order_lines)]
        fulfilment = FulfilmentFactory(order=order, lines=[[line.external_id, 1]], state="sent")
        shipment = ShipmentFactory(
            order=order, carrier_account=carrier, brand=brand, fulfilment=fulfilment, status="in_transit"
        )
        ShipmentLine.objects.create(shipment=shipment, order_line=line, quantity=1)
    if with_return:
        ret = ReturnRequest.objects.create(order=order, brand=brand)
        ReturnLine.objects.create(
            return_request=ret, order_line=order_lines[0], quantity=1, reason="too_small"
        )
    if with_supplier:
        supplier = SupplierFactory()
        line = order_lines[-1]
        line.dropshipped_by = supplier.name
        line.save()
        so = SupplierOrder.objects.create(
            order=order,
            supplier=supplier,
            reference=f"SO-{order.pk}",
            currency="EUR",
            total_cost=Decimal("12"),
        )
        SupplierOrderLine.objects.create(
            supplier_order=so,
            order_line=line,
            sku=line.sku,
            title=line.title,
            quantity=2,
            unit_cost=Decimal("6"),
        )
    actors = [UserFactory(username=f"clerk{i}") for i in range(4)] + [None]
    OrderEvent.objects.bulk_create(
        OrderEvent(order=order, kind="note", message=f"Event {i}", actor=actors[i % len(actors)])
        for i in range(events)
    )
    return order


def page(client, order, query=""):
    response = client.get(reverse("admin:orders_order_change", args=[order.pk]) + query)
    assert response.status_code == 200
    return response.content.decode()


# Session, user, the order and its lines; shipments, their lines; fulfilments; returns, their
# lines; supplier orders, their lines; positions; the booking panel (live shipments and their
# lines, rules, mappings, brand, carrier, fulfilments, the carrier list); one timeline page;
# the returns panel (seven).
ORDER_PAGE_QUERIES = 27


def test_the_order_page_runs_the_same_queries_for_a_small_and_a_large_order(
    staff_client, shipping_setup, django_assert_num_queries
):
    small = build_order(lines=2, events=3, shipments=1, with_return=True, with_supplier=True)
    large = build_order(lines=50, events=200, shipments=4, with_return=True, with_supplier=True)
    page(staff_client, small)  # the process's first page fills Django's ContentType cache

    with django_assert_num_queries(ORDER_PAGE_QUERIES):
        page(staff_client, small)
    with django_assert_num_queries(ORDER_PAGE_QUERIES):
        html = page(staff_client, large)

    assert html.count('<tr class="event">') == 50
    assert html.count("<tr data-sku=") == 50


def test_the_work_comes_first_and_the_timeline_last(staff_client, shipping_setup):
    order = build_order(lines=3, events=5, shipments=1, with_return=True, with_supplier=True)

    html = page(staff_client, order)

    where = {
        name: html.index(marker)
        for name, marker in [
            ("address", 'id="ship-to"'),
            ("lines", 'id="order-lines"'),
            ("booking", 'id="booking-panel"'),
            ("fields", 'id="order_form"'),
            ("shipments", 'id="shipments-group"'),
            ("fulfilments", 'id="fulfilments-group"'),
            ("returns", 'id="returns-group"'),
            ("supplier orders", 'id="supplier_orders-group"'),
            ("timeline", 'id="timeline"'),
        ]
    }
    assert where["address"] < where["lines"] < where["booking"]
    assert where["booking"] < where["shipments"] < where["fulfilments"] < where["returns"]
    assert where["returns"] < where["supplier orders"] < where["timeline"]
    line = order.lines.first()
    assert f'src="{line.image_url}"' in html
    assert "Colour: Blue, Personalisation: Line 0" in html


def test_the_timeline_shows_fifty_events_newest_first_and_links_to_older_ones(staff_client, shipping_setup):
    order = build_order(lines=1, events=120, shipments=0, with_return=False, with_supplier=False)

    first = page(staff_client, order)
    assert first.count('<tr class="event">') == 50
    assert first.index("Event 119<") < first.index("Event 118<")
    assert "Event 69<" not in first and "Event 70<" in first
    assert "?timeline=2#timeline" in first and "Newer events" not in first

    third = page(staff_client, order, "?timeline=3")
    assert third.count('<tr class="event">') == 20
    assert "Event 19<" in third and "Event 0<" in third and "Event 20<" not in third
    assert "Older events" not in third and "?timeline=2#timeline" in third
    assert "clerk1" in third  # who did it
