"""The sandbox's answers, as Shipdesk's connectors get them, checked against the vendors' official
API specs (tests/specs/): every call a connector makes to an API with a published spec, and the
error answers it must understand (404, 400, 401/403, 429).

The connectors run unchanged; a response hook on their HTTP session hands each answer to the
validator, so what is checked is exactly what Shipdesk asked. Calls outside a spec (tokens,
eBay Inventory, Amazon Catalog Items) pass unchecked."""

import gc
from datetime import UTC, datetime

import pytest
import requests

from channels.connectors import get_connector
from channels.connectors.amazon import AmazonHttpClient
from channels.connectors.base import ConnectorError, RemoteFulfilment
from channels.connectors.http import HttpClient
from sandbox.generators import amazon as amazon_gen
from sandbox.generators import ebay as ebay_gen
from sandbox.generators import etsy as etsy_gen
from tests.channels.conftest_marketplaces import *  # noqa: F403 - the sandbox fixtures
from tests.sandbox.spec_check import Spec, capture

NOW = datetime.now(tz=UTC)

# eBay's spec gives its error answers in prose only; its documented body is an `errors` list.
EBAY_ERRORS = {
    "type": "object",
    "required": ["errors"],
    "properties": {
        "errors": {"type": "array", "minItems": 1, "items": {"$ref": "#/components/schemas/Error"}}
    },
}
# No Amazon spec lists 401; SP-API answers every error with an ErrorList body.
AMAZON_ERRORS = {"$ref": "#/definitions/ErrorList"}
ETSY_ERRORS = {"$ref": "#/components/schemas/ErrorSchema"}


def ebay_spec():
    return Spec(
        "ebay-sell-fulfillment-v1.json", "/sandbox/ebay/sell/fulfillment/v1", error_schema=EBAY_ERRORS
    )


def amazon_specs():
    return (
        Spec("amazon-sp-orders-2026-01-01.json", "/sandbox/amazon", error_schema=AMAZON_ERRORS),
        Spec("amazon-sp-orders-v0.json", "/sandbox/amazon", error_schema=AMAZON_ERRORS),
    )


def title_case_receipt_status(doc: dict) -> None:
    """Etsy's spec lists receipt statuses in lower case; the live API answers them in Title Case
    ("Paid", "Completed": shared/api-facts.md, after the official SDK's fix). Both are accepted."""
    status = doc["components"]["schemas"]["ShopReceipt"]["properties"]["status"]
    status["enum"] = status["enum"] + [value.title() for value in status["enum"]]


def etsy_spec():
    return Spec(
        "etsy-open-api-v3.json", "/sandbox/etsy", error_schema=ETSY_ERRORS, amend=title_case_receipt_status
    )


def validate_all(responses: list[requests.Response], *specs: Spec) -> set[tuple[str, str, int]]:
    """Validate every answer some spec covers; (method, path template, status) of each checked."""
    checked = set()
    for response in responses:
        for spec in specs:
            if spec.template(requests.utils.urlparse(response.url).path):
                checked.add(spec.validate(response))
                break
    return checked


_sessions: list[requests.Session] = []


@pytest.fixture(autouse=True)
def _close_sessions():
    """A keep-alive socket left open keeps a live-server thread, and its database session, alive:
    on PostgreSQL the test database could then not be dropped."""
    yield
    while _sessions:
        _sessions.pop().close()
    gc.collect()  # and the finished server threads' connections, held in reference cycles


def watched(channel, http_class=HttpClient):
    """The channel's connector, without retries, and the list its answers are collected in."""
    session = requests.Session()
    _sessions.append(session)
    seen = capture(session)
    return get_connector(channel, http=http_class(session=session, max_retries=0)), seen


def fails(call) -> ConnectorError:
    with pytest.raises(ConnectorError) as caught:
        call()
    return caught.value


# -- eBay Sell Fulfillment v1


def test_ebay_answers_to_every_connector_call_fit_the_spec(ebay_sandbox):
    channel, store = ebay_sandbox
    ebay_gen.generate(store, 25, mix=True, seed=3)  # unpaid, shipped, cancelled, in-store pickup among them
    ebay_gen.add_order(store, ebay_gen.make_order(store, kind="digital"))
    connector, seen = watched(channel)

    orders = [o for page in connector.iter_pages({}, now=NOW, window_days=30) for o in page.orders]
    connector.enrich(orders, {})
    open_orders = [o for o in orders if o.is_paid and not o.is_shipped and not o.is_cancelled]
    first, second = open_orders[:2]
    pushed = connector.push_fulfilment(
        RemoteFulfilment(
            order_external_id=first.external_id,
            tracking_number="RL123456785GB",
            carrier="Royal Mail",
            lines=[(first.lines[0].external_id, first.lines[0].quantity)],
        )
    )
    assert pushed.remote_id == "RL123456785GB"  # from the 201's Location header: eBay sends no body
    connector.push_fulfilment(
        RemoteFulfilment(  # no lines named: the connector reads the order first
            order_external_id=second.external_id, tracking_number="RL987654321GB", carrier="Royal Mail"
        )
    )
    assert connector.find_fulfilment(
        RemoteFulfilment(
            order_external_id=first.external_id, tracking_number="RL123456785GB", carrier="Royal Mail"
        )
    )

    checked = validate_all(seen, ebay_spec())
    assert checked >= {
        ("GET", "/order", 200),
        ("GET", "/order/{orderId}", 200),
        ("GET", "/order/{orderId}/shipping_fulfillment", 200),
        ("POST", "/order/{orderId}/shipping_fulfillment", 201),
    }


def test_ebay_error_answers_fit_the_spec(ebay_sandbox, live_server):
    channel, store = ebay_sandbox
    order = ebay_gen.generate(store, 1, mix=False, seed=4)[0]
    connector, seen = watched(channel)

    assert fails(lambda: connector.api_json("GET", connector.url("/order/99-99999-99999"))).status == 404
    assert (
        fails(
            lambda: connector.push_fulfilment(
                RemoteFulfilment(
                    order_external_id="99-99999-99999",
                    tracking_number="RL1",
                    carrier="Royal Mail",
                    lines=[("1", 1)],
                )
            )
        ).status
        == 404
    )
    assert (
        fails(
            lambda: connector.push_fulfilment(
                RemoteFulfilment(  # a line the order does not have
                    order_external_id=order.external_id,
                    tracking_number="RL1",
                    carrier="Royal Mail",
                    lines=[("0000000000", 1)],
                )
            )
        ).status
        == 400
    )
    assert fails(lambda: connector.api_json("GET", connector.url("/order?filter=colour:red"))).status == 400
    store.faults = [{"status": 429, "path": "/order"}]
    store.save(update_fields=["faults"])
    assert (
        fails(lambda: connector.api_json("GET", connector.orders_url("2026-01-01T00:00:00.000Z", 0))).status
        == 429
    )
    seen.append(
        requests.get(connector.url("/order"), headers={"Authorization": "Bearer v^1.1#forged"}, timeout=10)
    )

    checked = validate_all(seen, ebay_spec())
    assert {status for _, _, status in checked} >= {404, 400, 429, 401}


# -- Amazon SP-API Orders 2026-01-01 and v0


def test_amazon_answers_to_every_connector_call_fit_the_specs(amazon_sandbox):
    channel, store = amazon_sandbox
    amazon_gen.generate(store, 25, mix=True, seed=3)
    connector, seen = watched(channel, AmazonHttpClient)

    orders = [o for page in connector.iter_pages({}, now=NOW, window_days=30) for o in page.orders]
    connector.enrich(orders, {})
    order = next(o for o in orders if o.is_paid and not o.is_shipped and not o.is_cancelled)
    connector.push_fulfilment(
        RemoteFulfilment(  # no reference: the connector reads the order's packages
            order_external_id=order.external_id,
            tracking_number="RL123456785GB",
            carrier="Royal Mail",
            lines=[(order.lines[0].external_id, order.lines[0].quantity)],
        )
    )
    assert connector.find_fulfilment(
        RemoteFulfilment(
            order_external_id=order.external_id, tracking_number="RL123456785GB", carrier="Royal Mail"
        )
    )

    checked = validate_all(seen, *amazon_specs())
    assert checked >= {
        ("GET", "/orders/2026-01-01/orders", 200),
        ("GET", "/orders/2026-01-01/orders/{orderId}", 200),
        ("GET", "/orders/v0/orders", 200),
        ("POST", "/orders/v0/orders/{orderId}/shipmentConfirmation", 204),
    }


def test_amazon_error_answers_fit_the_specs(amazon_sandbox):
    channel, store = amazon_sandbox
    order = amazon_gen.generate(store, 1, mix=False, seed=4)[0]
    connector, seen = watched(channel, AmazonHttpClient)
    unknown = "203-0000000-0000000"

    assert (
        fails(lambda: connector.api_json("GET", connector.url(f"/orders/2026-01-01/orders/{unknown}"))).status
        == 404
    )
    assert (
        fails(
            lambda: connector.push_fulfilment(
                RemoteFulfilment(
                    order_external_id=unknown,
                    tracking_number="RL1",
                    carrier="Royal Mail",
                    reference="1",
                    lines=[("1", 1)],
                )
            )
        ).status
        == 404
    )
    assert (
        fails(
            lambda: connector.push_fulfilment(
                RemoteFulfilment(  # an item the order does not have
                    order_external_id=order.external_id,
                    tracking_number="RL1",
                    carrier="Royal Mail",
                    reference="1",
                    lines=[("00000000000000", 1)],
                )
            )
        ).status
        == 400
    )
    assert (
        fails(
            lambda: connector.api_json(
                "GET", connector.url("/orders/2026-01-01/orders"), params={"marketplaceIds": "A1F83G8C2ARO7P"}
            )
        ).status
        == 400
    )
    assert (
        fails(
            lambda: connector.api_json(
                "GET",
                connector.url(f"/orders/2026-01-01/orders/{order.external_id}"),
                params={"includedData": "FULFILLMENT,PARCELS"},
            )
        ).status
        == 400
    )
    assert (
        fails(
            lambda: connector.api_json(
                "GET",
                connector.url("/orders/v0/orders"),  # no CreatedAfter
                params={"MarketplaceIds": connector.marketplace_id},
            )
        ).status
        == 400
    )
    store.faults = [{"status": 429, "path": "/orders/2026-01-01/orders"}]
    store.save(update_fields=["faults"])
    assert (
        fails(
            lambda: connector.api_json(
                "GET",
                connector.url("/orders/2026-01-01/orders"),
                params={"marketplaceIds": "A1F83G8C2ARO7P", "lastUpdatedAfter": "2026-01-01T00:00:00Z"},
            )
        ).status
        == 429
    )
    seen.append(
        requests.get(
            connector.url("/orders/v0/orders"),
            timeout=10,
            params={"MarketplaceIds": "A1F83G8C2ARO7P", "CreatedAfter": "2026-01-01T00:00:00Z"},
            headers={"x-amz-access-token": "Atza|forged"},
        )
    )

    checked = validate_all(seen, *amazon_specs())
    assert {status for _, _, status in checked} >= {404, 400, 429, 403}
    assert {("GET", "/orders/2026-01-01/orders/{orderId}", 400), ("GET", "/orders/v0/orders", 400)} <= checked


@pytest.mark.parametrize(
    "refused",
    [
        {"MaxResultsPerPage": 500},  # the spec: 1 to 100
        {"OrderStatuses": "BOGUS"},  # the spec: an enum (Pending, Unshipped, …)
    ],
    ids=["max-results-500", "order-status-bogus"],
)
def test_amazon_v0_get_orders_refuses_what_the_spec_does_not_allow(amazon_sandbox, refused):
    channel, store = amazon_sandbox
    amazon_gen.generate(store, 1, mix=False, seed=4)
    connector, seen = watched(channel, AmazonHttpClient)

    error = fails(
        lambda: connector.api_json(
            "GET",
            connector.url("/orders/v0/orders"),
            params={
                "MarketplaceIds": connector.marketplace_id,
                "CreatedAfter": "2026-01-01T00:00:00Z",
                **refused,
            },
        )
    )
    assert error.status == 400
    assert validate_all(seen, *amazon_specs()) == {("GET", "/orders/v0/orders", 400)}


# -- Etsy Open API v3


def test_etsy_answers_to_every_connector_call_fit_the_spec(etsy_sandbox):
    channel, store = etsy_sandbox
    etsy_gen.generate(store, 25, mix=True, seed=3)  # unpaid, shipped, digital, no address among them
    connector, seen = watched(channel)

    orders = [o for page in connector.iter_pages({}, now=NOW, window_days=30) for o in page.orders]
    connector.enrich(orders, {})
    order = next(o for o in orders if o.is_paid and not o.is_shipped and not o.is_cancelled)
    assert connector.fetch_order(order.external_id).external_id == order.external_id
    connector.push_fulfilment(
        RemoteFulfilment(
            order_external_id=order.external_id,
            tracking_number="RL123456785GB",
            carrier="Royal Mail",
            note="On its way",
        )
    )

    checked = validate_all(seen, etsy_spec())
    prefix = "/v3/application"
    assert checked >= {
        ("GET", f"{prefix}/shops/{{shop_id}}/receipts", 200),
        ("GET", f"{prefix}/shops/{{shop_id}}/receipts/{{receipt_id}}", 200),
        ("GET", f"{prefix}/listings/{{listing_id}}", 200),
        ("GET", f"{prefix}/listings/{{listing_id}}/images/{{listing_image_id}}", 200),
        ("POST", f"{prefix}/shops/{{shop_id}}/receipts/{{receipt_id}}/tracking", 200),
    }


def test_etsy_error_answers_fit_the_spec(etsy_sandbox):
    channel, store = etsy_sandbox
    etsy_gen.generate(store, 1, mix=False, seed=4)
    connector, seen = watched(channel)

    assert fails(lambda: connector.fetch_order("999999999")).status == 404
    assert fails(lambda: connector.api_json("GET", connector.url("/listings/999999999"))).status == 404
    assert (
        fails(lambda: connector.api_json("GET", connector.url("/listings/999999999/images/1"))).status == 404
    )
    assert (
        fails(
            lambda: connector.push_fulfilment(
                RemoteFulfilment(order_external_id="999999999", tracking_number="RL1", carrier="Royal Mail")
            )
        ).status
        == 404
    )
    assert (
        fails(
            lambda: connector.api_json(
                "GET", connector.url(f"/shops/{channel.shop_id}/receipts"), params={"limit": 500}
            )
        ).status
        == 400
    )
    store.faults = [{"status": 429, "path": "/receipts"}]
    store.save(update_fields=["faults"])
    assert (
        fails(lambda: connector.api_json("GET", connector.url(f"/shops/{channel.shop_id}/receipts"))).status
        == 429
    )
    headers = connector.auth_headers("forged-token")
    seen.append(
        requests.get(connector.url(f"/shops/{channel.shop_id}/receipts"), headers=headers, timeout=10)
    )
    headers["x-api-key"] = "wrong:key"
    seen.append(
        requests.get(connector.url(f"/shops/{channel.shop_id}/receipts"), headers=headers, timeout=10)
    )

    checked = validate_all(seen, etsy_spec())
    assert {status for _, _, status in checked} >= {404, 400, 429, 401, 403}
    assert {
        ("GET", "/v3/application/listings/{listing_id}", 404),
        ("GET", "/v3/application/listings/{listing_id}/images/{listing_image_id}", 404),
    } <= checked
