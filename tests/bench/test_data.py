"""The benchmarks' realistic data: orders are never alone (lines, fulfilments, shipments, a
timeline), statuses are skewed as in a real backlog, and it loads on SQLite and PostgreSQL."""

from collections import Counter

from bench.data import load_orders
from orders.models import Fulfilment, Order, OrderEvent, OrderLine
from shipping.models import Shipment
from tests.factories import BrandFactory, CarrierAccountFactory, ChannelFactory


def test_a_thousand_orders_come_with_what_real_orders_have(db):
    channels = [ChannelFactory(name=f"Shop {i}").pk for i in range(5)]
    load_orders(
        channels=channels,
        carrier=CarrierAccountFactory().pk,
        brand=BrandFactory().pk,
        first=1,
        last=1000,
        chunk=400,
        say=lambda *_: None,
    )

    statuses = Counter(Order.objects.values_list("status", flat=True))
    assert sum(statuses.values()) == 1000
    assert (
        statuses["delivered"] == 600 and statuses["shipped"] == 200 and statuses["awaiting_shipment"] == 100
    )
    assert OrderLine.objects.count() == 2000
    assert Fulfilment.objects.filter(state="sent").count() == Shipment.objects.count() == 800
    assert OrderEvent.objects.count() == 1000 + 3 * 800
    assert set(Order.objects.values_list("channel_id", flat=True)) == set(channels)
    order = Order.objects.get(order_number="42")
    assert order.shipped_at and order.shipments.get().fulfilment.order_id == order.pk
    assert Order.objects.search("customer42@example.com").get() == order
