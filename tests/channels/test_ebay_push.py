"""Telling eBay what shipped: one shipping fulfilment per parcel naming exactly its line items,
finding one already sent, and what eBay cannot take back. Against the sandbox over real HTTP."""

import random
from datetime import UTC, datetime

import pytest

from channels.connectors.base import ConnectorError, NotSupported, RemoteFulfilment
from orders.models import Order
from orders.tasks import run_sync
from sandbox.generators.ebay import add_order, make_order
from sandbox.models import SandboxRequest
from tests.channels.conftest_marketplaces import *  # noqa: F403 - the sandbox fixtures

SHIPPED = datetime(2026, 2, 2, 15, 0, tzinfo=UTC)


def two_line_order(store, *, order_id="27-10000-20001"):
    """An eBay order of a phone case x2 (line 30001) and a mug x1 (line 30002)."""
    order = make_order(store, rng=random.Random(11))
    first = order["lineItems"][0]
    order.update(orderId=order_id)
    order["lineItems"] = [
        dict(first, lineItemId="30001", sku="CASE-PHN", quantity=2),
        dict(first, lineItemId="30002", sku="MUG-ENAM", quantity=1),
    ]
    return add_order(store, order)


def parcel(lines, tracking, carrier="Royal Mail", order_id="27-10000-20001", **extra):
    return RemoteFulfilment(
        order_external_id=order_id,
        tracking_number=tracking,
        carrier=carrier,
        shipped_at=SHIPPED,
        lines=lines,
        **extra,
    )


def posts():
    return SandboxRequest.objects.filter(method="POST", path__endswith="/shipping_fulfillment").order_by("id")


def test_a_split_order_is_two_shipping_fulfilments_each_naming_only_its_parcel(ebay_sandbox):
    channel, store = ebay_sandbox
    order = two_line_order(store)
    connector = channel.connector()

    first = connector.push_fulfilment(parcel([("30001", 1), ("30002", 1)], "JD000000001GB"))
    order.refresh_from_db()
    assert order.data["orderFulfillmentStatus"] == "IN_PROGRESS"  # one case is still to come
    second = connector.push_fulfilment(parcel([("30001", 1)], "JD000000002GB", carrier="UPS"))

    assert [r.parsed for r in posts()] == [
        {
            "lineItems": [{"lineItemId": "30001", "quantity": 1}, {"lineItemId": "30002", "quantity": 1}],
            "shippedDate": "2026-02-02T15:00:00.000Z",
            "shippingCarrierCode": "RoyalMail",
            "trackingNumber": "JD000000001GB",
        },
        {
            "lineItems": [{"lineItemId": "30001", "quantity": 1}],
            "shippedDate": "2026-02-02T15:00:00.000Z",
            "shippingCarrierCode": "UPS",
            "trackingNumber": "JD000000002GB",
        },
    ]
    assert (first.remote_id, second.remote_id) == ("JD000000001GB", "JD000000002GB")
    order.refresh_from_db()
    assert order.data["orderFulfillmentStatus"] == "FULFILLED"
    assert {li["lineItemId"]: li["lineItemFulfillmentStatus"] for li in order.data["lineItems"]} == {
        "30001": "FULFILLED",
        "30002": "FULFILLED",
    }


def test_a_line_named_twice_in_a_parcel_is_one_line_item_with_the_quantities_summed(ebay_sandbox):
    channel, store = ebay_sandbox
    two_line_order(store)

    channel.connector().push_fulfilment(parcel([("30001", 1), ("30001", 1)], "JD000000003GB"))

    assert posts().get().parsed["lineItems"] == [{"lineItemId": "30001", "quantity": 2}]


def test_find_fulfilment_finds_a_sent_tracking_number_and_nothing_for_an_unknown_one(ebay_sandbox):
    channel, store = ebay_sandbox
    two_line_order(store)
    connector = channel.connector()
    connector.push_fulfilment(parcel([("30001", 2)], "JD000000004GB"))

    found = connector.find_fulfilment(parcel([("30001", 2)], "JD000000004GB"))
    missing = connector.find_fulfilment(parcel([("30002", 1)], "JD999999999GB"))

    assert found.remote_id == "JD000000004GB"
    assert found.request["lineItems"] == [{"lineItemId": "30001", "quantity": 2}]
    assert missing is None
    assert posts().count() == 1  # looking never sends


def test_find_fulfilment_without_tracking_matches_the_parcels_line_items(ebay_sandbox):
    channel, store = ebay_sandbox
    two_line_order(store)
    connector = channel.connector()
    sent = connector.push_fulfilment(parcel([("30002", 1)], ""))

    assert connector.find_fulfilment(parcel([("30002", 1)], "")).remote_id == sent.remote_id
    assert connector.find_fulfilment(parcel([("30001", 1)], "")) is None


def test_ebay_refusing_an_unknown_line_item_is_a_final_error_in_ebays_words(ebay_sandbox):
    channel, store = ebay_sandbox
    order = two_line_order(store)

    with pytest.raises(ConnectorError) as refused:
        channel.connector().push_fulfilment(parcel([("30001", 1), ("99999", 1)], "JD000000005GB"))

    assert not refused.value.retryable and refused.value.status == 400 and not refused.value.auth
    assert str(refused.value) == (
        "eBay refused the shipping fulfilment for order 27-10000-20001: "
        "Invalid line item id (eBay error 32200)"
    )
    order.refresh_from_db()
    assert not order.data.get("_fulfillments") and order.data["orderFulfillmentStatus"] == "NOT_STARTED"


def test_a_sent_fulfilment_cannot_be_taken_back_through_the_api_the_step_is_named(ebay_sandbox):
    channel, store = ebay_sandbox
    order = two_line_order(store)
    connector = channel.connector()
    sent = parcel([("30001", 2)], "JD000000006GB")
    connector.push_fulfilment(sent)
    before = SandboxRequest.objects.count()

    with pytest.raises(NotSupported) as cancel:
        connector.cancel_fulfilment(sent)
    with pytest.raises(NotSupported) as update:
        connector.update_fulfilment(sent, parcel([("30001", 2)], "JD000000007GB"))

    assert str(cancel.value) == (
        "eBay's API cannot remove a shipping fulfilment: in Seller Hub open order 27-10000-20001 "
        '(Orders > All orders), choose "Add or edit tracking number" and delete tracking number JD000000006GB.'
    )
    assert "cannot change a shipping fulfilment's tracking" in str(update.value)
    assert SandboxRequest.objects.count() == before  # nothing was sent
    order.refresh_from_db()
    assert [f["shipmentTrackingNumber"] for f in order.data["_fulfillments"]] == ["JD000000006GB"]


def test_the_coupon_is_the_promotion_id_not_its_description(ebay_sandbox):
    channel, store = ebay_sandbox
    order = make_order(store, rng=random.Random(12))
    line = order["lineItems"][0]
    line["appliedPromotions"] = [
        {
            "promotionId": "5000102",
            "description": "Coupon SPRING5: 5.00 off",
            "discountAmount": {"value": "5.00", "currency": order["pricingSummary"]["total"]["currency"]},
        }
    ]
    order["lineItems"] = [line, dict(line, lineItemId="30009")]  # the same promotion on two lines
    add_order(store, order)

    run_sync(channel)

    assert Order.objects.get().coupon_codes == "5000102"
