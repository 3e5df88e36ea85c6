"""Shopify Admin REST JSON <-> Shipdesk dataclasses, without HTTP.

Kept apart from the client (`shopify.py`) so each shape can be read and tested on its own: the
order we read, the product facts `enrich` caches, and the bodies of fulfillments, fulfillment
requests and cancellations.

Statuses. "Shipped" means anything fulfilled: a partially fulfilled order is being shipped
from Shopify already, and Shipdesk does not split orders (this matches the backfill's
`fulfillment_status=unshipped`, which excludes partial ones). Shopify has no custom order
statuses; merchants use tags. So the remote status is `<financial_status>/<fulfillment_status>`
(e.g. `paid/unfulfilled`), or `cancelled`, unless the order carries a tag written
`status:<name>` (e.g. `status:awaiting-stock`): that tag is the status staff map in the
channel's status table.

There is no gift flag: the gift message is the `gift_message` (or "Gift message"/"Gift note")
cart attribute that gift-wrap themes and apps write; other cart attributes join the buyer's
note. The merchant's tags go to the internal note."""

from __future__ import annotations

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

PAID = {"paid", "partially_refunded"}  # "authorized" is not captured yet; "partially_paid" is not paid
GIFT_ATTRIBUTES = {"gift_message", "gift message", "gift-message", "gift note", "gift_note"}
CANCEL_REASONS = {"customer", "inventory", "fraud", "declined", "staff", "other"}
VARIANT_IMAGE = "shopify-variant:"  # placeholder until enrich() swaps in the product's image
REQUESTED = ("submitted", "accepted")  # a fulfillment order already with a fulfillment service


def money(value) -> Decimal:
    return Decimal(str(value or "0")).quantize(Decimal("0.01"))


def when(value: str | None) -> datetime:
    """Shopify writes times in the shop's zone (`2026-11-20T10:15:00-05:00`); ours are UTC."""
    if not value:
        raise ValueError("missing timestamp")
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def status_tag(tags: str) -> str:
    for tag in (tags or "").split(","):
        tag = tag.strip()
        if tag.lower().startswith("status:") and tag[7:].strip():
            return "status:" + tag[7:].strip()
    return ""


# -- reading


def parse_line(li: dict) -> RemoteLine:
    options = {"Variant": li["variant_title"]} if li.get("variant_title") else {}
    # Line item properties are the buyer's options (engraving…); names starting "_" are private.
    options.update(
        {
            str(p.get("name")): str(p.get("value") or "")
            for p in li.get("properties") or []
            if p.get("name") and not str(p["name"]).startswith("_")
        }
    )
    grams = li.get("grams")
    return RemoteLine(
        external_id=str(li["id"]),
        sku=li.get("sku") or "",
        title=li.get("title") or li.get("name") or "",
        quantity=int(li.get("quantity") or 1),
        unit_price=money(li.get("price")),
        options=options,
        weight_g=int(grams) if grams else None,
        image_url=f"{VARIANT_IMAGE}{li['variant_id']}"
        if li.get("variant_id") and li.get("product_id")
        else "",
        is_physical=bool(li.get("requires_shipping", True)),
        stock_location=((li.get("origin_location") or {}).get("name") or ""),
        listing_id=str(li.get("product_id") or ""),
    )


def parse_order(o: dict) -> RemoteOrder:
    financial = (o.get("financial_status") or "pending").lower()
    fulfilment = (o.get("fulfillment_status") or "").lower()
    cancelled = bool(o.get("cancelled_at"))
    status = (
        "cancelled"
        if cancelled
        else (status_tag(o.get("tags") or "") or f"{financial}/{fulfilment or 'unfulfilled'}")
    )
    a = o.get("shipping_address") or None
    customer = o.get("customer") or {}
    address = None
    if a:
        address = RemoteAddress(
            name=a.get("name") or " ".join(filter(None, [a.get("first_name"), a.get("last_name")])),
            company=a.get("company") or "",
            line1=a.get("address1") or "",
            line2=a.get("address2") or "",
            city=a.get("city") or "",
            state=a.get("province_code") or a.get("province") or "",
            postal_code=a.get("zip") or "",
            country=(a.get("country_code") or "").upper(),
            phone=a.get("phone") or "",
        )
    gift_message, extra_notes, is_gift = "", [], False
    for attribute in o.get("note_attributes") or []:
        name, value = str(attribute.get("name") or ""), str(attribute.get("value") or "")
        if name.strip().lower() in GIFT_ATTRIBUTES:
            gift_message, is_gift = value, is_gift or bool(value)
        elif name.strip().lower() in ("gift", "is_gift", "gift_wrap", "gift wrap"):
            is_gift = is_gift or value.strip().lower() in ("1", "true", "yes", "on")
        elif name and not name.startswith("_"):
            extra_notes.append(f"{name}: {value}")
    lines = [parse_line(li) for li in o.get("line_items") or []]
    total_weight = o.get("total_weight")
    tags = (o.get("tags") or "").strip()
    billing = o.get("billing_address") or {}
    return RemoteOrder(
        external_id=str(o["id"]),
        order_number=o.get("name") or str(o.get("order_number") or o["id"]),
        remote_status=status,
        needs_mapping=status.startswith("status:"),
        is_paid=financial in PAID,
        is_shipped=fulfilment in ("fulfilled", "partial", "shipped"),
        is_cancelled=cancelled,
        created_at=when(o.get("created_at")),
        updated_at=when(o.get("updated_at") or o.get("created_at")),
        currency=o.get("currency") or "",
        total=money(o.get("total_price")),
        lines=lines,
        address=address,
        customer_name=(address.name if address else "")
        or " ".join(filter(None, [customer.get("first_name"), customer.get("last_name")])),
        email=o.get("email") or o.get("contact_email") or customer.get("email") or "",
        phone=o.get("phone") or customer.get("phone") or (a or {}).get("phone") or billing.get("phone") or "",
        requested_service=next(
            (s.get("title") or s.get("code") or "" for s in o.get("shipping_lines") or []), ""
        ),
        payment_method=", ".join(o.get("payment_gateway_names") or []) or o.get("gateway") or "",
        discount_total=money(o.get("total_discounts")),
        coupon_codes=[d["code"] for d in o.get("discount_codes") or [] if d.get("code")],
        is_gift=is_gift,
        gift_message=gift_message,
        customer_note="\n".join(filter(None, [o.get("note") or "", *extra_notes])),
        internal_note=f"Tags: {tags}" if tags else "",
        total_weight_g=int(total_weight)
        if total_weight
        else (sum(ln.weight_g * ln.quantity for ln in lines if ln.is_physical and ln.weight_g) or None),
        tracking=[
            RemoteTracking(tracking_number=number, carrier=f.get("tracking_company") or "")
            for f in o.get("fulfillments") or []
            if f.get("status") in (None, "success", "open", "pending")
            for number in (
                f.get("tracking_numbers") or ([f["tracking_number"]] if f.get("tracking_number") else [])
            )
        ],
    )


def order_ids(raw: dict) -> tuple[str, str]:
    """(external id, order number) of an order that would not parse, for the skip list."""
    oid = str(raw.get("id", "?"))
    return oid, str(raw.get("name") or oid)


def product_facts(product: dict) -> dict:
    """What `enrich` keeps of a product: its image, and each variant's image and named options."""
    images = {str(i.get("id")): i.get("src") or "" for i in product.get("images") or []}
    names = [o.get("name") or f"Option {n + 1}" for n, o in enumerate(product.get("options") or [])]
    return {
        "image": (product.get("image") or {}).get("src") or "",
        "variants": {
            str(v.get("id")): {
                "image": images.get(str(v.get("image_id")), ""),
                "options": {
                    name: v.get(f"option{n + 1}")
                    for n, name in enumerate(names)
                    if v.get(f"option{n + 1}") and v.get(f"option{n + 1}") != "Default Title"
                },
            }
            for v in product.get("variants") or []
        },
    }


# -- writing


def fulfillment_groups(fulfillment_orders: list[dict], lines: list[tuple[str, int]]) -> dict[str, list[dict]]:
    """`line_items_by_fulfillment_order` entries for the open fulfillment orders holding `lines`
    (all their lines when `lines` is empty), grouped by assigned location."""
    wanted = {str(line_id): int(quantity) for line_id, quantity in lines}
    by_location: dict[str, list[dict]] = {}
    for fo in fulfillment_orders:
        if fo.get("status") not in ("open", "in_progress"):
            continue
        if "create_fulfillment" not in (fo.get("supported_actions") or ["create_fulfillment"]):
            continue
        group: dict = {"fulfillment_order_id": fo["id"]}
        if wanted:
            items = [
                {
                    "id": li["id"],
                    "quantity": min(
                        wanted[str(li.get("line_item_id"))], int(li.get("fulfillable_quantity") or 0)
                    ),
                }
                for li in fo.get("line_items") or []
                if str(li.get("line_item_id")) in wanted and int(li.get("fulfillable_quantity") or 0) > 0
            ]
            if not items:
                continue
            group["fulfillment_order_line_items"] = items
        by_location.setdefault(str(fo.get("assigned_location_id")), []).append(group)
    return by_location


def fulfillment_body(groups: list[dict], fulfilment: RemoteFulfilment, *, company: str) -> dict:
    """`POST /fulfillments.json` for one location's groups; `company` is the carrier in
    Shopify's vocabulary."""
    spec: dict = {"notify_customer": bool(fulfilment.notify_customer)}
    if fulfilment.tracking_number:
        info = {"number": fulfilment.tracking_number}
        if fulfilment.carrier:
            info["company"] = company
        if fulfilment.tracking_url:
            info["url"] = fulfilment.tracking_url
        spec["tracking_info"] = info
    if fulfilment.note:
        spec["message"] = fulfilment.note
    return {"fulfillment": {"line_items_by_fulfillment_order": groups, **spec}}


def fulfillment_id(answer: dict | None) -> str:
    return str(((answer or {}).get("fulfillment") or {}).get("id", ""))


def successful_fulfillment(order: dict, tracking_number: str) -> dict | None:
    """The order's successful fulfillment carrying `tracking_number` (any, when it is empty)."""
    for f in order.get("fulfillments") or []:
        numbers = f.get("tracking_numbers") or [f.get("tracking_number")]
        if f.get("status") == "success" and (not tracking_number or tracking_number in numbers):
            return f
    return None


def fulfillment_requests(
    fulfillment_orders: list[dict], lines: list[tuple[str, int]] | None, *, message: str
) -> Iterator[tuple[str, dict]]:
    """What to ask of each live fulfillment order holding `lines` (all lines when None):
    ("already", entry) for one a fulfillment service has been asked for already (its lines are
    not asked for again), ("own", entry) for lines at one of the merchant's own locations (which
    cannot be requested), ("request", entry) with the fulfillment order's id, location and the
    `fulfillment_request` body to send. A generator, so the caller sends each request before
    the next fulfillment order is read."""
    wanted = {str(line_id): int(quantity) for line_id, quantity in lines or []}
    live = [fo for fo in fulfillment_orders if fo.get("status") in ("open", "in_progress")]
    # Fulfillment orders already requested come first, so their lines leave `wanted`.
    live.sort(key=lambda fo: fo.get("request_status") not in REQUESTED)
    for fo in live:
        items = [
            li
            for li in fo.get("line_items") or []
            if (not wanted or wanted.get(str(li.get("line_item_id")), 0) > 0)
            and int(li.get("fulfillable_quantity") or 0) > 0
        ]
        if not items:
            continue
        where = (fo.get("assigned_location") or {}).get("name") or str(fo.get("assigned_location_id"))
        if fo.get("request_status") in REQUESTED:
            yield "already", {"fulfillment_order_id": fo["id"], "location": where,
                              "request_status": fo["request_status"]}
            for li in items:
                if wanted:
                    wanted[str(li["line_item_id"])] -= int(li["fulfillable_quantity"])
            continue
        if "request_fulfillment" not in (fo.get("supported_actions") or []):
            yield "own", {"location": where, "line_items": [str(li.get("line_item_id")) for li in items]}
            continue
        request: dict = {"message": message}
        if wanted:
            request["fulfillment_order_line_items"] = [
                {"id": li["id"],
                 "quantity": min(wanted[str(li["line_item_id"])], int(li["fulfillable_quantity"]))}
                for li in items
            ]
        yield "request", {"fulfillment_order_id": fo["id"], "location": where, "request": request}


def requested_entry(answer: dict | None, planned: dict) -> dict:
    """What `mark_in_progress` reports of one fulfillment request Shopify answered."""
    submitted = (answer or {}).get("submitted_fulfillment_order") or {}
    return {
        "fulfillment_order_id": submitted.get("id", planned["fulfillment_order_id"]),
        "location": planned["location"],
        "request_status": submitted.get("request_status", ""),
        "line_items": planned["request"].get("fulfillment_order_line_items", "all"),
    }


def cancel_body(reason: str) -> dict:
    return {"reason": reason if reason in CANCEL_REASONS else "other", "email": False}
