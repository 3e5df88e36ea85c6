"""The order's status follows its lines (orders.services.refresh_status), and record_fulfilment
takes the lines a parcel holds."""

from datetime import timedelta

import pytest
from django.utils import timezone

from orders import services
from orders.models import Fulfilment, Order, OrderEvent
from tests.factories import FulfilmentFactory, OrderFactory, OrderLineFactory

S = Order.Status


@pytest.fixture
def order(db):
    order = OrderFactory()
    OrderLineFactory(order=order, external_id="A", sku="MUG", quantity=2)
    OrderLineFactory(order=order, external_id="B", sku="TEE", quantity=1)
    OrderLineFactory(order=order, external_id="D", sku="GIFT", is_physical=False)  # never in a parcel
    return order


def fulfil(order, lines, **kw):
    return services.record_fulfilment(
        order=order, lines=lines, tracking_number=kw.pop("tracking", "T1"), carrier_name="Royal Mail", **kw
    )


def statuses(order):
    return [e.data["status"] for e in order.events.filter(kind=OrderEvent.Kind.STATUS).order_by("id")]


def test_partly_shipped_then_shipped_as_parcels_leave(order, django_capture_on_commit_callbacks):
    fulfil(order, [("A", 1)])
    order.refresh_from_db()
    assert order.status == S.PARTLY_SHIPPED and order.shipped_at is not None
    assert "still to ship: 1 × MUG, 1 × TEE" in order.events.get(kind="status").message

    fulfil(order, [("A", 1), ("B", 1)], tracking="T2")
    order.refresh_from_db()
    assert order.status == S.SHIPPED
    assert statuses(order) == ["partly_shipped", "shipped"]


def test_a_suppliers_parcel_counts_as_much_as_ours(order):
    fulfil(order, [("A", 2), ("B", 1)], supplier="Atelier Nord")
    order.refresh_from_db()
    assert order.status == S.SHIPPED
    assert order.fulfilments.get().supplier == "Atelier Nord"


def test_a_blocked_or_failed_fulfilment_never_looks_shipped(order):
    f = fulfil(order, [("A", 2), ("B", 1)])
    Fulfilment.objects.filter(pk=f.pk).update(state=Fulfilment.State.BLOCKED)

    services.refresh_status(order, reason="the channel refused it")

    order.refresh_from_db()
    assert order.status == S.AWAITING_SHIPMENT and order.shipped_at is None
    assert services.default_lines(order) == []  # still in a parcel: never booked twice
    assert Fulfilment.objects.get(pk=f.pk).needs_attention

    services.retry_fulfilment(Fulfilment.objects.get(pk=f.pk))
    order.refresh_from_db()
    assert order.status == S.SHIPPED


def test_a_retracted_or_withdrawn_fulfilment_covers_nothing(order):
    f = fulfil(order, [("A", 2), ("B", 1)])
    assert list(Fulfilment.objects.live()) == [f]
    Fulfilment.objects.filter(pk=f.pk).update(
        state=Fulfilment.State.SENT, retract_requested_at=timezone.now()
    )
    assert not Fulfilment.objects.live().exists()

    services.refresh_status(order, reason="label cancelled")

    order.refresh_from_db()
    assert order.status == S.AWAITING_SHIPMENT
    assert [(ln.sku, q) for ln, q in services.default_lines(order)] == [("MUG", 2), ("TEE", 1)]
    for state in (Fulfilment.State.CANCELLED, Fulfilment.State.ATTENTION):
        Fulfilment.objects.filter(pk=f.pk).update(state=state, retract_requested_at=None)
        assert not Fulfilment.objects.live().exists()


def test_an_order_on_hold_stays_on_hold_until_something_leaves_and_cancelled_stays_cancelled(order):
    services.set_status(order, S.ON_HOLD, reason="address check")
    services.refresh_status(order, reason="nothing happened")
    assert order.status == S.ON_HOLD
    fulfil(order, [("B", 1)])
    order.refresh_from_db()
    assert order.status == S.PARTLY_SHIPPED

    services.set_status(order, S.CANCELLED, reason="customer asked")
    fulfil(order, [("A", 2)], tracking="T2")
    order.refresh_from_db()
    assert order.status == S.CANCELLED


def test_the_transitions_table_knows_partly_shipped(order):
    services.set_status(order, S.PARTLY_SHIPPED, reason="x")
    for allowed in (S.SHIPPED, S.AWAITING_SHIPMENT):
        assert allowed in services.TRANSITIONS[S.PARTLY_SHIPPED]
    assert S.PARTLY_SHIPPED in services.TRANSITIONS[S.SHIPPED] and S.PARTLY_SHIPPED in services.BOOKABLE
    services.set_status(order, S.CANCELLED, reason="x")
    with pytest.raises(services.InvalidTransition):
        services.set_status(order, S.PARTLY_SHIPPED, reason="x")


@pytest.mark.parametrize(
    "lines, message",
    [
        ([], "a parcel must hold at least one line"),
        ([("Z", 1)], "has no line Z"),
        ([("A", 3)], "MUG: 3 is more than the 2 ordered"),
        ([("D", 1)], "GIFT is not a physical item"),
        ([("A", 1), ("A", 1)], "MUG is named twice"),
        ([("A", "two")], "“two” is not a quantity"),
    ],
)
def test_record_fulfilment_refuses_bad_lines_and_changes_nothing(order, lines, message):
    with pytest.raises(services.InvalidLines, match=message):
        fulfil(order, lines)
    assert not Fulfilment.objects.exists() and not order.events.exists()


def test_record_fulfilment_refuses_a_line_of_another_order(order):
    other = OrderLineFactory(sku="CUP")
    with pytest.raises(services.InvalidLines, match=f"CUP is a line of order {other.order}, not of {order}"):
        fulfil(order, [(other, 1)])


def test_fee_note_and_replaces_are_stored(order):
    old = fulfil(order, [("A", 2)], tracking="OLD")
    new = fulfil(
        order, [("A", 2)], tracking="NEW", fee="4.20", fee_currency="GBP", note="Enjoy", replaces=old
    )
    new.refresh_from_db()
    assert (str(new.fee), new.fee_currency, new.note, new.replaces) == ("4.20", "GBP", "Enjoy", old)
    assert new.lines == [["A", 2]]


def test_the_channel_saying_shipped_covers_what_was_open(order):
    fulfil(order, [("A", 1)])
    services.ship_from_channel(Order.objects.get(pk=order.pk), tracking=[("CH1", "USPS")])
    order.refresh_from_db()
    channel_side = order.fulfilments.get(tracking_number="CH1")
    assert sorted(channel_side.lines) == [["A", 1], ["B", 1]] and channel_side.state == "sent"
    assert order.status == S.SHIPPED


def test_statuses_from_lines_and_the_bulk_writer_agree_with_refresh_status(db):
    partly, whole = OrderFactory(), OrderFactory()
    for o in (partly, whole):
        OrderLineFactory(order=o, external_id="A", quantity=2)
    FulfilmentFactory(order=partly, lines=[["A", 1]])
    FulfilmentFactory(order=whole, lines=[["A", 2]])
    FulfilmentFactory(order=whole, lines=[["A", 2]], state="cancelled")  # covers nothing

    targets = services.statuses_from_lines([partly.pk, whole.pk])
    assert targets == {partly.pk: S.PARTLY_SHIPPED, whole.pk: S.SHIPPED}
    moved = services.ship_orders_in_bulk(
        {partly.pk: "csv row 2", whole.pk: "csv row 3"},
        targets=targets,
        now=timezone.now() - timedelta(hours=1),
    )

    assert moved == [partly.pk, whole.pk]
    partly.refresh_from_db()
    whole.refresh_from_db()
    assert (partly.status, whole.status) == (S.PARTLY_SHIPPED, S.SHIPPED)
    assert partly.events.get().message == "Awaiting shipment → Partly shipped: csv row 2"
    assert partly.shipped_at is not None


def test_the_backfill_gives_old_fulfilments_and_shipments_their_lines(db):
    import importlib

    from django.apps import apps

    from shipping.models import ShipmentLine
    from tests.shipping.factories import ShipmentFactory

    orders_0006 = importlib.import_module("orders.migrations.0006_lines_partly_shipped_and_backfill")
    shipping_0007 = importlib.import_module("shipping.migrations.0007_lines_shipment_lines_backfill")
    order = OrderFactory()
    OrderLineFactory(order=order, external_id="A", quantity=2)
    OrderLineFactory(order=order, external_id="D", is_physical=False)
    split = OrderFactory()
    OrderLineFactory(order=split, external_id="A", quantity=1)
    OrderLineFactory(order=split, external_id="B", quantity=3)
    whole = FulfilmentFactory(order=order, lines=[])  # before: empty meant the whole order
    part = FulfilmentFactory(order=split, lines=[["B", 2]])
    booked = ShipmentFactory(order=order, fulfilment=whole)
    partial = ShipmentFactory(order=split, fulfilment=part)
    withdrawn = ShipmentFactory(order=split, fulfilment=None)

    orders_0006.fill_fulfilment_lines(apps, None)
    shipping_0007.fill_shipment_lines(apps, None)

    whole.refresh_from_db()
    assert whole.lines == [["A", 2]]

    def held(shipment):
        return [
            (sl.order_line.external_id, sl.quantity) for sl in ShipmentLine.objects.filter(shipment=shipment)
        ]

    assert (
        held(booked) == [("A", 2)] and held(partial) == [("B", 2)] and held(withdrawn) == [("A", 1), ("B", 3)]
    )
    shipping_0007.fill_shipment_lines(apps, None)  # run again: nothing doubles
    assert ShipmentLine.objects.count() == 4


def test_completes_order_is_true_for_the_parcel_that_ships_the_last_line(order):
    from orders.lines import completes_order

    first = fulfil(order, [("A", 2)])
    assert not completes_order(first)
    last = fulfil(order, [("B", 1)], tracking="T2")
    assert completes_order(last)
