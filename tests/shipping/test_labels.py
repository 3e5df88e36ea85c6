"""The self-print carrier's PDF label and tracking numbers."""

import io

from pypdf import PdfReader

from shipping.booking import book_shipment
from shipping.carriers.selfprint import is_valid_s10, s10_check_digit
from tests.factories import OrderFactory, OrderLineFactory


def test_label_is_one_4x6_page_with_the_tracking_number_as_text(shipping_setup):
    order = OrderFactory(ship_name="Ann Smith", order_number="1042")
    OrderLineFactory(order=order, weight_g=420, quantity=2)

    shipment = book_shipment(order=order)

    data = shipment.label.read()
    assert data.startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (288, 432)  # 4 x 6 inches at 72 pt
    text = reader.pages[0].extract_text()
    assert shipment.tracking_number in text
    assert "Ann Smith" in text and "1042" in text and "0.840 kg" in text
    assert is_valid_s10(shipment.tracking_number)


def test_s10_check_digit_matches_the_upu_examples():
    # UPU S10 worked example: serial 47312482 -> weighted sum 200 -> 11 - 200 % 11 = 9
    assert s10_check_digit("47312482") == 9
    assert is_valid_s10("RR473124829GB") and not is_valid_s10("RR473124825GB")
    assert s10_check_digit("00000000") == 5  # 11 - 0 = 11 -> 5


def test_booking_a_booked_order_again_is_refused_and_buys_no_second_label(shipping_setup):
    """A double click, or a second staff member on the same order: one label. (Retrying the
    same attempt after a timeout returns the first label: tests/shipping/test_sendcloud.py.)"""
    import pytest

    from shipping.booking import BookingError

    order = OrderFactory()
    OrderLineFactory(order=order)
    first = book_shipment(order=order)
    order.refresh_from_db()

    with pytest.raises(BookingError):
        book_shipment(order=order)

    assert list(order.shipments.values_list("tracking_number", flat=True)) == [first.tracking_number]


def recipient_block(order) -> list[str]:
    text = PdfReader(io.BytesIO(book_shipment(order=order).label.read())).pages[0].extract_text()
    return [line.strip() for line in text.splitlines()]


def test_the_label_writes_each_address_as_its_countrys_post_expects(shipping_setup):
    # Royal Mail reads the postcode on a line of its own, USPS "CITY, ST ZIP", La Poste "75011 PARIS".
    def order(**address):
        o = OrderFactory(ship_name="Ann Smith", ship_line2="", ship_company="", **address)
        OrderLineFactory(order=o)
        return recipient_block(o)

    gb = order(
        ship_line1="12 High St",
        ship_city="Leeds",
        ship_state="",
        ship_postal_code="LS1 4AB",
        ship_country="GB",
    )
    assert gb[gb.index("LS1 4AB") - 1] == "Leeds"
    us = order(
        ship_line1="5 Oak Ave",
        ship_city="Portland",
        ship_state="OR",
        ship_postal_code="97201",
        ship_country="US",
    )
    assert "Portland, OR 97201" in us
    fr = order(
        ship_line1="5 Rue X", ship_city="Paris", ship_state="", ship_postal_code="75011", ship_country="FR"
    )
    assert "75011 Paris" in fr
