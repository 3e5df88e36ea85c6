"""Returns of orders Shipdesk never (wholly) shipped (Sendcloud's "returns for orders not
processed through Sendcloud": a 3PL, a dropshipping supplier, a shop counter). With the brand's
"allow returns without an outbound shipment" switch on, an order awaiting shipment or partly
shipped can be returned for what left; with it off, it is refused as before. Through the portal."""

from datetime import timedelta

import pytest
from django.utils import timezone

from orders.models import Fulfilment, Order
from returns import eligibility, services
from returns.models import ReturnRequest
from tests.factories import FulfilmentFactory, OrderFactory, OrderLineFactory
from tests.returns.factories import ShipmentFactory
from tests.returns.test_portal import choose, confirm_key

PARTLY_SHIPPED = "partly_shipped"  # Order.Status.PARTLY_SHIPPED once line-level statuses land
NOT_SENT = "This order has not been sent yet, so there is nothing to return."


@pytest.fixture
def unsent(policy):
    """Order #2042, imported 5 days ago and never shipped through Shipdesk: a mug ×2, a tee, an e-book."""
    order = OrderFactory(
        order_number="2042",
        external_id="e2042",
        ship_postal_code="LS1 4AB",
        email="ann@example.test",
        status=Order.Status.AWAITING_SHIPMENT,
        ordered_at=timezone.now() - timedelta(days=5),
    )
    OrderLineFactory(order=order, external_id="L-MUG", sku="MUG-1", title="Item MUG-1", quantity=2)
    OrderLineFactory(order=order, external_id="L-TEE", sku="TEE-M", title="Item TEE-M", quantity=1)
    OrderLineFactory(order=order, external_id="L-PDF", sku="PDF-1", title="Pattern e-book", is_physical=False)
    return order


def switch(policy, on: bool):
    policy.allow_without_outbound_shipment = on
    policy.save()


def look_up(client, number="2042", postal="LS1 4AB"):
    return client.post("/returns/northern/", {"order_number": number, "postal_code": postal})


def items_page(client) -> str:
    return client.get("/returns/northern/items/").content.decode()


def test_switched_off_an_order_awaiting_shipment_is_refused_as_before(client, policy, unsent):
    switch(policy, False)
    policy.allow_not_shipped_with_shipdesk = True  # orders shipped elsewhere: not the same thing
    policy.save()

    # the lookup answers as it does for every order that matches (nothing new about existence)
    assert look_up(client)["Location"] == "/returns/northern/items/"
    page = items_page(client)
    assert "This order cannot be returned online" in page and NOT_SENT in page
    assert "<select" not in page
    refused = choose(client, unsent, {"MUG-1": (1, "damaged")})
    assert refused.status_code == 200 and not ReturnRequest.objects.exists()
    # a wrong postal code still answers exactly like an unknown order
    assert (
        look_up(client, postal="LS9 9ZZ")["Location"]
        == look_up(client, number="999999")["Location"]
        == "/returns/northern/?retry=1"
    )


def test_switched_on_an_unsent_order_returns_its_physical_items(
    client, policy, unsent, django_capture_on_commit_callbacks
):
    switch(policy, True)

    look_up(client)
    page = items_page(client)
    assert 'name="qty_' in page and "Pattern e-book" in page and "Digital items cannot be returned." in page
    elig = eligibility.eligibility(unsent, brand=policy.brand)
    assert {x.line.sku: x.returnable for x in elig.lines} == {"MUG-1": 2, "TEE-M": 1, "PDF-1": 0}
    assert elig.window_basis == "order date" and elig.window_ends == unsent.ordered_at + timedelta(days=30)

    assert choose(client, unsent, {"MUG-1": (2, "changed_mind")})["Location"] == "/returns/northern/confirm/"
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post("/returns/northern/confirm/", {"key": confirm_key(client)})
    ret = ReturnRequest.objects.get()
    assert done["Location"] == f"/returns/northern/r/{ret.public_token}/"
    assert ret.status == ReturnRequest.Status.LABEL_ISSUED and ret.tracking_number
    assert [(ln.order_line.sku, ln.quantity) for ln in ret.lines.all()] == [("MUG-1", 2)]


def test_switched_on_a_partly_shipped_order_returns_only_what_its_parcels_hold(client, policy, unsent):
    switch(policy, True)
    Order.objects.filter(pk=unsent.pk).update(status=PARTLY_SHIPPED)
    unsent.refresh_from_db()
    # the supplier shipped the tee and one mug; a parcel withdrawn from the channel does not count
    FulfilmentFactory(order=unsent, supplier="Atelier Nord", lines=[["L-TEE", 1], ["L-MUG", 1]])
    FulfilmentFactory(order=unsent, lines=[["L-MUG", 1]], state=Fulfilment.State.CANCELLED)
    FulfilmentFactory(order=unsent, lines=[["L-MUG", 1]], retract_requested_at=timezone.now())

    look_up(client)
    page = items_page(client)
    elig = eligibility.eligibility(unsent, brand=policy.brand)
    assert {x.line.sku: x.returnable for x in elig.lines} == {"MUG-1": 1, "TEE-M": 1, "PDF-1": 0}
    assert "Item TEE-M" in page and "Item MUG-1" in page

    # the mug still with us is not offered, and cannot be asked for
    with pytest.raises(services.ReturnError, match="at most 1"):
        services.create_return(
            order=unsent,
            brand=policy.brand,
            choices=[services.Choice(unsent.lines.get(sku="MUG-1").pk, 2, "damaged")],
        )
    assert choose(client, unsent, {"TEE-M": (1, "too_small")})["Location"] == "/returns/northern/confirm/"


def test_lines_not_sent_yet_say_so(client, policy, unsent):
    switch(policy, True)
    FulfilmentFactory(order=unsent, lines=[["L-TEE", 1]])  # a parcel is recorded: only it left

    look_up(client)
    page = items_page(client)

    assert "Not sent yet." in page
    elig = eligibility.eligibility(unsent, brand=policy.brand)
    assert [x.line.sku for x in elig.returnable_lines] == ["TEE-M"]
    assert {x.line.sku: x.why_not for x in elig.lines}["MUG-1"] == "Not sent yet."


def test_switched_off_a_partly_shipped_order_needs_a_shipdesk_parcel(policy, unsent, carrier):
    switch(policy, False)
    Order.objects.filter(pk=unsent.pk).update(status=PARTLY_SHIPPED)
    unsent.refresh_from_db()
    FulfilmentFactory(order=unsent, supplier="Atelier Nord", lines=[["L-TEE", 1]])
    assert eligibility.eligibility(unsent, brand=policy.brand).reasons == [
        "This order cannot be returned online. Please contact us."
    ]

    # our own parcel is an outbound shipment: what it holds can come back, nothing else
    ShipmentFactory(order=unsent, carrier_account=carrier, brand=policy.brand, status="booked")
    FulfilmentFactory(order=unsent, lines=[["L-MUG", 2]])
    elig = eligibility.eligibility(unsent, brand=policy.brand)
    assert elig.eligible and {x.line.sku: x.returnable for x in elig.lines} == {
        "MUG-1": 2,
        "TEE-M": 1,
        "PDF-1": 0,
    }


def test_an_order_on_hold_stays_refused(policy, unsent):
    switch(policy, True)
    Order.objects.filter(pk=unsent.pk).update(status=Order.Status.ON_HOLD)
    unsent.refresh_from_db()
    assert eligibility.eligibility(unsent, brand=policy.brand).reasons == [NOT_SENT]
