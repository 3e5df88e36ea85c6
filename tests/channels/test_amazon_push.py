"""Telling Amazon what shipped: confirmShipment with one package per parcel (its own
packageReferenceId), finding a package already confirmed, replacing one on a relabel, and what
Amazon cannot take back. Against the sandbox over real HTTP."""

import random
from datetime import UTC, datetime

import pytest

from channels.connectors.amazon_mapping import package_reference
from channels.connectors.base import ConnectorError, NotSupported, RemoteFulfilment
from sandbox import amazon as sandbox_amazon
from sandbox.generators.amazon import add_order, make_order
from sandbox.models import SandboxRequest
from tests.channels.conftest_marketplaces import *  # noqa: F403 - the sandbox fixtures

ORDER = "202-7000001-0000001"
CUP, LAMP = "70000000000001", "70000000000002"
SHIPPED = datetime(2026, 2, 4, 16, 0, tzinfo=UTC)


def two_item_order(store):
    """An Amazon order of two cups (CUP) and a lamp (LAMP), nothing shipped yet."""
    order = make_order(store, rng=random.Random(21))
    first = order["orderItems"][0]
    order.update(orderId=ORDER)
    order["orderItems"] = [
        dict(
            first,
            orderItemId=CUP,
            quantityOrdered=2,
            fulfillment={"quantityFulfilled": 0, "quantityUnfulfilled": 2},
        ),
        dict(
            first,
            orderItemId=LAMP,
            quantityOrdered=1,
            fulfillment={"quantityFulfilled": 0, "quantityUnfulfilled": 1},
        ),
    ]
    return add_order(store, order)


def parcel(lines, tracking, reference, **extra):
    return RemoteFulfilment(
        order_external_id=ORDER,
        tracking_number=tracking,
        carrier="Royal Mail",
        service="Tracked 48",
        shipped_at=SHIPPED,
        lines=lines,
        reference=reference,
        **extra,
    )


def ref(reference):
    """The packageReferenceId Amazon gets for a parcel reference."""
    return package_reference(reference)


def confirmations():
    return SandboxRequest.objects.filter(path__endswith="/shipmentConfirmation").order_by("id")


def packages(order):
    order.refresh_from_db()
    return {p["packageReferenceId"]: (p["trackingNumber"], p["packageItems"]) for p in order.data["packages"]}


def test_a_split_order_is_two_packages_each_with_its_own_reference_and_items(amazon_sandbox):
    channel, store = amazon_sandbox
    order = two_item_order(store)
    connector = channel.connector()

    first = connector.push_fulfilment(parcel([(CUP, 1), (LAMP, 1)], "JD000000011GB", "101"))
    order.refresh_from_db()
    assert order.data["fulfillment"]["fulfillmentStatus"] == "PARTIALLY_SHIPPED"
    second = connector.push_fulfilment(parcel([(CUP, 1)], "JD000000012GB", "102"))

    assert [r.parsed["packageDetail"] for r in confirmations()] == [
        {
            "packageReferenceId": ref("101"),
            "carrierCode": "Royal Mail",
            "trackingNumber": "JD000000011GB",
            "shippingMethod": "Tracked 48",
            "shipDate": "2026-02-04T16:00:00Z",
            "orderItems": [{"orderItemId": CUP, "quantity": 1}, {"orderItemId": LAMP, "quantity": 1}],
        },
        {
            "packageReferenceId": ref("102"),
            "carrierCode": "Royal Mail",
            "trackingNumber": "JD000000012GB",
            "shippingMethod": "Tracked 48",
            "shipDate": "2026-02-04T16:00:00Z",
            "orderItems": [{"orderItemId": CUP, "quantity": 1}],
        },
    ]
    assert (first.remote_id, second.remote_id) == (ref("101"), ref("102"))
    assert packages(order) == {
        ref("101"): (
            "JD000000011GB",
            [{"orderItemId": CUP, "quantity": 1}, {"orderItemId": LAMP, "quantity": 1}],
        ),
        ref("102"): ("JD000000012GB", [{"orderItemId": CUP, "quantity": 1}]),
    }
    assert order.data["fulfillment"]["fulfillmentStatus"] == "SHIPPED"


def test_quantities_of_an_item_named_twice_are_summed_and_a_repeat_edits_the_same_package(amazon_sandbox):
    channel, store = amazon_sandbox
    order = two_item_order(store)
    connector = channel.connector()
    both_cups = parcel([(CUP, 1), (CUP, 1)], "JD000000013GB", "7")

    connector.push_fulfilment(both_cups)
    connector.push_fulfilment(both_cups)  # a retry after a lost answer

    assert confirmations()[0].parsed["packageDetail"]["orderItems"] == [{"orderItemId": CUP, "quantity": 2}]
    assert packages(order) == {ref("7"): ("JD000000013GB", [{"orderItemId": CUP, "quantity": 2}])}


def test_a_parcel_reference_becomes_a_stable_package_number_clear_of_seller_centrals(amazon_sandbox):
    channel, store = amazon_sandbox
    order = two_item_order(store)
    sandbox_amazon.ship(
        order, tracking_number="SC0001", items=[{"orderItemId": CUP, "quantity": 1}], reference="1"
    )  # confirmed in Seller Central as package 1

    result = channel.connector().push_fulfilment(parcel([(LAMP, 1)], "JD000000014GB", "1"))

    assert result.remote_id.isdigit() and len(result.remote_id) == 9
    assert result.remote_id == package_reference("1") == package_reference(" 1 ") != package_reference("2")
    assert packages(order) == {
        "1": ("SC0001", [{"orderItemId": CUP, "quantity": 1}]),
        result.remote_id: ("JD000000014GB", [{"orderItemId": LAMP, "quantity": 1}]),
    }


def test_find_fulfilment_finds_a_confirmed_tracking_number_and_nothing_for_an_unknown_one(amazon_sandbox):
    channel, store = amazon_sandbox
    two_item_order(store)
    connector = channel.connector()
    connector.push_fulfilment(parcel([(CUP, 2)], "JD000000015GB", "31"))

    found = connector.find_fulfilment(parcel([(CUP, 2)], "JD000000015GB", "31"))
    missing = connector.find_fulfilment(parcel([(LAMP, 1)], "JD999999999GB", "32"))

    assert found.remote_id == ref("31") and found.request["packageItems"] == [
        {"orderItemId": CUP, "quantity": 2}
    ]
    assert missing is None
    assert confirmations().count() == 1  # looking never confirms


def test_a_relabel_replaces_the_package_under_the_same_reference(amazon_sandbox):
    channel, store = amazon_sandbox
    order = two_item_order(store)
    connector = channel.connector()
    old = parcel([(CUP, 2), (LAMP, 1)], "JD000000016GB", "41")
    old.remote_id = connector.push_fulfilment(old).remote_id

    result = connector.update_fulfilment(old, parcel([(CUP, 2), (LAMP, 1)], "1Z999AA10123456784", "42"))

    assert result.remote_id == ref("41")
    assert confirmations().last().parsed["packageDetail"]["packageReferenceId"] == ref("41")
    assert packages(order) == {
        ref("41"): (
            "1Z999AA10123456784",
            [{"orderItemId": CUP, "quantity": 2}, {"orderItemId": LAMP, "quantity": 1}],
        )
    }
    assert connector.find_fulfilment(old) is None  # the dead tracking number is gone from Amazon
    assert order.data["fulfillment"]["fulfillmentStatus"] == "SHIPPED"


def test_more_units_than_are_left_to_ship_is_refused_in_amazons_words(amazon_sandbox):
    channel, store = amazon_sandbox
    order = two_item_order(store)
    connector = channel.connector()
    connector.push_fulfilment(parcel([(CUP, 2)], "JD000000017GB", "51"))

    with pytest.raises(ConnectorError) as refused:
        connector.push_fulfilment(parcel([(CUP, 1)], "JD000000018GB", "52"))

    assert not refused.value.retryable and refused.value.status == 400
    assert str(refused.value) == (
        f"Amazon refused the shipment of order {ORDER}: Invalid quantity for orderItemId "
        f"{CUP}: 1 exceeds the 0 not yet shipped (InvalidInput)"
    )
    assert list(packages(order)) == [ref("51")]


def test_amazon_always_requires_tracking_and_sends_nothing_without(amazon_sandbox):
    channel, store = amazon_sandbox
    two_item_order(store)

    with pytest.raises(ConnectorError) as refused:
        channel.connector().push_fulfilment(parcel([(CUP, 1)], "", "61"))

    assert not refused.value.retryable and not confirmations().exists()


def test_a_confirmed_package_cannot_be_withdrawn_through_the_api_the_step_is_named(amazon_sandbox):
    channel, store = amazon_sandbox
    order = two_item_order(store)
    connector = channel.connector()
    sent = parcel([(LAMP, 1)], "JD000000019GB", "71")
    sent.remote_id = connector.push_fulfilment(sent).remote_id
    before = SandboxRequest.objects.count()

    with pytest.raises(NotSupported) as cancel:
        connector.cancel_fulfilment(sent)

    assert str(cancel.value) == (
        f"Amazon's API cannot withdraw a confirmed shipment: in Seller Central open order {ORDER} "
        f'(Orders > Manage Orders), choose "Edit shipment" and correct or remove package {ref("71")} with tracking ID '
        "JD000000019GB."
    )
    assert SandboxRequest.objects.count() == before
    assert list(packages(order)) == [ref("71")]


def test_a_relabel_of_a_package_sent_without_a_reference_finds_it_by_its_tracking_number(amazon_sandbox):
    channel, store = amazon_sandbox
    order = two_item_order(store)
    connector = channel.connector()
    old = parcel([(CUP, 2), (LAMP, 1)], "JD000000020GB", "")  # confirmed before parcels had references
    assert connector.push_fulfilment(old).remote_id == "1"  # the next free number, as before

    connector.update_fulfilment(old, parcel([(CUP, 2), (LAMP, 1)], "JD000000021GB", "81"))

    assert packages(order) == {
        "1": ("JD000000021GB", [{"orderItemId": CUP, "quantity": 2}, {"orderItemId": LAMP, "quantity": 1}])
    }
    with pytest.raises(NotSupported, match="no package with tracking number JD000000020GB"):
        connector.update_fulfilment(old, parcel([(CUP, 2)], "JD000000022GB", "82"))
