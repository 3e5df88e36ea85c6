"""UPS through the Karrio adapter, against the UPS stand-in over real HTTP."""

import io
from decimal import Decimal

import pytest
import requests
from pypdf import PdfReader

from orders.models import Order
from sandbox.models import SandboxOrder
from shipping import tracking
from shipping.booking import BookingError, book_shipment, cancel_shipment
from shipping.carriers.base import BookingRequest, CarrierError, Customs, ItemLine, Party
from shipping.models import Shipment
from tests.shipping.factories import KarrioAccountFactory
from tests.shipping.karrio_setup import an_order, received
from tests.shipping.test_label_barcode import barcodes


def customs_request(sender: Party, recipient: Party, *, currency="GBP") -> BookingRequest:
    return BookingRequest(
        reference="shipdesk-test-1",
        order_number="SO-1001",
        sender=sender,
        recipient=recipient,
        weight_g=800,
        value=Decimal("25.00"),
        currency=currency,
        items=[("MUG-1", 2)],
        item_lines=[
            ItemLine(
                sku="MUG-1",
                title="Ceramic mug",
                quantity=2,
                unit_price=Decimal("12.50"),
                weight_g=350,
                hs_code="691200",
                origin_country="GB",
                customs_description="Ceramic mug",
            )
        ],
        customs=Customs(currency=currency, invoice_number="SO-1001", invoice_date="2026-03-05"),
    )


LEEDS = Party(
    name="Northern Goods",
    line1="Unit 4, Canal Wharf",
    city="Leeds",
    postal_code="LS11 5PS",
    country="GB",
    phone="441130000000",
)
NEW_YORK = Party(
    name="Ada Park",
    line1="1 Main St",
    city="New York",
    state="NY",
    postal_code="10001",
    country="US",
    phone="12125550100",
)
PARIS = Party(
    name="Maison Nord",
    line1="12 rue de la Paix",
    city="Paris",
    postal_code="75002",
    country="FR",
    phone="33100000000",
)
ZURICH = Party(
    name="Heidi Muster",
    line1="Bahnhofstrasse 1",
    city="Zürich",
    postal_code="8001",
    country="CH",
    phone="41440000000",
)
COLOGNE = Party(
    name="Jan Koch", line1="Domkloster 4", city="Köln", postal_code="50667", country="DE", phone="49221000000"
)


def test_books_a_domestic_parcel_and_stores_the_label_as_a_pdf_that_scans_as_its_tracking_number(ups):
    order = an_order(to="GB", order_number="SO-2001")

    shipment = book_shipment(order=order)

    [token] = received("/security/v1/oauth/token")
    [ship] = received("/api/shipments/v2409/ship")
    body = ship.parsed["ShipmentRequest"]["Shipment"]
    assert body["ShipTo"]["Address"]["CountryCode"] == "GB"
    assert "InternationalForms" not in (body.get("ShipmentServiceOptions") or {})
    assert shipment.tracking_number.startswith("1ZA1B2C3")
    assert shipment.label_format == "pdf" and shipment.tracking_company == "UPS"
    label = shipment.label.read()
    assert label.startswith(b"%PDF")
    assert barcodes(label) == [("Code 128", shipment.tracking_number)]
    assert shipment.fee > 0 and shipment.currency == "GBP"  # the cheapest service UPS quoted
    order.refresh_from_db()
    assert order.status == Order.Status.SHIPPED


def test_rates_list_every_service_with_price_and_transit_days(ups):
    rates = ups.account.adapter().rates(customs_request(LEEDS, NEW_YORK))

    assert [r.service for r in rates] == ["ups_standard", "ups_worldwide_saver", "ups_express"]
    assert all(r.price and r.currency == "GBP" and r.transit_days for r in rates)
    assert rates[0].price < rates[1].price < rates[2].price
    [call] = received("/api/rating/v2409/Shop")
    assert call.parsed["RateRequest"]["Shipment"]["ShipTo"]["Address"]["CountryCode"] == "US"


def test_uk_to_us_carries_the_customs_declaration_and_the_label_holds_the_invoice(ups):
    booking = ups.account.adapter().book(customs_request(LEEDS, NEW_YORK))

    [ship] = received("/api/shipments/v2409/ship")
    forms = ship.parsed["ShipmentRequest"]["Shipment"]["ShipmentServiceOptions"]["InternationalForms"]
    [product] = forms["Product"]
    assert product["CommodityCode"] == "691200" and product["OriginCountryCode"] == "GB"
    assert product["Description"] == "Ceramic mug" and product["Unit"]["Number"] == "2"
    pages = PdfReader(io.BytesIO(booking.label_pdf)).pages
    assert len(pages) == 2 and "COMMERCIAL INVOICE SO-1001" in pages[1].extract_text()


def test_fr_to_ch_carries_a_declaration(ups_from_france):
    ups_from_france.account.adapter().book(customs_request(PARIS, ZURICH, currency="EUR"))

    [ship] = received("/api/shipments/v2409/ship")
    forms = ship.parsed["ShipmentRequest"]["Shipment"]["ShipmentServiceOptions"]["InternationalForms"]
    assert forms["Product"][0]["CommodityCode"] == "691200"


def test_fr_to_de_carries_none(ups_from_france):
    request = customs_request(PARIS, COLOGNE, currency="EUR")
    request.customs = None  # inside the EU customs union

    ups_from_france.account.adapter().book(request)

    [ship] = received("/api/shipments/v2409/ship")
    assert "InternationalForms" not in (
        ship.parsed["ShipmentRequest"]["Shipment"].get("ShipmentServiceOptions") or {}
    )


def test_a_cross_border_parcel_without_customs_is_refused_in_plain_words_and_nothing_is_bought(ups):
    order = an_order(to="US", order_number="SO-2002")

    with pytest.raises(BookingError, match="International forms are required"):
        book_shipment(order=order)

    assert not Shipment.objects.exists() and not SandboxOrder.objects.exists()
    assert order.events.filter(message__contains="refused the booking").exists()


def test_an_address_error_is_shown_and_nothing_is_bought(ups):
    order = an_order(to="GB", ship_postal_code="")

    with pytest.raises(BookingError, match=r"Address Validation Error on ShipTo address \(120802\)"):
        book_shipment(order=order)

    assert not SandboxOrder.objects.exists()


def test_a_retry_after_an_unanswered_booking_is_refused_not_booked_twice(ups):
    ups.store.faults = [{"path": "/ship", "status": 503}]
    ups.store.save()
    order = an_order(to="GB")

    with pytest.raises(BookingError):
        book_shipment(order=order)
    with pytest.raises(BookingError, match="may have bought a label"):
        book_shipment(order=order)

    assert len(received("/api/shipments/v2409/ship")) == 1


def test_bad_credentials_are_refused_in_plain_words(ups):
    ups.account.credentials = {**ups.account.credentials, "client_secret": "wrong"}
    ups.account.save()

    with pytest.raises(CarrierError, match="ClientId is Invalid"):
        ups.account.adapter().rates(customs_request(LEEDS, NEW_YORK))


def test_a_429_is_waited_out_and_retried(ups):
    ups.store.faults = [{"path": "/rating/", "status": 429, "retry_after": 0}]
    ups.store.save()

    rates = ups.account.adapter().rates(customs_request(LEEDS, NEW_YORK))

    assert rates and len(received("/api/rating/v2409/Shop")) == 2  # the 429, then the answer
    assert SandboxOrder.objects.count() == 0


def test_a_5xx_on_rates_is_a_retryable_carrier_error_when_it_persists(ups):
    ups.store.faults = [{"path": "/rating/", "status": 500, "times": 10}]
    ups.store.save()

    with pytest.raises(CarrierError) as error:
        ups.account.adapter().rates(customs_request(LEEDS, NEW_YORK))

    assert error.value.retryable and "Internal Server Error" in str(error.value)


def test_the_tracking_schedule_moves_the_shipment_to_delivered(ups):
    shipment = book_shipment(order=an_order(to="GB"))
    for code in ("DP", "D"):
        requests.post(
            f"{ups.url}/sandbox/ups/_sandbox/shipments/{shipment.tracking_number}/status",
            json={"code": code},
            timeout=10,
        )

    report = tracking.poll()

    assert report[ups.account.name] == {
        "polled": 1,
        "events": report[ups.account.name]["events"],
        "errors": 0,
    }
    shipment.refresh_from_db()
    assert shipment.status == Shipment.Status.DELIVERED
    assert shipment.order.events.filter(message__contains="Delivered").exists()


def test_an_account_whose_extension_is_not_installed_does_not_stop_the_schedule(ups):
    KarrioAccountFactory(karrio_carrier="fedex", is_default=False)
    book_shipment(order=an_order(to="GB"))

    report = tracking.poll()

    assert report[ups.account.name]["polled"] == 1


def test_void_before_pickup_cancels_and_after_pickup_is_refused(ups):
    first = book_shipment(order=an_order(to="GB"))
    second = book_shipment(order=an_order(to="GB"))
    requests.post(
        f"{ups.url}/sandbox/ups/_sandbox/shipments/{second.tracking_number}/status",
        json={"code": "PU"},
        timeout=10,
    )

    cancel_shipment(first)
    with pytest.raises(BookingError, match="picked up and can no longer be voided"):
        cancel_shipment(second)

    first.refresh_from_db()
    assert first.status == Shipment.Status.CANCELLED
    assert SandboxOrder.objects.get(external_id=first.tracking_number).status == "voided"


def test_an_account_set_to_zpl_gets_a_zpl_label(ups):
    ups.account.label_format = "zpl"
    ups.account.save()

    shipment = book_shipment(order=an_order(to="GB"))

    [ship] = received("/api/shipments/v2409/ship")
    assert ship.parsed["ShipmentRequest"]["LabelSpecification"]["LabelImageFormat"]["Code"] == "ZPL"
    label = shipment.label.read()
    assert shipment.label_format == "zpl" and label.startswith(b"^XA")
    assert shipment.tracking_number.encode() in label and shipment.label.name.endswith(".zpl")


def test_the_booking_form_shows_the_carriers_validation_error_and_nothing_is_bought(ups, staff_client):
    from django.urls import reverse

    from tests.shipping.forms import book_post

    order = an_order(to="GB", ship_postal_code="")

    response = staff_client.post(
        reverse("admin:shipping_shipment_book", args=[order.pk]), book_post(order), follow=True
    )

    assert "Address Validation Error on ShipTo address (120802)" in response.content.decode()
    assert not order.shipments.exists() and not SandboxOrder.objects.exists()


def test_the_sandbox_rate_limit_answers_ups_429_and_the_adapter_gives_up_retryably(ups):
    ups.store.settings = {**ups.store.settings, "limit": True, "rate_limits": {"api": [0.01, 2]}}
    ups.store.save()
    adapter = ups.account.adapter()
    adapter.rates(customs_request(LEEDS, NEW_YORK))  # the token call is not metered; this is 1 of 2

    adapter.rates(customs_request(LEEDS, NEW_YORK))
    with pytest.raises(CarrierError) as error:
        adapter.rates(customs_request(LEEDS, NEW_YORK))

    assert error.value.retryable and "Rate Limit Exceeded (429)" in str(error.value)
    assert ups.store.requests.filter(parsed__status=429).count() == 4  # the call and its 3 retries
