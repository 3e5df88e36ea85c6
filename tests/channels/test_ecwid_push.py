"""Telling Ecwid what shipped. Ecwid keeps one fulfilment status and one tracking number per
order, so only the parcel that completes the order marks it; the note to the buyer is an order
extra field; a relabel replaces the tracking and a cancelled label puts the order back. Against
the sandbox over real HTTP."""

import random

import pytest

from channels.connectors.base import NotSupported, RemoteFulfilment
from channels.connectors.ecwid import NOTE_FIELD
from sandbox.generators.ecwid import add_order, make_order
from sandbox.models import SandboxRequest

THEIRS = {
    "id": "how_you_found_us",
    "title": "How did you find us?",
    "value": "A friend",
    "orderDetailsDisplaySection": "order_comments",
}


def two_line_order(store):
    """A paid Ecwid order of soap x2 and a mug x1, with an extra field of the shop's own."""
    order = make_order(store, rng=random.Random(31))
    first = order["items"][0]
    order["items"] = [
        dict(first, id=91001, sku="SOAP-LAV", quantity=2),
        dict(first, id=91002, sku="MUG-SPK", quantity=1),
    ]
    order["orderExtraFields"] = [THEIRS]
    return add_order(store, order)


def parcel(order, lines, tracking, carrier="Royal Mail", **extra):
    return RemoteFulfilment(
        order_external_id=order.external_id, tracking_number=tracking, carrier=carrier, lines=lines, **extra
    )


def puts():
    return SandboxRequest.objects.filter(method="PUT").order_by("id")


def test_a_split_order_is_marked_shipped_by_the_parcel_that_completes_it(ecwid_sandbox):
    channel, store = ecwid_sandbox
    order = two_line_order(store)
    connector = channel.connector()
    assert connector.partial_shipments is False  # Ecwid cannot ship some lines of an order

    with pytest.raises(NotSupported, match="only mark the whole order shipped"):
        connector.push_fulfilment(parcel(order, [("91001", 1), ("91002", 1)], "RM100", completes_order=False))
    assert not puts().exists()
    order.refresh_from_db()
    assert order.data["fulfillmentStatus"] == "AWAITING_PROCESSING"

    connector.push_fulfilment(parcel(order, [("91001", 1)], "RM101", completes_order=True))

    [request] = puts()
    assert (request.parsed["fulfillmentStatus"], request.parsed["trackingNumber"]) == ("SHIPPED", "RM101")
    order.refresh_from_db()
    assert (order.data["fulfillmentStatus"], order.data["trackingNumber"]) == ("SHIPPED", "RM101")


def test_the_note_to_the_buyer_is_an_order_extra_field_beside_the_shops_own(ecwid_sandbox):
    channel, store = ecwid_sandbox
    order = two_line_order(store)

    channel.connector().push_fulfilment(
        parcel(order, [("91001", 2), ("91002", 1)], "RM102", note="Thank you! Your soap is wrapped in paper.")
    )

    mine = {
        "id": NOTE_FIELD,
        "title": "Note from the seller",
        "value": "Thank you! Your soap is wrapped in paper.",
        "orderDetailsDisplaySection": "order_comments",
    }
    assert puts().get().parsed["orderExtraFields"] == [THEIRS, mine]
    order.refresh_from_db()
    assert order.data["orderExtraFields"] == [THEIRS, mine]
    assert order.data["extraFields"][NOTE_FIELD] == "Thank you! Your soap is wrapped in paper."


def test_find_fulfilment_reads_the_orders_tracking_number(ecwid_sandbox):
    channel, store = ecwid_sandbox
    order = two_line_order(store)
    connector = channel.connector()
    sent = parcel(order, [("91001", 2), ("91002", 1)], "RM103")
    assert connector.find_fulfilment(sent) is None  # not shipped yet
    connector.push_fulfilment(sent)

    found = connector.find_fulfilment(sent)

    assert found.request == {"fulfillmentStatus": "SHIPPED", "trackingNumber": "RM103"}
    assert connector.find_fulfilment(parcel(order, [("91001", 2)], "RM999")) is None
    assert puts().count() == 1


def test_a_relabel_replaces_the_orders_tracking_number_and_note(ecwid_sandbox):
    channel, store = ecwid_sandbox
    order = two_line_order(store)
    connector = channel.connector()
    old = parcel(order, [("91001", 2), ("91002", 1)], "RM104", note="Old note")
    connector.push_fulfilment(old)

    connector.update_fulfilment(
        old, parcel(order, [("91001", 2), ("91002", 1)], "1Z999AA10123456784", carrier="UPS", note="")
    )

    order.refresh_from_db()
    assert (order.data["fulfillmentStatus"], order.data["trackingNumber"]) == (
        "SHIPPED",
        "1Z999AA10123456784",
    )
    assert order.data["shippingOption"]["shippingCarrierName"] == "UPS"
    assert order.data["orderExtraFields"] == [THEIRS]  # the old parcel's note went with it


def test_cancelling_puts_the_order_back_to_awaiting_processing_without_tracking(ecwid_sandbox):
    channel, store = ecwid_sandbox
    order = two_line_order(store)
    connector = channel.connector()
    sent = parcel(
        order, [("91001", 2), ("91002", 1)], "RM105", tracking_url="https://track.example/RM105", note="Enjoy"
    )
    connector.push_fulfilment(sent)

    connector.cancel_fulfilment(sent)

    assert puts().last().parsed == {
        "fulfillmentStatus": "AWAITING_PROCESSING",
        "trackingNumber": "",
        "trackingUrl": "",
        "orderExtraFields": [THEIRS],
    }
    order.refresh_from_db()
    assert (order.data["fulfillmentStatus"], order.data["trackingNumber"]) == ("AWAITING_PROCESSING", "")
    assert connector.find_fulfilment(sent) is None


def test_cancelling_a_parcel_the_order_no_longer_carries_changes_nothing(ecwid_sandbox):
    channel, store = ecwid_sandbox
    order = two_line_order(store)
    connector = channel.connector()
    old = parcel(order, [("91001", 2), ("91002", 1)], "RM106")
    connector.push_fulfilment(old)
    connector.update_fulfilment(old, parcel(order, [("91001", 2), ("91002", 1)], "RM107"))

    connector.cancel_fulfilment(old)  # the relabel already replaced it

    assert puts().count() == 2
    order.refresh_from_db()
    assert (order.data["fulfillmentStatus"], order.data["trackingNumber"]) == ("SHIPPED", "RM107")
