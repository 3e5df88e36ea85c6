"""Which changes become which webhook event types, through the services that make them."""

from datetime import UTC, datetime

from api.models import WebhookDelivery
from api.webhooks import EVENT_TYPES
from orders.models import Order
from orders.tasks import run_sync
from returns import services as returns
from sandbox.generators.etsy import generate
from sandbox.webhooks import received
from shipping import tracking
from shipping.booking import book_shipment, cancel_shipment
from shipping.cancellation import cancel_order
from shipping.carriers.base import TrackingUpdate
from suppliers import services as suppliers
from suppliers.models import SupplierOrder
from tests.api import webhook_fixtures
from tests.factories import ChannelFactory, OrderFactory, WebhookEndpointFactory
from tests.returns import conftest as returns_fixtures
from tests.shipping.factories import ShippableOrderFactory
from tests.suppliers.factories import SupplierFactory

# Fixtures shared by the webhook tests (a conftest of their own would clash with the API's tests).
receivers, desk = webhook_fixtures.receivers, webhook_fixtures.desk
brand, carrier, policy, make_order = (
    returns_fixtures.brand,
    returns_fixtures.carrier,
    returns_fixtures.policy,
    returns_fixtures.make_order,
)


def types(inbox):
    return [g["type"] for g in received(inbox)]


def test_an_etsy_order_imported_booked_pushed_cancelled_reaches_the_receiver_in_order(
    receivers, desk, live_server
):
    from sandbox.stores import store_for_channel

    channel = ChannelFactory(
        name="Etsy-Main", api_base_url=f"{live_server.url}/sandbox/etsy/v3/application", shop_id="10001"
    )
    store = store_for_channel(channel)
    endpoint, inbox = receivers("erp", list(EVENT_TYPES))
    generate(store, 1, mix=False, seed=5)

    run_sync(channel)
    order = Order.objects.get(channel=channel)
    assert types(inbox) == ["order.imported"]
    imported = received(inbox)[0]["payload"]["data"]["order"]
    assert imported["external_id"] == order.external_id and imported["lines"]

    shipment = book_shipment(order=order)  # pushed to Etsy on commit
    assert types(inbox)[1:] == ["shipment.booked", "fulfilment.sent"]
    sent = received(inbox)[2]["payload"]["data"]["fulfilment"]
    assert sent["tracking_number"] == shipment.tracking_number and sent["state"] == "sent"

    cancel_shipment(shipment)
    cancel_order(order, reason="customer changed their mind")
    assert types(inbox)[3:] == ["shipment.cancelled", "order.cancelled"]
    assert received(inbox)[3]["payload"]["data"]["shipment"]["id"] == shipment.pk
    assert len({g["webhook_id"] for g in received(inbox)}) == 5
    assert WebhookDelivery.objects.filter(state=WebhookDelivery.State.SUCCEEDED).count() == 5


def test_a_parcel_delivered_is_announced_once(receivers, desk):
    endpoint, inbox = receivers("erp", ["shipment.delivered"])
    shipment = book_shipment(order=ShippableOrderFactory())
    delivered = TrackingUpdate(
        code="11",
        message="Delivered",
        occurred_at=datetime(2026, 3, 6, 12, 0, tzinfo=UTC),
        status="delivered",
        is_status=True,
    )

    tracking.apply_updates(shipment, [delivered], source="poll")
    again = TrackingUpdate(**{**delivered.__dict__, "code": "11b", "message": "Delivered (again)"})
    tracking.apply_updates(shipment, [again], source="webhook")

    assert types(inbox) == ["shipment.delivered"]
    assert received(inbox)[0]["payload"]["data"]["shipment"]["status"] == "delivered"


def test_a_return_requested_and_received(db, policy, make_order):
    endpoint = WebhookEndpointFactory(event_types=["return.requested", "return.received"])
    order = make_order()
    mug = order.lines.get(sku="MUG-1")

    ret = returns.create_return(
        order=order, brand=policy.brand, choices=[returns.Choice(mug.pk, 1, "damaged")]
    )
    returns.receive(ret)

    rows = WebhookDelivery.objects.filter(endpoint=endpoint).order_by("id")
    assert [d.event_type for d in rows] == ["return.requested", "return.received"]
    assert f'"number":"{ret.number}"' in rows[0].body


def test_a_supplier_order_placed(db):
    endpoint = WebhookEndpointFactory(event_types=["supplier_order.placed"])
    so = SupplierOrder.objects.create(order=OrderFactory(), supplier=SupplierFactory(), currency="EUR")

    suppliers.set_status(so, SupplierOrder.Status.PAID, reason="paid")
    suppliers.set_status(so, SupplierOrder.Status.PLACED, reason="placed by email")

    [d] = WebhookDelivery.objects.filter(endpoint=endpoint)
    assert d.event_type == "supplier_order.placed" and so.reference in d.body
