"""Canada Post through the Karrio adapter, against the Canada Post stand-in over real HTTP (XML)."""

import io
from decimal import Decimal

import pytest
import requests
from pypdf import PdfReader

from sandbox.models import SandboxOrder
from shipping.booking import BookingError, book_shipment, cancel_shipment
from shipping.carriers.base import BookingRequest, CarrierError, Customs, ItemLine, Party
from shipping.models import Shipment
from shipping.tracking import apply_updates
from tests.shipping.karrio_setup import an_order, received

VANCOUVER = Party(
    name="Maple Goods",
    company="Maple Goods",
    line1="5840 Oak St",
    city="Vancouver",
    state="BC",
    postal_code="V6M2V9",
    country="CA",
    phone="6045550100",
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


def to_us(reference="shipdesk-cp-1") -> BookingRequest:
    return BookingRequest(
        reference=reference,
        order_number="SO-4001",
        sender=VANCOUVER,
        recipient=NEW_YORK,
        weight_g=800,
        value=Decimal("25.00"),
        currency="CAD",
        items=[("MUG-1", 2)],
        item_lines=[
            ItemLine(
                sku="MUG-1",
                title="Ceramic mug",
                quantity=2,
                unit_price=Decimal("12.50"),
                weight_g=350,
                hs_code="691200",
                origin_country="CA",
                customs_description="Ceramic mug",
            )
        ],
        customs=Customs(currency="CAD", invoice_number="SO-4001"),
    )


def pdf_text(pdf: bytes) -> str:
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)


def test_books_a_domestic_parcel_and_fetches_the_label_from_its_link(canadapost):
    shipment = book_shipment(order=an_order(to="CA", currency="CAD"))

    [call] = received("/shipment")
    assert call.parsed["shipment"]["delivery-spec"]["destination"]["address-details"]["country-code"] == "CA"
    assert len(shipment.tracking_number) == 12 and shipment.external_id.startswith("5450215848")
    assert shipment.tracking_number in pdf_text(shipment.label.read())
    assert shipment.tracking_company == "Canada Post" and shipment.currency == "CAD"


def test_rates(canadapost):
    rates = canadapost.account.adapter().rates(to_us())

    assert [r.transit_days for r in rates] == [5, 3] and all(r.currency == "CAD" for r in rates)
    [call] = received("/rs/ship/price")
    assert call.parsed["mailing-scenario"]["destination"]["united-states"]["zip-code"] == "10001"


def test_ca_to_us_declares_customs_with_the_dotted_hs_code(canadapost):
    booking = canadapost.account.adapter().book(to_us())

    [call] = received("/shipment")
    item = call.parsed["shipment"]["delivery-spec"]["customs"]["sku-list"]["item"]
    assert item["hs-tariff-code"] == "6912.00" and item["country-of-origin"] == "CA"
    assert item["customs-number-of-units"] == "2" and item["customs-description"] == "Ceramic mug"
    assert booking.tracking_number in pdf_text(booking.label_pdf) and "CN23" in pdf_text(booking.label_pdf)


def test_void_before_transmit(canadapost):
    shipment = book_shipment(order=an_order(to="CA", currency="CAD"))

    cancel_shipment(shipment)

    assert SandboxOrder.objects.get(external_id=shipment.external_id).status == "cancelled"
    shipment.refresh_from_db()
    assert shipment.status == Shipment.Status.CANCELLED


def test_after_transmit_the_void_is_refused_in_the_carriers_words_and_a_refund_was_asked(canadapost):
    # Karrio asks for the refund, then (reading the namespaced reply's tag wrongly) also sends the
    # DELETE, which Canada Post refuses with 8064: staff see that refusal; the refund stands.
    shipment = book_shipment(order=an_order(to="CA", currency="CAD"))
    requests.post(
        f"{canadapost.url}/sandbox/canadapost/_sandbox/shipments/{shipment.tracking_number}/status",
        json={"transmitted": True},
        timeout=10,
    )

    with pytest.raises(
        BookingError, match="If it has been transmitted, a Refund request should be submitted"
    ):
        cancel_shipment(shipment)

    assert SandboxOrder.objects.get(external_id=shipment.external_id).data["refund"]
    shipment.refresh_from_db()
    assert shipment.status == Shipment.Status.BOOKED


def test_tracking(canadapost):
    shipment = book_shipment(order=an_order(to="CA", currency="CAD"))
    for event in ("1401", "0174", "1496"):
        requests.post(
            f"{canadapost.url}/sandbox/canadapost/_sandbox/shipments/{shipment.tracking_number}/status",
            json={"event": event},
            timeout=10,
        )

    apply_updates(
        shipment,
        canadapost.account.adapter().track(shipment.external_id, shipment.tracking_number),
        source="poll",
    )

    shipment.refresh_from_db()
    assert shipment.status == Shipment.Status.DELIVERED


def test_bad_credentials(canadapost):
    canadapost.account.credentials = {**canadapost.account.credentials, "password": "wrong"}
    canadapost.account.save()

    with pytest.raises(CarrierError, match="AAA Authentication Failure"):
        canadapost.account.adapter().rates(to_us())


def test_overweight_is_refused_in_plain_words(canadapost):
    request = to_us()
    request.weight_g = 31_000

    with pytest.raises(CarrierError, match="exceeds the maximum of 30 kg"):
        canadapost.account.adapter().book(request)

    assert not SandboxOrder.objects.exists()


def test_a_5xx_is_reported(canadapost):
    canadapost.store.faults = [{"path": "/rs/ship/price", "status": 503, "times": 10}]
    canadapost.store.save()

    with pytest.raises(CarrierError, match="Internal server error"):
        canadapost.account.adapter().rates(to_us())


def test_zpl(canadapost):
    canadapost.account.label_format = "zpl"
    canadapost.account.save()

    shipment = book_shipment(order=an_order(to="CA", currency="CAD"))

    assert shipment.label_format == "zpl" and shipment.label.read().startswith(b"^XA")


def test_rejects_a_generic_accept_header(canadapost):
    response = requests.post(
        f"{canadapost.url}/sandbox/canadapost/rs/ship/price",
        data="<mailing-scenario/>",
        headers={"Accept": "*/*", "Content-Type": "application/vnd.cpc.ship.rate-v4+xml"},
        auth=(canadapost.account.credentials["username"], "s3cret"),
        timeout=10,
    )

    assert response.status_code == 406 and "<messages" in response.text
