"""Shopify Admin REST stand-in (see shared/api-facts.md §2), at
/sandbox/shopify/admin/api/<version>/… with the real paths below the version.

The store is the one whose `access_token` credential matches `X-Shopify-Access-Token` (on
Shopify the shop is the host name; here the token picks it). It keeps Shopify's habits: cursor
pagination through the `Link` header (`page_info` may travel only with `limit` and `fields`),
a leaky bucket per store (40 calls, 2 per second by default; `store.settings["bucket_size"]`
and `["leak_rate"]` change it) answered with 429 + `Retry-After` and the
`X-Shopify-Shop-Api-Call-Limit` header on every answer, fulfillment orders per location (the
shop's own and fulfillment services'), fulfillment requests to a fulfillment service
(`POST fulfillment_orders/{id}/fulfillment_request.json`), `POST fulfillments.json` and `POST orders/{id}/cancel.json`."""

from __future__ import annotations

import base64
import json
import math
import time
from datetime import UTC, datetime, timedelta, timezone

from django.db import transaction
from django.db.models import Q
from django.http import JsonResponse
from django.urls import re_path
from django.views.decorators.csrf import csrf_exempt

from sandbox.faults import fault_response, mangle, record, take_fault
from sandbox.models import SandboxOrder, SandboxProduct, SandboxStore

KIND = "shopify"
FO_OFFSET = 10**12  # fulfillment order (and its line) ids: the order's (line's) id + this
MAX_LIMIT = 250
PAGINATION_DOC = "See https://shopify.dev/api/usage/pagination-rest for more information."
UNPAID = ("pending", "authorized", "partially_paid")


# -- timestamps in the shop's time zone, as Shopify writes them


def shop_offset(store: SandboxStore) -> timezone:
    text = (store.settings or {}).get("utc_offset", "-04:00")
    sign = -1 if text.startswith("-") else 1
    hours, minutes = text.lstrip("+-").split(":")
    return timezone(sign * timedelta(hours=int(hours), minutes=int(minutes)))


def iso(store: SandboxStore, ts: int | float) -> str:
    return datetime.fromtimestamp(int(ts), shop_offset(store)).isoformat(timespec="seconds")


def parse_time(value: str) -> int | None:
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


# -- order state


def state_key(data: dict) -> str:
    """What SandboxOrder.status holds, so list filters run in SQL: financial|fulfillment|state."""
    state = "cancelled" if data.get("cancelled_at") else "closed" if data.get("closed_at") else "open"
    return (
        f"{data.get('financial_status') or 'pending'}|{data.get('fulfillment_status') or 'unshipped'}|{state}"
    )


def save(store: SandboxStore, order: SandboxOrder, *, touch: bool = True) -> None:
    if touch:
        now = int(time.time())
        order.data["updated_at"] = iso(store, now)
        order.updated_ts = now
    order.status = state_key(order.data)
    order.save(update_fields=["data", "status", "updated_ts"])


def shipping_lines(data: dict) -> list[dict]:
    return [li for li in data.get("line_items") or [] if li.get("requires_shipping", True)]


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
    groups: dict[str, list[dict]] = {}
    for li in shipping_lines(data):
        groups.setdefault(li.get("fulfillment_service") or "manual", []).append(li)
    handles = sorted(groups, key=lambda h: h != "manual")  # the shop's own location first
    return [
        {
            "n": n + 1,
            "handle": handle,
            "request_status": "unsubmitted",
            "accepted": False,
            "merchant_requests": [],
            "lines": [
                {
                    "line_item_id": int(li["id"]),
                    "quantity": int(li["quantity"]),
                    "fulfillable_quantity": int(li.get("fulfillable_quantity", 0)),
                }
                for li in groups[handle]
            ],
        }
        for n, handle in enumerate(handles)
    ]


def _materialise(data: dict) -> list[dict]:
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
        "delivery_method": {"id": fo_id + 1, "method_type": "shipping"},
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


def _take(data: dict, line_item_id: int, quantity: int, prefer: set[int]) -> None:
    """A fulfillment of `quantity` of a line comes off its fulfillment orders, the named ones first."""
    if "_fulfillment_orders" not in data:
        return  # derived from the lines, which fulfil() has just changed
    records = sorted(data["_fulfillment_orders"], key=lambda r: int(data["id"]) + r["n"] * FO_OFFSET not in prefer)
    for fo_record in records:
        for li in fo_record["lines"]:
            if li["line_item_id"] == line_item_id and quantity > 0:
                taken = min(quantity, li["fulfillable_quantity"])
                li["fulfillable_quantity"] -= taken
                quantity -= taken


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
    shipped = []
    for li in shipping_lines(data):
        quantity = int(li.get("fulfillable_quantity", 0)) if items is None else items.get(int(li["id"]), 0)
        if quantity <= 0:
            continue
        _take(data, int(li["id"]), quantity, fulfillment_order_ids or set())
        li["fulfillable_quantity"] = int(li["fulfillable_quantity"]) - quantity
        li["fulfillment_status"] = "fulfilled" if li["fulfillable_quantity"] == 0 else "partial"
        shipped.append({**li, "quantity": quantity})
    fulfilments = data.setdefault("fulfillments", [])
    fulfillment = {
        "id": store.next_id() + 4_100_000_000,
        "order_id": int(data["id"]),
        "status": "success",
        "created_at": iso(store, now),
        "updated_at": iso(store, now),
        "service": "manual",
        "location_id": location_of(store)["id"],
        "shipment_status": None,
        "name": f"{data['name']}.{len(fulfilments) + 1}",
        "tracking_company": company or None,
        "tracking_number": number or None,
        "tracking_numbers": [number] if number else [],
        "tracking_url": url or None,
        "tracking_urls": [url] if url else [],
        "line_items": shipped,
        "notify_customer": notify_customer,
    }
    fulfilments.append(fulfillment)
    left = sum(int(li["fulfillable_quantity"]) for li in shipping_lines(data))
    data["fulfillment_status"] = "fulfilled" if left == 0 else "partial"
    if (
        left == 0
        and data.get("financial_status") == "paid"
        and (store.settings or {}).get("auto_archive", True)
    ):
        data["closed_at"] = iso(store, now)
    save(store, order)
    return fulfillment


def cancel(store: SandboxStore, order: SandboxOrder, *, reason: str = "other", refund: bool = False) -> None:
    data = order.data
    now = iso(store, time.time())
    data["cancelled_at"], data["cancel_reason"], data["closed_at"] = now, reason, now
    for li in data.get("line_items") or []:
        li["fulfillable_quantity"] = 0
    for fo_record in data.get("_fulfillment_orders") or []:
        for li in fo_record["lines"]:
            li["fulfillable_quantity"] = 0
    if refund and data.get("financial_status") in ("paid", "partially_refunded"):
        data["financial_status"] = "refunded"
    elif data.get("financial_status") in UNPAID:
        data["financial_status"] = "voided"
    save(store, order)


# -- request plumbing


def _error(status: int, errors, **headers) -> JsonResponse:
    response = JsonResponse({"errors": errors}, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _drip(store: SandboxStore) -> tuple[bool, float, int, float]:
    """One call into the store's leaky bucket: (allowed, level, size, seconds to wait)."""
    size = int((store.settings or {}).get("bucket_size", 40))
    leak = float((store.settings or {}).get("leak_rate", 2.0))
    now = time.time()
    with transaction.atomic():
        locked = SandboxStore.objects.select_for_update().only("settings").get(pk=store.pk)
        level, last = (locked.settings or {}).get("_bucket", [0.0, now])
        level = max(0.0, float(level) - (now - float(last)) * leak)
        allowed = level + 1 <= size
        wait = 0.0 if allowed else (level + 1 - size) / leak
        if allowed:
            level += 1
        locked.settings["_bucket"] = [level, now]
        locked.save(update_fields=["settings"])
    return allowed, level, size, wait


def _guard(request):
    """Authenticate, take a drop from the bucket, pop a fault: (early response, store, fault, call limit)."""
    token = request.headers.get("X-Shopify-Access-Token", "")
    store = SandboxStore.objects.filter(kind=KIND, credentials__access_token=token).first() if token else None
    if store is None:
        return (
            _error(401, "[API] Invalid API key or access token (unrecognized login or wrong password)"),
            None,
            None,
            "",
        )
    allowed, level, size, wait = _drip(store)
    call_limit = f"{math.ceil(level)}/{size}"
    if not allowed:
        retry_after = f"{max(0.1, math.ceil(wait * 10) / 10):.1f}"
        response = _error(
            429,
            "Exceeded 2 calls per second for api client. Reduce request rates to resume "
            "uninterrupted service.",
            Retry_After=retry_after,
        )
        response["X-Shopify-Shop-Api-Call-Limit"] = call_limit
        return response, store, None, call_limit
    fault = take_fault(store, request.path)
    return fault_response(fault), store, fault, call_limit


def _post(request, resource: str):
    """A JSON POST wrapping one `resource` object, as every Shopify write takes it: (early answer
    or None, store, fault, call limit, the resource's fields). The request is recorded."""
    if request.method != "POST":
        return _error(406, "Not Acceptable"), None, None, "", None
    early, store, fault, call_limit = _guard(request)
    if early:
        return early, store, fault, call_limit, None
    if not request.content_type.startswith("application/json"):
        return _error(415, "Unsupported Media Type: expected application/json"), store, fault, call_limit, None
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return _error(400, "Invalid JSON"), store, fault, call_limit, None
    record(store, request, parsed=body if isinstance(body, dict) else {})
    spec = body.get(resource) if isinstance(body, dict) else None
    if not isinstance(spec, dict):
        return _error(400, {resource: "Required parameter missing or invalid"}), store, fault, call_limit, None
    return None, store, fault, call_limit, spec


def _answer(payload: dict, fault, call_limit: str, status: int = 200, link: str = "") -> JsonResponse:
    response = JsonResponse(payload, status=status)
    response["X-Shopify-Shop-Api-Call-Limit"] = call_limit
    if link:
        response["Link"] = link
    return mangle(response, fault)


def _fields(data: dict, fields: str) -> dict:
    data = {k: v for k, v in data.items() if not k.startswith("_")}  # the sandbox's own bookkeeping
    wanted = [f.strip() for f in (fields or "").split(",") if f.strip()]
    return {k: v for k, v in data.items() if k in wanted} if wanted else data


def _int(value, default=None):
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _encode(payload: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode(token: str) -> dict | None:
    try:
        payload = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, TypeError):
        return None
    return payload if isinstance(payload, dict) and "last_id" in payload and "filters" in payload else None


FILTERS = (
    "status",
    "financial_status",
    "fulfillment_status",
    "created_at_min",
    "created_at_max",
    "updated_at_min",
    "updated_at_max",
    "processed_at_min",
    "processed_at_max",
    "ids",
)


def _any(patterns, head: bool = False, tail: bool = False) -> Q:
    lookup = "status__startswith" if head else "status__endswith" if tail else "status__contains"
    q = Q()
    for pattern in patterns:
        q |= Q(**{lookup: pattern})
    return q


# -- views


def orders(request, version):
    early, store, fault, call_limit = _guard(request)
    if early:
        return early
    q = request.GET
    limit = _int(q.get("limit"), 50)
    if limit is None or not 1 <= limit <= MAX_LIMIT:
        return _error(400, {"limit": f"must be between 1 and {MAX_LIMIT}"})
    if "page_info" in q:
        extra = sorted(k for k in q if k not in ("page_info", "limit", "fields"))
        if extra:
            return _error(
                400, {extra[0]: f"{extra[0]} cannot be passed when page_info is present. {PAGINATION_DOC}"}
            )
        cursor = _decode(q["page_info"])
        if cursor is None:
            return _error(400, {"page_info": "Invalid value."})
        filters, last_id, direction = (
            cursor["filters"],
            int(cursor["last_id"]),
            cursor.get("direction", "next"),
        )
    else:
        filters, last_id, direction = {k: q[k] for k in FILTERS if k in q}, None, "next"
    qs = SandboxOrder.objects.filter(store=store)
    qs, error = _filter_orders(qs, filters)
    if error:
        return _error(400, error)
    # Newest first, keyed on the row id (orders are created in id order): a keyset, so rows
    # that leave the filter while someone pages never shift the ones not read yet.
    if last_id is not None and direction == "prev":
        rows = list(qs.filter(pk__gt=last_id).order_by("pk")[: limit + 1])
        more_before = len(rows) > limit
        rows = list(reversed(rows[:limit]))
        has_next, has_prev = True, more_before
    else:
        if last_id is not None:
            qs = qs.filter(pk__lt=last_id)
        rows = list(qs.order_by("-pk")[: limit + 1])
        has_next = len(rows) > limit
        rows = rows[:limit]
        has_prev = last_id is not None
    base = request.build_absolute_uri(request.path)
    extra = f"&fields={q['fields']}" if q.get("fields") else ""
    links = []
    if rows and has_prev:
        token = _encode({"filters": filters, "last_id": rows[0].pk, "direction": "prev"})
        links.append(f'<{base}?limit={limit}{extra}&page_info={token}>; rel="previous"')
    if rows and has_next:
        token = _encode({"filters": filters, "last_id": rows[-1].pk, "direction": "next"})
        links.append(f'<{base}?limit={limit}{extra}&page_info={token}>; rel="next"')
    payload = {"orders": [_fields(o.data, q.get("fields", "")) for o in rows]}
    return _answer(payload, fault, call_limit, link=", ".join(links))


def _filter_orders(qs, filters: dict):
    """Shopify's order list filters, in SQL over SandboxOrder.status. Returns (queryset, error)."""
    status = filters.get("status", "open")
    states = {"open": ["open"], "closed": ["closed", "cancelled"], "cancelled": ["cancelled"], "any": None}
    if status not in states:
        return qs, {"status": "is not a valid status"}
    if states[status]:
        qs = qs.filter(_any((f"|{s}" for s in states[status]), tail=True))
    financial = filters.get("financial_status", "any")
    if financial == "unpaid":
        qs = qs.filter(_any((f"{s}|" for s in UNPAID), head=True))
    elif financial != "any":
        qs = qs.filter(status__startswith=f"{financial}|")
    fulfilment = filters.get("fulfillment_status", "any")
    wanted = {
        "shipped": ["fulfilled"],
        "fulfilled": ["fulfilled"],
        "partial": ["partial"],
        "unshipped": ["unshipped"],
        "unfulfilled": ["unshipped", "partial"],
        "any": None,
    }
    if fulfilment not in wanted:
        return qs, {"fulfillment_status": "is not a valid fulfillment status"}
    if wanted[fulfilment]:
        qs = qs.filter(_any(f"|{s}|" for s in wanted[fulfilment]))
    for param, field, op in (
        ("created_at_min", "created_ts", "gte"),
        ("created_at_max", "created_ts", "lte"),
        ("processed_at_min", "created_ts", "gte"),
        ("processed_at_max", "created_ts", "lte"),
        ("updated_at_min", "updated_ts", "gte"),
        ("updated_at_max", "updated_ts", "lte"),
    ):
        if filters.get(param):
            moment = parse_time(filters[param])
            if moment is None:
                return qs, {param: "is not a valid date"}
            qs = qs.filter(**{f"{field}__{op}": moment})
    if filters.get("ids"):
        qs = qs.filter(external_id__in=[i.strip() for i in filters["ids"].split(",")])
    return qs, None


def _order(store, order_id) -> SandboxOrder | None:
    return SandboxOrder.objects.filter(store=store, external_id=str(order_id)).first()


def order(request, version, order_id):
    early, store, fault, call_limit = _guard(request)
    if early:
        return early
    found = _order(store, order_id)
    if found is None:
        return _error(404, "Not Found")
    return _answer({"order": _fields(found.data, request.GET.get("fields", ""))}, fault, call_limit)


def order_fulfillment_orders(request, version, order_id):
    early, store, fault, call_limit = _guard(request)
    if early:
        return early
    found = _order(store, order_id)
    if found is None:
        return _error(404, "Not Found")
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
            requested = [{"id": i, "quantity": li["fulfillable_quantity"]} for i, li in by_id.items()
                         if li["fulfillable_quantity"] > 0]
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
                    return _error(422, [f"Fulfillment order line item {item.get('id') if isinstance(item, dict) else item} "
                                        f"does not belong to fulfillment order {fo_id}."])
                quantity = _int(item.get("quantity"), 0)
                if line["line_item_id"] in wanted or not 0 < quantity <= line["fulfillable_quantity"]:
                    return _error(422, ["Invalid fulfillment order line item quantity requested."])
                wanted[line["line_item_id"]] = quantity
        data = target.data
        records = _materialise(data)
        current = next(r for r in records if r["n"] == fo_id // FO_OFFSET)
        original = _render(store, data, current)
        rest = [
            {**li, "quantity": li["fulfillable_quantity"] - wanted.get(li["line_item_id"], 0),
             "fulfillable_quantity": li["fulfillable_quantity"] - wanted.get(li["line_item_id"], 0)}
            for li in current["lines"]
        ]
        rest = [li for li in rest if li["quantity"] > 0]
        unsubmitted = None
        if rest:  # a partial request splits the fulfillment order
            split = {**current, "n": max(r["n"] for r in records) + 1, "lines": rest, "merchant_requests": []}
            records.append(split)
            current["lines"] = [
                {**li, "quantity": wanted[li["line_item_id"]], "fulfillable_quantity": wanted[li["line_item_id"]]}
                for li in current["lines"] if li["line_item_id"] in wanted
            ]
            unsubmitted = _render(store, data, split)
        current["request_status"] = "submitted"
        current["merchant_requests"] = [*current.get("merchant_requests", []), {
            "message": str(spec.get("message") or ""), "request_options": {"notify_customer": False},
            "kind": "fulfillment_request", "sent_at": iso(store, time.time()),
        }]
        submitted = _render(store, data, current)
        service = (store.settings or {}).get("fulfillment_services", {}).get(current["handle"], {})
        reply = service.get("reply", "accept")
        if reply == "accept":
            current["request_status"], current["accepted"] = "accepted", True
        elif reply == "reject":
            current["request_status"] = "rejected"
        save(store, target, touch=False)
    return _answer({"original_fulfillment_order": original, "submitted_fulfillment_order": submitted,
                    "unsubmitted_fulfillment_order": unsubmitted}, fault, call_limit)


@csrf_exempt
def order_cancel(request, version, order_id):
    if request.method != "POST":
        return _error(406, "Not Acceptable")
    early, store, fault, call_limit = _guard(request)
    if early:
        return early
    found = _order(store, order_id)
    if found is None:
        return _error(404, "Not Found")
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return _error(400, "Invalid JSON")
    record(store, request, parsed=body if isinstance(body, dict) else {})
    if found.data.get("cancelled_at"):
        return _error(422, {"base": ["Order has already been cancelled"]})
    if any(f.get("status") == "success" for f in found.data.get("fulfillments") or []):
        return _error(422, {"base": ["Cannot cancel an order that has fulfillments"]})
    reason = body.get("reason", "other") if isinstance(body, dict) else "other"
    if reason not in ("customer", "inventory", "fraud", "declined", "staff", "other"):
        return _error(422, {"reason": ["is not included in the list"]})
    cancel(store, found, reason=reason, refund=bool(isinstance(body, dict) and body.get("refund")))
    return _answer({"order": _fields(found.data, ""), "notice": "Order has been cancelled"}, fault, call_limit)


def product(request, version, product_id):
    early, store, fault, call_limit = _guard(request)
    if early:
        return early
    found = SandboxProduct.objects.filter(store=store, external_id=str(product_id)).first()
    if found is None:
        return _error(404, "Not Found")
    return _answer({"product": _fields(found.data, request.GET.get("fields", ""))}, fault, call_limit)


VERSION = r"admin/api/(?P<version>\d{4}-(?:01|04|07|10)|unstable)/"
urlpatterns = [
    re_path(VERSION + r"orders\.json$", orders),
    re_path(VERSION + r"orders/(?P<order_id>\d+)\.json$", order),
    re_path(VERSION + r"orders/(?P<order_id>\d+)/fulfillment_orders\.json$", order_fulfillment_orders),
    re_path(VERSION + r"orders/(?P<order_id>\d+)/cancel\.json$", order_cancel),
    re_path(VERSION + r"fulfillments\.json$", fulfillments),
    re_path(VERSION + r"fulfillment_orders/(?P<fo_id>\d+)/fulfillment_request\.json$", fulfillment_request),
    re_path(VERSION + r"products/(?P<product_id>\d+)\.json$", product),
]
