"""An order made through the API lives the life of a marketplace order: booked (through the API,
as the admin books), its fulfilment recorded for a channel nobody needs telling, a tracking page,
a return through the public portal (order number + postal code), and the return handled through
the API as staff would."""

import re

import pytest
from django.core import mail

from orders.models import Fulfilment, Order, OrderEvent
from returns.models import ReturnRequest
from shipping.models import Shipment
from tests.api.conftest import order_body
from tests.factories import BrandFactory, CarrierAccountFactory
from tests.returns.factories import ReturnPolicyFactory


@pytest.fixture
def brand(db):
    brand = BrandFactory(name="Northern Goods", slug="northern", is_default=True)
    ReturnPolicyFactory(
        brand=brand, return_carrier=CarrierAccountFactory(name="Returns account", is_default=False)
    )
    return brand


@pytest.fixture
def carrier(db):
    return CarrierAccountFactory(name="Own account", prefix="RT")


@pytest.fixture(autouse=True)
def _portal_clock(monkeypatch):
    from returns import ratelimit

    monkeypatch.setattr(ratelimit, "clock", lambda: 86400 * 12_000 + 10.0)


def test_an_api_order_is_booked_tracked_and_returned_through_the_portal(
    api, brand, carrier, client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        created = api.post("/api/v1/orders", order_body(), format="json")
    assert created.status_code == 201
    order_id = created.json()["id"]

    # Book one mug of two, with the carrier account chosen, as the admin's form does.
    with django_capture_on_commit_callbacks(execute=True):
        booked = api.post(
            f"/api/v1/orders/{order_id}/shipments",
            {"lines": [{"line": "L1", "quantity": 1}], "carrier_account": carrier.pk},
            format="json",
        )
    assert booked.status_code == 201, booked.json()
    shipment = Shipment.objects.get()
    assert booked.json()["lines"] == [{"line": "L1", "sku": "MUG-1", "quantity": 1}]
    assert booked.json()["carrier_account"] == "Own account"
    assert Order.objects.get().status == "partly_shipped"

    # The manual channel has nobody to tell: the fulfilment is simply recorded as sent.
    fulfilment = Fulfilment.objects.get()
    assert fulfilment.state == "sent" and fulfilment.lines == [["L1", 1]]
    timeline = list(OrderEvent.objects.filter(order_id=order_id).values_list("kind", "message"))
    assert any(k == "booked" and m.endswith("(via API key “ERP”)") for k, m in timeline)
    assert any(k == "pushed" and "Sent to Manual / API" in m for k, m in timeline)

    label = api.get(f"/api/v1/shipments/{shipment.pk}/label")
    assert label["Content-Type"] == "application/pdf"
    assert b"".join(label.streaming_content).startswith(b"%PDF")

    # The rest of the order, with the defaults (every open line).
    with django_capture_on_commit_callbacks(execute=True):
        rest = api.post(f"/api/v1/orders/{order_id}/shipments", {}, format="json", HTTP_IDEMPOTENCY_KEY="b2")
    assert rest.status_code == 201
    assert sorted((x["line"], x["quantity"]) for x in rest.json()["lines"]) == [("L1", 1), ("L2", 1)]
    assert Order.objects.get().status == "shipped"
    # Nobody else tells the buyer of a manual order: Shipdesk emails the tracking itself.
    assert [m.to for m in mail.outbox if shipment.tracking_number in m.body] == [["ann@example.test"]]

    tracking = client.get(f"/track/{shipment.public_token}/")
    assert tracking.status_code == 200 and shipment.tracking_number in tracking.content.decode()

    # The customer returns the first mug through the portal: order number + postal code.
    found = client.post("/returns/northern/", {"order_number": "1001", "postal_code": "ls1 4ab"})
    assert found.status_code == 303, found.content
    order = Order.objects.get()
    data = {"note": ""}
    for line in order.lines.all():
        data[f"qty_{line.pk}"] = 1 if line.sku == "MUG-1" else 0
        data[f"reason_{line.pk}"] = "damaged" if line.sku == "MUG-1" else ""
    assert client.post("/returns/northern/items/", data).status_code == 303
    key = re.search(
        r'name="key" value="([0-9a-f]+)"', client.get("/returns/northern/confirm/").content.decode()
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post("/returns/northern/confirm/", {"key": key.group(1)}).status_code == 303
    ret = ReturnRequest.objects.get()

    listed = api.get("/api/v1/returns", {"order": order_id}).json()
    assert [r["id"] for r in listed["results"]] == [ret.pk]
    assert listed["results"][0]["lines"] == [
        {"line": "L1", "sku": "MUG-1", "quantity": 1, "reason": "damaged"}
    ]
    received = api.post(f"/api/v1/returns/{ret.pk}/receive", format="json")
    assert received.status_code == 200 and received.json()["status"] == "received"
    refunded = api.post(f"/api/v1/returns/{ret.pk}/refund", {"amount": "8.50"}, format="json")
    assert refunded.json()["status"] == "refunded" and refunded.json()["refund_amount"] == "8.50"
    again = api.post(f"/api/v1/returns/{ret.pk}/receive", format="json")
    assert again.status_code == 422 and "refunded" in again.json()["detail"]
    events = OrderEvent.objects.filter(order_id=order_id, kind="return").values_list("message", flat=True)
    assert f"Return {ret.number} received at the warehouse (via API key “ERP”)" in events


def test_a_booking_names_lines_and_refusals_come_back_as_422(api, brand, carrier):
    order_id = api.post("/api/v1/orders", order_body(), format="json").json()["id"]
    too_many = api.post(
        f"/api/v1/orders/{order_id}/shipments", {"lines": [{"line": "L1", "quantity": 5}]}, format="json"
    )
    assert too_many.status_code == 422 and "MUG-1: 5 is more than the 2" in too_many.json()["detail"]
    unknown = api.post(f"/api/v1/orders/{order_id}/shipments", {"carrier_account": 999}, format="json")
    assert unknown.status_code == 400 and "carrier_account" in unknown.json()
    assert Shipment.objects.count() == 0


def test_a_shipment_is_cancelled_through_the_api(api, brand, carrier, django_capture_on_commit_callbacks):
    order_id = api.post("/api/v1/orders", order_body(), format="json").json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        shipment_id = api.post(f"/api/v1/orders/{order_id}/shipments", {}, format="json").json()["id"]
    assert Order.objects.get().status == "shipped"
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/v1/shipments/{shipment_id}/cancel", format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["shipment"]["status"] == "cancelled"
    assert Order.objects.get().status == "awaiting_shipment"
    detail = api.get(f"/api/v1/shipments/{shipment_id}").json()
    assert detail["status"] == "cancelled"
    messages = OrderEvent.objects.filter(order_id=order_id).values_list("message", flat=True)
    assert any(m.startswith("Shipment") and "cancelled" in m and "via API key" in m for m in messages)
