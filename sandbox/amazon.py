"""Amazon stand-in: Selling Partner API Orders 2026-01-01 (searchOrders, getOrder), Orders v0
(getOrders, confirmShipment) and the Login with Amazon token endpoint, at /sandbox/amazon/….
Follows shared/api-facts.md §4 and the amzn/selling-partner-api-models specs: `x-amz-access-token`,
`includedData` datasets, `pagination.nextToken` <- `paginationToken`, string amounts,
`{"errors": [{code, message, details}]}`, `x-amzn-RequestId` on every answer and
`x-amzn-RateLimit-Limit` on the ones that are not 429 (a 429 has no Retry-After). Also the
Catalog Items API's getCatalogItem (weight and images), from the store's SandboxProducts by ASIN.

The store key is the marketplace id (the channel's shop id). Each order is kept whole, every
dataset included, with the v0-only facts under `data["_v0"]`; the answer carries the datasets
asked for. Sandbox-side state: issued tokens (`settings["tokens"]`), a revoked consent
(`settings["revoked"]`), and `settings["rotate_refresh_token"]` to hand out a new refresh token
with each access token."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import time
import uuid
from datetime import UTC, datetime

from django.http import HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from sandbox import ratelimit
from sandbox.faults import fault_response, mangle, record, take_fault
from sandbox.models import SandboxOrder, SandboxProduct, SandboxRequest, SandboxStore

KIND = "amazon"
TOKEN_LIFETIME = 3600
DEFAULT_MARKETPLACE = "ATVPDKIKX0DER"
RATES = {
    "searchOrders": "0.0056",
    "getOrder": "0.5",
    "getOrders": "0.0167",
    "confirmShipment": "2.0",
    "getCatalogItem": "2.0",
    "getOrderV0": "0.5",
    "getOrderItems": "0.5",
}
ORDER_DATASETS = {
    "BUYER": "buyer",
    "RECIPIENT": "recipient",
    "PROCEEDS": "proceeds",
    "PAYMENT": "payment",
    "TAX": "tax",
    "FULFILLMENT": "fulfillment",
    "PACKAGES": "packages",
    "FULFILLMENT_ORDERS": "fulfillmentOrders",
}
ITEM_DATASETS = {
    "PROCEEDS": "proceeds",
    "EXPENSE": "expense",
    "PROMOTION": "promotion",
    "CANCELLATION": "cancellation",
    "FULFILLMENT": "fulfillment",
    "TAX": "tax",
}
STATUSES = {
    "PENDING_AVAILABILITY",
    "PENDING",
    "UNSHIPPED",
    "PARTIALLY_SHIPPED",
    "SHIPPED",
    "CANCELLED",
    "UNFULFILLABLE",
}
V0_STATUS = {
    "PENDING_AVAILABILITY": "PendingAvailability",
    "PENDING": "Pending",
    "UNSHIPPED": "Unshipped",
    "PARTIALLY_SHIPPED": "PartiallyShipped",
    "SHIPPED": "Shipped",
    "CANCELLED": "Canceled",
    "UNFULFILLABLE": "Unfulfillable",
}
V0_CATEGORY = {
    "STANDARD": "Standard",
    "EXPEDITED": "Expedited",
    "FREE_ECONOMY": "FreeEconomy",
    "NEXT_DAY": "NextDay",
    "PRIORITY": "Priority",
    "SAME_DAY": "SameDay",
    "SECOND_DAY": "SecondDay",
    "SCHEDULED": "Scheduled",
}
# A subset of Amazon's CarrierCode list (the values confirmShipment and the fulfilment feeds accept).
CARRIER_CODES = {
    "Amazon Shipping",
    "Aramex",
    "Australia Post",
    "Blue Package",
    "Canada Post",
    "Chronopost",
    "Colissimo",
    "Correos",
    "DHL",
    "DHL eCommerce",
    "DPD",
    "Delhivery",
    "Deutsche Post",
    "Evri",
    "FedEx",
    "GLS",
    "Hermes",
    "InPost",
    "Japan Post",
    "La Poste",
    "OnTrac",
    "Other",
    "Parcelforce",
    "PostNL",
    "Poste Italiane",
    "Purolator",
    "Royal Mail",
    "Startrack",
    "TNT",
    "UPS",
    "USPS",
    "YAMATO",
    "Yodel",
}
DEFAULT_FAULT_BODIES = {
    429: ("QuotaExceeded", "You exceeded your quota for the requested resource."),
    500: ("InternalFailure", "We encountered an internal error. Please try again."),
    503: ("ServiceUnavailable", "Service temporarily unavailable. Please try again."),
    403: ("Unauthorized", "Access to requested resource is denied."),
}


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str) -> float | None:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        return None
    return parsed.timestamp() if parsed.tzinfo else None


def marketplace_of(store: SandboxStore) -> str:
    return store.key if re.fullmatch(r"A[0-9A-Z]{9,13}", store.key) else DEFAULT_MARKETPLACE


def _finish(response: HttpResponse, operation: str | None = None) -> HttpResponse:
    response["x-amzn-RequestId"] = str(uuid.uuid4())
    if operation and response.status_code != 429:
        response["x-amzn-RateLimit-Limit"] = RATES[operation]
    return response


def _error(
    status: int, code: str, message: str, details: str = "", operation: str | None = None
) -> HttpResponse:
    return _finish(
        JsonResponse({"errors": [{"code": code, "message": message, "details": details}]}, status=status),
        operation,
    )


def _invalid(message: str, operation: str) -> HttpResponse:
    return _error(400, "InvalidInput", message, operation=operation)


# -- Login with Amazon


def _store_for_token(token: str) -> tuple[SandboxStore | None, str]:
    """(store, why not): an access token the store issued or was given, and that has not expired."""
    if not token:
        return None, "Access token is missing in the request header."
    now = time.time()
    for store in SandboxStore.objects.filter(kind=KIND):
        creds, issued = store.credentials, store.settings.get("tokens", {})
        if token != creds.get("access_token") and token not in issued:
            continue
        if store.settings.get("revoked"):
            return None, "The access token you provided is revoked, malformed or invalid."
        expires = float(issued.get(token) or creds.get("expires_at") or now + 1)
        if expires <= now:
            return None, "The access token you provided has expired."
        return store, ""
    return None, "The access token you provided is revoked, malformed or invalid."


def revoke(store: SandboxStore) -> None:
    """The seller removed the app's authorisation in Seller Central: every token stops working."""
    store.settings = {**store.settings, "revoked": True, "tokens": {}}
    store.save(update_fields=["settings"])


def _lwa_error(status: int, error: str, description: str) -> JsonResponse:
    return JsonResponse({"error_description": description, "error": error}, status=status)


@csrf_exempt
def token(request):
    """POST /auth/o2/token: grant_type=refresh_token with client_id and client_secret in the form."""
    if request.method != "POST":
        return _lwa_error(405, "invalid_request", "The request method must be POST")
    if not request.content_type.startswith("application/x-www-form-urlencoded"):
        return _lwa_error(
            400, "invalid_request", "The Content-Type must be application/x-www-form-urlencoded"
        )
    form = request.POST
    missing = [k for k in ("grant_type", "refresh_token", "client_id", "client_secret") if not form.get(k)]
    if missing:
        return _lwa_error(
            400, "invalid_request", f"The request is missing a required parameter : {missing[0]}"
        )
    if form["grant_type"] != "refresh_token":
        return _lwa_error(400, "unsupported_grant_type", "The authorization grant type is not supported")
    clients = [
        s
        for s in SandboxStore.objects.filter(kind=KIND)
        if s.credentials.get("client_id") == form["client_id"]
        and s.credentials.get("client_secret") == form["client_secret"]
    ]
    if not clients:
        return _lwa_error(401, "invalid_client", "Client authentication failed")
    store = next((s for s in clients if s.credentials.get("refresh_token") == form["refresh_token"]), None)
    if store is None or store.settings.get("revoked"):
        return _lwa_error(400, "invalid_grant", "The request has an invalid grant parameter : refresh_token")
    early = fault_response(take_fault(store, request.path))
    if early:
        return early
    access = f"Atza|{secrets.token_urlsafe(32)}"
    now = time.time()
    tokens = {t: exp for t, exp in store.settings.get("tokens", {}).items() if exp > now}
    tokens[access] = now + TOKEN_LIFETIME
    store.settings = {**store.settings, "tokens": tokens}
    refresh = form["refresh_token"]
    if store.settings.get(
        "rotate_refresh_token"
    ):  # an OAuth server may rotate; the old one then stops working
        refresh = f"Atzr|{secrets.token_urlsafe(32)}"
        store.credentials = {**store.credentials, "refresh_token": refresh}
    store.save(update_fields=["settings", "credentials"])
    SandboxRequest.objects.create(
        store=store,
        method="POST",
        path=request.path,
        content_type=request.content_type,
        body="",
        parsed={"grant_type": form["grant_type"], "client_id": form["client_id"]},
    )
    return JsonResponse(
        {
            "access_token": access,
            "refresh_token": refresh,
            "token_type": "bearer",
            "expires_in": TOKEN_LIFETIME,
        }
    )


# -- the API


def _guard(request, operation: str):
    store, why = _store_for_token(request.headers.get("x-amz-access-token", ""))
    if store is None:
        return (
            _error(403, "Unauthorized", "Access to requested resource is denied.", why, operation),
            None,
            None,
        )
    if not ratelimit.take(
        store, KIND, operation, request=request
    ).allowed:  # per operation: sandbox/ratelimit.py
        return _error(429, *DEFAULT_FAULT_BODIES[429], operation=operation), store, None
    fault = take_fault(store, request.path)
    if fault and fault.get("status") and "body" not in fault and int(fault["status"]) in DEFAULT_FAULT_BODIES:
        code, message = DEFAULT_FAULT_BODIES[int(fault["status"])]
        fault["body"] = {"errors": [{"code": code, "message": message, "details": ""}]}
    early = fault_response(fault)
    return (_finish(early, operation) if early else None), store, fault


def _csv(q, name: str) -> list[str]:
    return [v for value in q.getlist(name) for v in value.split(",") if v]


def shape(data: dict, included: set[str]) -> dict:
    """The order as searchOrders/getOrder answer it: only the datasets asked for."""
    hidden = {key for dataset, key in ORDER_DATASETS.items() if dataset not in included}
    out = {k: v for k, v in data.items() if not k.startswith("_") and k not in hidden}
    item_hidden = {key for dataset, key in ITEM_DATASETS.items() if dataset not in included}
    out["orderItems"] = [
        {k: v for k, v in item.items() if k not in item_hidden} for item in data["orderItems"]
    ]
    return out


def _token_for(fingerprint: str, offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset, "f": fingerprint}).encode()).decode()


def search_orders(request):
    """GET /orders/2026-01-01/orders: searchOrders."""
    op = "searchOrders"
    early, store, fault = _guard(request, op)
    if early:
        return early
    q = request.GET
    created_after, updated_after = q.get("createdAfter"), q.get("lastUpdatedAfter")
    if bool(created_after) == bool(updated_after):
        return _invalid("Exactly one of createdAfter and lastUpdatedAfter must be provided.", op)
    if (created_after and q.get("lastUpdatedBefore")) or (updated_after and q.get("createdBefore")):
        return _invalid(
            "createdAfter/createdBefore cannot be combined with lastUpdatedAfter/lastUpdatedBefore.", op
        )
    field = "created_ts" if created_after else "updated_ts"
    after = parse_time(created_after or updated_after)
    before_param = q.get("createdBefore") if created_after else q.get("lastUpdatedBefore")
    before = parse_time(before_param) if before_param else None
    if after is None or (before_param and before is None):
        return _invalid("Dates must be in ISO 8601 format with a time zone.", op)
    try:
        size = int(q.get("maxResultsPerPage", 100))
    except ValueError:
        size = 0
    if not 1 <= size <= 100:
        return _invalid("maxResultsPerPage must be between 1 and 100.", op)
    included = set(_csv(q, "includedData"))
    wanted_statuses = set(_csv(q, "fulfillmentStatuses"))
    fulfilled_by = set(_csv(q, "fulfilledBy"))
    marketplaces = set(_csv(q, "marketplaceIds"))
    unknown = (
        (included - set(ORDER_DATASETS) - set(ITEM_DATASETS) - {"FULFILLMENT_ORDERS"})
        | (wanted_statuses - STATUSES)
        | (fulfilled_by - {"MERCHANT", "AMAZON"})
    )
    if unknown:
        return _invalid(f"Invalid value(s): {', '.join(sorted(unknown))}", op)
    if marketplaces and marketplace_of(store) not in marketplaces:
        return _invalid(f"Invalid marketplaceIds: {', '.join(sorted(marketplaces))}", op)
    fingerprint = hashlib.sha256(
        json.dumps(
            sorted((k, q.getlist(k)) for k in q if k not in ("paginationToken", "maxResultsPerPage"))
        ).encode()
    ).hexdigest()[:16]
    offset = 0
    if q.get("paginationToken"):
        try:
            decoded = json.loads(base64.urlsafe_b64decode(q["paginationToken"].encode()))
            offset = int(decoded["o"])
            if decoded["f"] != fingerprint:
                raise ValueError("token of another query")
        except (ValueError, KeyError, TypeError):
            return _invalid("Invalid paginationToken: it does not belong to this request's filters.", op)

    qs = SandboxOrder.objects.filter(store=store, **{f"{field}__gte": int(after)})
    if before is not None:
        qs = qs.filter(**{f"{field}__lte": int(before)})
    if wanted_statuses:
        qs = qs.filter(status__in=wanted_statuses)
    if fulfilled_by:
        qs = qs.filter(data__fulfillment__fulfilledBy__in=sorted(fulfilled_by))
    # One page (and one more row, to know whether another page follows) read from the database,
    # not the whole account: a page costs the same whether the store holds 100 orders or 100,000.
    rows = [o.data for o in qs.order_by("created_ts", "id").only("data")[offset : offset + size + 1]]
    body = {"orders": [shape(r, included) for r in rows[:size]]}
    if len(rows) > size:
        body["pagination"] = {"nextToken": _token_for(fingerprint, offset + size)}
    body["createdBefore" if created_after else "lastUpdatedBefore"] = iso(before or time.time())
    return _finish(mangle(JsonResponse(body), fault), op)


def _order_or_404(store, order_id, op):
    order = SandboxOrder.objects.filter(store=store, external_id=order_id).first()
    if order is None:
        return None, _error(404, "NotFound", f"Order {order_id} not found.", operation=op)
    return order, None


def get_order(request, order_id):
    """GET /orders/2026-01-01/orders/{orderId}: getOrder."""
    op = "getOrder"
    early, store, fault = _guard(request, op)
    if early:
        return early
    included = set(_csv(request.GET, "includedData"))
    unknown = included - set(ORDER_DATASETS) - set(ITEM_DATASETS)  # the spec's includedData enum
    if unknown:
        return _invalid(f"Invalid value(s) for includedData: {', '.join(sorted(unknown))}", op)
    found, missing = _order_or_404(store, order_id, op)
    if missing:
        return missing
    return _finish(mangle(JsonResponse({"order": shape(found.data, included)}), fault), op)


def v0_order(d: dict) -> dict:
    """The v0 Order without Restricted Data (no name, street or buyer e-mail)."""
    f, v0 = d.get("fulfillment") or {}, d.get("_v0") or {}
    status = f.get("fulfillmentStatus", "PENDING")
    shipped = sum((i.get("fulfillment") or {}).get("quantityFulfilled", 0) for i in d["orderItems"])
    ordered = sum(i["quantityOrdered"] for i in d["orderItems"])
    grand = (d.get("proceeds") or {}).get("grandTotal") or {}
    out = {
        "AmazonOrderId": d["orderId"],
        "PurchaseDate": d["createdTime"],
        "LastUpdateDate": d["lastUpdatedTime"],
        "OrderStatus": V0_STATUS[status],
        "FulfillmentChannel": "AFN" if f.get("fulfilledBy") == "AMAZON" else "MFN",
        "SalesChannel": d["salesChannel"].get("marketplaceName", "Amazon.com"),
        "ShipServiceLevel": v0.get("ShipServiceLevel", "Std US D2D Dom"),
        "ShipmentServiceLevelCategory": V0_CATEGORY.get(f.get("fulfillmentServiceLevel", ""), "Standard"),
        "NumberOfItemsShipped": shipped,
        "NumberOfItemsUnshipped": ordered - shipped,
        "PaymentMethod": v0.get("PaymentMethod", "Other"),
        "PaymentMethodDetails": v0.get("PaymentMethodDetails", []),
        "MarketplaceId": d["salesChannel"]["marketplaceId"],
        "OrderType": "StandardOrder",
        "EarliestShipDate": (f.get("shipByWindow") or {}).get("earliestDateTime"),
        "LatestShipDate": (f.get("shipByWindow") or {}).get("latestDateTime"),
        "IsBusinessOrder": "AMAZON_BUSINESS" in d.get("programs", []),
        "IsPrime": "PRIME" in d.get("programs", []),
        "IsPremiumOrder": "PREMIUM" in d.get("programs", []),
        "IsGlobalExpressEnabled": False,
        "IsReplacementOrder": False,
        "IsSoldByAB": False,
        "IsISPU": False,
        "IsAccessPointOrder": False,
        "HasRegulatedItems": False,
    }
    if grand:
        out["OrderTotal"] = {"CurrencyCode": grand["currencyCode"], "Amount": grand["amount"]}
    address = (d.get("recipient") or {}).get("deliveryAddress")
    if address and status not in ("PENDING", "PENDING_AVAILABILITY"):
        out["ShippingAddress"] = {
            "City": address.get("city"),
            "StateOrRegion": address.get("stateOrRegion"),
            "PostalCode": address.get("postalCode"),
            "CountryCode": address.get("countryCode"),
        }
    return out


V0_STATUSES = {v: k for k, v in V0_STATUS.items()} | {"InvoiceUnconfirmed": None}


def v0_get_orders(request):
    """GET /orders/v0/orders: getOrders (deprecated for reading, kept for ShipServiceLevel), with
    its filters: OrderStatuses, FulfillmentChannels, AmazonOrderIds, Created/LastUpdated After and
    Before, MaxResultsPerPage 1-100, NextToken."""
    op = "getOrders"
    early, store, fault = _guard(request, op)
    if early:
        return early
    q = request.GET
    marketplaces = set(_csv(q, "MarketplaceIds"))
    if not marketplaces:
        return _invalid("MarketplaceIds is required.", op)
    if marketplace_of(store) not in marketplaces:
        return _invalid(f"Invalid MarketplaceIds: {', '.join(sorted(marketplaces))}", op)
    created, updated = q.get("CreatedAfter"), q.get("LastUpdatedAfter")
    if bool(created) == bool(updated):
        return _invalid("Exactly one of CreatedAfter and LastUpdatedAfter is required.", op)
    if (created and q.get("LastUpdatedBefore")) or (updated and q.get("CreatedBefore")):
        return _invalid(
            "CreatedAfter/CreatedBefore cannot be combined with LastUpdatedAfter/LastUpdatedBefore.", op
        )
    after = parse_time(created or updated)
    before_param = q.get("CreatedBefore") if created else q.get("LastUpdatedBefore")
    before = parse_time(before_param) if before_param else None
    if after is None or (before_param and before is None):
        return _invalid("CreatedAfter/LastUpdatedAfter and the Before dates must be ISO 8601 date-times.", op)
    statuses = _csv(q, "OrderStatuses")
    bad = [v for v in statuses if v not in V0_STATUSES]
    if bad:
        return _invalid(
            f"Invalid OrderStatuses: {', '.join(bad)}. Valid values: {', '.join(V0_STATUSES)}.", op
        )
    channels = set(_csv(q, "FulfillmentChannels"))
    if channels - {"MFN", "AFN"}:
        return _invalid(f"Invalid FulfillmentChannels: {', '.join(sorted(channels - {'MFN', 'AFN'}))}.", op)
    ids = _csv(q, "AmazonOrderIds")
    if len(ids) > 50:
        return _invalid("AmazonOrderIds accepts at most 50 ids.", op)
    try:
        size, offset = int(q.get("MaxResultsPerPage", 100)), int(q.get("NextToken") or 0)
    except ValueError:
        return _invalid("Invalid MaxResultsPerPage or NextToken.", op)
    if not 1 <= size <= 100:
        return _invalid("MaxResultsPerPage must be between 1 and 100.", op)
    field = "created_ts" if created else "updated_ts"
    qs = SandboxOrder.objects.filter(store=store, **{f"{field}__gte": int(after)})
    if before is not None:
        qs = qs.filter(**{f"{field}__lte": int(before)})
    if ids:
        qs = qs.filter(external_id__in=ids)
    if statuses:
        qs = qs.filter(status__in=[V0_STATUSES[v] for v in statuses if V0_STATUSES[v]])
    rows = [v0_order(o.data) for o in qs.order_by("created_ts", "id")]
    if channels:
        rows = [r for r in rows if r["FulfillmentChannel"] in channels]
    payload = {"Orders": rows[offset : offset + size]}
    payload["CreatedBefore" if created else "LastUpdatedBefore"] = iso(before or time.time())
    if offset + size < len(rows):
        payload["NextToken"] = str(offset + size)
    return _finish(mangle(JsonResponse({"payload": payload}), fault), op)


def _refuse_items(data: dict, detail: dict, op: str) -> HttpResponse | None:
    """An unknown order item, or more units than the order still has to ship once this package
    is counted (a package sent again with its own packageReferenceId replaces itself, so its old
    items do not count against it)."""
    items = {i["orderItemId"]: i for i in data["orderItems"]}
    reference = str(detail["packageReferenceId"])
    shipped: dict[str, int] = {}
    for package in data.get("packages") or []:
        if (
            package["packageReferenceId"] == reference
            or (package.get("packageStatus") or {}).get("status") == "CANCELLED"
        ):
            continue
        for i in package.get("packageItems") or []:
            shipped[i["orderItemId"]] = shipped.get(i["orderItemId"], 0) + int(i["quantity"])
    asked: dict[str, int] = {}
    for line in detail["orderItems"]:
        if not isinstance(line, dict) or line.get("orderItemId") not in items:
            return _invalid(f"Invalid orderItemId: {(line or {}).get('orderItemId')}", op)
        if not isinstance(line.get("quantity"), int) or line["quantity"] < 1:
            return _invalid(f"Invalid quantity for orderItemId {line['orderItemId']}", op)
        asked[line["orderItemId"]] = asked.get(line["orderItemId"], 0) + line["quantity"]
    for item_id, quantity in asked.items():
        left = items[item_id]["quantityOrdered"] - shipped.get(item_id, 0)
        if quantity > left:
            return _invalid(
                f"Invalid quantity for orderItemId {item_id}: {quantity} exceeds the {max(left, 0)} "
                "not yet shipped",
                op,
            )
    return None


def v0_get_order(request, order_id):
    """GET /orders/v0/orders/{orderId}: getOrder (v0)."""
    op = "getOrderV0"
    early, store, fault = _guard(request, op)
    if early:
        return early
    found, missing = _order_or_404(store, order_id, op)
    if missing:
        return missing
    return _finish(mangle(JsonResponse({"payload": v0_order(found.data)}), fault), op)


def v0_order_item(item: dict) -> dict:
    """A 2026-01-01 order item as v0 getOrderItems lists it (ItemPrice is price x quantity)."""
    product = item.get("product") or {}
    unit = (product.get("price") or {}).get("unitPrice") or {}
    done = (item.get("fulfillment") or {}).get("quantityFulfilled", 0)
    gift = ((item.get("fulfillment") or {}).get("packing") or {}).get("giftOption")
    out = {
        "OrderItemId": item["orderItemId"],
        "ASIN": product.get("asin", ""),
        "SellerSKU": product.get("sellerSku", ""),
        "Title": product.get("title", ""),
        "QuantityOrdered": item["quantityOrdered"],
        "QuantityShipped": done,
        "PromotionIds": [
            b["promotionId"]
            for b in (item.get("promotion") or {}).get("breakdowns") or []
            if b.get("promotionId")
        ],
        "IsGift": "true" if gift is not None else "false",
    }
    if unit:
        out["ItemPrice"] = {
            "CurrencyCode": unit["currencyCode"],
            "Amount": f"{float(unit['amount']) * item['quantityOrdered']:.2f}",
        }
    if gift and gift.get("giftMessage"):
        out["BuyerInfo"] = {"GiftMessageText": gift["giftMessage"]}
    if item.get("measurement"):
        out["Measurement"] = {
            "Unit": item["measurement"].get("unit"),
            "Value": item["measurement"].get("value"),
        }
    return out


def v0_get_order_items(request, order_id):
    """GET /orders/v0/orders/{orderId}/orderItems: getOrderItems (v0), one page of them."""
    op = "getOrderItems"
    early, store, fault = _guard(request, op)
    if early:
        return early
    found, missing = _order_or_404(store, order_id, op)
    if missing:
        return missing
    payload = {"AmazonOrderId": order_id, "OrderItems": [v0_order_item(i) for i in found.data["orderItems"]]}
    return _finish(mangle(JsonResponse({"payload": payload}), fault), op)


@csrf_exempt
def confirm_shipment(request, order_id):
    """POST /orders/v0/orders/{orderId}/shipmentConfirmation: 204, no body."""
    op = "confirmShipment"
    if request.method != "POST":
        return _error(405, "MethodNotAllowed", "Method not allowed", operation=op)
    early, store, fault = _guard(request, op)
    if early:
        return early
    record(store, request)
    found, missing = _order_or_404(store, order_id, op)
    if missing:
        return missing
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return _invalid("The request body is not valid JSON.", op)
    detail = body.get("packageDetail") if isinstance(body, dict) else None
    if not isinstance(detail, dict) or not body.get("marketplaceId"):
        return _invalid("marketplaceId and packageDetail are required.", op)
    if body["marketplaceId"] != marketplace_of(store):
        return _invalid(f"Invalid marketplaceId: {body['marketplaceId']}", op)
    missing_fields = [
        k
        for k in ("packageReferenceId", "carrierCode", "trackingNumber", "shipDate", "orderItems")
        if not detail.get(k)
    ]
    if missing_fields:
        return _invalid(f"Missing required field(s) in packageDetail: {', '.join(missing_fields)}", op)
    if not str(detail["packageReferenceId"]).isdigit() or int(detail["packageReferenceId"]) < 1:
        return _invalid("packageReferenceId must be a positive number.", op)
    if detail["carrierCode"] not in CARRIER_CODES:
        return _invalid(
            f"Invalid carrierCode: {detail['carrierCode']}. Use a value from the CarrierCode list, or "
            "Other with carrierName.",
            op,
        )
    if detail["carrierCode"] == "Other" and not detail.get("carrierName"):
        return _invalid("carrierName is required when carrierCode is Other.", op)
    if parse_time(detail["shipDate"]) is None:
        return _invalid("shipDate must be an ISO 8601 date-time.", op)
    status = (found.data.get("fulfillment") or {}).get("fulfillmentStatus")
    editing = any(
        p["packageReferenceId"] == str(detail["packageReferenceId"]) for p in found.data.get("packages", [])
    )
    if status not in ("UNSHIPPED", "PARTIALLY_SHIPPED") and not (editing and status == "SHIPPED"):
        return _invalid(
            f"The order is {V0_STATUS.get(status, status)}; its shipment cannot be confirmed.", op
        )
    refusal = _refuse_items(found.data, detail, op)
    if refusal:
        return refusal
    ship(
        found,
        tracking_number=detail["trackingNumber"],
        carrier_code=detail["carrierCode"],
        carrier_name=detail.get("carrierName", ""),
        service=detail.get("shippingMethod", ""),
        items=[{"orderItemId": i["orderItemId"], "quantity": i["quantity"]} for i in detail["orderItems"]],
        reference=str(detail["packageReferenceId"]),
        ship_date=detail["shipDate"],
    )
    return _finish(mangle(HttpResponse(status=204), fault), op)


def catalog_item(request, asin):
    """GET /catalog/2022-04-01/items/{asin}: getCatalogItem (dimensions, images). The app needs the
    Product Listing role: `store.settings["no_catalog_role"]` plays an app without it."""
    op = "getCatalogItem"
    early, store, fault = _guard(request, op)
    if early:
        return early
    if store.settings.get("no_catalog_role"):
        return _error(403, "Unauthorized", "Access to requested resource is denied.", operation=op)
    marketplaces = _csv(request.GET, "marketplaceIds")
    if not marketplaces:
        return _invalid("marketplaceIds is required.", op)
    product = SandboxProduct.objects.filter(store=store, external_id=asin).first()
    if product is None:
        return _error(
            404,
            "NotFound",
            f"Requested item '{asin}' not found in marketplace(s) {','.join(marketplaces)}.",
            operation=op,
        )
    included = set(_csv(request.GET, "includedData") or ["summaries"])
    body = {"asin": asin, **{k: v for k, v in product.data.items() if k in included}}
    return _finish(mangle(JsonResponse(body), fault), op)


# -- what happens on Amazon's side (also used by tests and the generator)


def touch(order: SandboxOrder) -> None:
    now = time.time()
    order.data["lastUpdatedTime"] = iso(now)
    order.updated_ts = int(now)
    order.status = (order.data.get("fulfillment") or {}).get("fulfillmentStatus", "")
    order.save(update_fields=["data", "updated_ts", "status"])


def ship(
    order: SandboxOrder,
    *,
    tracking_number: str,
    carrier_code: str = "USPS",
    carrier_name: str = "",
    service: str = "",
    items: list | None = None,
    reference: str | None = None,
    ship_date: str | None = None,
) -> dict:
    """A package confirmed for some (default: all unshipped) items; the same reference edits it."""
    data = order.data
    packages = data.setdefault("packages", [])
    if items is None:
        items = [
            {
                "orderItemId": i["orderItemId"],
                "quantity": (i.get("fulfillment") or {}).get("quantityUnfulfilled", i["quantityOrdered"]),
            }
            for i in data["orderItems"]
        ]
        items = [i for i in items if i["quantity"]]
    reference = reference or str(len(packages) + 1)
    package = {
        "packageReferenceId": reference,
        "createdTime": iso(time.time()),
        "packageStatus": {"status": "IN_TRANSIT", "detailedStatus": "IN_TRANSIT"},
        "carrier": carrier_name if carrier_code == "Other" else carrier_code,
        "shipTime": ship_date or iso(time.time()),
        "shippingService": service,
        "trackingNumber": tracking_number,
        "packageItems": items,
    }
    data["packages"] = [p for p in packages if p["packageReferenceId"] != reference] + [package]
    sent: dict[str, int] = {}
    for p in data["packages"]:
        for i in p["packageItems"]:
            sent[i["orderItemId"]] = sent.get(i["orderItemId"], 0) + int(i["quantity"])
    for item in data["orderItems"]:
        done = min(sent.get(item["orderItemId"], 0), item["quantityOrdered"])
        item.setdefault("fulfillment", {}).update(
            quantityFulfilled=done, quantityUnfulfilled=item["quantityOrdered"] - done
        )
    left = sum(i["fulfillment"]["quantityUnfulfilled"] for i in data["orderItems"])
    data.setdefault("fulfillment", {})["fulfillmentStatus"] = "SHIPPED" if left == 0 else "PARTIALLY_SHIPPED"
    touch(order)
    return package


def cancel(order: SandboxOrder, *, reason: str = "Buyer cancelled") -> None:
    """The order is cancelled on Amazon."""
    order.data.setdefault("fulfillment", {})["fulfillmentStatus"] = "CANCELLED"
    for item in order.data["orderItems"]:
        item["cancellation"] = {
            "cancellationRequest": {"requester": "BUYER", "cancelReason": reason},
            "cancellationExecution": {"cancelledBy": "MERCHANT", "cancelReason": reason},
        }
    touch(order)


urlpatterns = [
    path("auth/o2/token", token),
    path("orders/2026-01-01/orders", search_orders),
    path("orders/2026-01-01/orders/<str:order_id>", get_order),
    path("orders/v0/orders", v0_get_orders),
    path("orders/v0/orders/<str:order_id>", v0_get_order),
    path("orders/v0/orders/<str:order_id>/orderItems", v0_get_order_items),
    path("orders/v0/orders/<str:order_id>/shipmentConfirmation", confirm_shipment),
    path("catalog/2022-04-01/items/<str:asin>", catalog_item),
]
