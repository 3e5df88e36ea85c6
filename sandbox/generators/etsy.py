"""Realistic Etsy receipts (Faker names and addresses, several countries, variations, gift
messages), in the API's own shape."""

from __future__ import annotations

import random
import time

from faker import Faker

from sandbox.models import SandboxOrder, SandboxProduct, SandboxStore

LOCALES = {"GB": "en_GB", "US": "en_US", "FR": "fr_FR", "DE": "de_DE", "CA": "en_CA", "AU": "en_AU"}
CURRENCY = {"GB": "GBP", "US": "USD", "FR": "EUR", "DE": "EUR", "CA": "CAD", "AU": "AUD"}
CATALOGUE = [
    # listing_id, sku, title, price (minor units), weight, unit, digital, variations
    (5001, "MUG-RED-L", "Hand-thrown mug", 1800, 420, "g", False, [("Colour", ["Red", "Blue", "Sage"])]),
    (
        5002,
        "TEE-ORG",
        "Organic cotton tee",
        2400,
        7,
        "oz",
        False,
        [("Size", ["S", "M", "L"]), ("Colour", ["Black", "Oat"])],
    ),
    (5003, "PRINT-A4", "Botanical print A4", 1500, 90, "g", False, []),
    (5004, "NECK-SLV", "Silver leaf necklace", 4500, 0.05, "kg", False, [("Engraving", ["A", "B", "M"])]),
    (5005, "PDF-PATTERN", "Knitting pattern (PDF)", 600, None, None, True, []),
    (5006, "CANDLE-SOY", "Soy candle", 1400, 0.6, "lb", False, [("Scent", ["Fig", "Cedar"])]),
]
SHIPPING_METHODS = ["Royal Mail Tracked 48", "Standard", "Express", "Std CA D2D Dom", "USPS Priority Mail"]
PAYMENT_METHODS = ["cc", "paypal", "apple_pay", "google_pay", "klarna"]


def ensure_listings(store: SandboxStore) -> None:
    for listing_id, sku, title, price, weight, unit, digital, _ in CATALOGUE:
        SandboxProduct.objects.get_or_create(
            store=store,
            external_id=str(listing_id),
            defaults={
                "data": {
                    "listing_id": listing_id,
                    "title": title,
                    "skus": [sku],
                    "item_weight": weight,
                    "item_weight_unit": unit,
                    "is_digital": digital,
                    "state": "active",
                    "price": {"amount": price, "divisor": 100, "currency_code": "GBP"},
                }
            },
        )


def _region(fake, country: str) -> str:
    for attr in ("state_abbr", "province_abbr"):
        if country in ("US", "CA", "AU") and hasattr(fake, attr):
            return getattr(fake, attr)()
    return ""


def money(amount: int, currency: str) -> dict:
    return {"amount": amount, "divisor": 100, "currency_code": currency}


def make_receipt(store: SandboxStore, *, kind: str = "ok", created: int | None = None, rng=random) -> dict:
    """kind: ok | unpaid | shipped | digital | no_address | cancelled"""
    country = rng.choice(list(LOCALES))
    fake = Faker(LOCALES[country])
    fake.seed_instance(rng.randint(0, 10**9))
    currency = CURRENCY[country]
    if not getattr(store, "_listings_ready", False):
        ensure_listings(store)
        store._listings_ready = True
    receipt_id = 3_000_000_000 + store.next_id()
    created = created or int(time.time()) - rng.randint(60, 3 * 86400)
    physical = [c for c in CATALOGUE if not c[6]]
    digital = [c for c in CATALOGUE if c[6]]
    picks = rng.sample(digital, 1) if kind == "digital" else rng.sample(physical, rng.randint(1, 3))
    if kind == "ok" and rng.random() < 0.2:
        picks.append(digital[0])
    shipping_method = rng.choice(SHIPPING_METHODS)
    transactions, subtotal = [], 0
    for listing_id, sku, title, price, _w, _u, is_digital, variations in picks:
        quantity = rng.randint(1, 3)
        subtotal += price * quantity
        transactions.append(
            {
                "transaction_id": 4_000_000_000 + store.next_id(),
                "listing_id": listing_id,
                "product_id": listing_id + 1000,
                "sku": sku,
                "title": title,
                "description": "",
                "quantity": quantity,
                "price": money(price, currency),
                "shipping_cost": money(0, currency),
                "is_digital": is_digital,
                "file_data": "",
                "listing_image_id": listing_id + 2000,
                "variations": [
                    {
                        "property_id": 200 + i,
                        "value_id": 300 + i,
                        "formatted_name": name,
                        "formatted_value": rng.choice(values),
                    }
                    for i, (name, values) in enumerate(variations)
                ],
                "product_data": [],
                "shipping_method": None if is_digital else shipping_method,
                "shipping_upgrade": rng.choice([None, None, None, "Gift wrap"]),
                "min_processing_days": 1,
                "max_processing_days": 3,
                "expected_ship_date": None if is_digital else created + 3 * 86400,
                "buyer_coupon": 0,
                "shop_coupon": 0,
                "paid_timestamp": None if kind == "unpaid" else created + 60,
                "shipped_timestamp": None,
                "transaction_type": "listing",
            }
        )
    discount = rng.choice([0, 0, 0, 200, 500])
    shipping_cost = 0 if kind == "digital" else 395
    grand = subtotal + shipping_cost - discount
    is_gift = rng.random() < 0.25
    status = {
        "ok": "Paid",
        "unpaid": "Open",
        "shipped": "Completed",
        "digital": "Paid",
        "no_address": "Paid",
        "cancelled": "Canceled",
    }[kind]
    address = (
        {}
        if kind in ("digital", "no_address")
        else {
            "name": fake.name(),
            "first_line": fake.street_address(),
            "second_line": rng.choice(["", "", "Flat 2"]),
            "city": fake.city(),
            "state": _region(fake, country),
            "zip": fake.postcode(),
            "country_iso": country,
        }
    )
    receipt = {
        "receipt_id": receipt_id,
        "receipt_type": 0,
        "seller_user_id": 1,
        "seller_email": "shop@example.com",
        "buyer_user_id": rng.randint(1000, 9999),
        "buyer_email": fake.email(),
        "name": address.get("name", fake.name()),
        "first_line": address.get("first_line", ""),
        "second_line": address.get("second_line", ""),
        "city": address.get("city", ""),
        "state": address.get("state", ""),
        "zip": address.get("zip", ""),
        "country_iso": address.get("country_iso", country if kind != "no_address" else ""),
        "formatted_address": "",
        "status": status,
        "payment_method": rng.choice(PAYMENT_METHODS),
        "message_from_buyer": rng.choice(
            ["", "", "Please no invoice in the parcel", "Leave with a neighbour"]
        ),
        "message_from_seller": "",
        "message_from_payment": "",
        "is_paid": kind != "unpaid" and kind != "cancelled",
        "is_shipped": kind == "shipped",
        "is_gift": is_gift,
        "gift_message": rng.choice(["Happy birthday!", "Joyeux anniversaire", "With love"])
        if is_gift
        else "",
        "gift_wrap_price": money(0, currency),
        "grandtotal": money(grand, currency),
        "subtotal": money(subtotal, currency),
        "total_price": money(subtotal, currency),
        "total_shipping_cost": money(shipping_cost, currency),
        "total_tax_cost": money(0, currency),
        "total_vat_cost": money(0, currency),
        "discount_amt": money(discount, currency),
        "created_timestamp": created,
        "create_timestamp": created,
        # Changed "now": a shop's change feed must show a receipt added after the last sync.
        "updated_timestamp": max(created + 60, int(time.time())),
        "update_timestamp": max(created + 60, int(time.time())),
        "shipments": [],
        "transactions": transactions,
        "refunds": [],
    }
    if kind == "shipped":
        receipt["shipments"] = [
            {
                "receipt_shipping_id": store.next_id(),
                "shipment_notification_timestamp": created + 3600,
                "carrier_name": "royal-mail",
                "tracking_code": f"RM{receipt_id % 10**9:09d}GB",
            }
        ]
    return receipt


def add_receipt(store: SandboxStore, receipt: dict) -> SandboxOrder:
    return SandboxOrder.objects.create(
        store=store,
        external_id=str(receipt["receipt_id"]),
        data=receipt,
        status=receipt["status"],
        created_ts=receipt["created_timestamp"],
        updated_ts=receipt["updated_timestamp"],
    )


def generate(
    store: SandboxStore, count: int, *, mix: bool = True, seed: int | None = None
) -> list[SandboxOrder]:
    """`count` receipts; with `mix`, about one in five is unpaid, shipped, digital-only or has no address."""
    rng = random.Random(seed)
    ensure_listings(store)
    kinds = ["unpaid", "shipped", "digital", "no_address"]
    made = []
    for i in range(count):
        kind = kinds[i // 5 % len(kinds)] if mix and i % 5 == 4 else "ok"
        made.append(add_receipt(store, make_receipt(store, kind=kind, rng=rng)))
    return made
