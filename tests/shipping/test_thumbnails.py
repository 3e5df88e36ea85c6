"""Label thumbnails: the label's first page as a PNG (PDFium), made once on first view and kept,
on the shipment page and on a bulk job's page beside each order's tracking number."""

import html
import io

from django.core.files.storage import default_storage
from django.urls import reverse
from PIL import Image

from shipping import thumbnails
from shipping.booking import book_shipment
from shipping.models import BulkJob
from tests.factories import OrderFactory, OrderLineFactory
from tests.shipping.factories import ShipmentFactory
from tests.shipping.test_bulk import make_orders, run_action


def booked(order_number="1042"):
    order = OrderFactory(order_number=order_number)
    OrderLineFactory(order=order, weight_g=420)
    return book_shipment(order=order)


def test_the_shipment_page_shows_the_labels_first_page_as_a_picture(staff_client, selfprint, monkeypatch):
    shipment = booked()
    thumb_url = reverse("admin:shipping_shipment_thumbnail", args=[shipment.pk])

    page = staff_client.get(reverse("admin:shipping_shipment_change", args=[shipment.pk])).content.decode()
    assert f'<img src="{thumb_url}"' in page

    response = staff_client.get(thumb_url)
    assert response["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(b"".join(response.streaming_content)))
    assert image.width == 240 and 340 < image.height < 380  # 4 × 6 inches, upright
    pixels = image.convert("L").tobytes()
    dark = sum(1 for p in pixels if p < 100) / len(pixels)
    assert 0.03 < dark < 0.6  # print on white: the address, the barcode; not a blank page
    assert min(pixels) < 50 and max(pixels) > 240

    # Made once: a second view serves the stored file without rendering again.
    assert default_storage.exists(thumbnails.thumbnail_name(shipment.label.name))
    monkeypatch.setattr(
        thumbnails, "render_first_page", lambda *a, **k: (_ for _ in ()).throw(AssertionError)
    )
    assert staff_client.get(thumb_url).status_code == 200


def test_a_shipment_without_a_label_has_no_picture(staff_client, db):
    shipment = ShipmentFactory()  # recorded from elsewhere: no PDF

    page = staff_client.get(reverse("admin:shipping_shipment_change", args=[shipment.pk])).content.decode()

    assert reverse("admin:shipping_shipment_thumbnail", args=[shipment.pk]) not in page
    assert (
        staff_client.get(reverse("admin:shipping_shipment_thumbnail", args=[shipment.pk])).status_code == 404
    )


def test_the_job_page_lists_each_orders_tracking_and_label_picture_or_why_it_failed(
    staff_client, selfprint, django_capture_on_commit_callbacks
):
    good = make_orders(2)
    no_address = make_orders(1, ship_line1="")[0]

    run_action(staff_client, django_capture_on_commit_callbacks, "book_shipments", [*good, no_address])

    job = BulkJob.objects.get()
    page = html.unescape(
        staff_client.get(reverse("admin:shipping_bulkjob_progress", args=[job.pk])).content.decode()
    )
    table = page[page.index('id="job-items"') :]
    for order in good:
        shipment = order.shipments.get()
        row = table[table.index(f">{order}<") :][:1500]
        assert shipment.tracking_number in row
        assert f'<img src="{reverse("admin:shipping_shipment_thumbnail", args=[shipment.pk])}"' in row
        assert (
            staff_client.get(reverse("admin:shipping_shipment_thumbnail", args=[shipment.pk])).status_code
            == 200
        )
    row = table[table.index(f">{no_address}<") :][:800]
    assert "has no complete shipping address" in row and "<img" not in row.split("</tr>")[0]
