"""Realistic Amazon seller orders in the Orders API 2026-01-01 shape (every dataset), with the
v0-only facts (ShipServiceLevel, PaymentMethodDetails) kept beside them for v0 getOrders."""

from __future__ import annotations

import random
import time
from datetime import datetime

from faker import Faker

from sandbox import images
from sandbox.amazon import iso, marketplace_of, ship
from sandbox.models import SandboxOrder, SandboxProduct, SandboxStore

# marketplace: (country, Faker locale, currency, name, order id prefix, ShipServiceLevel strings)
MARKETPLACES = {
    "ATVPDKIKX0DER": (
        "US",
        "en_US",
        "USD",
        "Amazon.com",
        "113",
        ["Std US D2D Dom", "Std US D2D Dom", "Exp US D2D Dom", "Second US D2D Dom", "Next US D2D Dom"],
    ),
    "A1F83G8C2ARO7P": (
        "GB",
        "en_GB",
        "GBP",
        "Amazon.co.uk",
        "202",
        ["Std UK Dom_1", "Std UK Dom_2", "Exp UK Dom_1"],
    ),
    "A1PA6795UKMFR9": ("DE", "de_DE", "EUR", "Amazon.de", "302", ["Std DE Dom_1", "Exp DE Dom_1"]),
    "A13V1IB3VIYZZH": ("FR", "fr_FR", "EUR", "Amazon.fr", "402", ["Std FR Dom_1", "Exp FR Dom_1"]),
    "A2EUQ1WTGCTBG2": ("CA", "en_CA", "CAD", "Amazon.ca", "702", ["Std CA D2D Dom", "Exp CA D2D Dom"]),
}
CATEGORY = {"Std": "STANDARD", "Exp": "EXPEDITED", "Second": "SECOND_DAY", "Next": "NEXT_DAY"}
CATALOGUE = [
    # asin, sku, title, unit price, extra
    ("B0SHPDK001", "CUP-01", "Stoneware coffee cup, 350 ml", "19.99", {}),
    ("B0SHPDK002", "LAMP-BRASS", "Brass desk lamp", "49.00", {}),
    ("B0SHPDK003", "NECK-NAME", "Personalised name necklace", "34.50", {"custom": True}),
    (
        "B0SHPDK004",
        "BEANS-1KG",
        "Single-origin coffee beans, sold by weight",
        "24.00",
        {"measurement": {"unit": "KILOGRAMS", "value": 1.0}},
    ),
    ("B0SHPDK005", "TOTE-CNV", "Canvas tote bag", "15.00", {}),
]
# Catalog Items facts per ASIN (package weight); the tote's listing is gone from the catalogue.
CATALOG = {
    "B0SHPDK001": (0.95, "pounds"),
    "B0SHPDK002": (1.8, "kilograms"),
    "B0SHPDK003": (2.5, "ounces"),
    "B0SHPDK004": (1.05, "kilograms"),
}
GIFT_MESSAGES = ["Happy birthday, love from us all", "Congratulations!", ""]
INSTRUCTIONS = ["Leave the parcel behind the green gate", "Call on arrival", "Deliver to the side door"]
CARRIERS = {"US": "USPS", "GB": "Royal Mail", "DE": "DHL", "FR": "Colissimo", "CA": "Canada Post"}


def ensure_catalog(store: SandboxStore) -> None:
    marketplace = marketplace_of(store)
    for asin, _sku, title, _price, _extra in CATALOGUE:
        if asin not in CATALOG:
            continue
        value, unit = CATALOG[asin]
        SandboxProduct.objects.get_or_create(
            store=store,
            external_id=asin,
            defaults={
                "data": {
                    "summaries": [{"marketplaceId": marketplace, "itemName": title}],
                    "dimensions": [
                        {"marketplaceId": marketplace, "package": {"weight": {"unit": unit, "value": value}}}
                    ],
                    "images": [
                        {
                            "marketplaceId": marketplace,
                            "images": [
                                {
                                    "variant": "MAIN",
                                    "link": images.url("amazon", f"I/{asin}._SL500_.jpg"),
                                    "height": 500,
                                    "width": 500,
                                },
                                {
                                    "variant": "PT01",
                                    "link": images.url("amazon", f"I/{asin}-side.jpg"),
                                    "height": 500,
                                    "width": 500,
                                },
                            ],
                        }
                    ],
                }
            },
        )


def _money(value: float, currency: str) -> dict:
    return {"amount": f"{value:.2f}", "currencyCode": currency}


def _order_id(store: SandboxStore, prefix: str) -> str:
    n = store.next_id()
    return f"{prefix}-{(n * 7919 + 1234567) % 10**7:07d}-{n % 10**7:07d}"


def make_order(store: SandboxStore, *, kind: str = "ok", created: int | None = None, rng=random) -> dict:
    """kind: ok | unpaid (Pending) | shipped | cancelled | afn (fulfilled by Amazon)"""
    marketplace = marketplace_of(store)
    country, locale, currency, name, prefix, levels = MARKETPLACES.get(
        marketplace, MARKETPLACES["ATVPDKIKX0DER"]
    )
    fake = Faker(locale)
    fake.seed_instance(rng.randint(0, 10**9))
    created = created or int(time.time()) - rng.randint(60, 3 * 86400)
    level = rng.choice(levels)
    items, subtotal, discount = [], 0.0, 0.0
    for asin, sku, title, price, extra in rng.sample(CATALOGUE, rng.randint(1, 3)):
        quantity = 1 if "measurement" in extra else rng.randint(1, 2)
        cost = float(price) * quantity
        subtotal += cost
        item = {
            "orderItemId": f"{10**13 + store.next_id() * 37:014d}",
            "quantityOrdered": quantity,
            "programs": [],
            "product": {
                "asin": asin,
                "title": title,
                "sellerSku": sku,
                "condition": {"conditionType": "NEW", "conditionSubtype": "NEW"},
                "price": {"unitPrice": _money(float(price), currency)},
            },
            "proceeds": {
                "proceedsTotal": _money(cost, currency),
                "breakdowns": [{"type": "ITEM", "subtotal": _money(cost, currency)}],
            },
            "fulfillment": {"quantityFulfilled": 0, "quantityUnfulfilled": quantity},
        }
        if "measurement" in extra:
            item["measurement"] = dict(extra["measurement"])
        if extra.get("custom"):
            item["product"]["customization"] = {
                "customizedUrl": f"https://www.amazon.com/gp/custom/{item['orderItemId']}"
            }
        if rng.random() < 0.2:
            off = round(cost * 0.1, 2)
            discount += off
            item["promotion"] = {"breakdowns": [{"promotionId": rng.choice(["SPRING10", "PRIMEDAY-5"])}]}
            item["proceeds"]["breakdowns"].append({"type": "DISCOUNT", "subtotal": _money(-off, currency)})
        if rng.random() < 0.2:
            item["fulfillment"]["packing"] = {
                "giftOption": {"giftMessage": rng.choice(GIFT_MESSAGES), "giftWrapLevel": "Classic"}
            }
        items.append(item)
    shipping = rng.choice([0.0, 0.0, 3.99])
    total = subtotal + shipping - discount
    breakdowns = [
        {"type": "ITEM", "subtotal": _money(subtotal, currency)},
        {"type": "SHIPPING", "subtotal": _money(shipping, currency)},
    ]
    if discount:
        breakdowns.append({"type": "DISCOUNT", "subtotal": _money(-discount, currency)})
    status = {
        "ok": "UNSHIPPED",
        "unpaid": "PENDING",
        "shipped": "UNSHIPPED",
        "cancelled": "CANCELLED",
        "afn": "SHIPPED",
    }[kind]
    person = fake.name()
    order = {
        "orderId": _order_id(store, prefix),
        "createdTime": iso(created),
        "lastUpdatedTime": iso(created + 120),
        "programs": ["PRIME"] if rng.random() < 0.3 else [],
        "salesChannel": {"channelName": "AMAZON", "marketplaceId": marketplace, "marketplaceName": name},
        "proceeds": {"grandTotal": _money(total, currency), "breakdowns": breakdowns},
        "fulfillment": {
            "fulfillmentStatus": status,
            "fulfilledBy": "AMAZON" if kind == "afn" else "MERCHANT",
            "fulfillmentServiceLevel": CATEGORY[level.split()[0]],
            "shipByWindow": {"earliestDateTime": iso(created), "latestDateTime": iso(created + 2 * 86400)},
            "deliverByWindow": {
                "earliestDateTime": iso(created + 3 * 86400),
                "latestDateTime": iso(created + 6 * 86400),
            },
        },
        "orderItems": items,
        "packages": [],
        "_v0": {
            "ShipServiceLevel": level,
            "PaymentMethod": "Other",
            "PaymentMethodDetails": rng.choice(
                [["Standard"], ["CreditCard"], ["GiftCertificate", "CreditCard"]]
            ),
        },
    }
    if kind != "unpaid":  # Amazon shows who and where only once the order is paid
        order["buyer"] = {
            "buyerName": person,
            "buyerEmail": f"{fake.lexify('??????????').lower()}@marketplace.amazon.com",
        }
        address = {
            "name": person,
            "addressLine1": fake.street_address(),
            "city": fake.city(),
            "stateOrRegion": fake.state_abbr() if hasattr(fake, "state_abbr") and country == "US" else "",
            "postalCode": fake.postcode(),
            "countryCode": country,
            "phone": fake.phone_number(),
            "addressType": "RESIDENTIAL",
        }
        if rng.random() < 0.2:
            address["addressLine2"] = "Apt 12"
        order["recipient"] = {"deliveryAddress": address}
        if rng.random() < 0.2:
            order["recipient"]["deliveryPreference"] = {"addressInstruction": rng.choice(INSTRUCTIONS)}
    if kind == "cancelled":
        for item in items:
            item["cancellation"] = {
                "cancellationRequest": {"requester": "BUYER", "cancelReason": "Ordered by mistake"}
            }
    return order


def add_order(store: SandboxStore, order: dict) -> SandboxOrder:
    def ts(value: str) -> int:
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())

    return SandboxOrder.objects.create(
        store=store,
        external_id=order["orderId"],
        data=order,
        status=(order.get("fulfillment") or {}).get("fulfillmentStatus", ""),
        created_ts=ts(order["createdTime"]),
        updated_ts=ts(order.get("lastUpdatedTime") or order["createdTime"]),
    )


def generate(
    store: SandboxStore, count: int, *, mix: bool = True, seed: int | None = None
) -> list[SandboxOrder]:
    """`count` orders; with `mix`, about one in five is Pending (unpaid), shipped, cancelled, or
    fulfilled by Amazon (which Shipdesk never reads: see channels/connectors/amazon.py)."""
    rng = random.Random(seed)
    ensure_catalog(store)
    kinds = ["unpaid", "shipped", "cancelled", "afn"]
    made = []
    for i in range(count):
        kind = kinds[i // 5 % len(kinds)] if mix and i % 5 == 4 else "ok"
        order = add_order(store, make_order(store, kind=kind, rng=rng))
        if kind == "shipped":
            country = MARKETPLACES.get(marketplace_of(store), MARKETPLACES["ATVPDKIKX0DER"])[0]
            ship(
                order,
                tracking_number=f"9400{rng.randint(10**17, 10**18 - 1)}",
                carrier_code=CARRIERS[country],
            )
        made.append(order)
    return made
