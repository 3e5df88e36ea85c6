"""The customer hears about their parcel: each shipping email lists exactly the lines in that
parcel with their pictures and options, and its packing slip shows them with their pictures
(fetched over http(s) only, with a timeout and a size cap; a missing picture is skipped)."""

import io

import pytest
from pypdf import PdfReader

from shipping import emails, labels
from shipping.bulk import slip
from tests.factories import ChannelFactory, OrderFactory, OrderLineFactory
from tests.shipping.factories import ShipmentFactory, ShipmentLineFactory
from tests.shipping.test_label_addresses import drawn_strings

MUG_IMAGE = "https://i.etsystatic.example/il_570xN.1111.jpg"


@pytest.fixture
def split_order(shipping_setup):
    """An order of a mug ×2, a tee and a candle; the first parcel holds one mug and the tee."""
    order = OrderFactory(
        channel=ChannelFactory(notify_customer=False), order_number="5001", email="ann@example.test"
    )
    mug = OrderLineFactory(
        order=order,
        sku="MUG-1",
        title="Stoneware mug",
        quantity=2,
        options={"Colour": "Blue"},
        image_url=MUG_IMAGE,
    )
    tee = OrderLineFactory(
        order=order, sku="TEE-M", title="Linen tee", quantity=1, image_url="javascript:alert(1)"
    )
    OrderLineFactory(order=order, sku="CANDLE-1", title="Cedar candle", quantity=1)
    parcel = ShipmentFactory(order=order, brand=shipping_setup["brand"])
    ShipmentLineFactory(shipment=parcel, order_line=mug, quantity=1)
    ShipmentLineFactory(shipment=parcel, order_line=tee, quantity=1)
    return order, parcel


def test_the_shipping_email_lists_exactly_the_parcels_lines_with_pictures_and_options(
    split_order, mailoutbox
):
    order, parcel = split_order

    assert emails.send(parcel.pk, "shipped") == "sent"

    [message] = mailoutbox
    assert "- 1 × Stoneware mug (Colour: Blue)\n- 1 × Linen tee\n" in message.body
    assert "Cedar candle" not in message.body and "2 × Stoneware mug" not in message.body
    html = message.alternatives[0][0]
    assert f'<img src="{MUG_IMAGE}"' in html and "Colour: Blue" in html and "Linen tee" in html
    assert "Cedar candle" not in html
    assert "javascript:" not in html  # only web pictures reach the email
    assert "- 1 × Stoneware mug" not in html  # the HTML part shows the list once, with pictures


def test_the_delivered_email_shows_the_same_parcel(split_order, mailoutbox):
    order, parcel = split_order

    emails.send(parcel.pk, "delivered")

    html = mailoutbox[0].alternatives[0][0]
    assert "Stoneware mug" in html and "Cedar candle" not in html


def test_a_parcel_without_recorded_lines_lists_the_orders_physical_lines(shipping_setup, mailoutbox):
    # booked before parcels recorded their lines
    order = OrderFactory(channel=ChannelFactory(notify_customer=False))
    OrderLineFactory(order=order, title="Stoneware mug", quantity=2)
    OrderLineFactory(order=order, title="Gift card", is_physical=False)

    emails.send(ShipmentFactory(order=order).pk, "shipped")

    assert "- 2 × Stoneware mug\n" in mailoutbox[0].body and "Gift card" not in mailoutbox[0].body


def images_on(pdf: bytes) -> int:
    page = PdfReader(io.BytesIO(pdf)).pages[0]
    xobjects = page["/Resources"].get("/XObject") or {}
    return sum(1 for ref in xobjects.values() if ref.get_object().get("/Subtype") == "/Image")


def test_the_packing_slip_shows_the_parcels_lines_with_their_pictures(split_order, live_server):
    order, parcel = split_order
    base = f"{live_server.url}/sandbox/etsy/images"
    mug, tee = (sl.order_line for sl in parcel.lines.all())
    mug.image_url = f"{base}/11/1/il_170x135.jpg"  # what Etsy's CDN serves: a JPEG
    mug.save()
    tee.image_url = f"{base}/12/1/il_170x135.jpg"
    tee.save()

    for layout in ("a6", "a4"):
        pdf = labels.render_packing_slips([slip(parcel)], layout=layout)
        strings = drawn_strings(pdf)
        assert any("Stoneware mug · Colour: Blue · MUG-1" in s for s in strings)
        assert any("Linen tee" in s for s in strings) and not any("Cedar candle" in s for s in strings)
        assert images_on(pdf) == 2


@pytest.mark.parametrize(
    "url",
    [
        "/sandbox/no-such-picture.jpg",  # 404
        "/sandbox/etsy/images/11/1/il_170x135.svg",  # not a picture reportlab can draw
        "file:///etc/passwd",  # not http(s)
        "ftp://example.test/mug.jpg",
        "",
    ],
)
def test_a_missing_or_unusable_picture_is_skipped_never_a_failure(split_order, live_server, url):
    order, parcel = split_order
    mug = parcel.lines.first().order_line
    mug.image_url = live_server.url + url if url.startswith("/") else url
    mug.save()
    parcel.lines.exclude(order_line=mug).delete()

    pdf = labels.render_packing_slips([slip(parcel)])

    assert images_on(pdf) == 0 and any("Stoneware mug" in s for s in drawn_strings(pdf))


def test_pictures_are_fetched_with_a_size_cap_and_once_per_url(live_server):
    url = f"{live_server.url}/sandbox/etsy/images/11/1/il_170x135.jpg"
    assert labels.fetch_image(url).startswith(b"\xff\xd8")  # a JPEG
    assert labels.fetch_image(url, max_bytes=100) is None  # bigger than the cap: not read on

    calls = []
    fetcher = labels.ImageFetcher(fetch=lambda u: calls.append(u) or labels.fetch_image(u))
    assert fetcher(url) is not None and fetcher(url) is not None
    assert calls == [url]
    spent = labels.ImageFetcher(budget_s=-1, fetch=lambda u: calls.append(u))
    assert spent(url + "?other") is None and len(calls) == 1  # out of time: no more fetching


def test_a_customisation_address_is_a_link_in_the_email_not_a_raw_url(split_order, mailoutbox):
    order, parcel = split_order
    mug = order.lines.get(sku="MUG-1")
    mug.options = {"Colour": "Blue", "Design": "https://designs.example/p/77?s=1", "Note": "javascript:x"}
    mug.save()

    emails.send(parcel.pk, "shipped")

    html = mailoutbox[0].alternatives[0][0]
    assert 'Design: <a href="https://designs.example/p/77?s=1"' in html
    assert ">your customisation</a>" in html
    assert ">https://designs.example" not in html  # the address is never the link's text
    assert "Note: javascript:x" in html  # not a web address: plain text, never a link
