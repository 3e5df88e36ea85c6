"""shipping.bulk_record writes, a chunk at a time, what record_external_shipment writes one row at
a time, and the two never record the same parcel twice."""

from datetime import UTC, datetime

from django_q.models import Task

from orders.models import Fulfilment, Order, OrderEvent
from shipping.booking import record_external_shipment
from shipping.bulk_record import PUSH_BATCH, RecordRow, record_shipments
from shipping.models import Shipment
from tests.factories import ChannelFactory, OrderFactory, OrderLineFactory, UserFactory
from tests.shipping.factories import ShippableOrderFactory


def _outcome(order: Order) -> dict:
    shipment = order.shipments.get()
    f = shipment.fulfilment
    order.refresh_from_db()
    return {
        "order": (order.status, order.shipped_at is not None),
        "shipment": (
            shipment.carrier_account_id,
            shipment.tracking_number,
            shipment.tracking_company,
            shipment.service,
            shipment.tracking_url,
            shipment.idempotency_key.split("-")[0],
            shipment.decision,
            shipment.booked_by_id,
            shipment.status,
        ),
        "fulfilment": (
            f.tracking_number,
            f.carrier_name,
            f.service,
            f.tracking_url,
            f.lines,
            f.state,
            f.notify_customer,
            f.next_attempt_at is not None,
        ),
        "events": [(e.kind, e.message, e.data, e.actor_id) for e in order.events.order_by("id")],
    }


def test_bulk_and_the_service_write_the_same_rows(db):
    channel = ChannelFactory(notify_customer=False)
    actor = UserFactory()
    one, two = (
        OrderFactory(channel=channel, status="on_hold", hold_reason="x"),
        OrderFactory(channel=channel, status="on_hold"),
    )
    for order in (one, two):  # the same line on each: the parcels hold the same [[line id, quantity]]
        OrderLineFactory(order=order, external_id="L1", sku="MUG", quantity=2)
    record_external_shipment(
        order=one,
        tracking_number="TRK1",
        carrier="DPD",
        service="Next day",
        tracking_url="https://t/1",
        actor=actor,
    )

    result = record_shipments(
        [
            RecordRow(
                order_id=two.pk,
                tracking_number="TRK1",
                carrier="DPD",
                service="Next day",
                tracking_url="https://t/1",
            )
        ],
        actor=actor,
    )

    assert len(result.recorded) == 1 and not result.failed
    assert _outcome(one) == _outcome(two)
    two.refresh_from_db()
    assert two.hold_reason == ""


def test_rows_already_recorded_by_either_path_are_skipped(db):
    order = ShippableOrderFactory()
    shipment, _ = record_external_shipment(order=order, tracking_number="A1", carrier="DPD")
    rows = [
        RecordRow(order_id=order.pk, tracking_number="A1", carrier="DPD", row=2),
        RecordRow(order_id=order.pk, tracking_number="B2", carrier="DPD", row=3),
        RecordRow(order_id=order.pk, tracking_number="B2", carrier="DPD", row=4),
    ]

    result = record_shipments(rows)

    assert [r for r, _ in result.skipped] == [2, 4]
    again, created = record_external_shipment(order=order, tracking_number="B2", carrier="DPD")
    assert not created and again.pk == result.recorded[0]
    assert Shipment.objects.filter(order=order).count() == 2
    # an order already shipped stays shipped, with no second status event
    assert order.events.filter(kind="status").count() == 1


def test_a_parcel_recorded_meanwhile_is_caught_by_its_key_and_not_recorded_twice(db):
    order = ShippableOrderFactory()
    shipment, _ = record_external_shipment(order=order, tracking_number="RACE1", carrier="DPD")
    Fulfilment.objects.filter(pk=shipment.fulfilment_id).delete()  # what the quick check reads is gone

    result = record_shipments(
        [
            RecordRow(order_id=order.pk, tracking_number="RACE1", carrier="DPD", row=2),
            RecordRow(order_id=order.pk, tracking_number="RACE2", carrier="DPD", row=3),
        ]
    )

    assert result.skipped == [(2, f"{order} already has tracking RACE1")] and len(result.recorded) == 1
    assert sorted(Shipment.objects.values_list("tracking_number", flat=True)) == ["RACE1", "RACE2"]


def test_ship_date_cancelled_and_missing_orders(db):
    shipped_on = datetime(2025, 11, 20, 12, tzinfo=UTC)
    ok, cancelled = ShippableOrderFactory(), ShippableOrderFactory(status="cancelled")

    result = record_shipments(
        [
            RecordRow(order_id=ok.pk, tracking_number="OK1", carrier="USPS", shipped_at=shipped_on, row=2),
            RecordRow(order_id=cancelled.pk, tracking_number="C1", carrier="USPS", row=3),
            RecordRow(order_id=999_999, tracking_number="M1", carrier="USPS", row=4),
        ],
        note="CSV import #7",
    )

    assert result.failed == [
        (3, f"{cancelled} was cancelled after the file was checked"),
        (4, "the order no longer exists"),
    ]
    assert Shipment.objects.get().created_at == shipped_on
    assert ok.events.get(kind="booked").message == "Shipment recorded: USPS OK1 (CSV import #7, row 2)"
    assert not Fulfilment.objects.filter(order=cancelled).exists()


def test_pushes_are_queued_after_commit_in_batches(db, django_capture_on_commit_callbacks, monkeypatch):
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", False)  # queue, do not run: the cluster sends them
    orders = [ShippableOrderFactory() for _ in range(PUSH_BATCH + 1)]

    with django_capture_on_commit_callbacks(execute=True):
        result = record_shipments(
            [RecordRow(order_id=o.pk, tracking_number=f"T{o.pk}", carrier="UPS") for o in orders]
        )

    assert len(result.recorded) == PUSH_BATCH + 1
    from django_q.models import OrmQ

    queued = [q.task for q in OrmQ.objects.all()]
    assert [t["func"] for t in queued] == ["shipping.csv_tasks.push_fulfilments"] * 2
    assert sorted(len(t["args"][0]) for t in queued) == [1, PUSH_BATCH]
    assert not Task.objects.exists()
    assert OrderEvent.objects.filter(kind="status").count() == PUSH_BATCH + 1


def test_only_orders_awaiting_shipment_or_on_hold_ship_once_each_with_the_event_set_status_writes(db):
    actor = UserFactory()
    waiting, delivered = ShippableOrderFactory(), ShippableOrderFactory(status="delivered")

    result = record_shipments(
        [
            RecordRow(order_id=waiting.pk, tracking_number="W1", carrier="DPD"),
            RecordRow(order_id=waiting.pk, tracking_number="W2", carrier="DPD"),
            RecordRow(order_id=delivered.pk, tracking_number="D1", carrier="DPD"),
        ],
        actor=actor,
    )

    assert len(result.recorded) == 3
    waiting.refresh_from_db()
    delivered.refresh_from_db()
    assert (waiting.status, delivered.status) == ("shipped", "delivered")
    assert [(e.message, e.data, e.actor_id) for e in waiting.events.filter(kind="status")] == [
        ("Awaiting shipment → Shipped: shipment W1 booked", {"status": "shipped"}, actor.pk)
    ]
    assert not delivered.events.filter(kind="status").exists()
