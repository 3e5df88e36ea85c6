"""The Sendcloud adapter against its sandbox over real HTTP."""

import hashlib
import hmac
import io
import json
import time
from decimal import Decimal

import pytest
import requests
from pypdf import PdfReader

from orders.models import Order
from sandbox.models import SandboxOrder, SandboxRequest
from shipping.booking import BookingError, book_shipment, cancel_shipment
from shipping.carriers.base import BookingRequest, CarrierError, Party
from shipping.models import Shipment
from tests.factories import OrderFactory, OrderLineFactory
from tests.returns.qr import PNG_SIGNATURE, encodes, png_size
from tests.shipping.conftest import advance


def page_size(pdf: bytes) -> tuple[int, int]:
    box = PdfReader(io.BytesIO(pdf)).pages[0].mediabox
    return round(float(box.width)), round(float(box.height))


def posted(path_end: str) -> list[SandboxRequest]:
    return [r for r in SandboxRequest.objects.filter(method="POST") if r.path.endswith(path_end)]


def settle(*, posts: int, timeout: float = 10) -> None:
    """Wait until the server has answered the slow requests too (they are recorded once they wake)."""
    deadline = time.monotonic() + timeout
    while len(posted("/api/v2/parcels")) < posts and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # and finished what it does after recording


def an_order(**kw):
    values = dict(
        ship_line1="12 Kerkstraat",
        ship_city="Utrecht",
        ship_postal_code="3511 AB",
        ship_country="NL",
        currency="EUR",
        total=Decimal("12.50"),
    )
    order = OrderFactory(**{**values, **kw})
    OrderLineFactory(order=order, sku="MUG-1", weight_g=750)
    return order


def test_books_a_parcel_with_request_label_and_stores_its_a6_label(sendcloud):
    order = an_order(order_number="SO-1001")

    shipment = book_shipment(order=order)

    [request] = posted("/api/v2/parcels")
    parcel = request.parsed["parcel"]
    assert parcel["request_label"] is True and parcel["external_reference"] == f"shipdesk-{order.pk}-1"
    assert parcel["shipment"] == {"id": 1001} and parcel["weight"] == "0.750"
    assert (parcel["address"], parcel["house_number"], parcel["country"]) == ("Kerkstraat", "12", "NL")
    assert parcel["order_number"] == "#SO-1001"
    assert (
        parcel["from_postal_code"] == "LS11 5PS" and "sender_address" not in parcel
    )  # no matching sender address
    assert shipment.tracking_number.startswith("3SPOST") and shipment.external_id.isdigit()
    assert shipment.tracking_company == "PostNL"  # the carrier behind Sendcloud, from the parcel
    assert (shipment.fee, shipment.currency) == (Decimal("6.95"), "EUR")
    assert shipment.service == "PostNL Standard 0-23kg"
    label = shipment.label.read()
    assert page_size(label) == (298, 420)  # A6 from the label_printer URL
    assert shipment.tracking_number in PdfReader(io.BytesIO(label)).pages[0].extract_text()
    order.refresh_from_db()
    assert order.status == Order.Status.SHIPPED
    assert order.fulfilments.get().carrier_name == "PostNL"


def test_a_store_with_stock_labels_answers_one_prerendered_label_per_size(sendcloud):
    """The benchmark's setting: the stand-in draws no label per parcel (a real carrier draws them
    on its own machines), it hands out one specimen per size, still a PDF of the right size."""
    sendcloud.store.settings["stock_labels"] = True
    sendcloud.store.save()

    first, second = book_shipment(order=an_order()), book_shipment(order=an_order())

    # What the stand-in answers (the stored labels also carry each parcel's own CN23: the brand
    # ships from Great Britain to the Netherlands, across a customs border).
    a6 = sendcloud.account.adapter().label(first.external_id, size="a6")
    assert a6 == sendcloud.account.adapter().label(second.external_id, size="a6") and page_size(a6) == (
        298,
        420,
    )
    stored = first.label.read()
    assert stored.startswith(b"%PDF") and page_size(stored) == (298, 420)
    text = PdfReader(io.BytesIO(a6)).pages[0].extract_text()
    assert "SPECIMEN" in text and first.tracking_number not in text
    a4 = sendcloud.account.adapter().label(second.external_id, size="a4")
    assert page_size(a4) == (595, 842) and a4 == sendcloud.account.adapter().label(
        first.external_id, size="a4"
    )


def test_uses_the_sendcloud_sender_address_at_the_same_postcode_and_fetches_a4_labels(sendcloud):
    sendcloud.store.settings["sender_addresses"] = [
        {
            "id": 5501,
            "company_name": "Northern Goods",
            "contact_name": "Ops",
            "street": "Canal Wharf",
            "house_number": "4",
            "postal_code": "LS11 5PS",
            "city": "Leeds",
            "country": "GB",
            "label": "Leeds",
            "brand_id": 7,
        }
    ]
    sendcloud.store.save()

    shipment = book_shipment(order=an_order())
    pdf = sendcloud.account.adapter().label(shipment.external_id, size="a4")

    parcel = posted("/api/v2/parcels")[0].parsed["parcel"]
    assert parcel["sender_address"] == 5501 and "from_name" not in parcel
    assert page_size(pdf) == (595, 842)  # normal_printer: an A4 sheet


def test_an_unknown_service_is_refused_with_what_the_account_offers(sendcloud):
    order = an_order()

    with pytest.raises(BookingError) as err:
        book_shipment(order=order, service="Pigeon Express")

    assert "no shipping method “Pigeon Express”" in str(err.value) and "DPD Home" in str(err.value)
    assert not posted("/api/v2/parcels")
    assert order.events.filter(kind="error").exists()


def test_the_carriers_validation_message_reaches_staff(sendcloud):
    order = an_order(ship_city="")

    with pytest.raises(BookingError) as err:
        book_shipment(order=order)

    assert 'city: "This field is required."' in str(err.value)


@pytest.mark.parametrize(
    "service,status,expected",
    [
        ("DPD Home 0-31.5kg", Shipment.Status.CANCELLED, "Parcel has been cancelled"),  # 200
        (
            "PostNL Standard 0-23kg",
            Shipment.Status.CANCEL_REQUESTED,
            "Parcel cancellation has been queued",
        ),  # 202
    ],
)
def test_cancel_before_pickup_cancels_or_queues(sendcloud, service, status, expected):
    shipment = book_shipment(order=an_order(), service=service)

    message = cancel_shipment(shipment)

    shipment.refresh_from_db()
    assert message == expected and shipment.status == status
    assert posted(f"/parcels/{shipment.external_id}/cancel")


def test_cancel_refusals_and_a_deleted_announcement(sendcloud):
    adapter = sendcloud.account.adapter()
    shipment = book_shipment(order=an_order(), service="DPD Home 0-31.5kg")
    cancel_shipment(shipment)

    raw = requests.post(
        f"{sendcloud.url}/sandbox/sendcloud/api/v2/parcels/{shipment.external_id}/cancel",
        auth=(sendcloud.account.credentials["public_key"], sendcloud.account.credentials["secret_key"]),
        timeout=5,
    )
    assert raw.status_code == 400 and raw.json() == {
        "status": "failed",
        "message": "This shipment is already being cancelled.",
    }
    again = adapter.cancel(shipment.external_id, shipment.tracking_number)  # the same 400…
    assert (
        again.cancelled and again.message == "Parcel has been cancelled"
    )  # …read as our own earlier success

    moving = book_shipment(order=an_order(), service="DPD Home 0-31.5kg")
    advance(sendcloud, moving, 22, webhook=False)
    refused = adapter.cancel(moving.external_id, moving.tracking_number)  # 400: in transit
    assert not refused.cancelled and "in transit" in refused.message

    failed = book_shipment(order=an_order(), service="DPD Home 0-31.5kg")
    advance(sendcloud, failed, 1002, webhook=False)
    deleted = adapter.cancel(failed.external_id, failed.tracking_number)  # 410
    assert deleted.cancelled and "deleted" in deleted.message
    assert not SandboxOrder.objects.filter(external_id=failed.external_id).exists()

    with pytest.raises(CarrierError) as err:  # 404
        adapter.cancel("123", "")
    assert "does not know parcel 123" in str(err.value) and "No Parcel matches" in str(err.value)


def test_already_cancelled_reads_as_refused_when_the_parcel_is_not_cancelled(sendcloud):
    shipment = book_shipment(order=an_order(), service="PostNL Standard 0-23kg")
    adapter = sendcloud.account.adapter()
    assert adapter.cancel(shipment.external_id, "").queued
    again = adapter.cancel(shipment.external_id, "")  # 400 "already being cancelled", parcel in 1999
    assert again.queued and not again.cancelled


def test_tracking_reads_the_history_and_the_current_status(sendcloud):
    shipment = book_shipment(order=an_order(), service="DPD Home 0-31.5kg")
    advance(sendcloud, shipment, 22, webhook=False)
    advance(sendcloud, shipment, 91, webhook=False)

    updates = sendcloud.account.adapter().track(shipment.external_id, shipment.tracking_number)

    history = [u for u in updates if not u.is_status]
    assert [u.code for u in history] == ["ready-to-send", "picked-up-by-driver", "shipment-on-route"]
    assert [u.status for u in history] == ["booked", "in_transit", "in_transit"]
    current = updates[-1]
    assert current.is_status and (current.code, current.status) == ("91", "in_transit")


def test_tracking_an_unknown_number_gets_xml_404_and_no_history(sendcloud):
    shipment = book_shipment(order=an_order())
    response = requests.get(
        f"{sendcloud.url}/sandbox/sendcloud/api/v2/tracking/NOPE",
        auth=tuple(sendcloud.account.credentials.values())[:2],
        timeout=5,
    )
    assert response.status_code == 404 and response.text.startswith("<?xml") and "NoSuchKey" in response.text

    updates = sendcloud.account.adapter().track(shipment.external_id, "NOPE")

    assert [(u.code, u.is_status) for u in updates] == [("1000", True)]


def test_webhook_with_a_good_signature_moves_the_shipment(sendcloud):
    shipment = book_shipment(order=an_order(), service="DPD Home 0-31.5kg")

    result = advance(sendcloud, shipment, 22)  # the sandbox signs and posts to our webhook URL

    assert result["webhook"] == {"url": sendcloud.webhook, "status": 200}
    shipment.refresh_from_db()
    assert shipment.status == Shipment.Status.IN_TRANSIT and shipment.carrier_status == "22"
    assert shipment.tracking_events.get().message == "Shipment picked up by driver"
    assert shipment.order.events.filter(kind="tracking", message__contains="picked up").exists()


def test_webhook_with_a_bad_signature_is_refused_and_changes_nothing(sendcloud):
    shipment = book_shipment(order=an_order())
    body = json.dumps(
        {
            "action": "parcel_status_changed",
            "timestamp": int(time.time() * 1000),
            "parcel": {
                "id": int(shipment.external_id),
                "tracking_number": shipment.tracking_number,
                "status": {"id": 11, "message": "Delivered"},
            },
        }
    ).encode()
    forged = hmac.new(b"not-the-key", body, hashlib.sha256).hexdigest()

    response = requests.post(sendcloud.webhook, data=body, headers={"Sendcloud-Signature": forged}, timeout=5)
    unsigned = requests.post(sendcloud.webhook, data=body, timeout=5)

    assert response.status_code == 403 and unsigned.status_code == 403
    shipment.refresh_from_db()
    assert shipment.status == Shipment.Status.BOOKED and not shipment.tracking_events.exists()


def test_webhook_signature_is_the_hex_hmac_from_the_docs(sendcloud):
    sendcloud.account.credentials = {**sendcloud.account.credentials, "webhook_secret": "secretkey"}
    adapter = sendcloud.account.adapter()
    body = b'{"key": "value"}'
    good = "1eed4b3d41f4653ac64fd56f1bf1cbfd349e4482cbc11dff7134bd93e5da4b0a"

    assert adapter.parse_webhook(body, {"Sendcloud-Signature": good}) == []  # verified; not a status change
    from shipping.carriers.base import BadSignature

    with pytest.raises(BadSignature):
        adapter.parse_webhook(body, {"Sendcloud-Signature": good[:-1] + "b"})


def test_429_with_an_empty_body_is_retried_then_reported(sendcloud, settings):
    settings.CONNECTOR_MAX_RETRIES = 2  # plus six more for a rate limit, which lifts with time
    sendcloud.store.faults = [{"status": 429, "body": "", "times": 9, "path": "/api/v2/parcels"}]
    sendcloud.store.save()
    order = an_order()

    with pytest.raises(BookingError) as err:
        book_shipment(order=order)

    assert "rate limit reached (HTTP 429)" in str(err.value) and "tried 9 times" in str(err.value)
    assert not Shipment.objects.exists() and not SandboxOrder.objects.filter(store=sendcloud.store).exists()
    # The next attempt, once the limit has passed, books it.
    assert book_shipment(order=order).tracking_number


def test_a_rate_limit_that_lifts_within_the_retries_books(sendcloud, settings):
    settings.CONNECTOR_MAX_RETRIES = 1
    sendcloud.store.faults = [{"status": 429, "body": "", "times": 5, "path": "/api/v2/parcels"}]
    sendcloud.store.save()

    assert book_shipment(order=an_order()).tracking_number
    assert len(posted("/api/v2/parcels")) == 1  # the five refused attempts were never processed


def test_the_sandbox_enforces_the_post_budget_with_an_empty_429(sendcloud):
    sendcloud.store.settings.update(post_per_minute=2)
    sendcloud.store.save()
    auth = (sendcloud.account.credentials["public_key"], sendcloud.account.credentials["secret_key"])
    url = f"{sendcloud.url}/sandbox/sendcloud/api/v2/parcels"

    answers = [
        requests.post(
            url,
            json={"parcel": {"name": "A", "address": "B", "city": "C", "postal_code": "1", "country": "NL"}},
            auth=auth,
            timeout=5,
        )
        for _ in range(3)
    ]

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[2].content == b""


def test_a_booking_retried_after_a_timeout_buys_one_label(sendcloud, settings):
    settings.CONNECTOR_TIMEOUT = 0.4
    sendcloud.store.faults = [{"delay": 1.5, "path": "/api/v2/parcels"}]
    sendcloud.store.save()
    order = an_order()

    shipment = book_shipment(order=order)  # the first POST times out; the retry carries the same reference
    settle(posts=2)  # let the slow first request finish on the server

    assert len(posted("/api/v2/parcels")) == 2
    assert SandboxOrder.objects.filter(store=sendcloud.store).count() == 1
    assert Shipment.objects.get().external_id == shipment.external_id


def test_a_booking_that_failed_on_timeouts_gets_the_same_parcel_when_booked_again(sendcloud, settings):
    settings.CONNECTOR_TIMEOUT = 0.2
    settings.CONNECTOR_MAX_RETRIES = 1
    # Both attempts are answered only after we stopped waiting (and after we recorded the failure).
    sendcloud.store.faults = [{"delay": 0.9, "path": "/api/v2/parcels", "times": 2}]
    sendcloud.store.save()
    order = an_order()

    with pytest.raises(BookingError):
        book_shipment(order=order)
    settle(posts=2)  # the carrier did create the parcel, after we stopped waiting
    shipment = book_shipment(order=order)

    parcels = SandboxOrder.objects.filter(store=sendcloud.store)
    assert parcels.count() == 1 and shipment.external_id == parcels.get().external_id
    assert Shipment.objects.count() == 1


def test_book_return_uses_the_v3_returns_shape(sendcloud):
    adapter = sendcloud.account.adapter()
    customer = Party(
        name="Ann Park",
        line1="1 High Street",
        city="Leeds",
        postal_code="LS1 4AB",
        country="GB",
        email="ann@example.test",
    )
    merchant = Party(
        name="Shop Returns", line1="Dock 3", city="Amsterdam", postal_code="1011 AA", country="NL"
    )

    booking = adapter.book_return(
        BookingRequest(
            reference="return-1",
            order_number="SO-1001",
            sender=customer,
            recipient=merchant,
            weight_g=800,
            brand_name="Shop",
            value=Decimal("25.00"),
            currency="GBP",
            items=[("MUG-1", 2)],
        )
    )

    [request] = posted("/api/v3/returns")
    body = request.parsed
    assert body["ship_with"] == {"type": "shipping_option_code", "shipping_option_code": "postnl:return"}
    assert body["from_address"]["country_code"] == "GB" and body["to_address"]["address_line_1"] == "Dock"
    assert body["weight"] == {"value": "0.800", "unit": "kg"} and body["brand_id"] == 7
    assert body["parcel_items"][0]["quantity"] == 2  # customs: the customer is outside the EU
    assert booking.tracking_number and booking.label_pdf.startswith(b"%PDF")
    assert booking.external_id == str(SandboxOrder.objects.get(external_id=booking.external_id).data["id"])


def test_book_return_reports_the_v3_errors(sendcloud):
    adapter = sendcloud.account.adapter()
    party = Party(name="Ann", line1="1 High St", city="Leeds", postal_code="LS1", country="GB")

    with pytest.raises(CarrierError) as err:
        adapter.book_return(
            BookingRequest(
                reference="r",
                order_number="1",
                sender=party,
                recipient=party,
                weight_g=500,
                service="owl:return",
            )
        )

    assert "ship_with.shipping_option_code: Unknown shipping option “owl:return”" in str(err.value)


# -- label-free (QR) returns ------------------------------------------------------------------------
def a_return(**kw) -> BookingRequest:
    customer = Party(
        name="Ann Park",
        line1="1 High Street",
        city="Leeds",
        postal_code="LS1 4AB",
        country="GB",
        email="ann@example.test",
    )
    merchant = Party(
        name="Shop Returns", line1="5 Mill Lane", city="Leeds", postal_code="LS11 5PS", country="GB"
    )
    values = dict(
        reference="return-qr-1",
        order_number="SO-1001",
        sender=customer,
        recipient=merchant,
        weight_g=800,
        brand_name="Shop",
        value=Decimal("25.00"),
        currency="GBP",
        items=[("MUG-1", 2)],
    )
    return BookingRequest(**{**values, **kw})


def test_a_label_free_return_option_gives_a_png_qr_code_of_the_tracking_number(sendcloud):
    booking = sendcloud.account.adapter().book_return(a_return(service="royal_mail:tracked/return-qr"))

    assert booking.tracking_number and booking.label_pdf.startswith(b"%PDF")  # the label is there too
    assert booking.qr_code.startswith(PNG_SIGNATURE) and booking.qr_error == ""
    width, height = png_size(booking.qr_code)
    assert width == height >= 150  # square, big enough to scan from a phone screen
    parcel = SandboxOrder.objects.get(external_id=booking.external_id)
    assert parcel.data["_qr_payload"] == booking.tracking_number  # what the sandbox encoded
    assert encodes(booking.qr_code, booking.tracking_number)
    assert not encodes(booking.qr_code, booking.tracking_number + "X")


def test_a_return_option_without_label_free_drop_off_books_without_a_qr_code(sendcloud):
    booking = sendcloud.account.adapter().book_return(a_return(service="postnl:return"))

    assert booking.tracking_number and booking.label_pdf.startswith(b"%PDF")
    assert (booking.qr_code, booking.qr_error) == (b"", "")  # the sandbox answered 404: no such document


def test_the_qr_document_is_asked_for_as_a_png_and_is_404_in_sendclouds_shape_without_one(sendcloud):
    adapter = sendcloud.account.adapter()
    plain = adapter.book_return(a_return(service="postnl:return"))
    qr = adapter.book_return(a_return(reference="return-qr-2", service="postnl:return/qr"))
    auth = (sendcloud.account.credentials["public_key"], sendcloud.account.credentials["secret_key"])
    base = f"{sendcloud.url}/sandbox/sendcloud/api/v2/parcels"

    missing = requests.get(
        f"{base}/{plain.external_id}/documents/qr", auth=auth, headers={"Accept": "image/png"}
    )
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "No qr document for this parcel."
    png = requests.get(f"{base}/{qr.external_id}/documents/qr", auth=auth, headers={"Accept": "image/png"})
    assert png.headers["Content-Type"] == "image/png" and png.content == qr.qr_code
    pdf = requests.get(
        f"{base}/{qr.external_id}/documents/qr", auth=auth, headers={"Accept": "application/pdf"}
    )
    assert pdf.headers["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")


def test_a_qr_code_that_times_out_leaves_the_return_booked_and_says_why(sendcloud, settings):
    settings.CONNECTOR_TIMEOUT = 0.4
    sendcloud.store.faults = [{"delay": 1.2, "path": "/documents/qr", "times": 5}]
    sendcloud.store.save(update_fields=["faults"])

    booking = sendcloud.account.adapter().book_return(a_return(service="royal_mail:tracked/return-qr"))

    assert booking.tracking_number and booking.label_pdf.startswith(b"%PDF")
    assert booking.qr_code == b""
    assert "no answer within 0.4s" in booking.qr_error and "tried 2 times" in booking.qr_error
    time.sleep(1.5)  # let the sandbox finish the slow requests before the database is flushed


def test_a_qr_code_refused_with_a_server_error_leaves_the_return_booked(sendcloud):
    sendcloud.store.faults = [{"status": 503, "path": "/documents/qr", "times": 5}]
    sendcloud.store.save(update_fields=["faults"])

    booking = sendcloud.account.adapter().book_return(a_return(service="postnl:return/qr"))

    assert booking.tracking_number and booking.qr_code == b"" and "HTTP 503" in booking.qr_error


def test_the_qr_document_mapping():
    from shipping.carriers import sendcloud_mapping as m

    assert m.document_path(900123, "qr") == "/parcels/900123/documents/qr"
    with pytest.raises(ValueError):
        m.document_path(900123, "selfie")
    png = PNG_SIGNATURE + b"rest"
    assert m.parse_qr_document(200, png, None) == (png, "")
    assert m.parse_qr_document(
        404, b"", {"error": {"code": 404, "message": "No qr document for this parcel."}}
    ) == (b"", "")
    assert m.parse_qr_document(200, b"%PDF-1.4", None) == (b"", "the QR code document is not a PNG image")
    assert m.parse_qr_document(
        401, b"", {"error": {"code": 401, "message": "Invalid username/password."}}
    ) == (b"", "Invalid username/password.")
