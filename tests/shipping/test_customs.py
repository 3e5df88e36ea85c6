"""Customs for cross-border parcels (issue 16): when a declaration is needed, what the carrier
receives, the refusal before any label is bought, and the CN22/CN23 appended to the label."""

import io
from decimal import Decimal

import pytest
from django.urls import reverse
from pypdf import PdfReader

from orders.models import OrderEvent, Product
from sandbox.models import SandboxRequest
from shipping.booking import BookingError, book_shipment
from shipping.customs import crosses_border, territory
from shipping.models import Shipment
from tests.factories import AddressFactory, BrandFactory, OrderFactory, OrderLineFactory, ProductFactory
from tests.shipping.forms import book_post


@pytest.mark.parametrize(
    ("sender", "to", "needed"),
    [
        (("FR", "75001"), ("DE", "10115"), False),  # inside the EU customs union and VAT area
        (("FR", "75001"), ("MC", "98000"), False),  # Monaco is treated as France
        (("FR", "75001"), ("CH", "8001"), True),  # Switzerland
        (("GB", "LS11 5PS"), ("US", "10001"), True),
        (("GB", "LS11 5PS"), ("FR", "75001"), True),  # GB <-> EU since 2021
        (("GB", "LS11 5PS"), ("GB", "M1 1AE"), False),
        (("IE", "D02"), ("GB", "BT1 1AA"), False),  # Northern Ireland follows EU rules for goods
        (("GB", "LS11 5PS"), ("GB", "BT1 1AA"), True),  # GB -> NI: movement data
        (("ES", "28001"), ("ES", "35001"), True),  # mainland Spain -> Canary Islands (fiscal border)
        (("DE", "10115"), ("DE", "27498"), True),  # Heligoland: outside the customs territory
        (("IT", "00100"), ("IT", "23030"), True),  # Livigno
        (("FR", "75001"), ("GP", "97100"), True),  # Guadeloupe, its own ISO code
        (("CH", "8001"), ("LI", "9490"), False),  # Liechtenstein shares Switzerland's customs area
        (("NO", "0150"), ("SE", "11120"), True),
        (("FR", "75001"), ("AD", "AD500"), True),  # Andorra: outside the VAT area
    ],
)
def test_a_declaration_is_needed_when_a_customs_or_fiscal_border_is_crossed(sender, to, needed):
    assert crosses_border(*sender, *to) is needed


def test_territory_names_the_special_territory():
    assert territory("ES", "38 001") == "Canary Islands" and territory("ES", "28001") == "EU"
    assert territory("gb", "bt7 1nn") == "EU" and territory("GB", "SW1A 1AA") == "GB"


def french_brand():
    sender = AddressFactory(
        label="Paris",
        name="Atelier Rhône",
        line1="3 Rue Mercier",
        city="Paris",
        postal_code="75001",
        country="FR",
    )
    return BrandFactory(name="Atelier", slug="atelier", sender_address=sender, is_default=True)


def an_order(country, postal_code, city, **kw):
    order = OrderFactory(
        ship_country=country,
        ship_postal_code=postal_code,
        ship_city=city,
        currency="EUR",
        total=Decimal("45.00"),
        **kw,
    )
    OrderLineFactory(order=order, sku="MUG-1", title="Mug", weight_g=750, unit_price=Decimal("45.00"))
    return order


def posted_parcel():
    [request] = [
        r for r in SandboxRequest.objects.filter(method="POST") if r.path.endswith("/api/v2/parcels")
    ]
    return request.parsed["parcel"]


def pdf_pages(shipment) -> list[str]:
    shipment.label.open("rb")
    return [page.extract_text() for page in PdfReader(io.BytesIO(shipment.label.read())).pages]


def test_uk_to_us_through_sendcloud_carries_a_declaration_and_a_drawn_cn22(sendcloud):
    ProductFactory(sku="MUG-1", hs_code="6912.00", origin_country="gb", customs_description="Ceramic mug")
    order = an_order("US", "10001", "New York", ship_state="NY", order_number="US-1")

    shipment = book_shipment(order=order, service="UPS Standard 0-70kg")

    parcel = posted_parcel()
    assert parcel["customs_invoice_nr"] == "#US-1" and parcel["customs_shipment_type"] == 2
    [item] = parcel["parcel_items"]
    assert (item["hs_code"], item["origin_country"], item["description"]) == ("691200", "GB", "Ceramic mug")
    assert (item["quantity"], item["value"], item["weight"], item["sku"]) == (1, "45.00", "0.750", "MUG-1")
    label, form = pdf_pages(shipment)  # Sendcloud v2 returns no customs form: Shipdesk draws one
    assert shipment.tracking_number in label
    assert "CN22 CUSTOMS DECLARATION" in form and "691200 / GB" in form and "45.00 EUR" in form
    assert "customs declaration #US-1" in order.events.get(kind=OrderEvent.Kind.BOOKED).message


def test_france_to_switzerland_carries_a_declaration(sendcloud):
    french_brand()
    ProductFactory(sku="MUG-1", hs_code="691200", origin_country="FR")
    order = an_order("CH", "8001", "Zürich")

    book_shipment(order=order, service="UPS Standard 0-70kg")

    parcel = posted_parcel()
    assert parcel["from_country"] == "FR" and parcel["country"] == "CH"
    assert (
        parcel["parcel_items"][0]["hs_code"] == "691200"
        and parcel["parcel_items"][0]["origin_country"] == "FR"
    )
    assert "customs_invoice_nr" in parcel


def test_france_to_germany_carries_no_declaration(sendcloud):
    french_brand()
    order = an_order("DE", "10115", "Berlin")

    shipment = book_shipment(order=order)

    parcel = posted_parcel()
    assert "parcel_items" not in parcel and "customs_invoice_nr" not in parcel
    assert len(pdf_pages(shipment)) == 1  # the label alone


def test_a_missing_hs_code_is_refused_with_the_exact_field_and_nothing_is_bought(sendcloud):
    order = OrderFactory(ship_country="US", ship_postal_code="10001", ship_city="New York", ship_state="NY")
    OrderLineFactory(order=order, sku="CANDLE-1", customs=False)
    ProductFactory(sku="CANDLE-1", hs_code="", origin_country="GB")
    OrderLineFactory(order=order, sku="MUG-1")  # has its customs data

    with pytest.raises(BookingError) as refused:
        book_shipment(order=order, service="UPS Standard 0-70kg")

    assert refused.value.field == "customs"
    assert [(m.sku, m.field) for m in refused.value.missing] == [("CANDLE-1", "hs_code")]
    assert "SKU CANDLE-1 has no HS code" in str(refused.value) and "MUG-1" not in str(refused.value)
    assert not SandboxRequest.objects.filter(method="POST").exists()  # the carrier was never asked
    assert not Shipment.objects.exists()
    assert "SKU CANDLE-1 has no HS code" in order.events.get(kind=OrderEvent.Kind.ERROR).message


def test_a_sku_without_any_catalogue_entry_lacks_both_fields(selfprint):
    order = OrderFactory(ship_country="JP", ship_postal_code="100-0001", ship_city="Tokyo")
    OrderLineFactory(order=order, sku="SCARF-9", customs=False)

    with pytest.raises(
        BookingError, match="SKU SCARF-9 has no HS code; SKU SCARF-9 has no country of origin"
    ):
        book_shipment(order=order)


def test_the_booking_form_shows_missing_customs_data_next_to_the_line(selfprint, staff_client):
    order = OrderFactory(ship_country="US", ship_postal_code="10001", ship_city="New York", ship_state="NY")
    line = OrderLineFactory(order=order, sku="CANDLE-1", customs=False)
    url = reverse("admin:shipping_shipment_book", args=[order.pk])

    page = staff_client.get(url).content.decode()
    assert "a customs declaration goes with the parcel" in page
    assert "Missing before any label can be bought: SKU CANDLE-1 has no HS code" in page

    response = staff_client.post(url, book_post(order))

    assert response.status_code == 200
    assert response.context["form"].errors[f"take_{line.pk}"] == [
        "Customs: SKU CANDLE-1 has no HS code",
        "Customs: SKU CANDLE-1 has no country of origin",
    ]
    assert not Shipment.objects.exists()


def test_a_self_printed_label_to_the_us_gets_a_cn23_appended(selfprint):
    ProductFactory(sku="LAMP-1", hs_code="940520", origin_country="GB", customs_description="Table lamp")
    order = OrderFactory(
        ship_country="US",
        ship_postal_code="10001",
        ship_city="New York",
        ship_state="NY",
        currency="GBP",
        total=0,
    )
    OrderLineFactory(order=order, sku="LAMP-1", quantity=2, unit_price=Decimal("260.00"), weight_g=1200)

    shipment = book_shipment(order=order)

    label, form = pdf_pages(shipment)
    assert shipment.tracking_number in label
    assert "CN23 CUSTOMS DECLARATION" in form
    assert "Table lamp" in form and "940520 / GB" in form and "520.00" in form and "GBP" in form
    assert shipment.tracking_number in form


def test_a_domestic_self_printed_label_has_no_customs_form(selfprint):
    order = OrderFactory(ship_country="GB")
    OrderLineFactory(order=order)

    assert len(pdf_pages(book_shipment(order=order))) == 1


def xlsx(rows) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_products_import_from_a_spreadsheet(db):
    from shipping.products import ProductResource, SafeXLSX

    Product.objects.create(sku="MUG-1", title="Mug", hs_code="", origin_country="")
    data = xlsx(
        [
            ["sku", "title", "hs_code", "origin_country", "customs_description"],
            ["MUG-1", "Mug", 691200, "gb", "Ceramic mug"],
            ["SCARF-9", "Scarf", "6214.20", "IT", "Wool scarf"],
        ]
    )

    result = ProductResource().import_data(SafeXLSX().create_dataset(data), dry_run=False)

    assert not result.has_errors() and not result.has_validation_errors()
    mug, scarf = Product.objects.order_by("sku")
    assert (mug.hs_code, mug.origin_country, mug.customs_description) == ("691200", "GB", "Ceramic mug")
    assert (scarf.sku, scarf.hs_code, scarf.origin_country) == ("SCARF-9", "621420", "IT")


def test_a_product_row_with_a_bad_hs_code_is_reported(db):
    from shipping.products import ProductResource, SafeXLSX

    data = xlsx([["sku", "hs_code", "origin_country"], ["X-1", "12", "France"]])

    result = ProductResource().import_data(SafeXLSX().create_dataset(data), dry_run=True)

    assert result.has_validation_errors()
    assert not Product.objects.exists()


def test_products_are_edited_in_the_admin(staff_client, db):
    ProductFactory(sku="MUG-1")
    page = staff_client.get(reverse("admin:orders_product_changelist")).content.decode()
    assert "MUG-1" in page and "691200" in page
    assert reverse("admin:orders_product_import") in page
    form = staff_client.get(reverse("admin:orders_product_import"))
    assert form.status_code == 200 and "xlsx" in form.content.decode()
