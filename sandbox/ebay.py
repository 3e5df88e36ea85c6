"""eBay stand-in: Sell Fulfillment API v1 (orders, shipping fulfilments) and the OAuth token
endpoint, at /sandbox/ebay/sell/fulfillment/v1/… and /sandbox/ebay/identity/v1/oauth2/token.
Follows shared/api-facts.md §3 and the eBay OAS: percent-encoded filters (refused otherwise),
offset pagination with full `next` URLs, string amounts, 201 + Location for a fulfilment,
eBay's `{"errors": [{errorId, domain, category, message, longMessage}]}` shape.

Sandbox-side state a real account has but the API does not show: the access tokens it issued
(`store.settings["tokens"]`), a revoked consent (`store.settings["revoked"]`), and each order's
shipping fulfilments (`order.data["_fulfillments"]`, never sent as such). Inventory items (the
Inventory API, for weight and images) are the store's SandboxProducts keyed by SKU.

createShippingFulfillment refuses what eBay documents refusing (errors 32100-32600): an unknown
line item id (32200), tracking without a known carrier code or the reverse (32300), a bad date
(32500), an unpaid or cancelled order (32100). The OAS calls `lineItems[].quantity` "reserved
for internal or future use", and eBay lets a line item appear in several fulfilments (one per
package), so the sandbox only checks a quantity against what was ordered (32600) and derives
each line's fulfilment status from the quantities its fulfilments name."""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
from datetime import UTC, datetime

from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from sandbox import ratelimit
from sandbox.faults import fault_response, mangle, record, take_fault
from sandbox.models import SandboxOrder, SandboxProduct, SandboxRequest, SandboxStore

KIND = "ebay"
TOKEN_LIFETIME = 7200
PUBLIC_BASE = "https://api.ebay.com/sell/fulfillment/v1"
# ShippingCarrierCodeType values (Trading API GeteBayDetails, ShippingCarrierDetails), a subset.
CARRIERS = {
    "USPS",
    "UPS",
    "FedEx",
    "DHL",
    "DHLGlobalMail",
    "RoyalMail",
    "ParcelForce",
    "CanadaPost",
    "Purolator",
    "DPD",
    "Colissimo",
    "LaPoste",
    "Chronopost",
    "PostNL",
    "DeutschePost",
    "Hermes",
    "Yodel",
    "TNT",
    "AustraliaPost",
    "StarTrack",
    "GLS",
    "OnTrac",
    "Other",
}
DATE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,3})?Z")
STATUS_SETS = {
    "{NOT_STARTED|IN_PROGRESS}": {"NOT_STARTED", "IN_PROGRESS"},
    "{FULFILLED|IN_PROGRESS}": {"FULFILLED", "IN_PROGRESS"},
}
DEFAULT_FAULT_BODIES = {
    429: (
        2001,
        "ACCESS",
        "REQUEST",
        "Too many requests. The request limit has been reached for the resource.",
    ),
    500: (30500, "API_FULFILLMENT", "APPLICATION", "System error"),
    503: (30500, "API_FULFILLMENT", "APPLICATION", "System error"),
    401: (1001, "OAuth", "REQUEST", "Invalid access token"),
}


def iso(ts: float) -> str:
    value = datetime.fromtimestamp(ts, tz=UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _errors(
    status: int,
    error_id: int,
    domain: str,
    category: str,
    message: str,
    long_message: str = "",
    parameters: list | None = None,
) -> JsonResponse:
    error = {"errorId": error_id, "domain": domain, "category": category, "message": message}
    if long_message:
        error["longMessage"] = long_message
    if parameters:
        error["parameters"] = parameters
    return JsonResponse({"errors": [error]}, status=status)


def _request_error(error_id: int, message: str, long_message: str = "", **params) -> JsonResponse:
    return _errors(
        400,
        error_id,
        "API_FULFILLMENT",
        "REQUEST",
        message,
        long_message,
        [{"name": k, "value": str(v)} for k, v in params.items()] or None,
    )


# -- tokens


def _store_for_token(token: str) -> SandboxStore | None:
    if not token:
        return None
    now = time.time()
    for store in SandboxStore.objects.filter(kind=KIND):
        if store.settings.get("revoked"):
            continue
        creds = store.credentials
        if token == creds.get("access_token") and float(creds.get("expires_at") or now + 1) > now:
            return store
        if float(store.settings.get("tokens", {}).get(token, 0)) > now:
            return store
    return None


def revoke(store: SandboxStore) -> None:
    """The seller withdrew the app's access in their eBay account: every token stops working."""
    store.settings = {**store.settings, "revoked": True, "tokens": {}}
    store.save(update_fields=["settings"])


def _oauth_error(status: int, error: str, description: str) -> JsonResponse:
    return JsonResponse({"error": error, "error_description": description}, status=status)


@csrf_exempt
def token(request):
    """POST /identity/v1/oauth2/token, grant_type=refresh_token, client credentials in Basic auth."""
    if request.method != "POST":
        return _oauth_error(405, "invalid_request", "request method must be POST")
    if not request.content_type.startswith("application/x-www-form-urlencoded"):
        return _oauth_error(
            400, "invalid_request", "request content type must be application/x-www-form-urlencoded"
        )
    auth = request.headers.get("Authorization", "")
    try:
        if not auth.startswith("Basic "):
            raise ValueError("no Basic credentials")
        client_id, client_secret = base64.b64decode(auth.removeprefix("Basic ")).decode().split(":", 1)
    except (ValueError, UnicodeDecodeError):
        return _oauth_error(401, "invalid_client", "client authentication failed")
    form = request.POST
    if form.get("grant_type") != "refresh_token":
        return _oauth_error(
            400,
            "unsupported_grant_type",
            "grant type in request is not supported by the authorization server",
        )
    clients = [
        s for s in SandboxStore.objects.filter(kind=KIND) if s.credentials.get("client_id") == client_id
    ]
    if not clients or all(s.credentials.get("client_secret") != client_secret for s in clients):
        return _oauth_error(401, "invalid_client", "client authentication failed")
    store = next(
        (
            s
            for s in clients
            if s.credentials.get("client_secret") == client_secret
            and s.credentials.get("refresh_token") == form.get("refresh_token")
        ),
        None,
    )
    if store is None or store.settings.get("revoked"):
        return _oauth_error(
            400,
            "invalid_grant",
            "the provided authorization refresh token is invalid or was issued to another client",
        )
    early = fault_response(take_fault(store, request.path))
    if early:
        return early
    if form.get("scope") and not all(
        s.startswith("https://api.ebay.com/oauth/api_scope") for s in form["scope"].split()
    ):
        return _oauth_error(
            400,
            "invalid_scope",
            "the requested scope is invalid, unknown, malformed, or exceeds the scope granted to the client",
        )
    access = f"v^1.1#i^1#p^3#r^1#{secrets.token_urlsafe(24)}"
    now = time.time()
    tokens = {t: exp for t, exp in store.settings.get("tokens", {}).items() if exp > now}
    tokens[access] = now + TOKEN_LIFETIME
    store.settings = {**store.settings, "tokens": tokens}
    store.save(update_fields=["settings"])
    # Kept without the secrets: the remote side's log, not a credential store.
    SandboxRequest.objects.create(
        store=store,
        method="POST",
        path=request.path,
        content_type=request.content_type,
        body="",
        parsed={"grant_type": form["grant_type"], "client_id": client_id, "scope": form.get("scope", "")},
    )
    return JsonResponse(
        {"access_token": access, "expires_in": TOKEN_LIFETIME, "token_type": "User Access Token"}
    )


# -- the API


def _guard(request):
    """(early response, store, fault): the bearer token picks the account, then faults apply."""
    auth = request.headers.get("Authorization", "")
    store = _store_for_token(auth.removeprefix("Bearer ")) if auth.startswith("Bearer ") else None
    if store is None:
        return (
            _errors(
                401,
                1001,
                "OAuth",
                "REQUEST",
                "Invalid access token",
                "Invalid access token. Check the value of the Authorization HTTP request header.",
            ),
            None,
            None,
        )
    if not ratelimit.take(
        store, "ebay", request=request
    ).allowed:  # the app's daily quota (sandbox/ratelimit.py)
        return _errors(429, *DEFAULT_FAULT_BODIES[429]), store, None
    fault = take_fault(store, request.path)
    if fault and fault.get("status") and "body" not in fault and int(fault["status"]) in DEFAULT_FAULT_BODIES:
        error_id, domain, category, message = DEFAULT_FAULT_BODIES[int(fault["status"])]
        fault["body"] = {
            "errors": [{"errorId": error_id, "domain": domain, "category": category, "message": message}]
        }
    return fault_response(fault), store, fault


def public(data: dict) -> dict:
    return {k: v for k, v in data.items() if not k.startswith("_")}


def _parse_range(name: str, value: str):
    """`[start..]` or `[start..end]` -> (start, end) unix seconds, or an error response."""
    if not (value.startswith("[") and value.endswith("]")) or ".." not in value:
        return _request_error(30800, f"Invalid filter value {value} for filter {name}", fieldvalue=value)
    start, _, end = value[1:-1].partition("..")
    if not start:
        return _request_error(30820, "Start date is missing")
    if not DATE.fullmatch(start) or (end and not DATE.fullmatch(end)):
        return _request_error(30810, "Invalid date format")
    start_ts = datetime.fromisoformat(start.replace("Z", "+00:00")).timestamp()
    end_ts = datetime.fromisoformat(end.replace("Z", "+00:00")).timestamp() if end else None
    now = time.time()
    if start_ts > now + 60 or (end_ts and end_ts > now + 60):
        return _request_error(30850, "Start and end dates can't be in the future")
    if start_ts < now - 90 * 86400:
        return _request_error(30830, "Start date must be within 90 days of end date and current date.")
    if end_ts is not None and end_ts < start_ts:
        return _request_error(30840, "Start date should be before end date")
    return int(start_ts), end_ts


def orders(request):
    """GET /order: getOrders."""
    early, store, fault = _guard(request)
    if early:
        return early
    raw = request.META.get("QUERY_STRING", "")
    if re.search(r"[\[\]{}|]", raw):
        return _request_error(
            30800,
            "Invalid filter value",
            "Special characters in the filter ([ ] { } |) must be percent-encoded (%5B %5D %7B %7D %7C).",
            fieldvalue=request.GET.get("filter", ""),
        )
    q = request.GET
    qs = SandboxOrder.objects.filter(store=store)
    if q.get("orderIds"):
        ids = [i for i in q["orderIds"].split(",") if i]
        if len(ids) > 50:
            return _request_error(30900, "Exceeded maximum number of order IDs (the current limit is 50)")
        rows = [public(o.data) for o in qs.filter(external_id__in=ids)]
        return mangle(
            JsonResponse(
                {
                    "href": request.build_absolute_uri(),
                    "total": len(rows),
                    "limit": len(rows),
                    "offset": 0,
                    "orders": rows,
                }
            ),
            fault,
        )
    try:
        limit, offset = int(q.get("limit", 50)), int(q.get("offset", 0))
    except ValueError:
        return _request_error(31100, f"Invalid limit: {q.get('limit')}")
    if not 1 <= limit <= 1000:
        return _request_error(31100, f"Invalid limit: {limit}")
    if offset < 0:
        return _request_error(31000, f"Invalid offset: {offset}")
    ranges, statuses = {}, None
    for criterion in [c for c in q.get("filter", "").split(",") if c.strip()]:
        name, _, value = criterion.strip().partition(":")
        if name in ("creationdate", "lastmodifieddate"):
            parsed = _parse_range(name, value)
            if isinstance(parsed, JsonResponse):
                return parsed
            ranges[name] = parsed
        elif name == "orderfulfillmentstatus":
            if value not in STATUS_SETS:
                return _request_error(
                    30800, f"Invalid filter value {value} for filter {name}", fieldvalue=value
                )
            statuses = STATUS_SETS[value]
        else:
            return _request_error(30700, f"Invalid filter name: {name}", fieldname=name)
    # Both dates given: eBay uses creationdate only.
    if "creationdate" in ranges:
        start, end = ranges["creationdate"]
        qs = qs.filter(created_ts__gte=start, **({"created_ts__lte": end} if end else {}))
    elif "lastmodifieddate" in ranges:
        start, end = ranges["lastmodifieddate"]
        qs = qs.filter(updated_ts__gte=start, **({"updated_ts__lte": end} if end else {}))
    if statuses:
        qs = qs.filter(status__in=statuses)
    qs = qs.order_by("-created_ts", "-id")  # newest first (U)
    total = qs.count()
    rows = [public(o.data) for o in qs[offset : offset + limit]]
    base = request.build_absolute_uri(request.path)

    def page_url(at: int) -> str:
        query = re.sub(r"(^|&)offset=\d*", "", raw).lstrip("&")
        return f"{base}?{query}&offset={at}" if query else f"{base}?offset={at}"

    body = {
        "href": page_url(offset),
        "total": total,
        "limit": limit,
        "offset": offset,
        "orders": rows,
        "warnings": [],
    }
    if offset + limit < total:
        body["next"] = page_url(offset + limit)
    if offset > 0:
        body["prev"] = page_url(max(0, offset - limit))
    return mangle(JsonResponse(body), fault)


def _order_or_404(store, order_id):
    order = SandboxOrder.objects.filter(store=store, external_id=order_id).first()
    if order is None:
        return None, _errors(404, 32100, "API_FULFILLMENT", "REQUEST", f"Invalid order ID: {order_id}")
    return order, None


def order(request, order_id):
    """GET /order/{orderId}: getOrder."""
    early, store, fault = _guard(request)
    if early:
        return early
    found, missing = _order_or_404(store, order_id)
    return missing or mangle(JsonResponse(public(found.data)), fault)


def _fulfilment_view(f: dict) -> dict:
    return {
        k: f[k]
        for k in (
            "fulfillmentId",
            "lineItems",
            "shipmentTrackingNumber",
            "shippedDate",
            "shippingCarrierCode",
        )
        if k in f
    }


@csrf_exempt
def shipping_fulfillments(request, order_id):
    """GET: getShippingFulfillments. POST: createShippingFulfillment (201 + Location)."""
    early, store, fault = _guard(request)
    if early:
        return early
    found, missing = _order_or_404(store, order_id)
    if missing:
        return missing
    if request.method == "GET":
        rows = [_fulfilment_view(f) for f in found.data.get("_fulfillments", [])]
        return mangle(JsonResponse({"fulfillments": rows, "total": len(rows), "warnings": []}), fault)
    if request.method != "POST":
        return JsonResponse({}, status=405)
    record(store, request)
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return _request_error(32600, "Invalid input data")
    quantities = {li["lineItemId"]: int(li["quantity"]) for li in found.data.get("lineItems", [])}
    items = body.get("lineItems")
    if not isinstance(items, list) or not items:
        return _request_error(32600, "Invalid input data", "lineItems is required")
    for item in items:
        if not isinstance(item, dict) or item.get("lineItemId") not in quantities:
            return _request_error(32200, "Invalid line item id", lineItemId=(item or {}).get("lineItemId"))
        if (
            not isinstance(item.get("quantity"), int)
            or not 1 <= item["quantity"] <= quantities[item["lineItemId"]]
        ):
            return _request_error(32600, "Invalid input data", "quantity out of range")
    tracking, carrier = body.get("trackingNumber") or "", body.get("shippingCarrierCode") or ""
    if (tracking and not carrier) or (carrier and carrier not in CARRIERS):
        return _request_error(
            32300, "Invalid shipment tracking number or carrier", shippingCarrierCode=carrier
        )
    shipped = body.get("shippedDate")
    if shipped and not DATE.fullmatch(shipped):
        return _request_error(32500, "Invalid shipped date")
    if (
        found.data.get("orderPaymentStatus") not in ("PAID", "PARTIALLY_REFUNDED")
        or (found.data.get("cancelStatus") or {}).get("cancelState") == "CANCELED"
    ):
        return _request_error(32100, "Invalid order Id", "The order is not paid or has been cancelled.")
    fulfilment = ship(
        found, tracking_number=tracking, carrier=carrier, line_items=items, shipped_date=shipped
    )
    response = JsonResponse({}, status=201)
    response["Location"] = request.build_absolute_uri(
        f"{request.path.rstrip('/')}/{fulfilment['fulfillmentId']}"
    )
    return mangle(response, fault)


def shipping_fulfillment(request, order_id, fulfillment_id):
    """GET /order/{orderId}/shipping_fulfillment/{fulfillmentId}."""
    early, store, fault = _guard(request)
    if early:
        return early
    found, missing = _order_or_404(store, order_id)
    if missing:
        return missing
    match = next(
        (f for f in found.data.get("_fulfillments", []) if f["fulfillmentId"] == fulfillment_id), None
    )
    if match is None:
        return _errors(
            404, 32110, "API_FULFILLMENT", "REQUEST", f"Invalid shipping fulfillment ID: {fulfillment_id}"
        )
    return mangle(JsonResponse(_fulfilment_view(match)), fault)


def inventory_item(request, sku):
    """GET /sell/inventory/v1/inventory_item/{sku}: getInventoryItem (weight, images). Needs the
    sell.inventory(.readonly) scope: `store.settings["no_inventory_scope"]` plays a consent without it."""
    early, store, fault = _guard(request)
    if early:
        return early
    if store.settings.get("no_inventory_scope"):
        return _errors(
            403,
            1100,
            "ACCESS",
            "REQUEST",
            "Access denied",
            "Insufficient permissions to fulfill the request.",
        )
    product = SandboxProduct.objects.filter(store=store, external_id=sku).first()
    if product is None:
        return _errors(
            404,
            25710,
            "API_INVENTORY",
            "REQUEST",
            "We didn't find the resource/entity you are requesting. Please verify the request",
        )
    return mangle(JsonResponse(product.data), fault)


# -- what happens on eBay's side (also used by tests and the generator)


def touch(order: SandboxOrder) -> None:
    now = time.time()
    order.data["lastModifiedDate"] = iso(now)
    order.updated_ts = int(now)
    order.status = order.data.get("orderFulfillmentStatus", "")
    order.save(update_fields=["data", "updated_ts", "status"])


def ship(
    order: SandboxOrder,
    *,
    tracking_number: str = "",
    carrier: str = "",
    line_items: list | None = None,
    shipped_date: str | None = None,
) -> dict:
    """A shipping fulfilment for some (default: all) line items, as Seller Hub or the API makes it."""
    data = order.data
    items = line_items or [
        {"lineItemId": li["lineItemId"], "quantity": li["quantity"]} for li in data["lineItems"]
    ]
    existing = {f["fulfillmentId"] for f in data.get("_fulfillments", [])}
    fulfilment_id = tracking_number or str(9_400_000_000 + order.store.next_id())
    while fulfilment_id in existing:
        fulfilment_id += "-1"
    fulfilment = {
        "fulfillmentId": fulfilment_id,
        "lineItems": items,
        "shippedDate": shipped_date or iso(time.time()),
    }
    if tracking_number:
        fulfilment.update(shipmentTrackingNumber=tracking_number, shippingCarrierCode=carrier)
    data.setdefault("_fulfillments", []).append(fulfilment)
    data.setdefault("fulfillmentHrefs", []).append(
        f"{PUBLIC_BASE}/order/{data['orderId']}/shipping_fulfillment/{fulfilment_id}"
    )
    sent: dict[str, int] = {}
    for f in data["_fulfillments"]:
        for li in f["lineItems"]:
            sent[li["lineItemId"]] = sent.get(li["lineItemId"], 0) + int(li["quantity"])
    for li in data["lineItems"]:
        done = sent.get(li["lineItemId"], 0)
        li["lineItemFulfillmentStatus"] = (
            "FULFILLED" if done >= li["quantity"] else "IN_PROGRESS" if done else "NOT_STARTED"
        )
    states = {li["lineItemFulfillmentStatus"] for li in data["lineItems"]}
    data["orderFulfillmentStatus"] = "FULFILLED" if states == {"FULFILLED"} else "IN_PROGRESS"
    touch(order)
    return fulfilment


def cancel(order: SandboxOrder, *, reason: str = "BUYER_ASKED_CANCEL") -> None:
    """The order is cancelled on eBay (and the buyer refunded)."""
    now = iso(time.time())
    order.data["cancelStatus"] = {
        "cancelState": "CANCELED",
        "cancelledDate": now,
        "cancelRequests": [
            {
                "cancelCompletedDate": now,
                "cancelInitiator": "BUYER",
                "cancelReason": reason,
                "cancelRequestedDate": now,
                "cancelRequestId": str(5_000_000_000 + order.store.next_id()),
                "cancelRequestState": "COMPLETED",
            }
        ],
    }
    order.data["orderPaymentStatus"] = "FULLY_REFUNDED"
    touch(order)


base = "sell/fulfillment/v1/"
urlpatterns = [
    path("identity/v1/oauth2/token", token),
    path(base + "order", orders),
    path(base + "order/<str:order_id>", order),
    path(base + "order/<str:order_id>/shipping_fulfillment", shipping_fulfillments),
    path(base + "order/<str:order_id>/shipping_fulfillment/<str:fulfillment_id>", shipping_fulfillment),
    path("sell/inventory/v1/inventory_item/<path:sku>", inventory_item),
]
