"""DHL Express (MyDHL API) through the Karrio adapter, against the MyDHL stand-in over real HTTP."""

import io

import pytest
import requests
from pypdf import PdfReader

from orders.models import Order
from sandbox.models import SandboxOrder
from shipping.booking import BookingError, book_shipment, cancel_shipment
from shipping.carriers.base import CarrierError
from shipping.models import Shipment
from shipping.tracking import apply_updates
from tests.shipping.karrio_setup import an_order, received
from tests.shipping.test_karrio_ups import COLOGNE, LEEDS, NEW_YORK, PARIS, ZURICH, customs_request


def text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_books_a_domestic_parcel_with_a_pdf_label_holding_the_waybill_number(dhl):
    order = an_order(to="GB", order_number="SO-3001")

    shipment = book_shipment(order=order)

    [call] = received("/sandbox/mydhl/shipments")
    assert call.parsed["customerDetails"]["receiverDetails"]["postalAddress"]["countryCode"] == "GB"
    assert call.parsed["productCode"] == "N"  # the cheapest (only) domestic product it quoted
    assert shipment.tracking_number.isdigit() and len(shipment.tracking_number) == 10
    assert shipment.tracking_number in text(shipment.label.read())
    assert shipment.label_format == "pdf" and shipment.tracking_company == "DHL Express"
    order.refresh_from_db()
    assert order.status == Order.Status.SHIPPED


def test_rates(dhl):
    rates = dhl.account.adapter().rates(customs_request(LEEDS, NEW_YORK))

    assert [(r.currency, r.transit_days) for r in rates] == [("GBP", 4), ("GBP", 2)]
    assert all(r.service and r.service_name and r.carrier == "DHL Express" for r in rates)
    assert rates[0].price < rates[1].price
    [call] = received("/sandbox/mydhl/rates")
    assert call.parsed["customerDetails"]["receiverDetails"]["countryCode"] == "US"


def test_uk_to_us_sends_the_export_declaration_and_the_label_holds_the_invoice(dhl):
    booking = dhl.account.adapter().book(customs_request(LEEDS, NEW_YORK))

    [call] = received("/sandbox/mydhl/shipments")
    content = call.parsed["content"]
    assert content["isCustomsDeclarable"] is True
    [item] = content["exportDeclaration"]["lineItems"]
    assert item["description"] == "Ceramic mug" and item["quantity"]["value"] == 2
    assert item["manufacturerCountry"] == "GB"
    assert [c["value"] for c in item["commodityCodes"]][0] == "691200"
    body = text(booking.label_pdf)
    assert booking.tracking_number in body and "COMMERCIAL INVOICE" in body


def test_fr_to_ch_declares_and_fr_to_de_does_not(dhl_from_france):
    adapter = dhl_from_france.account.adapter()
    adapter.book(customs_request(PARIS, ZURICH, currency="EUR"))
    domestic = customs_request(PARIS, COLOGNE, currency="EUR")
    domestic.customs = None
    domestic.reference = "shipdesk-test-2"
    adapter.book(domestic)

    to_ch, to_de = received("/sandbox/mydhl/shipments")
    assert to_ch.parsed["content"]["exportDeclaration"]["lineItems"]
    assert "exportDeclaration" not in to_de.parsed["content"]


def test_a_missing_declaration_is_refused_in_plain_words_and_nothing_is_bought(dhl):
    with pytest.raises(BookingError, match="required key \\[exportDeclaration\\] not found"):
        book_shipment(order=an_order(to="US"))

    assert not Shipment.objects.exists() and not SandboxOrder.objects.exists()


def test_bad_credentials(dhl):
    dhl.account.credentials = {**dhl.account.credentials, "password": "wrong"}
    dhl.account.save()

    with pytest.raises(CarrierError, match="Invalid Credentials"):
        dhl.account.adapter().rates(customs_request(LEEDS, NEW_YORK))


def test_429_then_answer(dhl):
    dhl.store.faults = [{"path": "/rates", "status": 429}]
    dhl.store.save()

    assert dhl.account.adapter().rates(customs_request(LEEDS, NEW_YORK))
    assert len(received("/sandbox/mydhl/rates")) == 2


def test_5xx_on_booking_is_not_resent(dhl):
    dhl.store.faults = [{"path": "/shipments", "status": 500}]
    dhl.store.save()

    with pytest.raises(BookingError, match="999: Process failure"):
        book_shipment(order=an_order(to="GB"))

    assert len(received("/sandbox/mydhl/shipments")) == 1 and not SandboxOrder.objects.exists()


def test_tracking_to_delivered(dhl):
    shipment = book_shipment(order=an_order(to="GB"))
    for code in ("PU", "AF", "OK"):
        requests.post(
            f"{dhl.url}/sandbox/mydhl/_sandbox/shipments/{shipment.tracking_number}/status",
            json={"code": code},
            timeout=10,
        )

    apply_updates(
        shipment, dhl.account.adapter().track(shipment.external_id, shipment.tracking_number), source="poll"
    )

    shipment.refresh_from_db()
    assert shipment.status == Shipment.Status.DELIVERED
    assert shipment.tracking_events.count() >= 3


def test_dhl_has_no_void_and_says_so(dhl):
    shipment = book_shipment(order=an_order(to="GB"))

    with pytest.raises(BookingError, match="DHL Express has no way to void a label"):
        cancel_shipment(shipment)

    shipment.refresh_from_db()
    assert shipment.status == Shipment.Status.BOOKED


def test_zpl(dhl):
    dhl.account.label_format = "zpl"
    dhl.account.save()

    shipment = book_shipment(order=an_order(to="GB"))

    [call] = received("/sandbox/mydhl/shipments")
    assert call.parsed["outputImageProperties"]["encodingFormat"] == "zpl"
    assert shipment.label_format == "zpl" and shipment.label.read().startswith(b"^XA")
