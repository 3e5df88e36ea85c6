"""Addresses on every label path (self-print, Sendcloud parcels and returns, the A4 sheet, packing
slips): a line break inside a field prints as two lines, never as a black box, and the US state
is always there. Read back from the PDFs with pypdf."""

import io
from decimal import Decimal

from pypdf import PdfReader
from pypdf.generic import ContentStream

from orders.addresses import address_lines
from shipping import labels
from shipping.booking import book_shipment
from shipping.bulk import slip
from shipping.carriers.base import BookingRequest, Party
from tests.factories import OrderFactory, OrderLineFactory
from tests.shipping.factories import ShipmentFactory

BROKEN = {"ship_line1": "Flat 2\r\nRose House", "ship_line2": "12 Long Lane\n", "ship_company": "Acme\tLtd"}
US = {
    "ship_line1": "5 Oak Ave",
    "ship_line2": "",
    "ship_company": "",
    "ship_city": "Portland",
    "ship_state": "OR",
    "ship_postal_code": "97201",
    "ship_country": "US",
}


def drawn_strings(pdf: bytes) -> list[str]:
    """Every line of text the PDF draws, in order: the strings shown between one BT and its ET
    (one drawString) joined, as the content streams hold them."""
    reader = PdfReader(io.BytesIO(pdf))
    lines = []
    for page in reader.pages:
        current = None
        for operands, operator in ContentStream(page.get_contents(), reader).operations:
            if operator == b"BT":
                current = []
            elif operator == b"Tj" and current is not None:
                current.append(str(operands[0]))
            elif operator == b"ET" and current:
                lines.append("".join(current))
    return lines


def fonts(pdf: bytes) -> set[str]:
    reader = PdfReader(io.BytesIO(pdf))
    return {
        str(f.get_object()["/BaseFont"])
        for page in reader.pages
        for f in (page["/Resources"].get("/Font") or {}).values()
    }


def assert_no_black_boxes(pdf: bytes) -> list[str]:
    """reportlab draws a character it has no glyph for (a line break, a tab) in a symbol font:
    the black box. Only Helvetica may be on the page."""
    assert {f for f in fonts(pdf) if not f.startswith("/Helvetica")} == set()
    strings = drawn_strings(pdf)
    bad = [s for s in strings if any(ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0 for ch in s)]
    assert bad == [], f"drawn with control characters: {bad}"
    return strings


def test_the_one_formatter_splits_line_breaks_and_blanks_control_characters():
    lines = address_lines(
        name="Ann\u2028Park",
        company="Acme\tLtd",
        line1="Flat 2\r\nRose House",
        line2="\n",
        city="Port\nland",
        state="OR",
        postal_code="97201",
        country="us",
    )
    assert lines == ["Ann", "Park", "Acme Ltd", "Flat 2", "Rose House", "Port, land, OR 97201", "US"]


def test_a_line_break_in_the_address_prints_as_two_lines_on_the_self_printed_label(shipping_setup):
    order = OrderFactory(ship_name="Ann Smith", **BROKEN)
    OrderLineFactory(order=order)

    strings = assert_no_black_boxes(book_shipment(order=order).label.read())

    assert {"Flat 2", "Rose House", "12 Long Lane", "Acme Ltd"} <= set(strings)


def test_a_line_break_prints_as_two_lines_on_the_packing_slip(shipping_setup):
    order = OrderFactory(ship_name="Ann Smith", customer_note="Leave it\nat the back", **BROKEN)
    shipment = ShipmentFactory(order=order)
    OrderLineFactory(order=order, title="Mug")

    for layout in ("a6", "a4"):
        strings = assert_no_black_boxes(
            labels.render_packing_slips([slip(shipment)], layout=layout, images=lambda url: None)
        )
        assert {"Flat 2", "Rose House", "12 Long Lane"} <= set(strings)


def test_the_us_state_is_on_the_self_printed_label_even_with_a_long_town_line(shipping_setup):
    long_town = {
        **US,
        "ship_city": "Rancho Santa Margarita Heights Village",
        "ship_state": "CA",
        "ship_postal_code": "92688-1234",
        "ship_line2": "Building 4\nSuite 1200, Floor 12",
    }
    order = OrderFactory(ship_name="Dana Whitfield-Montgomery", **long_town)
    OrderLineFactory(order=order)

    text = PdfReader(io.BytesIO(book_shipment(order=order).label.read())).pages[0].extract_text()

    assert "CA 92688-1234" in " ".join(text.split())  # wrapped maybe, never cut off
    assert "Suite 1200, Floor 12" in text


def test_the_us_state_is_on_the_a4_sheet_label():
    label = labels.LabelContent(
        tracking_number="SD000000015US",
        sender_lines=["Shop", "Leeds", "GB"],
        recipient_lines=address_lines(
            name="Ann", line1="5 Oak Ave", city="Portland", state="OR", postal_code="97201", country="US"
        ),
        order_number="1",
        weight_g=100,
        service="Tracked",
        carrier="USPS",
    )
    assert (
        "Portland, OR 97201"
        in PdfReader(io.BytesIO(labels.render_label_sheet(label, quadrant=3))).pages[0].extract_text()
    )


def test_the_us_state_is_on_the_sendcloud_label(sendcloud):
    order = OrderFactory(
        ship_name="Ann Smith", **{**US, "ship_line1": "5 Oak Ave\nApt 3"}, currency="USD", total=Decimal("20")
    )
    OrderLineFactory(order=order, weight_g=500)

    shipment = book_shipment(order=order, service="UPS Standard 0-70kg")

    strings = assert_no_black_boxes(shipment.label.read())
    assert "Portland, OR 97201" in strings and "Apt 3" in strings


def test_the_us_state_is_on_a_sendcloud_return_label(sendcloud):
    customer = Party(
        name="Ann Park",
        line1="5 Oak Ave",
        city="Portland",
        state="OR",
        postal_code="97201",
        country="US",
        email="ann@example.test",
    )
    merchant = Party(
        name="Shop Returns", line1="Dock 3", city="Amsterdam", postal_code="1011 AA", country="NL"
    )

    booking = sendcloud.account.adapter().book_return(
        BookingRequest(
            reference="return-us-1",
            order_number="SO-1",
            sender=customer,
            recipient=merchant,
            weight_g=800,
            service="ups:standard/return",
            value=Decimal("25.00"),
            currency="USD",
            items=[("MUG-1", 1)],
        )
    )

    assert "Portland, OR 97201" in drawn_strings(booking.label_pdf)
