"""Push-back: each channel receives the tracking company in its own vocabulary, and a channel
that requires tracking never receives a fulfilment without it."""

import pytest
from django.urls import reverse

from channels.connectors.carriers import for_channel
from orders.models import AlertSubscription, Fulfilment, Order, OrderEvent, StaffAlert
from orders.tasks import run_sync
from sandbox import generators
from sandbox.generators.etsy import add_receipt, make_receipt
from sandbox.models import SandboxRequest
from shipping.admin.shipments import channel_preview
from shipping.booking import book_shipment, record_external_shipment
from tests.factories import BrandFactory, CarrierAccountFactory, UserFactory, catalogue
from tests.shipping.factories import ShippableOrderFactory


def test_the_vocabulary_names_one_company_in_each_channels_words():
    assert {kind: for_channel(kind, "Royal Mail") for kind in ("etsy", "amazon", "ebay", "shopify")} == {
        "etsy": "royal-mail",
        "amazon": "Royal Mail",
        "ebay": "RoyalMail",
        "shopify": "Royal Mail",
    }
    assert for_channel("ebay", " dhl express ") == "DHL"
    assert for_channel("etsy", "Bob's Couriers") is None


def what_the_channel_received(store) -> dict:
    writes = SandboxRequest.objects.filter(store=store, method__in=["POST", "PUT"]).exclude(
        path__contains="token"
    )
    return writes.order_by("id").last().parsed


PUSHED = {
    # kind: (what the channel received for Royal Mail, for a company it does not know)
    "etsy": (
        lambda r, s: (r["carrier_name"], r["tracking_code"]) == ("royal-mail", s.tracking_number),
        lambda r, s: r["carrier_name"] == "other",
    ),
    "amazon": (
        lambda r, s: (
            r["packageDetail"]["carrierCode"] == "Royal Mail" and "carrierName" not in r["packageDetail"]
        ),
        lambda r, s: (
            (r["packageDetail"]["carrierCode"], r["packageDetail"]["carrierName"])
            == ("Other", "Bob's Couriers")
        ),
    ),
    "ebay": (
        lambda r, s: (r["shippingCarrierCode"], r["trackingNumber"]) == ("RoyalMail", s.tracking_number),
        lambda r, s: r["shippingCarrierCode"] == "Other",
    ),
    "shopify": (
        lambda r, s: (
            r["fulfillment"]["tracking_info"]
            == {"number": s.tracking_number, "company": "Royal Mail", "url": s.tracking_url}
        ),
        lambda r, s: (
            r["fulfillment"]["tracking_info"]["company"] == "Bob's Couriers"
            and r["fulfillment"]["tracking_info"]["url"] == s.tracking_url
        ),
    ),
    "ecwid": (
        lambda r, s: (
            (r["shippingOption"]["shippingCarrierName"], r["trackingNumber"])
            == ("Royal Mail", s.tracking_number)
        ),
        lambda r, s: r["shippingOption"]["shippingCarrierName"] == "Bob's Couriers",
    ),
}


@pytest.mark.parametrize("company", ["Royal Mail", "Bob's Couriers"])
@pytest.mark.parametrize("kind", sorted(PUSHED))
def test_each_channel_receives_its_own_carrier_vocabulary(marketplace, kind, company):
    channel, store = marketplace(kind)
    generators.get(kind)(store, 1, mix=False, seed=3)
    run_sync(channel)
    order = Order.objects.get(channel=channel, status=Order.Status.AWAITING_SHIPMENT)
    BrandFactory()
    CarrierAccountFactory(
        tracking_company=company, tracking_url_template="https://track.example/{tracking_number}"
    )

    catalogue()  # the sandbox shop's SKUs, with customs data (some of its orders go abroad)
    shipment = book_shipment(order=order)  # the push to the channel runs once the booking commits

    fulfilment = Fulfilment.objects.get(order=order)
    assert fulfilment.state == Fulfilment.State.SENT, fulfilment.last_error
    received = what_the_channel_received(store)
    known, unknown = PUSHED[kind]
    assert (known if company == "Royal Mail" else unknown)(received, shipment), received


def us_receipt_over_ten_dollars(store):
    receipt = make_receipt(store)
    receipt.update(
        country_iso="US",
        status="Paid",
        is_paid=True,
        is_shipped=False,
        grandtotal={"amount": 2500, "divisor": 100, "currency_code": "USD"},
    )
    return add_receipt(store, receipt)


def test_a_channel_requiring_tracking_gets_nothing_without_it_and_staff_hear_why(etsy_sandbox, staff_client):
    channel, store = etsy_sandbox
    us_receipt_over_ten_dollars(store)
    run_sync(channel)
    order = Order.objects.get(channel=channel)
    AlertSubscription.objects.create(
        user=UserFactory(username="ops", email="ops@example.test"), all_channels=True
    )

    shipment, _ = record_external_shipment(
        order=order, tracking_number="", carrier="USPS", note="sent as a letter"
    )

    fulfilment = Fulfilment.objects.get(order=order)
    assert fulfilment.state == Fulfilment.State.BLOCKED
    assert "requires a tracking number" in fulfilment.last_error
    assert not SandboxRequest.objects.filter(store=store, path__endswith="/tracking").exists()
    assert order.events.filter(kind=OrderEvent.Kind.PUSH_BLOCKED).exists()
    assert StaffAlert.objects.filter(subject=f"Fulfilment blocked for {order}").count() == 1
    page = staff_client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert f"A shipment without tracking not sent to {channel.name}" in page
    assert "requires a tracking number for this order; nothing was sent." in page


def test_the_shipment_page_previews_the_block_before_anything_is_sent(selfprint):
    order = ShippableOrderFactory(ship_country="US", total=25)
    order.channel.requires_tracking = True
    order.channel.save()
    shipment, _ = record_external_shipment(order=order, tracking_number="", carrier="USPS")

    preview = channel_preview(Fulfilment.objects.get(order=order))

    assert "BLOCKED: the channel requires a tracking number" in preview
    assert shipment.fulfilment.state == Fulfilment.State.PENDING  # pushed only after commit


def test_the_shipment_page_shows_exactly_what_the_channel_will_receive(staff_client, selfprint):
    shipment = book_shipment(order=ShippableOrderFactory())

    page = staff_client.get(reverse("admin:shipping_shipment_change", args=[shipment.pk])).content.decode()

    assert "carrier as the channel names it</th><td>royal-mail" in page
    assert f"<th>tracking_number</th><td>{shipment.tracking_number}</td>" in page
    assert "<th>service</th><td>Tracked 48</td>" in page
