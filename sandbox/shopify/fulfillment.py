"""Fulfillment orders on the Shopify stand-in, and their endpoints: the fulfillment orders of an
order, `POST fulfillments.json` and fulfillment requests to a fulfillment service."""

from __future__ import annotations

import json
import time

from django.db import transaction
from django.views.decorators.csrf import csrf_exempt

from sandbox.models import SandboxOrder, SandboxStore
from sandbox.shopify.orders import _guarded_order, _order, iso, save, shipping_lines
from sandbox.shopify.plumbing import _answer, _error, _int, _post

FO_OFFSET = 10**12  # fulfillment order (and its line) ids: the order's (line's) id + this
FULFILLMENT_N0 = 4100  # fulfillment ids: the order's id + (this + its number in the order) × FO_OFFSET


# -- fulfillment orders
#
# One per location the lines are assigned to: the shop's own location for lines whose
# `fulfillment_service` is "manual", a fulfillment service's location otherwise (what a
# dropshipping supplier is on Shopify; `store.settings["fulfillment_services"]` names them:
# {handle: {"name", "location_id", "skus": [...], "reply": "accept" | "reject" | "none"}}).
# They are derived from the lines until something changes one (a fulfillment request, a
# split): then they are kept in `order.data["_fulfillment_orders"]`, never shown as an order
# field. Ids: the n-th fulfillment order of an order is `order id + n × FO_OFFSET`, its lines
# `line item id + n × FO_OFFSET`, so an id leads back to its order.


def _records(data: dict) -> list[dict]:
    if "_fulfillment_orders" in data:
        return data["_fulfillment_orders"]
    groups: dict[tuple[str, str], list[dict]] = {}
    for li in data.get("line_items") or []:
        # Lines a carrier delivers, per location; a gift card or digital item has a fulfillment
        # order of its own whose delivery method is "none" (nothing to ship).
        method = "shipping" if li.get("requires_shipping", True) else "none"
        groups.setdefault((li.get("fulfillment_service") or "manual", method), []).append(li)
    # The shop's own location first, shipped lines before the rest.
    keys = sorted(groups, key=lambda k: (k[1] != "shipping", k[0] != "manual", k[0]))
    return [
        {
            "n": n + 1,
            "handle": handle,
            "method_type": method,
            "request_status": "unsubmitted",
            "accepted": False,
            "merchant_requests": [],
            "lines": [
                {
                    "line_item_id": int(li["id"]),
                    "quantity": int(li["quantity"]),
                    "fulfillable_quantity": int(li.get("fulfillable_quantity", 0)),
                }
                for li in groups[(handle, method)]
            ],
        }
        for n, (handle, method) in enumerate(keys)
    ]


def _materialise(data: dict) -> list[dict]:
    if "_fulfillment_orders" not in data:
        data["_fulfillment_orders"] = json.loads(json.dumps(_records(data)))
    return data["_fulfillment_orders"]


def service_location(store: SandboxStore, handle: str) -> dict:
    own = location_of(store)
    if handle == "manual":
        return own
    service = (store.settings or {}).get("fulfillment_services", {}).get(handle, {})
    return {
        "id": int(service.get("location_id") or 64_000_100 + sum(handle.encode()) % 1000),
        "name": service.get("name") or handle.replace("-", " ").title(),
        "shop_id": own["shop_id"],
        "country_code": service.get("country_code", own.get("country_code", "GB")),
    }


def _status(data: dict, fo_record: dict) -> str:
    lines = fo_record["lines"]
    if data.get("cancelled_at"):
        return "cancelled"
    if sum(li["fulfillable_quantity"] for li in lines) == 0:
        return "closed"
    started = any(li["fulfillable_quantity"] < li["quantity"] for li in lines)
    return "in_progress" if fo_record.get("accepted") or started else "open"


def _actions(fo_record: dict, status: str) -> list[str]:
    if status not in ("open", "in_progress"):
        return []
    if fo_record["handle"] == "manual":
        return ["create_fulfillment", "move", "hold"]
    return {
        "submitted": ["cancel_fulfillment_order"],
        "accepted": ["create_fulfillment", "request_cancellation"],
    }.get(fo_record["request_status"], ["request_fulfillment", "create_fulfillment", "move"])


def _render(store: SandboxStore, data: dict, fo_record: dict) -> dict:
    n, status = fo_record["n"], _status(data, fo_record)
    location = service_location(store, fo_record["handle"])
    fo_id = int(data["id"]) + n * FO_OFFSET
    address = data.get("shipping_address") or {}
    by_id = {int(li["id"]): li for li in data.get("line_items") or []}
    return {
        "id": fo_id,
        "shop_id": location["shop_id"],
        "order_id": int(data["id"]),
        "assigned_location_id": location["id"],
        "request_status": fo_record["request_status"],
        "status": status,
        "fulfill_at": data.get("created_at"),
        "fulfill_by": None,
        "international_duties": None,
        "fulfillment_holds": [],
        "created_at": data.get("created_at"),
        "updated_at": data.get("updated_at"),
        "supported_actions": _actions(fo_record, status),
        "destination": {
            k: address.get(k)
            for k in (
                "first_name",
                "last_name",
                "company",
                "address1",
                "address2",
                "city",
                "province",
                "zip",
                "country",
                "phone",
            )
        }
        or None,
        "delivery_method": {"id": fo_id + 1, "method_type": fo_record.get("method_type", "shipping")},
        "assigned_location": {
            "location_id": location["id"],
            "name": location["name"],
            "country_code": location.get("country_code", "GB"),
        },
        "merchant_requests": list(fo_record.get("merchant_requests") or []),
        "line_items": [
            {
                "id": li["line_item_id"] + n * FO_OFFSET,
                "shop_id": location["shop_id"],
                "fulfillment_order_id": fo_id,
                "line_item_id": li["line_item_id"],
                "inventory_item_id": int(by_id.get(li["line_item_id"], {}).get("variant_id") or 0) + 1,
                "quantity": li["quantity"],
                "fulfillable_quantity": li["fulfillable_quantity"],
                "variant_id": by_id.get(li["line_item_id"], {}).get("variant_id"),
            }
            for li in fo_record["lines"]
        ],
    }


def fulfillment_orders(store: SandboxStore, data: dict) -> list[dict]:
    """The order's fulfillment orders as `GET orders/{id}/fulfillment_orders.json` shows them."""
    return [_render(store, data, fo_record) for fo_record in _records(data)]


def _take(data: dict, line_item_id: int, quantity: int, prefer: set[int]) -> list[list[int]]:
    """A fulfillment of `quantity` of a line comes off its fulfillment orders, the named ones
    first. Returns what came off which: [[n, line item id, quantity], …]."""
    taken_from = []
    records = sorted(_materialise(data), key=lambda r: int(data["id"]) + r["n"] * FO_OFFSET not in prefer)
    for fo_record in records:
        for li in fo_record["lines"]:
            if li["line_item_id"] == line_item_id and quantity > 0:
                taken = min(quantity, li["fulfillable_quantity"])
                if taken:
                    li["fulfillable_quantity"] -= taken
                    quantity -= taken
                    taken_from.append([fo_record["n"], line_item_id, taken])
    return taken_from


def location_of(store: SandboxStore) -> dict:
    return {
        "id": 64_000_001,
        "name": "Leeds warehouse",
        "shop_id": 1001,
        **(store.settings or {}).get("location", {}),
    }


def fulfil(
    store: SandboxStore,
    order: SandboxOrder,
    *,
    items: dict[int, int] | None = None,
    number: str = "",
    company: str = "",
    url: str = "",
    notify_customer: bool = False,
    fulfillment_order_ids: set[int] | None = None,
) -> dict:
    """Fulfil `items` ({line item id: quantity}; None = everything left) and return the fulfillment.
    Used by the POST view (which names the fulfillment orders) and by tests that ship an order
    "on Shopify"."""
    data = order.data
    now = int(time.time())
    shipped, taken = [], []
    # Named items may be any line (a gift card's fulfillment order too); "everything left" is
    # what a carrier delivers.
    candidates = (data.get("line_items") or []) if items is not None else shipping_lines(data)
    for li in candidates:
        quantity = int(li.get("fulfillable_quantity", 0)) if items is None else items.get(int(li["id"]), 0)
        if quantity <= 0:
            continue
        taken += _take(data, int(li["id"]), quantity, fulfillment_order_ids or set())
        li["fulfillable_quantity"] = int(li["fulfillable_quantity"]) - quantity
        li["fulfillment_status"] = "fulfilled" if li["fulfillable_quantity"] == 0 else "partial"
        shipped.append({**li, "quantity": quantity})
    fulfilments = data.setdefault("fulfillments", [])
    number_in_order = len(fulfilments) + 1
    fulfillment = {
        "id": fulfillment_id_for(data, number_in_order),
        "order_id": int(data["id"]),
        "status": "success",
        "created_at": iso(store, now),
        "updated_at": iso(store, now),
        "service": "manual",
        "location_id": location_of(store)["id"],
        "shipment_status": None,
        "name": f"{data['name']}.{number_in_order}",
        "tracking_company": company or None,
        "tracking_number": number or None,
        "tracking_numbers": [number] if number else [],
        "tracking_url": url or None,
        "tracking_urls": [url] if url else [],
        "line_items": shipped,
        "notify_customer": notify_customer,
    }
    fulfilments.append(fulfillment)
    # Which fulfillment order lines it took, so that cancelling it gives them back.
    data.setdefault("_fulfillment_takes", {})[str(fulfillment["id"])] = taken
    _settle_order_status(store, data, now)
    save(store, order)
    return fulfillment


def fulfillment_id_for(data: dict, number_in_order: int) -> int:
    """A fulfillment's id leads back to its order, as fulfillment order ids do (the order id plus
    a multiple of FO_OFFSET above any fulfillment order's)."""
    return int(data["id"]) + (FULFILLMENT_N0 + number_in_order) * FO_OFFSET


def _settle_order_status(store: SandboxStore, data: dict, now: int) -> None:
    lines = shipping_lines(data)
    left = sum(int(li["fulfillable_quantity"]) for li in lines)
    if left == 0:
        data["fulfillment_status"] = "fulfilled"
    elif any(int(li["fulfillable_quantity"]) < int(li["quantity"]) for li in lines):
        data["fulfillment_status"] = "partial"
    else:
        data["fulfillment_status"] = None
    if (
        left == 0
        and data.get("financial_status") == "paid"
        and (store.settings or {}).get("auto_archive", True)
    ):
        data["closed_at"] = iso(store, now)
    elif left and not data.get("cancelled_at"):
        data["closed_at"] = None


# -- views


def order_fulfillment_orders(request, version, order_id):
    early, store, fault, call_limit, found = _guarded_order(request, order_id)
    if early:
        return early
    return _answer({"fulfillment_orders": fulfillment_orders(store, found.data)}, fault, call_limit)


@csrf_exempt
def fulfillments(request, version):
    early, store, fault, call_limit, spec = _post(request, "fulfillment")
    if early:
        return early
    groups = spec.get("line_items_by_fulfillment_order")
    if not isinstance(groups, list) or not groups:
        return _error(422, {"line_items_by_fulfillment_order": ["must be present"]})
    if len(groups) > 1 and len({g.get("fulfillment_order_id") for g in groups}) != len(groups):
        return _error(422, ["Fulfillment orders must be unique."])
    tracking = spec.get("tracking_info") or {}
    if not isinstance(tracking, dict):
        return _error(400, {"tracking_info": "must be an object"})
    plan = []
    for group in groups:
        fo_id = _int(group.get("fulfillment_order_id"))
        target, fo = _fulfillment_order(store, fo_id)
        if fo is None:
            return _error(404, "Not Found")
        if fo["status"] not in ("open", "in_progress"):
            return _error(422, [f"Fulfillment order {fo_id} has an unfulfillable status= {fo['status']}."])
        by_id = {li["id"]: li for li in fo["line_items"]}
        requested = group.get("fulfillment_order_line_items")
        if requested is None:  # the whole fulfillment order
            requested = [
                {"id": i, "quantity": li["fulfillable_quantity"]}
                for i, li in by_id.items()
                if li["fulfillable_quantity"] > 0
            ]
        items: dict[int, int] = {}
        for item in requested:
            line = by_id.get(_int(item.get("id")))
            quantity = _int(item.get("quantity"), 0)
            if line is None or not 0 < quantity <= line["fulfillable_quantity"]:
                return _error(422, ["Invalid fulfillment order line item quantity requested."])
            items[line["line_item_id"]] = items.get(line["line_item_id"], 0) + quantity
        plan.append((target, fo_id, items))
    if len({t.pk for t, _, _ in plan}) > 1:
        return _error(422, ["All fulfillment orders must belong to the same order."])
    target, items = plan[0][0], {}
    for _, _, group_items in plan:
        for line_id, quantity in group_items.items():
            items[line_id] = items.get(line_id, 0) + quantity
    fulfillment = fulfil(
        store,
        target,
        items=items,
        number=str(tracking.get("number") or ""),
        company=str(tracking.get("company") or ""),
        url=str(tracking.get("url") or ""),
        notify_customer=bool(spec.get("notify_customer", False)),
        fulfillment_order_ids={fo_id for _, fo_id, _ in plan},
    )
    return _answer({"fulfillment": fulfillment}, fault, call_limit, status=201)


def _fulfillment_order(store: SandboxStore, fo_id: int | None) -> tuple[SandboxOrder | None, dict | None]:
    """The order a fulfillment order id belongs to, and that fulfillment order as shown."""
    if not fo_id or fo_id < FO_OFFSET:
        return None, None
    target = _order(store, fo_id % FO_OFFSET)
    fos = fulfillment_orders(store, target.data) if target else []
    return target, next((f for f in fos if f["id"] == fo_id), None)


@csrf_exempt
def fulfillment_request(request, version, fo_id):
    """`POST fulfillment_orders/{id}/fulfillment_request.json`: the merchant asks the fulfillment
    service holding the fulfillment order to fulfil some (or all) of its lines. Requested lines
    stay on this fulfillment order (request_status "submitted"); the rest move to a new,
    unsubmitted one. The service then answers as the store's settings say: "accept" (default:
    status in_progress, request_status accepted), "reject" or "none" (stays submitted)."""
    early, store, fault, call_limit, spec = _post(request, "fulfillment_request")
    if early:
        return early
    fo_id = int(fo_id)
    with transaction.atomic():
        target, fo = _fulfillment_order(store, fo_id)
        if target is None or fo is None:
            return _error(404, "Not Found")
        target = SandboxOrder.objects.select_for_update().get(pk=target.pk)
        fo = next(f for f in fulfillment_orders(store, target.data) if f["id"] == fo_id)
        if "request_fulfillment" not in fo["supported_actions"]:
            if fo["assigned_location_id"] == location_of(store)["id"]:
                why = "is not assigned to a fulfillment service location"
            else:
                why = f"cannot be requested (status={fo['status']}, request_status={fo['request_status']})"
            return _error(422, [f"Fulfillment order {fo_id} {why}."])
        by_id = {li["id"]: li for li in fo["line_items"]}
        requested = spec.get("fulfillment_order_line_items")
        wanted: dict[int, int] = {}
        if requested is None:
            wanted = {li["line_item_id"]: li["fulfillable_quantity"] for li in fo["line_items"]}
        elif not isinstance(requested, list) or not requested:
            return _error(422, {"fulfillment_order_line_items": ["must be a non-empty list"]})
        else:
            for item in requested:
                line = by_id.get(_int(item.get("id"))) if isinstance(item, dict) else None
                if line is None:
                    return _error(
                        422,
                        [
                            f"Fulfillment order line item {item.get('id') if isinstance(item, dict) else item} "
                            f"does not belong to fulfillment order {fo_id}."
                        ],
                    )
                quantity = _int(item.get("quantity"), 0)
                if line["line_item_id"] in wanted or not 0 < quantity <= line["fulfillable_quantity"]:
                    return _error(422, ["Invalid fulfillment order line item quantity requested."])
                wanted[line["line_item_id"]] = quantity
        data = target.data
        records = _materialise(data)
        current = next(r for r in records if r["n"] == fo_id // FO_OFFSET)
        original = _render(store, data, current)
        rest = [
            {
                **li,
                "quantity": li["fulfillable_quantity"] - wanted.get(li["line_item_id"], 0),
                "fulfillable_quantity": li["fulfillable_quantity"] - wanted.get(li["line_item_id"], 0),
            }
            for li in current["lines"]
        ]
        rest = [li for li in rest if li["quantity"] > 0]
        unsubmitted = None
        if rest:  # a partial request splits the fulfillment order
            split = {**current, "n": max(r["n"] for r in records) + 1, "lines": rest, "merchant_requests": []}
            records.append(split)
            current["lines"] = [
                {
                    **li,
                    "quantity": wanted[li["line_item_id"]],
                    "fulfillable_quantity": wanted[li["line_item_id"]],
                }
                for li in current["lines"]
                if li["line_item_id"] in wanted
            ]
            unsubmitted = _render(store, data, split)
        current["request_status"] = "submitted"
        current["merchant_requests"] = [
            *current.get("merchant_requests", []),
            {
                "message": str(spec.get("message") or ""),
                "request_options": {"notify_customer": False},
                "kind": "fulfillment_request",
                "sent_at": iso(store, time.time()),
            },
        ]
        submitted = _render(store, data, current)
        service = (store.settings or {}).get("fulfillment_services", {}).get(current["handle"], {})
        reply = service.get("reply", "accept")
        if reply == "accept":
            current["request_status"], current["accepted"] = "accepted", True
        elif reply == "reject":
            current["request_status"] = "rejected"
        save(store, target, touch=False)
    return _answer(
        {
            "original_fulfillment_order": original,
            "submitted_fulfillment_order": submitted,
            "unsubmitted_fulfillment_order": unsubmitted,
        },
        fault,
        call_limit,
    )
