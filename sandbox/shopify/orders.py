"""Orders on the Shopify stand-in: timestamps and state as Shopify writes them, cancelling, and
the order (product, inventory item) endpoints with Shopify's filters and cursor pagination."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta, timezone

from django.db.models import Q
from django.views.decorators.csrf import csrf_exempt

from sandbox.faults import record
from sandbox.models import SandboxOrder, SandboxProduct, SandboxStore
from sandbox.shopify.plumbing import _answer, _error, _fields, _guard, _int

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


def cancel(store: SandboxStore, order: SandboxOrder, *, reason: str = "other", refund: bool = False) -> None:
    data = order.data
    now = iso(store, time.time())
    data["cancelled_at"], data["cancel_reason"], data["closed_at"] = now, reason, now
    for li in data.get("line_items") or []:
        li["fulfillable_quantity"] = 0
    for fo_record in data.get("_fulfillment_orders") or []:  # kept ones (fulfillment.py) close too
        for li in fo_record["lines"]:
            li["fulfillable_quantity"] = 0
    if refund and data.get("financial_status") in ("paid", "partially_refunded"):
        data["financial_status"] = "refunded"
    elif data.get("financial_status") in UNPAID:
        data["financial_status"] = "voided"
    save(store, order)


# -- the order list: cursors and filters


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


def _guarded_order(request, order_id):
    """(early answer or None, store, fault, call limit, the order): the guard, then 404 for an
    order the shop does not have, as every /orders/{id}/… endpoint answers."""
    early, store, fault, call_limit = _guard(request)
    if early:
        return early, store, fault, call_limit, None
    found = _order(store, order_id)
    if found is None:
        return _error(404, "Not Found"), store, fault, call_limit, None
    return None, store, fault, call_limit, found


def order(request, version, order_id):
    early, store, fault, call_limit, found = _guarded_order(request, order_id)
    if early:
        return early
    return _answer({"order": _fields(found.data, request.GET.get("fields", ""))}, fault, call_limit)


@csrf_exempt
def order_cancel(request, version, order_id):
    if request.method != "POST":
        return _error(406, "Not Acceptable")
    early, store, fault, call_limit, found = _guarded_order(request, order_id)
    if early:
        return early
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return _error(400, "Invalid JSON")
    # Shopify (Rails) reads parameters from the query string as well as the body; ShopifyAPI's
    # Order.cancel(reason=…) sends them in the query string.
    body = {**request.GET.dict(), **(body if isinstance(body, dict) else {})}
    record(store, request, parsed=body)
    if found.data.get("cancelled_at"):
        return _error(422, {"base": ["Order has already been cancelled"]})
    if any(f.get("status") == "success" for f in found.data.get("fulfillments") or []):
        return _error(422, {"base": ["Cannot cancel an order that has fulfillments"]})
    reason = body.get("reason", "other")
    if reason not in ("customer", "inventory", "fraud", "declined", "staff", "other"):
        return _error(422, {"reason": ["is not included in the list"]})
    cancel(store, found, reason=reason, refund=str(body.get("refund", "")).lower() in ("true", "1"))
    return _answer({"order": _fields(found.data, "")}, fault, call_limit)


def product(request, version, product_id):
    early, store, fault, call_limit = _guard(request)
    if early:
        return early
    found = SandboxProduct.objects.filter(store=store, external_id=str(product_id)).first()
    if found is None:
        return _error(404, "Not Found")
    return _answer({"product": _fields(found.data, request.GET.get("fields", ""))}, fault, call_limit)


INVENTORY_IDS_MAX = 100  # Shopify: "ids … (maximum: 100)"


def inventory_items(request, version):
    """`GET inventory_items.json?ids=1,2,3`: the shop's inventory items among `ids` (required),
    where the HS code and country of origin of a variant live. A store whose
    `settings["scopes"]` lacks read_inventory is refused with 403, as Shopify refuses such an app."""
    early, store, fault, call_limit = _guard(request)
    if early:
        return early
    scopes = (store.settings or {}).get("scopes")  # the app's access scopes; all when not set
    if scopes is not None and "read_inventory" not in scopes:
        return _error(403, "[API] This action requires merchant approval for read_inventory scope.")
    raw = [i.strip() for i in request.GET.get("ids", "").split(",") if i.strip()]
    if not raw:
        return _error(422, {"ids": ["is required"]})
    if len(raw) > INVENTORY_IDS_MAX or any(_int(i) is None for i in raw):
        return _error(422, {"ids": ["must be a list of at most 100 integers"]})
    wanted = {int(i) for i in raw}
    limit = _int(request.GET.get("limit"), 50)
    if not 1 <= limit <= MAX_LIMIT:
        return _error(400, {"limit": ["must be between 1 and 250"]})
    items = [
        item
        for data in SandboxProduct.objects.filter(store=store).values_list("data", flat=True)
        for item in data.get("_inventory_items") or []
        if item.get("id") in wanted
    ]
    items.sort(key=lambda item: item["id"])
    return _answer({"inventory_items": items[:limit]}, fault, call_limit)
