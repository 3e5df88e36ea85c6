"""Ecwid REST API v3 stand-in (see shared/api-facts.md §5), at /sandbox/ecwid/api/v3/<storeId>/…

Auth is `Authorization: Bearer <token>` (or the older `?token=`) matched against the store's
`access_token` credential. Orders page with offset/limit (100 at most) and answer
`{total, count, offset, limit, items}`, newest first; `paymentStatus` and `fulfillmentStatus`
take comma lists, `createdFrom/To` and `updatedFrom/To` take a UNIX time or
`yyyy-MM-dd HH:mm:ss Z`. Unfinished orders (`INCOMPLETE`) appear only when asked for by name.
`PUT /orders/{id}` merges the top-level fields it is given and answers `{"updateCount": 1}`
(a list such as `orderExtraFields` is replaced whole; `extraFields` mirrors it as {id: value}).
Rate limit: 600 calls a minute per token (`store.settings["rate_limit_per_minute"]`), then 429
with `Retry-After`. `GET /profile` gives the store's currency and weight unit, which orders
do not carry."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime

from django.db.models import Q
from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from sandbox import ratelimit
from sandbox.faults import fault_response, mangle, record, take_fault
from sandbox.models import SandboxOrder, SandboxStore

KIND = "ecwid"
MAX_LIMIT = 100
PAYMENT = [
    "AWAITING_PAYMENT",
    "PAID",
    "CANCELLED",
    "REFUNDED",
    "PARTIALLY_REFUNDED",
    "INCOMPLETE",
    "CUSTOM_PAYMENT_STATUS_1",
    "CUSTOM_PAYMENT_STATUS_2",
    "CUSTOM_PAYMENT_STATUS_3",
]
FULFILMENT = [
    "AWAITING_PROCESSING",
    "PROCESSING",
    "SHIPPED",
    "DELIVERED",
    "WILL_NOT_DELIVER",
    "RETURNED",
    "READY_FOR_PICKUP",
    "OUT_FOR_DELIVERY",
    "CUSTOM_FULFILLMENT_STATUS_1",
    "CUSTOM_FULFILLMENT_STATUS_2",
    "CUSTOM_FULFILLMENT_STATUS_3",
]
# Top-level fields PUT may change (ids, numbers and timestamps are Ecwid's own).
READ_ONLY = {
    "id",
    "internalId",
    "orderNumber",
    "vendorOrderNumber",
    "createDate",
    "updateDate",
    "createTimestamp",
    "updateTimestamp",
    "publicUid",
}


def state_key(data: dict) -> str:
    """What SandboxOrder.status holds, so list filters run in SQL: PAYMENT|FULFILMENT."""
    return f"{data.get('paymentStatus') or ''}|{data.get('fulfillmentStatus') or ''}"


def date_text(ts: int) -> str:
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%d %H:%M:%S %z")


def save(order: SandboxOrder, *, touch: bool = True) -> None:
    if touch:
        now = int(time.time())
        order.data["updateTimestamp"] = now
        order.data["updateDate"] = date_text(now)
        order.updated_ts = now
    order.status = state_key(order.data)
    order.save(update_fields=["data", "status", "updated_ts"])


def ship(
    order: SandboxOrder, *, tracking_number: str = "", carrier: str = "", status: str = "SHIPPED"
) -> None:
    """Mark shipped "on Ecwid" (what the merchant does in the Ecwid admin)."""
    order.data["fulfillmentStatus"] = status
    if tracking_number:
        order.data["trackingNumber"] = tracking_number
    if carrier:
        order.data.setdefault("shippingOption", {})["shippingCarrierName"] = carrier
    save(order)


def cancel(order: SandboxOrder) -> None:
    order.data["paymentStatus"] = "CANCELLED"
    save(order)


def _error(status: int, message: str, **headers) -> JsonResponse:
    response = JsonResponse(
        {
            "errorMessage": message,
            "errorCode": {
                400: "BAD_REQUEST",
                403: "FORBIDDEN",
                404: "NOT_FOUND",
                429: "TOO_MANY_REQUESTS",
            }.get(status, "ERROR"),
        },
        status=status,
    )
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _count_call(store: SandboxStore, request=None) -> float:
    """The store token's bucket (sandbox/ratelimit.py: 600 a minute, burst 100, sped up by
    SANDBOX_TIME_SCALE; `rate_limit_per_minute` sets a store's own). Seconds to wait (0 = allowed)."""
    own = (store.settings or {}).get("rate_limit_per_minute")
    d = ratelimit.take(
        store, KIND, request=request, rate=int(own) / 60 if own else None, burst=int(own) if own else None
    )
    return d.wait


def _guard(request, store_id):
    store = SandboxStore.objects.filter(kind=KIND, key=str(store_id)).first()
    auth = request.headers.get("Authorization", "")
    token = auth[7:] if auth.startswith("Bearer ") else request.GET.get("token", "")
    if store is None:
        return _error(404, f"Store {store_id} not found"), None, None
    if not token or token != (store.credentials or {}).get("access_token"):
        return _error(403, "Token doesn't have access to this store or is invalid"), None, None
    wait = _count_call(store, request)
    if wait:
        return (
            _error(
                429,
                "Too many requests: 600 requests per minute allowed",
                Retry_After=ratelimit.retry_after(wait),
            ),
            None,
            None,
        )
    fault = take_fault(store, request.path)
    return fault_response(fault), store, fault


def _time(value: str) -> int | None:
    """A UNIX time, `yyyy-MM-dd HH:mm:ss Z`, `yyyy-MM-dd HH:mm:ss` or `yyyy-MM-dd` (UTC)."""
    value = (value or "").strip()
    if value.isdigit():
        return int(value)
    value = re.sub(r"\s(\d{4})$", r" +\1", value)  # an unencoded "+0000" arrives as " 0000"
    for fmt in ("%Y-%m-%d %H:%M:%S %z", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            moment = datetime.strptime(value, fmt)
        except ValueError:
            continue
        return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())
    return None


def _int(value, default=None):
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def orders(request, store_id):
    early, store, fault = _guard(request, store_id)
    if early:
        return early
    q = request.GET
    offset, limit = _int(q.get("offset"), 0), _int(q.get("limit"), 10)
    if offset is None or offset < 0 or limit is None or not 1 <= limit <= MAX_LIMIT:
        return _error(400, f"offset must be >= 0 and limit between 1 and {MAX_LIMIT}")
    qs = SandboxOrder.objects.filter(store=store)
    payments = [p.strip() for p in q.get("paymentStatus", "").split(",") if p.strip()]
    fulfilments = [f.strip() for f in q.get("fulfillmentStatus", "").split(",") if f.strip()]
    bad = [s for s in payments if s not in PAYMENT] + [s for s in fulfilments if s not in FULFILMENT]
    if bad:
        return _error(400, f"Unknown status {bad[0]}")
    if q.get("orderNumber"):  # overrides every other filter
        qs = qs.filter(
            Q(external_id__in=q["orderNumber"].split(","))
            | Q(data__orderNumber__in=[_int(n, -1) for n in q["orderNumber"].split(",")])
        )
    else:
        if payments:
            qs = qs.filter(_either((f"{p}|" for p in payments), "status__startswith"))
        else:
            qs = qs.exclude(status__startswith="INCOMPLETE|")
        if fulfilments:
            qs = qs.filter(_either((f"|{f}" for f in fulfilments), "status__endswith"))
        for param, field, op in (
            ("createdFrom", "created_ts", "gte"),
            ("createdTo", "created_ts", "lte"),
            ("updatedFrom", "updated_ts", "gte"),
            ("updatedTo", "updated_ts", "lte"),
        ):
            if q.get(param):
                moment = _time(q[param])
                if moment is None:
                    return _error(400, f"Wrong {param} format")
                qs = qs.filter(**{f"{field}__{op}": moment})
        if q.get("email"):
            qs = qs.filter(data__email=q["email"])
    total = qs.count()
    rows = list(qs.order_by("-created_ts", "-id")[offset : offset + limit])
    payload = {
        "total": total,
        "count": len(rows),
        "offset": offset,
        "limit": limit,
        "items": [o.data for o in rows],
    }
    return mangle(JsonResponse(payload), fault)


def _either(patterns, lookup: str) -> Q:
    q = Q()
    for pattern in patterns:
        q |= Q(**{lookup: pattern})
    return q


def _find(store, order_id: str) -> SandboxOrder | None:
    found = SandboxOrder.objects.filter(store=store, external_id=order_id).first()
    if found is None and order_id.isdigit():
        found = SandboxOrder.objects.filter(store=store, data__orderNumber=int(order_id)).first()
    return found


@csrf_exempt
def order(request, store_id, order_id):
    if request.method not in ("GET", "PUT"):
        return _error(405, "Method not allowed")
    early, store, fault = _guard(request, store_id)
    if early:
        return early
    found = _find(store, order_id)
    if found is None:
        return _error(404, f"Order {order_id} not found")
    if request.method == "GET":
        return mangle(JsonResponse(found.data), fault)
    if request.content_type not in ("application/json", "text/json"):
        return _error(415, "Unsupported content-type: expected application/json or text/json")
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return _error(400, "Request body is not valid JSON")
    record(store, request, parsed=body if isinstance(body, dict) else {})
    if not isinstance(body, dict):
        return _error(400, "Request body must be a JSON object")
    if body.get("fulfillmentStatus") and body["fulfillmentStatus"] not in FULFILMENT:
        return _error(400, f"Status {body['fulfillmentStatus']} is not a fulfillment status")
    if body.get("paymentStatus") and body["paymentStatus"] not in PAYMENT:
        return _error(400, f"Status {body['paymentStatus']} is not a payment status")
    extra = body.get("orderExtraFields")
    if extra is not None and (
        not isinstance(extra, list) or not all(isinstance(f, dict) and f.get("id") for f in extra)
    ):
        return _error(400, "orderExtraFields must be a list of objects with an id")
    for name, value in body.items():
        if name not in READ_ONLY:
            found.data[name] = value
    if extra is not None:  # the older `extraFields` map mirrors the list: {id: value}
        found.data["extraFields"] = {f["id"]: f.get("value", "") for f in extra}
    save(found)
    return mangle(JsonResponse({"updateCount": 1}), fault)


def profile(request, store_id):
    early, store, fault = _guard(request, store_id)
    if early:
        return early
    units = {
        "currency": "GBP",
        "currencyPrefix": "£",
        "currencySuffix": "",
        "weightUnit": "KILOGRAM",
        "dimensionsUnit": "CM",
        "timezone": "Europe/London",
        **(store.settings or {}).get("formatsAndUnits", {}),
    }
    return mangle(
        JsonResponse(
            {
                "generalInfo": {
                    "storeId": int(store_id),
                    "storeUrl": f"https://store{store_id}.company.site",
                },
                "account": {"accountName": "Northern Goods", "accountEmail": "shop@example.com"},
                "settings": {"storeName": "Northern Goods"},
                "formatsAndUnits": units,
            }
        ),
        fault,
    )


urlpatterns = [
    path("api/v3/<int:store_id>/orders", orders),
    path("api/v3/<int:store_id>/orders/<str:order_id>", order),
    path("api/v3/<int:store_id>/profile", profile),
]
