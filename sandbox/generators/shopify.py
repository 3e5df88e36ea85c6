"""Realistic Shopify orders (Admin REST shape: string money, grams, variant titles, line item
properties, discount codes, note attributes, fulfillments), plus the products behind them."""

from __future__ import annotations

import random
import time
from decimal import Decimal

from faker import Faker

from sandbox import images
from sandbox.models import SandboxOrder, SandboxProduct, SandboxStore
from sandbox.shopify.fulfillment import location_of
from sandbox.shopify.orders import iso, parse_time, state_key

LOCALES = {"GB": "en_GB", "US": "en_US", "FR": "fr_FR", "DE": "de_DE", "CA": "en_CA", "AU": "en_AU"}
COUNTRY_NAMES = {
    "GB": "United Kingdom",
    "US": "United States",
    "FR": "France",
    "DE": "Germany",
    "CA": "Canada",
    "AU": "Australia",
}
CURRENCY = {"GB": "GBP", "US": "USD", "FR": "EUR", "DE": "EUR", "CA": "CAD", "AU": "AUD"}
# product_id, title, vendor, requires_shipping, option names, variants [(variant_id, sku, options, price, grams)]
CATALOGUE = [
    (
        7_100_001,
        "Organic cotton tee",
        "Northern Goods",
        True,
        ["Size", "Colour"],
        [
            (7_200_011, "TEE-S-BLK", ("S", "Black"), "25.00", 180),
            (7_200_012, "TEE-M-BLK", ("M", "Black"), "25.00", 200),
            (7_200_013, "TEE-L-OAT", ("L", "Oat"), "25.00", 220),
        ],
    ),
    (
        7_100_002,
        "Hand-thrown mug",
        "Northern Goods",
        True,
        ["Colour"],
        [(7_200_021, "MUG-RED", ("Red",), "18.00", 420), (7_200_022, "MUG-SAGE", ("Sage",), "18.00", 420)],
    ),
    (
        7_100_003,
        "Silver leaf necklace",
        "Atelier Mara",
        True,
        ["Length"],
        [(7_200_031, "NECK-45", ("45 cm",), "45.00", 50)],
    ),
    (
        7_100_004,
        "Soy candle",
        "Northern Goods",
        True,
        ["Scent"],
        [
            (7_200_041, "CANDLE-FIG", ("Fig",), "14.00", 300),
            (7_200_042, "CANDLE-CEDAR", ("Cedar",), "14.00", 300),
        ],
    ),
    (
        7_100_005,
        "Knitting pattern (PDF)",
        "Northern Goods",
        False,
        ["Title"],
        [(7_200_051, "PDF-PATTERN", ("Default Title",), "6.00", 0)],
    ),
]
# A gift card is a product too: no shipping (`requires_shipping` false, `gift_card` true), and on
# the order a fulfillment order of its own whose delivery method is "none".
GIFT_CARD = (
    7_100_009,
    "Gift card",
    "Northern Goods",
    False,
    ["Denominations"],
    [(7_200_091, "GIFT-CARD-25", ("£25",), "25.00", 0)],
)
# The customs data of each SKU's inventory item (HS code, country of origin), as a merchant
# filled it in on Shopify: most SKUs have both, some only one, some neither (null on Shopify).
CUSTOMS = {
    "TEE-S-BLK": ("610910", "PT"),
    "TEE-M-BLK": ("610910", "PT"),
    "TEE-L-OAT": ("610910", "PT"),
    "MUG-RED": ("691200", "GB"),
    "MUG-SAGE": ("691200", "GB"),
    "NECK-45": ("711311", None),
    "CANDLE-FIG": ("340600", "GB"),
    "CANDLE-CEDAR": (None, None),
}
INVENTORY_ITEM_OFFSET = 40_000_000_000  # a variant's inventory item id is its id plus this


def inventory_item(variant_id: int, sku: str, ships: bool) -> dict:
    """The InventoryItem resource behind a variant, as `GET inventory_items.json` answers it."""
    hs_code, origin = CUSTOMS.get(sku, (None, None))
    when = "2026-01-05T09:00:00-00:00"
    return {
        "id": variant_id + INVENTORY_ITEM_OFFSET,
        "sku": sku,
        "created_at": when,
        "updated_at": when,
        "requires_shipping": ships,
        "cost": None,
        "country_code_of_origin": origin,
        "province_code_of_origin": None,
        "harmonized_system_code": hs_code,
        "tracked": ships,
        "country_harmonized_system_codes": [],
        "admin_graphql_api_id": f"gid://shopify/InventoryItem/{variant_id + INVENTORY_ITEM_OFFSET}",
    }


SHIPPING = [
    ("Standard", "STANDARD", "3.95"),
    ("Express", "EXPRESS", "9.00"),
    ("Royal Mail Tracked 48", "RM-T48", "4.50"),
    ("UPS Ground", "UPS-GND", "8.50"),
]
GATEWAYS = [["shopify_payments"], ["paypal"], ["shopify_payments", "gift_card"], ["manual"]]
CODES = [("WELCOME10", "percentage", Decimal("0.10")), ("SPRING5", "fixed_amount", Decimal("5.00"))]


def image_src(product_id: int, variant_id: int | None = None) -> str:
    suffix = f"_{variant_id}" if variant_id else ""
    return images.url("shopify", f"products/{product_id}{suffix}.jpg")


def ensure_products(store: SandboxStore) -> None:
    for product_id, title, vendor, ships, option_names, variants in [*CATALOGUE, GIFT_CARD]:
        images = [
            {
                "id": product_id + 900_000,
                "product_id": product_id,
                "position": 1,
                "src": image_src(product_id),
                "variant_ids": [],
            }
        ]
        images += [
            {
                "id": v[0] + 900_000,
                "product_id": product_id,
                "position": i + 2,
                "src": image_src(product_id, v[0]),
                "variant_ids": [v[0]],
            }
            for i, v in enumerate(variants[1:])
        ]
        SandboxProduct.objects.get_or_create(
            store=store,
            external_id=str(product_id),
            defaults={
                "data": {
                    "id": product_id,
                    "title": title,
                    "vendor": vendor,
                    "status": "active",
                    "product_type": "",
                    "options": [
                        {
                            "id": product_id * 10 + i,
                            "product_id": product_id,
                            "name": n,
                            "position": i + 1,
                            "values": sorted({v[2][i] for v in variants}),
                        }
                        for i, n in enumerate(option_names)
                    ],
                    "variants": [
                        {
                            "id": vid,
                            "product_id": product_id,
                            "sku": sku,
                            "price": price,
                            "grams": grams,
                            "weight": grams / 1000,
                            "weight_unit": "kg",
                            "requires_shipping": ships,
                            "image_id": (vid + 900_000) if i else None,
                            "inventory_item_id": vid + INVENTORY_ITEM_OFFSET,
                            **{f"option{j + 1}": (opts[j] if j < len(opts) else None) for j in range(3)},
                        }
                        for i, (vid, sku, opts, price, grams) in enumerate(variants)
                    ],
                    "image": images[0],
                    "images": images,
                    # The sandbox's own (never served with the product): its inventory items.
                    "_inventory_items": [inventory_item(v[0], v[1], ships) for v in variants],
                }
            },
        )


def _money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


def _address(fake, country: str, name: str, rng) -> dict:
    first, _, last = name.partition(" ")
    region = ""
    for attr in ("state_abbr", "province_abbr"):
        if country in ("US", "CA", "AU") and hasattr(fake, attr):
            region = getattr(fake, attr)()
            break
    return {
        "first_name": first,
        "last_name": last,
        "name": name,
        "company": rng.choice([None, None, "Acme Ltd"]),
        "address1": fake.street_address(),
        "address2": rng.choice(["", "", "Flat 2"]),
        "city": fake.city(),
        "province": region or None,
        "province_code": region or None,
        "zip": fake.postcode(),
        "country": COUNTRY_NAMES[country],
        "country_code": country,
        "phone": fake.phone_number(),
        "latitude": None,
        "longitude": None,
    }


def use_fulfillment_service(
    store: SandboxStore,
    handle: str,
    *,
    name: str,
    skus: list[str],
    location_id: int | None = None,
    reply: str = "accept",
) -> None:
    """The shop stocks `skus` at a fulfillment service's location (a dropshipping supplier's app):
    new orders' lines of those SKUs carry its handle, and their fulfillment order is its own.
    `reply` is how the service answers fulfillment requests: accept, reject or none."""
    settings = dict(store.settings or {})
    services = dict(settings.get("fulfillment_services") or {})
    services[handle] = {
        "name": name,
        "skus": list(skus),
        "reply": reply,
        **({"location_id": location_id} if location_id else {}),
    }
    settings["fulfillment_services"] = services
    store.settings = settings
    SandboxStore.objects.filter(pk=store.pk).update(settings=settings)


def _service_for(store: SandboxStore, sku: str) -> str:
    for handle, service in ((store.settings or {}).get("fulfillment_services") or {}).items():
        if sku in (service.get("skus") or []):
            return handle
    return "manual"


def _variant(sku: str):
    for product in [*CATALOGUE, GIFT_CARD]:
        for variant in product[5]:
            if variant[1] == sku:
                return product, variant
    raise KeyError(f"no variant with SKU {sku} in the sandbox catalogue")


def make_order(
    store: SandboxStore,
    *,
    kind: str = "ok",
    created: int | None = None,
    rng=random,
    items: list[tuple[str, int]] | None = None,
) -> dict:
    """kind: ok | unpaid | shipped | digital | no_address | cancelled | gift_card (physical lines
    and a gift card). `items` [(SKU, quantity)] picks the lines instead of chance."""
    country = rng.choice(list(LOCALES))
    fake = Faker(LOCALES[country])
    fake.seed_instance(rng.randint(0, 10**9))
    currency = CURRENCY[country]
    serial = store.next_id()
    order_id = 5_550_000_000 + serial
    # Placed a while ago, last changed now (paid, edited…): a change feed must see it arrive.
    now = int(time.time())
    created = created or now - rng.randint(60, 3 * 86400)
    updated = max(now, created + 60)
    physical = [p for p in CATALOGUE if p[3]]
    digital = [p for p in CATALOGUE if not p[3]]
    products = rng.sample(digital, 1) if kind == "digital" else rng.sample(physical, rng.randint(1, 3))
    if kind == "ok" and rng.random() < 0.2:
        products.append(digital[0])
    if kind == "gift_card":
        products.append(GIFT_CARD)
    location = location_of(store)
    lines, subtotal, weight = [], Decimal("0"), 0
    for entry in items or products:
        if items:
            (product, variant), quantity = _variant(entry[0]), entry[1]
        else:
            product, variant = entry, rng.choice(entry[5])
            quantity = rng.randint(1, 3)
        product_id, title, vendor, ships, _names, _variants = product
        variant_id, sku, options, price, grams = variant
        subtotal += Decimal(price) * quantity
        weight += grams * quantity if ships else 0
        variant_title = " / ".join(options) if options != ("Default Title",) else None
        properties = (
            [{"name": "Engraving", "value": rng.choice(["A.M.", "For Jo", "XOXO"])}]
            if title.startswith("Silver")
            else []
        )
        if rng.random() < 0.1:
            properties.append(
                {"name": "_bundle_id", "value": "b-1"}
            )  # private: Shopify hides names starting "_"
        lines.append(
            {
                "id": 13_000_000_000 + store.next_id(),
                "admin_graphql_api_id": "",
                "product_id": product_id,
                "variant_id": variant_id,
                "title": title,
                "variant_title": variant_title,
                "name": f"{title} - {variant_title}" if variant_title else title,
                "sku": sku,
                "vendor": vendor,
                "quantity": quantity,
                "current_quantity": quantity,
                "price": price,
                "grams": grams,
                "requires_shipping": ships,
                "fulfillable_quantity": quantity,
                "fulfillment_status": None,
                "fulfillment_service": _service_for(store, sku),
                "gift_card": product[0] == GIFT_CARD[0],
                "taxable": True,
                "tax_lines": [],
                "total_discount": "0.00",
                "discount_allocations": [],
                "properties": properties,
                "product_exists": True,
                "origin_location": {
                    "id": location["id"],
                    "name": location["name"],
                    "country_code": "GB",
                    "address1": "Unit 4, Canal Wharf",
                    "city": "Leeds",
                    "zip": "LS11 5PS",
                },
            }
        )
    code = rng.choice([None, None, None, *CODES])
    discount = Decimal("0")
    codes = []
    if code:
        discount = (subtotal * code[2]) if code[1] == "percentage" else min(code[2], subtotal)
        codes = [{"code": code[0], "amount": _money(discount), "type": code[1]}]
    ship_title, ship_code, ship_price = rng.choice(SHIPPING)
    shipping_price = Decimal("0") if kind == "digital" else Decimal(ship_price)
    total = subtotal - discount + shipping_price
    name = fake.name()
    email = fake.email()
    address = None if kind in ("digital", "no_address") else _address(fake, country, name, rng)
    gift = rng.random() < 0.25
    note_attributes = (
        [{"name": "gift_message", "value": rng.choice(["Happy birthday!", "With love", "Congrats!"])}]
        if gift
        else []
    )
    if rng.random() < 0.2:
        note_attributes.append({"name": "How did you hear about us?", "value": "Instagram"})
    financial = {"unpaid": "pending", "cancelled": "voided"}.get(kind, "paid")
    gateways = [["manual"]] if kind == "unpaid" else GATEWAYS[:3]
    number = 1000 + serial
    order = {
        "id": order_id,
        "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
        "name": f"#{number}",
        "order_number": number,
        "number": number - 1000,
        "token": f"tok{order_id}",
        "test": False,
        "email": email,
        "contact_email": email,
        "phone": rng.choice([None, fake.phone_number()]),
        "created_at": iso(store, created),
        "updated_at": iso(store, updated),
        "processed_at": iso(store, created),
        "closed_at": None,
        "cancelled_at": None,
        "cancel_reason": None,
        "financial_status": financial,
        "fulfillment_status": None,
        "confirmed": True,
        "currency": currency,
        "presentment_currency": currency,
        "source_name": "web",
        "total_price": _money(total),
        "subtotal_price": _money(subtotal - discount),
        "total_tax": "0.00",
        "total_line_items_price": _money(subtotal),
        "total_discounts": _money(discount),
        "total_weight": weight,
        "discount_codes": codes,
        "discount_applications": [
            {"type": "discount_code", "code": c["code"], "value_type": c["type"], "target_type": "line_item"}
            for c in codes
        ],
        "note": rng.choice([None, None, "Please leave with a neighbour", "No invoice in the parcel please"]),
        "note_attributes": note_attributes,
        "tags": rng.choice(["", "", "VIP", "wholesale, repeat"]),
        "gateway": rng.choice(gateways)[0],
        "payment_gateway_names": rng.choice(gateways),
        "buyer_accepts_marketing": rng.random() < 0.5,
        "customer": {
            "id": 6_000_000 + serial,
            "email": email,
            "first_name": name.partition(" ")[0],
            "last_name": name.partition(" ")[2],
            "phone": None,
            "tags": "",
        },
        "shipping_address": address,
        "billing_address": address or _address(fake, country, name, rng),
        "shipping_lines": []
        if kind == "digital"
        else [
            {
                "id": 4_900_000_000 + serial,
                "title": ship_title,
                "code": ship_code,
                "source": "shopify",
                "price": ship_price,
                "discounted_price": ship_price,
                "carrier_identifier": None,
                "tax_lines": [],
            }
        ],
        "line_items": lines,
        "fulfillments": [],
        "refunds": [],
    }
    if kind == "shipped":
        when = iso(store, created + 3600)
        tracking = f"RM{order_id % 10**9:09d}GB"
        shipped_lines = [dict(li) for li in lines if li["requires_shipping"]]
        for li in lines:
            if li["requires_shipping"]:
                li["fulfillable_quantity"], li["fulfillment_status"] = 0, "fulfilled"
        order["fulfillments"] = [
            {
                "id": 4_100_000_000 + store.next_id(),
                "order_id": order_id,
                "status": "success",
                "created_at": when,
                "updated_at": when,
                "service": "manual",
                "location_id": location["id"],
                "shipment_status": None,
                "name": f"#{number}.1",
                "tracking_company": "Royal Mail",
                "tracking_number": tracking,
                "tracking_numbers": [tracking],
                "tracking_url": f"https://www.royalmail.com/track-your-item#/{tracking}",
                "tracking_urls": [],
                "line_items": shipped_lines,
            }
        ]
        order["fulfillment_status"] = "fulfilled"
        order["closed_at"] = when
    if kind == "cancelled":
        order["cancelled_at"] = order["closed_at"] = iso(store, created + 600)
        order["cancel_reason"] = "customer"
        for li in lines:
            li["fulfillable_quantity"] = 0
    return order


def add_order(store: SandboxStore, order: dict) -> SandboxOrder:
    return SandboxOrder.objects.create(
        store=store,
        external_id=str(order["id"]),
        data=order,
        status=state_key(order),
        created_ts=parse_time(order["created_at"]),
        updated_ts=parse_time(order["updated_at"]),
    )


def generate(
    store: SandboxStore, count: int, *, mix: bool = True, seed: int | None = None
) -> list[SandboxOrder]:
    """`count` orders; with `mix`, about one in five is unpaid, shipped, digital-only or has no address."""
    rng = random.Random(seed)
    ensure_products(store)
    kinds = ["unpaid", "shipped", "digital", "no_address"]
    made = []
    for i in range(count):
        kind = kinds[i // 5 % len(kinds)] if mix and i % 5 == 4 else "ok"
        made.append(add_order(store, make_order(store, kind=kind, rng=rng)))
    return made
