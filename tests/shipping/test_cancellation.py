"""Cancelling labels until pickup, relabelling, and cancelling whole orders."""

from datetime import UTC, datetime

from django.urls import reverse

from orders import pushing
from orders.models import Fulfilment, Order
from orders.services import default_lines
from orders.tasks import run_sync
from sandbox.generators.etsy import generate
from sandbox.models import SandboxRequest
from shipping import tracking
from shipping.booking import book_shipment
from shipping.carriers.base import TrackingUpdate
from shipping.models import Shipment
from tests.factories import OrderFactory, OrderLineFactory, catalogue
from tests.shipping.conftest import advance
from tests.shipping.factories import ShippableOrderFactory


def picked_up(shipment):
    tracking.apply_updates(
        shipment,
        [
            TrackingUpdate(
                code="22",
                message="Shipment picked up by driver",
                occurred_at=datetime(2026, 3, 5, 12, 0, tzinfo=UTC),
                status="in_transit",
                is_status=True,
            )
        ],
        source="poll",
    )
    shipment.refresh_from_db()
    return shipment


def test_cancel_from_the_order_page_voids_the_label_and_the_unsent_tracking(staff_client, selfprint):
    order = ShippableOrderFactory()
    shipment = book_shipment(order=order)
    pending = shipment.fulfilment
    order_page = reverse("admin:orders_order_change", args=[order.pk])
    cancel_url = reverse("admin:shipping_shipment_cancel", args=[shipment.pk])

    assert cancel_url in staff_client.get(order_page).content.decode()
    assert "Yes, cancel the label" in staff_client.get(cancel_url).content.decode()
    response = staff_client.post(cancel_url, follow=True)

    shipment.refresh_from_db()
    order.refresh_from_db()
    assert shipment.status == Shipment.Status.CANCELLED
    assert "Self-printed label voided" in response.content.decode()
    # The last label of a shipped order: it awaits shipment again, and the channel is never told.
    assert order.status == Order.Status.AWAITING_SHIPMENT and order.shipped_at is None
    assert not Fulfilment.objects.filter(pk=pending.pk).exists()
    assert pushing.push_fulfilment(pending.pk) == "skipped"
    assert pushing.push_due() == (0, 0)
    assert order.events.filter(message__contains="withdrawn before it was sent").exists()


def test_cancelling_one_of_two_parcels_opens_its_lines_and_the_order_is_partly_shipped(selfprint):
    order = OrderFactory()
    mug, tee = OrderLineFactory(order=order, sku="MUG"), OrderLineFactory(order=order, sku="TEE")
    first = book_shipment(order=order, lines=[(mug, 1)])
    order.refresh_from_db()
    second = book_shipment(order=order, lines=[(tee, 1)])
    order.refresh_from_db()
    assert order.status == Order.Status.SHIPPED

    from shipping.booking import cancel_shipment

    cancel_shipment(first)

    order.refresh_from_db()
    assert order.status == Order.Status.PARTLY_SHIPPED and second.status == Shipment.Status.BOOKED
    assert [(ln.sku, qty) for ln, qty in default_lines(order)] == [
        ("MUG", 1)
    ]  # MUG ships again, TEE does not


def test_after_pickup_the_button_explains_why_not(staff_client, selfprint):
    order = ShippableOrderFactory()
    shipment = picked_up(book_shipment(order=order))

    page = staff_client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    cancel_url = reverse("admin:shipping_shipment_cancel", args=[shipment.pk])
    response = staff_client.post(cancel_url, follow=True)

    assert cancel_url not in page
    assert (
        "The carrier picked the parcel up on 05 Mar 2026 12:00; a label cannot be cancelled after pickup"
        in page
    )
    assert "a label cannot be cancelled after pickup" in response.content.decode()
    shipment.refresh_from_db()
    assert shipment.status == Shipment.Status.IN_TRANSIT


def test_a_queued_cancellation_is_shown_as_such_and_completes_when_the_carrier_confirms(
    staff_client, sendcloud
):
    order = ShippableOrderFactory(ship_country="NL", ship_line1="Kerkstraat 12")
    shipment = book_shipment(order=order, service="PostNL Standard 0-23kg")

    response = staff_client.post(reverse("admin:shipping_shipment_cancel", args=[shipment.pk]), follow=True)

    page = response.content.decode()
    assert "Cancellation queued · Cancellation requested" not in page  # no carrier status yet
    assert "Parcel cancellation has been queued" in page and "Cancellation queued" in page
    assert "unless the parcel moves" in page  # instead of a cancel button
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_SHIPMENT  # void for us: it can be booked again

    advance(sendcloud, shipment, 2000)  # 14 days later the carrier cancels it and says so

    shipment.refresh_from_db()
    assert shipment.status == Shipment.Status.CANCELLED and shipment.cancelled_at
    assert order.events.filter(message__contains="confirmed the cancellation").exists()


def test_a_queued_cancellation_that_fails_tells_the_channel_after_all(sendcloud):
    order = ShippableOrderFactory(ship_country="NL", ship_line1="Kerkstraat 12")
    shipment = book_shipment(order=order, service="PostNL Standard 0-23kg")
    from shipping.booking import cancel_shipment

    cancel_shipment(shipment)
    advance(sendcloud, shipment, 22)  # picked up before the cancellation went through

    shipment.refresh_from_db()
    order.refresh_from_db()
    assert shipment.status == Shipment.Status.IN_TRANSIT
    assert order.status == Order.Status.SHIPPED
    assert order.events.filter(kind="error", message__contains="queued cancellation").exists()
    # The same fulfilment stays, its retraction called off: the channel is not told twice.
    [kept] = order.fulfilments.filter(tracking_number=shipment.tracking_number)
    assert kept.retract_requested_at is None and shipment.fulfilment_id == kept.pk


def test_relabel_updates_the_channels_tracking(etsy_sandbox, selfprint):
    channel, store = etsy_sandbox
    generate(store, 1, mix=False, seed=5)
    run_sync(channel)
    order = Order.objects.get(channel=channel)
    catalogue()
    first = book_shipment(order=order)  # pushed to Etsy on commit
    assert Fulfilment.objects.get(tracking_number=first.tracking_number).state == Fulfilment.State.SENT

    from shipping.booking import relabel_shipment

    message, second = relabel_shipment(first)

    pushes = [
        r.parsed["tracking_code"]
        for r in SandboxRequest.objects.filter(store=store, path__endswith="/tracking")
    ]
    assert pushes == [first.tracking_number, second.tracking_number]
    receipt = store.orders.get().data
    assert receipt["shipments"][-1]["tracking_code"] == second.tracking_number
    first.refresh_from_db()
    assert first.status == Shipment.Status.CANCELLED and second.status == Shipment.Status.BOOKED
    assert order.events.filter(
        message=f"Relabelled: {first.tracking_number} replaced by {second.tracking_number}"
    ).exists()


def test_cancel_orders_action_voids_labels_and_reports_each_step(staff_client, selfprint):
    booked = ShippableOrderFactory()
    shipment = book_shipment(order=booked)
    waiting = ShippableOrderFactory()
    changelist = reverse("admin:orders_order_changelist")
    selected = {"action": "cancel_orders", "_selected_action": [booked.pk, waiting.pk]}

    confirm = staff_client.post(changelist, selected)
    assert "Yes, cancel" in confirm.content.decode() and Order.objects.filter(status="cancelled").count() == 0
    report = staff_client.post(changelist, {**selected, "post": "yes"})

    page = report.content.decode()
    assert f"label {shipment.tracking_number}: Self-printed label voided" in page
    assert "Etsy&#x27;s API cannot cancel orders: cancel it on Etsy yourself" in page
    assert "cancelled in Shipdesk" in page
    assert set(Order.objects.values_list("status", flat=True)) == {"cancelled"}
    assert not Fulfilment.objects.exists()  # the unsent tracking was withdrawn


def test_cancelling_an_order_cancels_it_on_a_channel_whose_api_allows_it(
    marketplace, staff_client, selfprint
):
    channel, store = marketplace("ecwid")
    from sandbox import generators

    generators.get("ecwid")(store, 1, mix=False, seed=2)
    run_sync(channel)
    order = Order.objects.get(channel=channel)

    response = staff_client.post(reverse("admin:shipping_order_cancel", args=[order.pk]), follow=True)

    assert "cancelled on the channel" in response.content.decode()
    assert SandboxRequest.objects.filter(store=store, method="PUT").last().parsed == {
        "paymentStatus": "CANCELLED"
    }
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED and order.cancelled_at


def test_an_order_whose_parcel_left_is_not_cancelled(selfprint):
    from shipping.cancellation import cancel_order

    order = ShippableOrderFactory()
    picked_up(book_shipment(order=order))

    steps = cancel_order(order)

    order.refresh_from_db()
    assert order.status == Order.Status.SHIPPED
    assert [s.state for s in steps] == ["failed", "failed"]
    assert "a parcel is already with the carrier" in steps[-1].message


def test_cancelling_an_order_cancels_its_supplier_orders_awaiting_payment(
    staff_client, django_capture_on_commit_callbacks
):
    from suppliers.models import SupplierOrder
    from tests.suppliers.conftest import supplier_orders_for
    from tests.suppliers.factories import SupplierFactory

    [supplier_order] = supplier_orders_for(SupplierFactory(name="Atelier Nord"), 1)
    order = supplier_order.order

    with django_capture_on_commit_callbacks(execute=True):  # the hook runs once the cancellation commits
        response = staff_client.post(reverse("admin:shipping_order_cancel", args=[order.pk]), follow=True)

    assert "cancelled in Shipdesk" in response.content.decode()
    supplier_order.refresh_from_db()
    assert supplier_order.status == SupplierOrder.Status.CANCELLED
    assert order.events.filter(
        kind="supplier", message__contains="Awaiting payment → Cancelled: the store order was cancelled"
    ).exists()
