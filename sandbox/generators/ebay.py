"""Realistic eBay orders in the Sell Fulfillment API's own shape: string amounts, the ship-to
inside fulfillmentStartInstructions, variationAspects, promotions, buyer checkout notes."""

from __future__ import annotations

import random
import time
from datetime import datetime

from faker import Faker

from sandbox import images
from sandbox.ebay import iso, ship
from sandbox.models import SandboxOrder, SandboxProduct, SandboxStore

# country: (Faker locale, currency, eBay marketplace, [(shippingCarrierCode, shippingServiceCode)])
SITES = {
    "US": (
        "en_US",
        "USD",
        "EBAY_US",
        [
            ("USPS", "USPSPriority"),
            ("USPS", "USPSFirstClass"),
            ("UPS", "UPSGround"),
            ("FedEx", "FedExHomeDelivery"),
        ],
    ),
    "GB": (
        "en_GB",
        "GBP",
        "EBAY_GB",
        [
            ("RoyalMail", "UK_RoyalMailSecondClassStandard"),
            ("RoyalMail", "UK_RoyalMailTracked48"),
            ("Yodel", "UK_OtherCourier24"),
        ],
    ),
    "DE": ("de_DE", "EUR", "EBAY_DE", [("DHL", "DE_DHLPaket"), ("DeutschePost", "DE_DeutschePostBrief")]),
    "AU": ("en_AU", "AUD", "EBAY_AU", [("AustraliaPost", "AU_Regular"), ("AustraliaPost", "AU_Express")]),
    "CA": (
        "en_CA",
        "CAD",
        "EBAY_CA",
        [("CanadaPost", "CA_PostRegularParcel"), ("CanadaPost", "CA_PostExpeditedParcel")],
    ),
}
CATALOGUE = [
    # legacyItemId, sku, title, price, variations
    (
        "295000000101",
        "CASE-PHN",
        "Silicone phone case",
        "12.99",
        [("Colour", ["Blue", "Black", "Sage"]), ("Model", ["iPhone 15", "Pixel 8"])],
    ),
    ("295000000102", "TEE-VINT", "Vintage wash T-shirt", "18.50", [("Size", ["S", "M", "L", "XL"])]),
    ("295000000103", "CAM-OM1", "Olympus OM-1 film camera (refurbished)", "145.00", []),
    ("295000000104", "KEY-ENG", "Engraved brass keyring", "9.95", [("Engraving", ["J + M", "Home", "2026"])]),
    ("295000000105", "MUG-ENAM", "Enamel camping mug", "11.00", [("Colour", ["Red", "Green"])]),
]
# Inventory API items (weight, images) for the SKUs the seller manages there; the camera was
# listed in Seller Hub, so the Inventory API does not know it.
INVENTORY = {
    "CASE-PHN": (0.09, "KILOGRAM"),
    "TEE-VINT": (7, "OUNCE"),
    "KEY-ENG": (40, "GRAM"),
    "MUG-ENAM": (0.6, "POUND"),
}
GIFT_CARD = ("295000000199", "", "eBay digital gift card", "25.00", [])
NOTES = [
    "",
    "",
    "",
    "Please ring the bell, the buzzer is broken",
    "Gift - no prices in the parcel please",
    "Leave with the neighbour at number 12",
]
PROMOTIONS = [("5000101", "10% off 2 or more items"), ("5000102", "Coupon SPRING5: 5.00 off")]


def ensure_inventory(store: SandboxStore) -> None:
    for legacy_id, sku, title, _price, variations in CATALOGUE:
        if sku not in INVENTORY:
            continue
        value, unit = INVENTORY[sku]
        SandboxProduct.objects.get_or_create(
            store=store,
            external_id=sku,
            defaults={
                "data": {
                    "sku": sku,
                    "condition": "NEW",
                    "locale": "en_US",
                    "availability": {"shipToLocationAvailability": {"quantity": 25}},
                    "packageWeightAndSize": {
                        "weight": {"value": value, "unit": unit},
                        "packageType": "PACKAGE_THICK_ENVELOPE",
                    },
                    "product": {
                        "title": title,
                        "aspects": {name: values for name, values in variations},
                        "imageUrls": [images.url("ebay", f"g/{legacy_id}/s-l500.jpg")],
                    },
                }
            },
        )


def _amount(value: float, currency: str) -> dict:
    return {"value": f"{value:.2f}", "currency": currency}


def _order_id(store: SandboxStore) -> str:
    digits = f"{(store.next_id() * 7919 + 10**11) % 10**12:012d}"  # a bijection: unique per store
    return f"{digits[:2]}-{digits[2:7]}-{digits[7:]}"


def make_order(store: SandboxStore, *, kind: str = "ok", created: int | None = None, rng=random) -> dict:
    """kind: ok | unpaid | shipped | cancelled | no_address (collect in store) | digital (gift card only)"""
    country = rng.choice(list(SITES))
    locale, currency, marketplace, services = SITES[country]
    fake = Faker(locale)
    fake.seed_instance(rng.randint(0, 10**9))
    created = created or int(time.time()) - rng.randint(60, 3 * 86400)
    order_id = _order_id(store)
    picks = [GIFT_CARD] if kind == "digital" else rng.sample(CATALOGUE, rng.randint(1, 3))
    carrier, service = rng.choice(services)
    lines, subtotal, discount = [], 0.0, 0.0
    for legacy_id, sku, title, price, variations in picks:
        quantity = 1 if kind == "digital" else rng.randint(1, 3)
        cost = float(price) * quantity
        promotions = []
        if kind != "digital" and rng.random() < 0.2:
            promotion_id, description = rng.choice(PROMOTIONS)
            off = round(cost * 0.1, 2)
            promotions.append(
                {
                    "promotionId": promotion_id,
                    "description": description,
                    "discountAmount": _amount(off, currency),
                }
            )
            discount += off
        subtotal += cost
        line = {
            "lineItemId": str(10_000_000_000_000 + store.next_id()),
            "legacyItemId": legacy_id,
            "legacyVariationId": str(400_000_000_000 + rng.randint(0, 999)) if variations else None,
            "sku": sku,
            "title": title,
            "lineItemCost": _amount(cost, currency),
            "quantity": quantity,
            "soldFormat": "FIXED_PRICE",
            "listingMarketplaceId": marketplace,
            "purchaseMarketplaceId": marketplace,
            "lineItemFulfillmentStatus": "NOT_STARTED",
            "total": _amount(cost, currency),
            "deliveryCost": {"shippingCost": _amount(0, currency)},
            "appliedPromotions": promotions,
            "taxes": [],
            "properties": {"buyerProtection": True},
            "lineItemFulfillmentInstructions": {
                "minEstimatedDeliveryDate": iso(created + 2 * 86400),
                "maxEstimatedDeliveryDate": iso(created + 5 * 86400),
                "shipByDate": iso(created + 2 * 86400),
                "guaranteedDelivery": False,
            },
            "variationAspects": [{"name": name, "value": rng.choice(values)} for name, values in variations],
        }
        if line["legacyVariationId"] is None:
            del line["legacyVariationId"]
        if kind == "digital":
            line["giftDetails"] = {
                "message": "Happy birthday!",
                "recipientEmail": fake.email(),
                "senderName": fake.first_name(),
            }
        lines.append(line)
    delivery = 0.0 if kind == "digital" else rng.choice([0.0, 3.95, 4.99])
    total = subtotal - discount + delivery
    username = f"{fake.user_name()}_{rng.randint(10, 99)}"
    name = fake.name()
    ship_to = {
        "fullName": name,
        "email": rng.choice([fake.email(), f"{username}@members.ebay.com"]),
        "primaryPhone": {"phoneNumber": fake.phone_number()},
        "contactAddress": {
            "addressLine1": fake.street_address(),
            "city": fake.city(),
            "stateOrProvince": fake.state_abbr()
            if hasattr(fake, "state_abbr") and country in ("US", "AU")
            else "",
            "postalCode": fake.postcode(),
            "countryCode": country,
        },
    }
    if rng.random() < 0.2:
        ship_to["contactAddress"]["addressLine2"] = "Apt 4"
    if rng.random() < 0.1:
        ship_to["companyName"] = fake.company()
    instruction = {
        "fulfillmentInstructionsType": "SHIP_TO",
        "minEstimatedDeliveryDate": iso(created + 2 * 86400),
        "maxEstimatedDeliveryDate": iso(created + 5 * 86400),
        "ebaySupportedFulfillment": False,
        "shippingStep": {"shipTo": ship_to, "shippingCarrierCode": carrier, "shippingServiceCode": service},
    }
    if kind == "no_address":  # In-Store Pickup: the buyer collects, there is nothing to ship to
        instruction = {
            "fulfillmentInstructionsType": "PREPARE_FOR_PICKUP",
            "ebaySupportedFulfillment": False,
            "pickupStep": {"merchantLocationKey": "shop-front"},
        }
    elif kind == "digital":
        instruction["fulfillmentInstructionsType"] = "DIGITAL"
    paid = kind != "unpaid"
    order = {
        "orderId": order_id,
        "legacyOrderId": f"{legacy_order(order_id)}",
        "creationDate": iso(created),
        "lastModifiedDate": iso(created + 60),
        "orderFulfillmentStatus": "NOT_STARTED",
        "orderPaymentStatus": "PAID" if paid else "PENDING",
        "sellerId": store.key,
        "buyer": {
            "username": username,
            "taxAddress": {"postalCode": ship_to["contactAddress"]["postalCode"], "countryCode": country},
        },
        "pricingSummary": {
            "priceSubtotal": _amount(subtotal, currency),
            "deliveryCost": _amount(delivery, currency),
            "total": _amount(total, currency),
        },
        "cancelStatus": {"cancelState": "NONE_REQUESTED", "cancelRequests": []},
        "paymentSummary": {
            "totalDueSeller": _amount(total * 0.87, currency),
            "refunds": [],
            "payments": [
                {
                    "paymentMethod": rng.choice(["EBAY", "EBAY", "EBAY", "PAYPAL"]),
                    "paymentReferenceId": str(rng.randint(10**15, 10**16)),
                    "paymentDate": iso(created + 30) if paid else None,
                    "amount": _amount(total, currency),
                    "paymentStatus": "PAID" if paid else "PENDING",
                }
            ],
        },
        "fulfillmentStartInstructions": [instruction],
        "fulfillmentHrefs": [],
        "lineItems": lines,
        "salesRecordReference": str(store.counter),
        "totalFeeBasisAmount": _amount(total, currency),
        "totalMarketplaceFee": _amount(total * 0.13, currency),
    }
    if not paid:
        del order["paymentSummary"]["payments"][0]["paymentDate"]
    if discount:
        order["pricingSummary"]["priceDiscountSubtotal"] = _amount(-discount, currency)
    note = rng.choice(NOTES)
    if note:
        order["buyerCheckoutNotes"] = note
    if kind == "cancelled":
        order["cancelStatus"] = {
            "cancelState": "CANCELED",
            "cancelledDate": iso(created + 600),
            "cancelRequests": [
                {
                    "cancelCompletedDate": iso(created + 600),
                    "cancelInitiator": "BUYER",
                    "cancelReason": "BUYER_ASKED_CANCEL",
                    "cancelRequestedDate": iso(created + 300),
                    "cancelRequestId": str(5_000_000_000 + store.next_id()),
                    "cancelRequestState": "COMPLETED",
                }
            ],
        }
        order["orderPaymentStatus"] = "FULLY_REFUNDED"
    return order


def legacy_order(order_id: str) -> str:
    return f"1{order_id.replace('-', '')[:11]}-{order_id[-5:]}"


def add_order(store: SandboxStore, order: dict) -> SandboxOrder:
    created = int(_ts(order["creationDate"]))
    return SandboxOrder.objects.create(
        store=store,
        external_id=order["orderId"],
        data=order,
        status=order["orderFulfillmentStatus"],
        created_ts=created,
        updated_ts=int(_ts(order.get("lastModifiedDate") or order["creationDate"])),
    )


def _ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def generate(
    store: SandboxStore, count: int, *, mix: bool = True, seed: int | None = None
) -> list[SandboxOrder]:
    """`count` orders; with `mix`, about one in five is unpaid, shipped, cancelled or collected in store."""
    rng = random.Random(seed)
    ensure_inventory(store)
    kinds = ["unpaid", "shipped", "cancelled", "no_address"]
    made = []
    for i in range(count):
        kind = kinds[i // 5 % len(kinds)] if mix and i % 5 == 4 else "ok"
        order = add_order(store, make_order(store, kind="ok" if kind == "shipped" else kind, rng=rng))
        if kind == "shipped":
            carrier = order.data["fulfillmentStartInstructions"][0]["shippingStep"]["shippingCarrierCode"]
            ship(order, tracking_number=f"9400{rng.randint(10**17, 10**18 - 1)}", carrier=carrier)
        made.append(order)
    return made
