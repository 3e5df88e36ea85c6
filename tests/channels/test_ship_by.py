"""The channel's ship-by date, read over HTTP from the sandbox in each API's own shape and
stored on the order (Order.ship_by): Amazon's LatestShipDate (Orders API
`fulfillment.shipByWindow.latestDateTime`), eBay's `lineItemFulfillmentInstructions.shipByDate`,
Etsy's `expected_ship_date`."""

import copy
import random
from datetime import UTC, datetime

from django.urls import reverse

from orders.models import Order
from orders.tasks import run_sync
from sandbox.generators import amazon as amazon_gen
from sandbox.generators import ebay as ebay_gen
from sandbox.generators.etsy import add_receipt, ensure_listings, make_receipt
from tests.channels.conftest_marketplaces import *  # noqa: F403 - the sandbox fixtures


def test_amazon_latest_ship_date_becomes_the_orders_ship_by(amazon_sandbox):
    channel, store = amazon_sandbox
    amazon_gen.ensure_catalog(store)
    order = amazon_gen.make_order(store, rng=random.Random(3))
    order["fulfillment"]["shipByWindow"] = {
        "earliestDateTime": "2026-12-04T00:00:00Z",
        "latestDateTime": "2026-12-05T23:59:59Z",
    }
    amazon_gen.add_order(store, order)

    run_sync(channel)

    stored = Order.objects.get(channel=channel, external_id=order["orderId"])
    assert stored.ship_by == datetime(2026, 12, 5, 23, 59, 59, tzinfo=UTC)


def test_ebay_ship_by_is_the_earliest_line_items_ship_by_date(ebay_sandbox):
    channel, store = ebay_sandbox
    order = ebay_gen.make_order(store, rng=random.Random(4))
    first = order["lineItems"][0]
    second = copy.deepcopy(first)
    second["lineItemId"] = str(int(first["lineItemId"]) + 1)
    first["lineItemFulfillmentInstructions"]["shipByDate"] = "2026-12-07T22:59:59.000Z"
    second["lineItemFulfillmentInstructions"]["shipByDate"] = "2026-12-06T10:00:00.000Z"
    order["lineItems"] = [first, second]
    ebay_gen.add_order(store, order)

    run_sync(channel)

    stored = Order.objects.get(channel=channel, external_id=order["orderId"])
    assert stored.ship_by == datetime(2026, 12, 6, 10, 0, tzinfo=UTC)


def test_etsy_expected_ship_date_of_the_physical_items_and_none_when_etsy_gives_none(etsy_sandbox):
    channel, store = etsy_sandbox
    ensure_listings(store)
    dated = make_receipt(store, rng=random.Random(5))
    physical = [t for t in dated["transactions"] if not t["is_digital"]]
    for t, when in zip(physical, [1796594400, 1796508000, 1796680800], strict=False):
        t["expected_ship_date"] = when  # epoch seconds, as Etsy sends it
    earliest = min(t["expected_ship_date"] for t in physical)
    undated = make_receipt(store, rng=random.Random(6))
    for t in undated["transactions"]:
        t["expected_ship_date"] = None
    add_receipt(store, dated)
    add_receipt(store, undated)

    run_sync(channel)

    assert Order.objects.get(external_id=str(dated["receipt_id"])).ship_by == datetime.fromtimestamp(
        earliest, tz=UTC
    )
    assert Order.objects.get(external_id=str(undated["receipt_id"])).ship_by is None


def test_the_sandbox_generators_give_a_ship_by_date_in_each_apis_shape(
    etsy_sandbox, ebay_sandbox, amazon_sandbox, client
):
    (etsy, etsy_store), (ebay, ebay_store), (amazon, amazon_store) = (
        etsy_sandbox,
        ebay_sandbox,
        amazon_sandbox,
    )
    ensure_listings(etsy_store)
    add_receipt(etsy_store, make_receipt(etsy_store, rng=random.Random(1)))
    ebay_gen.add_order(ebay_store, ebay_gen.make_order(ebay_store, rng=random.Random(1)))
    amazon_gen.ensure_catalog(amazon_store)
    amazon_gen.add_order(amazon_store, amazon_gen.make_order(amazon_store, rng=random.Random(1)))

    for channel in (etsy, ebay, amazon):
        run_sync(channel)

    orders = list(Order.objects.filter(channel__in=[etsy, ebay, amazon]))
    assert {o.channel_id for o in orders} == {etsy.pk, ebay.pk, amazon.pk}
    assert all(o.ship_by is not None and o.ship_by > o.ordered_at for o in orders)


def test_the_order_list_and_page_show_the_ship_by_date(staff_client):
    from tests.factories import OrderFactory

    order = OrderFactory(ship_by=datetime(2026, 12, 5, 23, 59, 59, tzinfo=UTC))

    listing = staff_client.get(reverse("admin:orders_order_changelist")).content.decode()
    page = staff_client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()

    assert "column-ship_by_short" in listing and "5 Dec" in listing  # a short date in the list
    assert "Ship by" in page and "Dec. 5, 2026" in page
