"""Listing and reading orders: filters, cursor pagination, one order with everything on it."""

from datetime import timedelta

from django.utils import timezone

from orders.models import Order
from tests.factories import ChannelFactory, FulfilmentFactory, OrderFactory, OrderLineFactory


def test_orders_are_listed_in_cursor_pages_newest_change_first(api):
    orders = [OrderFactory() for _ in range(5)]
    seen, url = [], "/api/v1/orders?page_size=2"
    pages = 0
    while url:
        body = api.get(url).json()
        assert len(body["results"]) <= 2 and "count" not in body
        seen += [o["id"] for o in body["results"]]
        url, pages = body["next"], pages + 1
    assert pages == 3
    assert seen == [o.pk for o in sorted(orders, key=lambda o: (o.updated_at, o.pk), reverse=True)]


def test_a_new_change_never_shifts_the_next_page(api):
    orders = [OrderFactory() for _ in range(4)]
    first = api.get("/api/v1/orders?page_size=2").json()
    OrderFactory()  # arrives between the two reads
    second = api.get(first["next"]).json()
    assert {o["id"] for o in first["results"] + second["results"]} == {o.pk for o in orders}


def test_filters_status_channel_and_updated_since(api):
    etsy, pos = ChannelFactory(name="Etsy-Main"), ChannelFactory(name="Counter", kind="manual")
    a = OrderFactory(channel=etsy)
    b = OrderFactory(channel=pos, status=Order.Status.SHIPPED)
    old = OrderFactory(channel=pos)
    Order.objects.filter(pk=old.pk).update(updated_at=timezone.now() - timedelta(days=2))

    def ids(**params):
        return sorted(o["id"] for o in api.get("/api/v1/orders", params).json()["results"])

    assert ids(channel="Counter") == sorted([b.pk, old.pk])
    assert ids(status="shipped") == [b.pk]
    assert ids(status=["shipped", "awaiting_shipment"]) == sorted([a.pk, b.pk, old.pk])
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert ids(updated_since=since) == sorted([a.pk, b.pk])
    bad = api.get("/api/v1/orders", {"status": "lost", "updated_since": "yesterday"})
    assert bad.status_code == 400 and set(bad.json()) == {"status", "updated_since"}


def test_one_order_with_lines_fulfilments_and_events(api, django_assert_max_num_queries):
    order = OrderFactory(order_number="1042")
    OrderLineFactory(order=order, external_id="A", sku="MUG")
    FulfilmentFactory(order=order, lines=[["A", 1]])
    with django_assert_max_num_queries(12):
        body = api.get(f"/api/v1/orders/{order.pk}").json()
    assert body["order_number"] == "1042"
    assert body["address"]["postal_code"] == "LS1 4AB"
    assert [line["sku"] for line in body["lines"]] == ["MUG"]
    assert [f["lines"] for f in body["fulfilments"]] == [[["A", 1]]]
    assert body["shipments"] == [] and isinstance(body["events"], list)
    assert api.get("/api/v1/orders/999999").status_code == 404


def test_the_list_runs_a_fixed_number_of_queries(api, django_assert_num_queries):
    for _ in range(3):
        OrderFactory()
    api.get("/api/v1/orders")  # warm: the key's last use is written once a minute
    with django_assert_num_queries(2):  # the key, the page
        api.get("/api/v1/orders")
    for _ in range(20):
        OrderFactory()
    with django_assert_num_queries(2):
        api.get("/api/v1/orders")
