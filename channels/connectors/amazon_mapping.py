"""Amazon Selling Partner API JSON <-> Shipdesk dataclasses, without HTTP.

Kept apart from the client (`amazon.py`) so each shape can be read and tested on its own: the
Orders 2026-01-01 order we read, the facts `enrich` caches from v0 `getOrders` and the Catalog
Items API, and the v0 `confirmShipment` body. Gift flags come from the new API's `giftOption`
objects, not v0's string "true"/"false" `IsGift`."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

from channels.connectors.base import (
    RemoteAddress,
    RemoteFulfilment,
    RemoteLine,
    RemoteOrder,
    RemoteTracking,
)

PAID = {"UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED"}
CANCELLED = {"CANCELLED", "UNFULFILLABLE"}
GRAMS = {"GRAMS": 1, "KILOGRAMS": 1000, "MILLIGRAMS": 0.001, "OUNCES": 28.349523125, "POUNDS": 453.59237}
# Catalog Items spells its units in lower case.
CATALOG_GRAMS = {"grams": 1, "kilograms": 1000, "ounces": 28.349523125, "pounds": 453.59237}


def iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def money(value: dict | None) -> Decimal:
    """Amazon amounts are strings: {"amount": "19.99", "currencyCode": "USD"}."""
    if not value or value.get("amount") in (None, ""):
        return Decimal("0")
    return Decimal(str(value["amount"])).quantize(Decimal("0.01"))


def grams(measurement: dict | None) -> int | None:
    """Items sold by weight carry their measured weight; other measurements are not weights."""
    if not measurement or measurement.get("unit") not in GRAMS or measurement.get("value") in (None, ""):
        return None
    return round(float(measurement["value"]) * GRAMS[measurement["unit"]])


# -- reading


def parse_order(o: dict) -> RemoteOrder:
    fulfilment = o.get("fulfillment") or {}
    status = fulfilment.get("fulfillmentStatus") or ""
    lines, promotions, gift_messages, cancel_requests = [], [], [], []
    is_gift = False
    for item in o["orderItems"]:
        product = item.get("product") or {}
        quantity = int(item["quantityOrdered"])
        options = {}
        custom = (product.get("customization") or {}).get("customizedUrl")
        if custom:  # engraving and other buyer customisation: Amazon keeps it behind this page
            options["Customization"] = custom
        lines.append(
            RemoteLine(
                external_id=str(item["orderItemId"]),
                sku=product.get("sellerSku") or "",
                title=product.get("title") or "",
                quantity=quantity,
                unit_price=money((product.get("price") or {}).get("unitPrice")),
                options=options,
                weight_g=grams(item.get("measurement")),
                listing_id=product.get("asin") or "",
            )
        )
        for breakdown in (item.get("promotion") or {}).get("breakdowns") or []:
            if breakdown.get("promotionId") and breakdown["promotionId"] not in promotions:
                promotions.append(breakdown["promotionId"])
        gift = ((item.get("fulfillment") or {}).get("packing") or {}).get("giftOption")
        if gift is not None:
            is_gift = True
            if gift.get("giftMessage") and gift["giftMessage"] not in gift_messages:
                gift_messages.append(gift["giftMessage"])
        request = (item.get("cancellation") or {}).get("cancellationRequest")
        if request and status not in CANCELLED:
            cancel_requests.append(request.get("cancelReason") or "no reason given")

    recipient = o.get("recipient") or {}
    a = recipient.get("deliveryAddress")
    address = None
    if a:
        address = RemoteAddress(
            name=a.get("name") or "",
            company=a.get("companyName") or "",
            line1=a.get("addressLine1") or "",
            line2=", ".join(x for x in (a.get("addressLine2"), a.get("addressLine3")) if x),
            city=a.get("city") or "",
            state=a.get("stateOrRegion") or "",
            postal_code=a.get("postalCode") or "",
            country=(a.get("countryCode") or "").upper(),
            phone=a.get("phone") or "",
        )
    preference = recipient.get("deliveryPreference") or {}
    note = "; ".join(
        x
        for x in (
            preference.get("addressInstruction") or "",
            f"Drop-off: {preference['dropOffLocation']}" if preference.get("dropOffLocation") else "",
        )
        if x
    )
    proceeds = o.get("proceeds") or {}
    discount = sum(
        (
            abs(money(b.get("subtotal")))
            for b in proceeds.get("breakdowns") or []
            if b.get("type") == "DISCOUNT"
        ),
        Decimal("0"),
    )
    payments = [p.get("paymentMethod") for p in (o.get("payment") or {}).get("paymentExecutions") or []]
    buyer = o.get("buyer") or {}
    grand = proceeds.get("grandTotal") or {}
    weights = [ln.weight_g * ln.quantity for ln in lines if ln.weight_g]
    # Orders 2026-01-01 `fulfillment.shipByWindow.latestDateTime` is v0's LatestShipDate.
    latest_ship = (fulfilment.get("shipByWindow") or {}).get("latestDateTime")
    return RemoteOrder(
        external_id=str(o["orderId"]),
        order_number=str(o["orderId"]),
        remote_status=status,
        is_paid=status in PAID,
        is_shipped=status == "SHIPPED",
        is_cancelled=status in CANCELLED,
        created_at=parse_time(o["createdTime"]),
        updated_at=parse_time(o.get("lastUpdatedTime") or o["createdTime"]),
        currency=grand.get("currencyCode") or "",
        total=money(grand),
        lines=lines,
        address=address,
        customer_name=buyer.get("buyerName") or (address.name if address else ""),
        email=buyer.get("buyerEmail") or "",
        phone=address.phone if address else "",
        # The category until v0's ShipServiceLevel replaces it (see `enrich`).
        requested_service=fulfilment.get("fulfillmentServiceLevel") or "",
        payment_method=", ".join(dict.fromkeys(p for p in payments if p)),
        discount_total=discount,
        coupon_codes=promotions,
        is_gift=is_gift,
        gift_message="\n".join(gift_messages),
        customer_note=note,
        internal_note="; ".join(f"Buyer asked to cancel: {r}" for r in dict.fromkeys(cancel_requests)),
        total_weight_g=sum(weights) if weights else None,
        tracking=[
            RemoteTracking(tracking_number=p["trackingNumber"], carrier=p.get("carrier") or "")
            for p in o.get("packages") or []
            if p.get("trackingNumber") and (p.get("packageStatus") or {}).get("status") != "CANCELLED"
        ],
        ship_by=parse_time(latest_ship) if latest_ship else None,
    )


def order_ids(raw: dict) -> tuple[str, str]:
    """(external id, order number) of an order that would not parse, for the skip list."""
    oid = str(raw.get("orderId", "?"))
    return oid, oid


def v0_facts(data: dict) -> Iterator[tuple[str | None, dict]]:
    """v0 getOrders' answer -> (AmazonOrderId, its ship service level and payment method) per order."""
    for v0 in (data.get("payload") or {}).get("Orders") or []:
        yield (
            v0.get("AmazonOrderId"),
            {
                "ship_service_level": v0.get("ShipServiceLevel") or "",
                "payment_method": ", ".join(v0.get("PaymentMethodDetails") or [])
                or v0.get("PaymentMethod")
                or "",
            },
        )


def catalog_facts(data: dict, marketplace_id: str) -> dict:
    """A Catalog Items answer -> the package (else item) weight and the main image, for our
    marketplace (else the first one listed)."""

    def ours(entries):
        return next(
            (e for e in entries or [] if e.get("marketplaceId") == marketplace_id), (entries or [{}])[0]
        )

    dims = ours(data.get("dimensions"))
    weight = (dims.get("package") or {}).get("weight") or (dims.get("item") or {}).get("weight") or {}
    weight_g = None
    if weight.get("value") and weight.get("unit") in CATALOG_GRAMS:
        weight_g = round(float(weight["value"]) * CATALOG_GRAMS[weight["unit"]])
    images = ours(data.get("images")).get("images") or []
    main = next((i for i in images if i.get("variant") == "MAIN"), images[0] if images else {})
    return {"weight_g": weight_g, "image_url": main.get("link") or ""}


# -- writing


def package_reference(reference: str) -> str:
    """Shipdesk's stable parcel reference as an Amazon `packageReferenceId` ("only positive
    numeric values", unique within the order): a 9-digit number derived from it, so the same
    parcel always names the same package, and never one of the small numbers Seller Central or
    another tool gives the packages it confirms (reusing one would overwrite that package)."""
    reference = (reference or "").strip()
    if not reference:
        return ""
    digest = hashlib.sha256(f"shipdesk-parcel:{reference}".encode()).hexdigest()
    return str(int(digest, 16) % 900_000_000 + 100_000_000)


def package_items(lines) -> list[dict]:
    """(order item id, quantity) pairs as `orderItems`, one entry per order item: quantities of an
    item named more than once in the parcel are summed."""
    totals: dict[str, int] = {}
    for external_id, quantity in lines or []:
        totals[str(external_id)] = totals.get(str(external_id), 0) + int(quantity)
    return [{"orderItemId": ext, "quantity": qty} for ext, qty in totals.items()]


def live_packages(order: dict) -> list[dict]:
    """The order's packages (2026-01-01, PACKAGES dataset) that Amazon has not cancelled."""
    return [
        p for p in order.get("packages") or [] if (p.get("packageStatus") or {}).get("status") != "CANCELLED"
    ]


def shipment_confirmation(
    order: dict | None,
    fulfilment: RemoteFulfilment,
    *,
    carrier_code: str,
    marketplace_id: str,
    reference: str = "",
) -> tuple[str, dict]:
    """The package reference and the v0 `confirmShipment` body for `fulfilment`.

    `reference` (a parcel's stable packageReferenceId) makes the call idempotent: sent again it
    edits the same package, and a relabel reuses the old parcel's to replace its package. Without
    one, `order` (2026-01-01 with FULFILLMENT and PACKAGES) decides: the package already holding
    this tracking number, else the next free number."""
    packages = (order or {}).get("packages") or []
    same = next((p for p in packages if p.get("trackingNumber") == fulfilment.tracking_number), None)
    if not reference:
        if same:
            reference = str(same["packageReferenceId"])
        else:
            numbers = [
                int(p["packageReferenceId"]) for p in packages if str(p.get("packageReferenceId")).isdigit()
            ]
            reference = str(max(numbers, default=0) + 1)
    if fulfilment.lines:
        items = package_items(fulfilment.lines)
    elif same:
        items = [
            {"orderItemId": i["orderItemId"], "quantity": i["quantity"]}
            for i in same.get("packageItems") or []
        ]
    else:  # a fulfilment recorded before parcels named their lines: whatever is left to ship
        items = []
        for item in (order or {}).get("orderItems") or []:
            left = (item.get("fulfillment") or {}).get("quantityUnfulfilled", item.get("quantityOrdered", 0))
            if left:
                items.append({"orderItemId": str(item["orderItemId"]), "quantity": int(left)})
    detail = {
        "packageReferenceId": reference,
        "carrierCode": carrier_code,
        "trackingNumber": fulfilment.tracking_number,
        "shipDate": iso(fulfilment.shipped_at or datetime.now(tz=UTC)),
        "orderItems": items,
    }
    if carrier_code == "Other":
        detail["carrierName"] = fulfilment.carrier or "Other"
    if fulfilment.service:
        detail["shippingMethod"] = fulfilment.service
    return reference, {"marketplaceId": marketplace_id, "packageDetail": detail}
