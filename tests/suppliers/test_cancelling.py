"""A cancelled store order cancels its supplier orders (settings.ORDER_CANCELLED_HANDLERS), whoever
cancelled it: staff in the admin or the channel, read back by a sync."""

from decimal import Decimal

import pytest
from django.urls import reverse

from orders.models import AlertSubscription, Order, OrderEvent, StaffAlert
from orders.tasks import run_sync
from sandbox.models import SandboxOrder, SandboxRequest
from suppliers import placing, services
from suppliers.models import SupplierOrder
from tests.factories import UserFactory
from tests.suppliers.conftest import supplier_orders_for
from tests.suppliers.factories import SupplierFactory, SupplierProductFactory


@pytest.fixture
def ops(transactional_db):
    """A staff member subscribed to every channel's alerts."""
    user = UserFactory(username="ops")
    AlertSubscription.objects.create(user=user, all_channels=True)
    return user


def placed(supplier_order) -> SupplierOrder:
    services.set_status(supplier_order, SupplierOrder.Status.PAID, reason="paid in batch #1")
    return placing.place(supplier_order)


def staff_cancels(client, *orders):
    changelist = reverse("admin:orders_order_changelist")
    return client.post(
        changelist, {"action": "cancel_orders", "_selected_action": [o.pk for o in orders], "post": "yes"}
    )


def test_staff_cancelling_a_placed_order_cancels_it_with_the_supplier_through_its_api(
    atelier_nord, supplier_store, staff_client
):
    supplier_order = placed(supplier_orders_for(atelier_nord, 1)[0])
    assert supplier_order.status == "placed" and supplier_order.remote_id

    staff_cancels(staff_client, supplier_order.order)

    [sent] = SandboxRequest.objects.filter(store=supplier_store, path__endswith="/cancel")
    assert sent.path.endswith(f"/v1/orders/{supplier_order.remote_id}/cancel")
    assert sent.parsed == {"reason": "the store order was cancelled"}
    assert (
        SandboxOrder.objects.get(store=supplier_store, external_id=supplier_order.remote_id).status
        == "cancelled"
    )
    supplier_order.refresh_from_db()
    assert supplier_order.status == "cancelled" and supplier_order.cancelled_at
    assert supplier_order.order.events.filter(
        kind=OrderEvent.Kind.SUPPLIER,
        message__contains=f"cancelled through Atelier Nord's API (their order {supplier_order.remote_id})",
    ).exists()


def test_what_cannot_be_cancelled_with_the_supplier_is_flagged_for_staff(
    atelier_nord, supplier_store, staff_client, live_server, ops
):
    import requests

    from tests.suppliers.conftest import SUPPLIER_ACCOUNT, SUPPLIER_KEY

    by_email = SupplierFactory(name="Fabrika", email="orders@fabrika.example")
    emailed = placed(supplier_orders_for(by_email, 1)[0])
    gone = placed(supplier_orders_for(atelier_nord, 1)[0])
    requests.post(
        f"{live_server.url}/sandbox/supplier/{SUPPLIER_ACCOUNT}/v1/orders/{gone.remote_id}/ship",
        json={"tracking_number": "JD0001"},
        headers={"Authorization": f"Bearer {SUPPLIER_KEY}"},
        timeout=5,
    )

    staff_cancels(staff_client, emailed.order, gone.order)

    emailed.refresh_from_db()
    gone.refresh_from_db()
    assert (emailed.status, gone.status) == ("placed", "placed")  # the tracking poll will bring gone's parcel
    assert (
        "Fabrika has this order (placed by email), but the store order was cancelled: contact Fabrika to cancel it"
        in emailed.order.events.get(kind=OrderEvent.Kind.ERROR).message
    )
    refused = gone.order.events.get(kind=OrderEvent.Kind.ERROR).message
    assert "Atelier Nord did not cancel it" in refused and "can no longer be cancelled" in refused
    assert "contact Atelier Nord to cancel it" in refused
    assert sorted(StaffAlert.objects.values_list("subject", flat=True)) == sorted(
        f"Supplier order {so.reference}: store order cancelled" for so in (emailed, gone)
    )


def test_a_sync_that_reads_a_cancellation_on_the_channel_cancels_the_supplier_orders(
    shopify, atelier_nord, supplier_store
):
    from sandbox.generators.shopify import add_order, make_order
    from sandbox.shopify import orders as sandbox_shopify

    channel, store = shopify
    SupplierProductFactory(
        supplier=atelier_nord, sku="CANDLE-FIG", supplier_sku="AN-FIG", cost_price=Decimal("5")
    )
    SupplierProductFactory(
        supplier=atelier_nord, sku="NECK-45", supplier_sku="AN-NECK", cost_price=Decimal("21")
    )
    first = add_order(store, make_order(store, items=[("MUG-RED", 1), ("CANDLE-FIG", 1)]))
    second = add_order(store, make_order(store, items=[("NECK-45", 1)]))
    run_sync(channel)
    waiting = SupplierOrder.objects.get(order__external_id=first.external_id)
    on_its_way = placed(SupplierOrder.objects.get(order__external_id=second.external_id))

    for remote in (first, second):
        remote.refresh_from_db()
        sandbox_shopify.cancel(store, remote, reason="customer")
    summary = run_sync(channel)

    assert summary.cancelled_on_channel == 2
    assert set(Order.objects.values_list("status", flat=True)) == {"cancelled"}
    waiting.refresh_from_db()
    on_its_way.refresh_from_db()
    assert (waiting.status, on_its_way.status) == ("cancelled", "cancelled")
    assert waiting.order.events.filter(
        message__contains="Awaiting payment → Cancelled: the store order was cancelled"
    ).exists()
    assert (
        SandboxRequest.objects.filter(
            store=supplier_store, path__endswith=f"/orders/{on_its_way.remote_id}/cancel"
        ).count()
        == 1
    )
