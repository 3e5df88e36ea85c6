"""Brands through addresses: a rule "if the shop is X, ship from address Y" gives address Y's
brand to the label, the emails, the tracking page, the returns portal and the Sendcloud parcel,
unless a rule names a brand itself."""

import io

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from PIL import Image
from pypdf import PdfReader

from sandbox.models import SandboxOrder, SandboxRequest
from shipping import emails, rules
from shipping.booking import book_shipment
from tests.factories import AddressFactory, BrandFactory, ChannelFactory, OrderFactory, OrderLineFactory
from tests.shipping.factories import ShippingRuleFactory


def png(colour=(200, 30, 30), size=(120, 40)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


def label_page(shipment):
    return PdfReader(io.BytesIO(shipment.label.read())).pages[0]


def images_on(page) -> int:
    xobjects = page["/Resources"].get("/XObject") or {}
    return sum(1 for ref in xobjects.values() if ref.get_object().get("/Subtype") == "/Image")


def an_order(channel, **kw):
    order = OrderFactory(channel=channel, **kw)
    OrderLineFactory(order=order, sku="CANDLE-1", title="Cedar candle", weight_g=300)
    return order


@pytest.fixture
def lune(db):
    """Brand Maison Lune, carried by its Lyon address; shop Etsy-Lune ships from there."""
    brand = BrandFactory(
        name="Maison Lune", slug="lune", is_default=False, primary_color="#5b2a86", accent_color="#f2b134"
    )
    lyon = AddressFactory(
        label="Lyon atelier",
        name="Atelier Rhône SARL",
        line1="3 Rue Mercière",
        city="Lyon",
        postal_code="69002",
        country="FR",
        brand=brand,
    )
    shop = ChannelFactory(name="Etsy-Lune", notify_customer=False)
    rule = ShippingRuleFactory(name="Lune ships from Lyon", channel=shop, sender_address=lyon)
    return type("Lune", (), {"brand": brand, "address": lyon, "shop": shop, "rule": rule})


def test_the_rules_address_brands_the_label_the_email_and_the_tracking_page(
    selfprint, lune, client, mailoutbox
):
    order = an_order(lune.shop, email="ann@example.test")
    other = an_order(ChannelFactory(name="Etsy-Leeds"))

    shipment = book_shipment(order=order)
    elsewhere = book_shipment(order=other)

    assert (shipment.brand, shipment.sender_address) == (lune.brand, lune.address)
    assert (
        "brand Maison Lune: the brand of address Lyon atelier (rule “Lune ships from Lyon”)"
        in shipment.decision["reasons"]
    )
    assert elsewhere.brand == selfprint.brand  # other shops keep the default brand
    text = label_page(shipment).extract_text()
    assert "Maison Lune" in text and "Northern Goods" not in text and "3 Rue Mercière" in text
    assert "Northern Goods" in label_page(elsewhere).extract_text()

    assert emails.send(shipment.pk, "shipped") == "sent"
    [message] = mailoutbox
    assert message.body.rstrip().endswith("Maison Lune")
    assert "#5b2a86" in message.alternatives[0][0] and "Northern Goods" not in message.alternatives[0][0]

    page = client.get(reverse("shipping:track", args=[shipment.public_token])).content.decode()
    assert "Maison Lune" in page and "--primary: #5b2a86" in page


def test_a_rule_that_names_a_brand_wins_over_the_address_brand(selfprint, lune):
    solstice = BrandFactory(name="Solstice", slug="solstice", is_default=False)
    # the same rule names a brand: that brand
    lune.rule.brand = solstice
    lune.rule.save()
    assert rules.resolve(an_order(lune.shop)).brand == solstice

    # an earlier rule names one: it stands; a later one does not override the address's brand
    lune.rule.brand, lune.rule.position = None, 50
    lune.rule.save()
    early = ShippingRuleFactory(name="Everything is Solstice", position=0, brand=solstice)
    assert rules.resolve(an_order(lune.shop)).brand == solstice
    early.position = 1000
    early.save()
    decision = rules.resolve(an_order(lune.shop))
    assert decision.brand == lune.brand and decision.sender_address == lune.address


def test_self_printed_labels_carry_the_brands_logo(selfprint, lune):
    lune.brand.logo.save("lune.png", ContentFile(png()))

    page = label_page(book_shipment(order=an_order(lune.shop)))

    assert images_on(page) == 1
    assert "Maison Lune" not in page.extract_text()  # the logo says it

    # a logo reportlab cannot draw (SVG) prints the name instead, and the label is made all the same
    lune.brand.logo.save("lune.svg", ContentFile(b'<svg xmlns="http://www.w3.org/2000/svg"/>'))
    page = label_page(book_shipment(order=an_order(lune.shop)))
    assert images_on(page) == 0 and "Maison Lune" in page.extract_text()


def test_the_returns_portal_of_the_address_brand_finds_the_order_in_its_colours(selfprint, lune, client):
    an_order(lune.shop, order_number="7001", ship_postal_code="LS1 4AB", status="delivered")

    # not under the default brand's portal: the same answer as an unknown order
    wrong = client.post("/returns/northern/", {"order_number": "7001", "postal_code": "LS1 4AB"})
    assert wrong.status_code == 303 and wrong["Location"].endswith("?retry=1")

    found = client.post("/returns/lune/", {"order_number": "7001", "postal_code": "LS1 4AB"})
    assert found.status_code == 303 and found["Location"] == "/returns/lune/items/"
    page = client.get("/returns/lune/items/").content.decode()
    assert "--primary: #5b2a86" in page and "Maison Lune" in page


def test_the_address_form_offers_the_brand(staff_client, lune):
    page = staff_client.get(reverse("admin:shipping_address_change", args=[lune.address.pk])).content.decode()
    assert 'name="brand"' in page and f'<option value="{lune.brand.pk}" selected>' in page
    listing = staff_client.get(reverse("admin:shipping_address_changelist")).content.decode()
    assert "Maison Lune" in listing


def test_sendcloud_parcels_go_out_from_the_sender_address_that_carries_the_brand(sendcloud):
    lune = BrandFactory(name="Maison Lune", slug="lune", is_default=False)
    leeds = AddressFactory(label="Leeds for Lune", postal_code="LS11 5PS", country="GB", brand=lune)
    shop = ChannelFactory(name="Etsy-Lune")
    ShippingRuleFactory(name="Lune from Leeds", channel=shop, sender_address=leeds)
    # Sendcloud: two sender addresses at that postcode, one per brand (a v2 parcel takes its brand
    # from its sender address)
    address = {
        "contact_name": "Ops",
        "street": "Canal Wharf",
        "house_number": "4",
        "postal_code": "LS11 5PS",
        "city": "Leeds",
        "country": "GB",
    }
    sendcloud.store.settings["sender_addresses"] = [
        {"id": 5501, "label": "Shop", "brand_id": 7, **address},
        {"id": 5502, "label": "Lune", "brand_id": 9, **address},
    ]
    sendcloud.store.settings["brands"] = [{"id": 7, "name": "Shop"}, {"id": 9, "name": "Maison Lune"}]
    sendcloud.store.save()
    order = OrderFactory(
        channel=shop,
        ship_line1="12 Kerkstraat",
        ship_city="Utrecht",
        ship_postal_code="3511 AB",
        ship_country="NL",
    )
    OrderLineFactory(order=order, weight_g=500)

    shipment = book_shipment(order=order)

    [request] = [
        r for r in SandboxRequest.objects.filter(method="POST") if r.path.endswith("/api/v2/parcels")
    ]
    assert request.parsed["parcel"]["sender_address"] == 5502
    assert SandboxOrder.objects.get(external_id=shipment.external_id).data["_brand_id"] == 9
    assert shipment.brand == lune
