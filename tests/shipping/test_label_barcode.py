"""The label's Code 128 barcode is what a scanner reads: each label is rendered to pixels
(PDFium, as a printer driver would) and read back with a real barcode reader (zxing-cpp). The
tracking number printed as text is not enough: a depot scans the bars."""

import io

import pypdfium2
import zxingcpp

from shipping import labels
from shipping.booking import book_shipment
from tests.factories import OrderFactory, OrderLineFactory


def barcodes(pdf: bytes, *, page: int = 0, dpi: int = 300) -> list[tuple[str, str]]:
    document = pypdfium2.PdfDocument(io.BytesIO(pdf))
    try:
        image = document[page].render(scale=dpi / 72).to_pil()
    finally:
        document.close()
    return [(str(found.format), found.text) for found in zxingcpp.read_barcodes(image)]


def test_a_booked_label_scans_as_its_tracking_number(shipping_setup):
    order = OrderFactory(order_number="1042")
    OrderLineFactory(order=order, weight_g=420)

    shipment = book_shipment(order=order)

    assert barcodes(shipment.label.read()) == [("Code 128", shipment.tracking_number)]


def test_every_label_on_a_four_up_a4_sheet_scans(shipping_setup):
    shipments = []
    for n in range(4):
        order = OrderFactory(order_number=f"20{n}")
        OrderLineFactory(order=order, weight_g=300)
        shipments.append(book_shipment(order=order))

    sheet = labels.merge_labels([s.label.read() for s in shipments], layout="a4")

    read = {text for _, text in barcodes(sheet, dpi=200)}
    assert read == {s.tracking_number for s in shipments}
