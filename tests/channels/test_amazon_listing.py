"""Amazon without per-order calls: a sync reads everything from listing calls (searchOrders with
its items, v0 getOrders by batches of ids for ShipServiceLevel), so its time is bounded by the
listing operations' documented rates. And the sandbox's v0 reads behave as Amazon's do."""

from collections import Counter

import pytest
import requests

from channels.connectors import amazon
from orders.importing import import_orders
from orders.models import Order
from sandbox.generators.amazon import generate
from tests.channels.conftest_marketplaces import *  # noqa: F403 - the sandbox fixtures


def test_a_first_sync_makes_no_call_per_order(amazon_sandbox):
    channel, store = amazon_sandbox
    made = generate(store, 230, mix=False, seed=12)
    connector = channel.connector()

    summary = import_orders(channel, connector=connector)

    assert summary.imported == 230 and not summary.errors
    calls = Counter(connector.http.budget.operations)
    # 3 pages of up to 100 orders; ShipServiceLevel for 50 orders a call (2 + 2 + 1); the
    # catalogue once per ASIN; nothing per order
    assert calls["searchOrders"] == 3
    assert calls["v0.getOrders"] == 5
    assert calls["getCatalogItem"] <= len({i["product"]["asin"] for o in made for i in o.data["orderItems"]})
    assert set(calls) <= {"searchOrders", "v0.getOrders", "getCatalogItem"}
    levels = {o.external_id: o.data["_v0"]["ShipServiceLevel"] for o in made}
    assert all(o.requested_service == levels[o.external_id] for o in Order.objects.filter(channel=channel))


# -- the sandbox's v0 reads


def v0(channel, path="", **params):
    return requests.get(
        f"{channel.api_base_url}/orders/v0/orders{path}",
        timeout=5,
        headers={"x-amz-access-token": channel.credentials["access_token"]},
        params=params,
    )


def listing(channel, **params):
    return v0(channel, MarketplaceIds=channel.shop_id, CreatedAfter="2020-01-01T00:00:00Z", **params)


def test_v0_get_orders_honours_statuses_channels_and_the_before_dates(amazon_sandbox):
    channel, store = amazon_sandbox
    made = generate(store, 20, mix=True, seed=4)  # one in five is pending, shipped, cancelled or AFN
    by_status = Counter(o.data["fulfillment"]["fulfillmentStatus"] for o in made)
    afn = sum(o.data["fulfillment"]["fulfilledBy"] == "AMAZON" for o in made)

    unshipped = listing(channel, OrderStatuses="Unshipped").json()["payload"]["Orders"]
    assert len(unshipped) == by_status["UNSHIPPED"] and {o["OrderStatus"] for o in unshipped} == {"Unshipped"}
    both = listing(channel, OrderStatuses="Unshipped,Canceled").json()["payload"]["Orders"]
    assert len(both) == by_status["UNSHIPPED"] + by_status["CANCELLED"]
    assert len(listing(channel, FulfillmentChannels="AFN").json()["payload"]["Orders"]) == afn
    assert len(listing(channel, FulfillmentChannels="MFN").json()["payload"]["Orders"]) == 20 - afn

    first = sorted(made, key=lambda o: o.created_ts)[0]
    before = listing(channel, CreatedBefore=first.data["createdTime"]).json()["payload"]
    assert [o["AmazonOrderId"] for o in before["Orders"]] == [first.external_id]
    assert before["CreatedBefore"] == first.data["createdTime"]

    page = listing(channel, MaxResultsPerPage=7).json()["payload"]
    assert len(page["Orders"]) == 7 and page["NextToken"]


@pytest.mark.parametrize(
    "params, message",
    [
        ({"OrderStatuses": "BOGUS"}, "Invalid OrderStatuses: BOGUS"),
        ({"MaxResultsPerPage": 0}, "MaxResultsPerPage must be between 1 and 100"),
        ({"MaxResultsPerPage": 101}, "MaxResultsPerPage must be between 1 and 100"),
        ({"FulfillmentChannels": "FBA"}, "Invalid FulfillmentChannels: FBA"),
        ({"LastUpdatedBefore": "2026-01-01T00:00:00Z"}, "cannot be combined"),
    ],
)
def test_v0_get_orders_refuses_bad_input_with_amazons_errors_body(amazon_sandbox, params, message):
    channel, _ = amazon_sandbox
    answer = listing(channel, **params)
    assert answer.status_code == 400
    [error] = answer.json()["errors"]
    assert error["code"] == "InvalidInput" and message in error["message"]


def test_v0_get_order_and_order_items_read_one_order_and_answer_json_404_for_an_unknown_one(amazon_sandbox):
    channel, store = amazon_sandbox
    [made] = generate(store, 1, mix=False, seed=2)

    order = v0(channel, f"/{made.external_id}").json()["payload"]
    assert order["AmazonOrderId"] == made.external_id and order["OrderStatus"] == "Unshipped"
    items = v0(channel, f"/{made.external_id}/orderItems").json()["payload"]
    assert items["AmazonOrderId"] == made.external_id
    assert [i["OrderItemId"] for i in items["OrderItems"]] == [
        i["orderItemId"] for i in made.data["orderItems"]
    ]
    assert all(i["IsGift"] in ("true", "false") for i in items["OrderItems"])

    for path in ("/111-0000000-0000000", "/111-0000000-0000000/orderItems"):
        missing = v0(channel, path)
        assert missing.status_code == 404 and missing.headers["Content-Type"] == "application/json"
        assert missing.json()["errors"][0]["code"] == "NotFound"
        assert missing.headers["x-amzn-RateLimit-Limit"] == "0.5"


def test_the_connector_still_asks_v0_for_at_most_50_orders_a_call():
    assert amazon.V0_BATCH == 50 and amazon.PAGE_SIZE == 100
