"""Realistic Ecwid orders (REST v3 shape: numbers for money, `shippingPerson.street` with a
newline between the address lines, `selectedOptions`, weights in the store's unit, coupons,
comments and private notes)."""

from __future__ import annotations

import random
import time

from faker import Faker

from sandbox import images
from sandbox.ecwid import date_text, state_key
from sandbox.models import SandboxOrder, SandboxStore

LOCALES = {"GB": "en_GB", "US": "en_US", "CA": "en_CA", "DE": "de_DE", "FR": "fr_FR", "AU": "en_AU"}
COUNTRY_NAMES = {
    "GB": "United Kingdom",
    "US": "United States",
    "CA": "Canada",
    "DE": "Germany",
    "FR": "France",
    "AU": "Australia",
}
# productId, sku, name, price, weight (kg, the default store unit), shipping required, digital, options
CATALOGUE = [
    (
        501,
        "SOAP-LAV",
        "Lavender soap",
        6.0,
        0.15,
        True,
        False,
        [("Scent", "CHOICE", ["Lavender", "Rose", "Oat"])],
    ),
    (
        502,
        "TOTE-NAT",
        "Canvas tote",
        16.0,
        0.25,
        True,
        False,
        [("Colour", "CHOICE", ["Natural", "Navy"]), ("Monogram", "TEXT", ["AB", "JJ", "KP"])],
    ),
    (503, "CANDLE-L", "Large candle", 22.5, 0.6, True, False, [("Scent", "CHOICE", ["Fig", "Cedar"])]),
    (504, "MUG-SPK", "Speckled mug", 14.0, 0.42, True, False, []),
    (505, "EBOOK-SOAP", "Soap making e-book", 9.0, 0.0, False, True, []),
]
SHIPPING = [
    ("Canada Post", "Expedited Parcel", 12.5),
    ("Royal Mail", "Tracked 48", 3.95),
    ("UPS", "UPS Ground", 8.0),
    ("", "Local courier", 5.0),
]
PAYMENT_METHODS = ["Credit card", "PayPal", "Phone order", "Bank transfer"]
COUPONS = [("Spring", "SPRING5", "ABS", 5.0), ("Welcome", "WELCOME10", "PERCENT", 10.0)]
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def public_id(n: int) -> str:
    """A short order id in Ecwid's style ("XJ12H"), unique per counter value."""
    chars = []
    for _ in range(5):
        n, r = divmod(n, len(ALPHABET))
        chars.append(ALPHABET[r])
    return "".join(reversed(chars))


def image_url(product_id: int) -> str:
    return images.url("ecwid", f"4870020/{product_id}.jpg")


def selected(name: str, kind: str, value: str) -> dict:
    return {"name": name, "type": kind, "value": value, "valuesArray": [value]}


def make_order(store: SandboxStore, *, kind: str = "ok", created: int | None = None, rng=random) -> dict:
    """kind: ok | unpaid | shipped | digital | no_address | cancelled | custom"""
    country = rng.choice(list(LOCALES))
    fake = Faker(LOCALES[country])
    fake.seed_instance(rng.randint(0, 10**9))
    serial = store.next_id()
    number = 1000 + serial
    # Placed a while ago, last changed now (paid, edited…): a change feed must see it arrive.
    now = int(time.time())
    created = created or now - rng.randint(60, 3 * 86400)
    updated = max(now, created + 60)
    physical = [p for p in CATALOGUE if p[5]]
    digital = [p for p in CATALOGUE if not p[5]]
    picks = rng.sample(digital, 1) if kind == "digital" else rng.sample(physical, rng.randint(1, 3))
    if kind == "ok" and rng.random() < 0.2:
        picks.append(digital[0])
    items, subtotal = [], 0.0
    for product_id, sku, name, price, weight, ships, is_digital, options in picks:
        quantity = rng.randint(1, 3)
        subtotal += price * quantity
        items.append(
            {
                "id": 88_000_000 + store.next_id(),
                "productId": product_id,
                "categoryId": 0,
                "price": price,
                "productPrice": price,
                "weight": weight,
                "sku": sku,
                "quantity": quantity,
                "shortDescription": "",
                "tax": 0,
                "shipping": 0,
                "quantityInStock": 100,
                "name": name,
                "isShippingRequired": ships,
                "trackQuantity": True,
                "fixedShippingRateOnly": False,
                "imageUrl": image_url(product_id),
                "smallThumbnailUrl": images.url("ecwid", f"4870020/{product_id}-sm.jpg"),
                "digital": is_digital,
                "productAvailable": True,
                "couponApplied": False,
                "selectedOptions": [
                    selected(o_name, o_type, rng.choice(values)) for o_name, o_type, values in options
                ],
                "files": [{"productFileId": 7215101, "name": "soap.pdf", "size": 54492}]
                if is_digital
                else [],
            }
        )
    coupon = rng.choice([None, None, None, *COUPONS])
    coupon_discount = 0.0
    if coupon:
        coupon_discount = round(coupon[3] if coupon[2] == "ABS" else subtotal * coupon[3] / 100, 2)
    carrier, method, rate = rng.choice(SHIPPING)
    shipping_rate = 0.0 if kind == "digital" else rate
    total = round(subtotal - coupon_discount + shipping_rate, 2)
    name = fake.name()
    region = ""
    for attr in ("state_abbr", "province_abbr"):
        if country in ("US", "CA", "AU") and hasattr(fake, attr):
            region = getattr(fake, attr)()
            break
    person = {
        "name": name,
        "firstName": name.partition(" ")[0],
        "lastName": name.partition(" ")[2],
        "companyName": rng.choice(["", "", "Hedgehog and Bucket"]),
        "street": fake.street_address() + rng.choice(["", "", "\nUnit 4"]),
        "city": fake.city(),
        "countryCode": country,
        "countryName": COUNTRY_NAMES[country],
        "postalCode": fake.postcode(),
        "stateOrProvinceCode": region,
        "stateOrProvinceName": region,
        "phone": fake.phone_number(),
    }
    payment, fulfilment = {
        "ok": ("PAID", "AWAITING_PROCESSING"),
        "unpaid": ("AWAITING_PAYMENT", "AWAITING_PROCESSING"),
        "shipped": ("PAID", "SHIPPED"),
        "digital": ("PAID", "AWAITING_PROCESSING"),
        "no_address": ("PAID", "AWAITING_PROCESSING"),
        "cancelled": ("CANCELLED", "WILL_NOT_DELIVER"),
        "custom": ("PAID", "CUSTOM_FULFILLMENT_STATUS_1"),
    }[kind]
    oid = public_id(serial + 10_000)
    order = {
        "id": oid,
        "internalId": 516_000_000 + serial,
        "orderNumber": number,
        "vendorOrderNumber": oid,
        "publicUid": oid,
        "subtotal": round(subtotal, 2),
        "total": total,
        "usdTotal": total,
        "tax": 0,
        "email": fake.email(),
        "paymentMethod": rng.choice(PAYMENT_METHODS),
        "paymentModule": "CUSTOM_PAYMENT_APP",
        "paymentStatus": payment,
        "fulfillmentStatus": fulfilment,
        "customerId": 270_000_000 + serial,
        "refererUrl": f"https://store{store.key}.company.site/",
        "globalReferer": "",
        "createDate": date_text(created),
        "updateDate": date_text(updated),
        "createTimestamp": created,
        "updateTimestamp": updated,
        "hidden": False,
        "orderComments": rng.choice(["", "", "Gift - no prices please", "Ring the bell twice"]),
        "privateAdminNotes": rng.choice(["", "", "VIP", "Check stock of totes"]),
        "couponDiscount": coupon_discount,
        "discount": 0,
        "volumeDiscount": 0,
        "membershipBasedDiscount": 0,
        "totalAndMembershipBasedDiscount": 0,
        "discountInfo": [],
        "items": items,
        "billingPerson": dict(person),
        "shippingPerson": {} if kind in ("digital", "no_address") else person,
        "shippingOption": {}
        if kind == "digital"
        else {
            "shippingMethodId": f"m-{method.lower().replace(' ', '-')}",
            "shippingCarrierName": carrier,
            "shippingMethodName": method,
            "shippingRate": shipping_rate,
            "estimatedTransitTime": "2-4",
            "isPickup": False,
            "fulfillmentType": "SHIPPING",
        },
        "predictedPackages": [
            {
                "weight": round(sum(i["weight"] * i["quantity"] for i in items), 3),
                "length": 30,
                "width": 20,
                "height": 10,
                "declaredValue": total,
            }
        ],
        "additionalInfo": {},
        "paymentParams": {},
        "orderExtraFields": [],
        "trackingNumber": "",
        "externalFulfillment": False,
        "disableAllCustomerNotifications": False,
    }
    if coupon:
        order["discountCoupon"] = {
            "name": coupon[0],
            "code": coupon[1],
            "discountType": coupon[2],
            "discount": coupon[3],
            "status": "ACTIVE",
        }
    if kind == "shipped":
        order["trackingNumber"] = f"70232100{serial:08d}"
    return order


def add_order(store: SandboxStore, order: dict) -> SandboxOrder:
    return SandboxOrder.objects.create(
        store=store,
        external_id=order["id"],
        data=order,
        status=state_key(order),
        created_ts=order["createTimestamp"],
        updated_ts=order["updateTimestamp"],
    )


def generate(
    store: SandboxStore, count: int, *, mix: bool = True, seed: int | None = None
) -> list[SandboxOrder]:
    """`count` orders; with `mix`, about one in five is unpaid, shipped, digital-only or has no address."""
    rng = random.Random(seed)
    kinds = ["unpaid", "shipped", "digital", "no_address"]
    made = []
    for i in range(count):
        kind = kinds[i // 5 % len(kinds)] if mix and i % 5 == 4 else "ok"
        made.append(add_order(store, make_order(store, kind=kind, rng=rng)))
    return made
