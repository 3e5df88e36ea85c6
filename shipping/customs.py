"""Customs for cross-border parcels (issue 16; shared/carrier-facts-direct.md §5).

A declaration is needed whenever goods cross a customs-territory or fiscal (VAT) border, not
merely a country border: France to Germany needs none, France to Switzerland, the UK to
anywhere in the EU, or mainland Spain to the Canary Islands do. `territory()` names the
territory an address is in (by country, and by postal code for the special territories that
share their country's ISO code); two different territories mean a declaration.

Uncertain cases follow the carriers' practice and ask for a declaration (Andorra, San Marino,
the Channel Islands, Great Britain to Northern Ireland)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from orders.models import Product
from shipping.carriers.base import BookingRequest, Customs, ItemLine

EU_VAT = "EU"  # the EU customs union and VAT area, with Monaco and Northern Ireland for goods
EU_MEMBERS = {
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT",
    "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
}  # fmt: skip
# Countries inside another country's customs territory (Monaco is treated as France, the Isle
# of Man as the UK, Liechtenstein shares Switzerland's customs area).
SAME_TERRITORY_AS = {"MC": "FR", "IM": "GB", "LI": "CH"}
# Special territories sharing their country's ISO code, by postal-code prefix: inside the EU
# customs territory but outside its VAT area, or outside the customs territory altogether.
# Either way carriers want a declaration. (Those with an ISO code of their own, such as the
# French overseas departments GP/GF/MQ/RE/YT/MF, Åland AX, Gibraltar GI, the Faroes FO,
# Greenland GL and the Vatican VA, are told apart by country already.)
SPECIAL_POSTCODES: dict[str, list[tuple[str, str]]] = {
    "ES": [("35", "Canary Islands"), ("38", "Canary Islands"), ("51", "Ceuta"), ("52", "Melilla")],
    "DE": [("27498", "Heligoland"), ("78266", "Büsingen")],
    "IT": [("23030", "Livigno"), ("22061", "Campione d'Italia")],
    "GR": [("63086", "Mount Athos")],
    "FR": [("971", "Guadeloupe"), ("972", "Martinique"), ("973", "French Guiana"), ("974", "Réunion"),
           ("976", "Mayotte"), ("97150", "Saint-Martin")],
}  # fmt: skip
# Value below which a CN22 does (the UPU limit is 300 SDR; about 400 EUR), above it a CN23.
CN22_LIMIT = 400


def territory(country: str, postal_code: str = "") -> str:
    """The customs (and fiscal) territory of an address: "EU", a special territory's name, or the
    country code of a territory of its own ("GB", "CH", "US"…)."""
    country = (country or "").strip().upper()
    postal = "".join((postal_code or "").split()).upper()
    country = SAME_TERRITORY_AS.get(country, country)
    if country == "GB" and postal.startswith("BT"):
        return EU_VAT  # Northern Ireland follows EU customs and VAT rules for goods
    for prefix, name in SPECIAL_POSTCODES.get(country, []):
        if postal.startswith(prefix):
            return name
    return EU_VAT if country in EU_MEMBERS else country


def crosses_border(sender_country: str, sender_postal: str, to_country: str, to_postal: str) -> bool:
    """Whether a parcel between these addresses needs a customs declaration."""
    return territory(sender_country, sender_postal) != territory(to_country, to_postal)


def products_for(skus) -> dict[str, Product]:
    wanted = {s for s in skus if s}
    return {p.sku: p for p in Product.objects.filter(sku__in=wanted)} if wanted else {}


def with_product_data(items: list[ItemLine], products: dict[str, Product]) -> list[ItemLine]:
    """The item lines with the customs data of their SKU's catalogue entry."""
    for item in items:
        product = products.get(item.sku)
        if product is None:
            continue
        item.hs_code = item.hs_code or product.hs_code
        item.origin_country = item.origin_country or product.origin_country
        item.customs_description = item.customs_description or product.customs_description
    return items


@dataclass
class Missing:
    """One thing a declaration lacks: which line (SKU) and which field."""

    sku: str
    field: str  # "hs_code", "origin_country", "customs_description", "unit_price", "sku"
    words: str

    def __str__(self):
        return self.words


FIELD_WORDS = {
    "hs_code": "HS code",
    "origin_country": "country of origin",
    "customs_description": "customs description",
    "unit_price": "value",
}


def missing_fields(items: list[ItemLine]) -> list[Missing]:
    """Everything a customs declaration needs and the lines lack, line by line."""
    missing = []
    for item in items:
        name = item.sku or item.title
        if not item.sku:
            missing.append(Missing("", "sku", f"“{item.title}” has no SKU, so no product customs data"))
            continue
        for field_name in ("hs_code", "origin_country"):
            if not getattr(item, field_name):
                missing.append(Missing(item.sku, field_name, f"SKU {name} has no {FIELD_WORDS[field_name]}"))
        if not item.customs_description and not item.title:
            missing.append(Missing(item.sku, "customs_description", f"SKU {name} has no customs description"))
        if not item.unit_price or item.unit_price <= 0:
            missing.append(Missing(item.sku, "unit_price", f"SKU {name} has no value"))
    return missing


def declaration(request: BookingRequest, *, invoice_number: str) -> Customs | None:
    """The declaration `request` needs, or None when the parcel stays in one customs territory."""
    if not crosses_border(
        request.sender.country,
        request.sender.postal_code,
        request.recipient.country,
        request.recipient.postal_code,
    ):
        return None
    return Customs(
        currency=request.currency or "EUR",
        invoice_number=invoice_number,
        invoice_date=date.today().isoformat(),
    )


def form_kind(value, currency: str) -> str:
    """CN22 for a light, low-value parcel, CN23 above (the value compared in the order's
    currency as if it were euros: close enough for the line between the two forms)."""
    return "CN22" if value is not None and value <= CN22_LIMIT else "CN23"
