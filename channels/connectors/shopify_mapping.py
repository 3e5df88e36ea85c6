"""Shopify Admin REST JSON <-> Shipdesk dataclasses, without HTTP.

Kept apart from the client (`shopify.py`) so each shape can be read and tested on its own: the
order we read, the product facts `enrich` caches, and the bodies of fulfillments, fulfillment
requests and cancellations.

Statuses. "Shipped" means anything fulfilled: an order partially fulfilled on Shopify is being
shipped from there already (this matches the backfill's `fulfillment_status=unshipped`, which
excludes partial ones); the tracking of Shipdesk's own parcels, read back, is recognised as
ours (orders.services.ship_from_channel). Shopify has no custom order
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
    """What `enrich` keeps of a product: its image, and each variant's image, named options and
    inventory item id (customs data lives on the inventory item: `add_customs`)."""
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
                **({"inventory_item_id": str(v["inventory_item_id"])} if v.get("inventory_item_id") else {}),
            }
            for v in product.get("variants") or []
        },
    }


def add_customs(facts: dict, inventory_items: list[dict]) -> dict:
    """Each variant's HS code and country of origin, from `GET inventory_items.json?ids=…`
    (`harmonized_system_code`, `country_code_of_origin`; either may be null)."""
    by_id = {str(item.get("id")): item for item in inventory_items or [] if isinstance(item, dict)}
    for variant in (facts.get("variants") or {}).values():
        item = by_id.get(variant.get("inventory_item_id", ""))
        if item is None:
            continue
        variant["hs_code"] = "".join(
            ch for ch in str(item.get("harmonized_system_code") or "") if ch.isdigit()
        )
        variant["origin_country"] = str(item.get("country_code_of_origin") or "").strip().upper()
    return facts


# -- writing


#: `delivery_method.method_type` of fulfillment orders a carrier delivers. Never the others: a
#: gift card or digital item (`none`), a pickup in store (`pick_up`), a local delivery (`local`),
#: a point of sale (`retail`): naming them would tell Shopify they left with this parcel.
SHIPPED_METHODS = {"shipping", "pickup_point"}
LIVE_FULFILLMENT = ("success", "open", "pending")  # a fulfillment that counts (not cancelled, error, failure)


def is_shipped_by_carrier(fo: dict) -> bool:
    method = ((fo.get("delivery_method") or {}).get("method_type") or "shipping").lower()
    return method in SHIPPED_METHODS


def fulfillment_groups(
    fulfillment_orders: list[dict], lines: list[tuple[str, int]]
) -> tuple[dict[str, list[dict]], dict[str, int]]:
    """(`line_items_by_fulfillment_order` entries grouped by assigned location, what is left
    over): the open fulfillment orders a carrier delivers that hold `lines` (all their lines
    when `lines` is empty). A line whose quantity Shopify spreads over several fulfillment
    orders takes from each only what is still wanted; a quantity no open fulfillment order
    holds is left over (line id: quantity), never sent."""
    wanted = {}
    for line_id, quantity in lines:
        wanted[str(line_id)] = wanted.get(str(line_id), 0) + int(quantity)
    by_location: dict[str, list[dict]] = {}
    for fo in fulfillment_orders:
        if fo.get("status") not in ("open", "in_progress") or not is_shipped_by_carrier(fo):
            continue
        if "create_fulfillment" not in (fo.get("supported_actions") or ["create_fulfillment"]):
            continue
        group: dict = {"fulfillment_order_id": fo["id"]}
        if wanted:
            items = []
            for li in fo.get("line_items") or []:
                line_id, open_quantity = str(li.get("line_item_id")), int(li.get("fulfillable_quantity") or 0)
                quantity = min(wanted.get(line_id, 0), open_quantity)
                if quantity > 0:
                    items.append({"id": li["id"], "quantity": quantity})
                    wanted[line_id] -= quantity
            if not items:
                continue
            group["fulfillment_order_line_items"] = items
        by_location.setdefault(str(fo.get("assigned_location_id")), []).append(group)
    return by_location, {line_id: quantity for line_id, quantity in wanted.items() if quantity > 0}


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


def update_tracking_body(fulfilment: RemoteFulfilment, *, company: str) -> dict:
    """`POST /fulfillments/{id}/update_tracking.json`: the new tracking on a sent fulfillment."""
    info = {"number": fulfilment.tracking_number}
    if company:
        info["company"] = company
    if fulfilment.tracking_url:
        info["url"] = fulfilment.tracking_url
    return {"fulfillment": {"tracking_info": info, "notify_customer": bool(fulfilment.notify_customer)}}


def same_lines(a: list[tuple[str, int]], b: list[tuple[str, int]]) -> bool:
    def totals(lines):
        out: dict[str, int] = {}
        for line_id, quantity in lines:
            out[str(line_id)] = out.get(str(line_id), 0) + int(quantity)
        return out

    return totals(a) == totals(b)


def matching_fulfillments(fulfillments: list[dict], fulfilment: RemoteFulfilment) -> list[dict]:
    """The order's live fulfillments that are this one: carrying its tracking number, or, without
    tracking, untracked ones holding exactly its lines."""
    found = []
    for f in fulfillments:
        if f.get("status") not in LIVE_FULFILLMENT:
            continue
        numbers = [n for n in (f.get("tracking_numbers") or [f.get("tracking_number")]) if n]
        if fulfilment.tracking_number:
            if fulfilment.tracking_number in numbers:
                found.append(f)
        elif not numbers and same_lines(
            [(str(li.get("id")), int(li.get("quantity") or 0)) for li in f.get("line_items") or []],
            fulfilment.lines,
        ):
            found.append(f)
    return found


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
    live = [
        fo
        for fo in fulfillment_orders
        if fo.get("status") in ("open", "in_progress") and is_shipped_by_carrier(fo)
    ]
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
            yield (
                "already",
                {"fulfillment_order_id": fo["id"], "location": where, "request_status": fo["request_status"]},
            )
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
                {
                    "id": li["id"],
                    "quantity": min(wanted[str(li["line_item_id"])], int(li["fulfillable_quantity"])),
                }
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
