"""Etsy Open API v3 stand-in: receipts, listings, tracking pushes, and the OAuth token
endpoint (/sandbox/etsy/v3/public/oauth/token). Paths, auth and answers follow the real API
(see shared/api-facts.md §1).

Token state a real Etsy account has but the API does not show lives in `store.settings`: the
access tokens the endpoint issued and their expiry (`tokens`), the refresh token now valid
(`refresh_token`; Etsy rotates it on every refresh and the old one stops working), and a
withdrawn consent (`revoked`). The seed `access_token` in the store's credentials works until
its `expires_at` (for ever without one), so a channel with a static token keeps working."""

from __future__ import annotations

import json
import secrets
import time

from django.db import transaction
from django.http import HttpResponse, JsonResponse, QueryDict
from django.views.decorators.csrf import csrf_exempt

from sandbox import images, ratelimit
from sandbox.faults import fault_response, mangle, record, take_fault
from sandbox.models import SandboxOrder, SandboxProduct, SandboxRequest, SandboxStore

KIND = "etsy"
TOKEN_LIFETIME = 3600  # Etsy access tokens last an hour
# What GET /shipping-carriers names; createReceiptShipment takes these (or "other") as carrier_name.
CARRIERS = [
    "usps",
    "ups",
    "fedex",
    "dhl",
    "dhl-express",
    "royal-mail",
    "parcelforce",
    "canada-post",
    "dpd",
    "colissimo",
    "chronopost",
    "la-poste",
    "postnl",
    "deutsche-post",
    "australia-post",
    "gls",
    "evri",
    "hermes",
    "bpost",
    "other",
]


def _flags(data: dict) -> dict:
    status = (data.get("status") or "").lower()
    return {
        "paid": bool(data.get("is_paid")),
        "shipped": bool(data.get("is_shipped")),
        "canceled": status in ("canceled", "fully refunded"),
        "delivered": bool(data.get("is_delivered", False)),
    }


def _authenticate(request, store: SandboxStore | None):
    """Etsy wants `x-api-key: keystring:shared_secret` and a Bearer token."""
    api_key = request.headers.get("x-api-key", "")
    if not api_key:
        return JsonResponse({"error": "Missing API key."}, status=403)
    if ":" not in api_key:
        return JsonResponse({"error": "Shared secret is required in x-api-key header."}, status=403)
    keystring, secret = api_key.split(":", 1)
    if store is None:
        store = SandboxStore.objects.filter(kind=KIND, credentials__keystring=keystring).first()
    creds = store.credentials if store else {}
    if not store or creds.get("keystring") != keystring or creds.get("shared_secret") != secret:
        return JsonResponse({"error": "Invalid API key."}, status=403)
    auth = request.headers.get("Authorization", "")
    expires_at = _access_expiry(store, auth.removeprefix("Bearer ")) if auth.startswith("Bearer ") else None
    if expires_at is None:
        return JsonResponse(
            {"error": "invalid_token", "error_description": "Access token is invalid"}, status=401
        )
    if expires_at <= time.time():
        return JsonResponse(
            {"error": "invalid_token", "error_description": "access token is expired"}, status=401
        )
    return None


# -- tokens


def _access_expiry(store: SandboxStore, token: str) -> float | None:
    """When `token` stops working (unix seconds), or None if this account never issued it."""
    if not token or store.settings.get("revoked"):
        return None
    issued = store.settings.get("tokens", {}).get(token)
    if issued is not None:
        return float(issued)
    if token == store.credentials.get("access_token"):
        expires_at = store.credentials.get("expires_at")
        return float(expires_at) if expires_at not in (None, "") else float("inf")
    return None


def current_refresh_token(store: SandboxStore) -> str:
    return store.settings.get("refresh_token") or store.credentials.get("refresh_token", "")


def expire_access_tokens(store: SandboxStore) -> None:
    """Every access token of the account expires now (Etsy's clock ran ahead of ours)."""
    now = time.time() - 1
    store.credentials = {**store.credentials, "expires_at": now}
    store.settings = {**store.settings, "tokens": {t: now for t in store.settings.get("tokens", {})}}
    store.save(update_fields=["credentials", "settings"])


def revoke(store: SandboxStore) -> None:
    """The seller removed the app from their Etsy account (or changed their password): every
    token, access and refresh, stops working."""
    store.settings = {**store.settings, "revoked": True, "tokens": {}}
    store.save(update_fields=["settings"])


def _oauth_error(status: int, error: str, description: str) -> JsonResponse:
    return JsonResponse({"error": error, "error_description": description}, status=status)


def _user_id(store: SandboxStore) -> str:
    # Etsy prefixes both tokens with the numeric id of the user who granted access.
    prefix = current_refresh_token(store).split(".", 1)[0]
    return prefix if prefix.isdigit() else str(store.settings.get("user_id") or 50_000_000 + store.pk)


@csrf_exempt
def token(request):
    """POST /v3/public/oauth/token, form-encoded: grant_type=refresh_token, client_id (the
    keystring: Etsy apps are PKCE public clients, no secret) and refresh_token."""
    if request.method != "POST":
        return _oauth_error(405, "invalid_request", "request method must be POST")
    if not request.content_type.startswith("application/x-www-form-urlencoded"):
        return _oauth_error(400, "invalid_request", "content type must be application/x-www-form-urlencoded")
    form = request.POST
    if form.get("grant_type") != "refresh_token":
        return _oauth_error(400, "unsupported_grant_type", "grant_type must be refresh_token")
    client_id, refresh_token = form.get("client_id", ""), form.get("refresh_token", "")
    if not client_id or not refresh_token:
        return _oauth_error(400, "invalid_request", "client_id and refresh_token are required")
    stores = [
        s for s in SandboxStore.objects.filter(kind=KIND) if s.credentials.get("keystring") == client_id
    ]
    if not stores:
        return _oauth_error(400, "invalid_client", "client_id is invalid")
    store = next((s for s in stores if current_refresh_token(s) == refresh_token), None)
    if store is None:  # unknown, or already used once: Etsy rotates refresh tokens
        return _oauth_error(400, "invalid_grant", "refresh_token is invalid")
    early = fault_response(take_fault(store, request.path))
    if early:
        return early
    with transaction.atomic():
        store = SandboxStore.objects.select_for_update().get(pk=store.pk)
        # Checked again under the lock: two refreshes with one token must not both succeed.
        if store.settings.get("revoked"):
            return _oauth_error(400, "invalid_grant", "refresh_token is revoked")
        if current_refresh_token(store) != refresh_token:
            return _oauth_error(400, "invalid_grant", "refresh_token is invalid")
        user_id, now = _user_id(store), time.time()
        access = f"{user_id}.{secrets.token_urlsafe(48)}"
        rotated = f"{user_id}.{secrets.token_urlsafe(48)}"
        tokens = {t: exp for t, exp in store.settings.get("tokens", {}).items() if exp > now}
        tokens[access] = now + TOKEN_LIFETIME
        store.settings = {**store.settings, "tokens": tokens, "refresh_token": rotated}
        store.save(update_fields=["settings"])
        # The remote side's log keeps no token, only which fields came (a test can see that no
        # client secret was sent).
        SandboxRequest.objects.create(
            store=store,
            method="POST",
            path=request.path,
            content_type=request.content_type,
            body="",
            parsed={"grant_type": "refresh_token", "client_id": client_id, "fields": sorted(form)},
        )
    return JsonResponse(
        {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": TOKEN_LIFETIME,
            "refresh_token": rotated,
        }
    )


def _store_for_shop(shop_id) -> SandboxStore | None:
    return SandboxStore.objects.filter(kind=KIND, key=str(shop_id)).first()


def _guard(request, store):
    denied = _authenticate(request, store)
    if denied:
        return denied, None
    if store is None:
        return JsonResponse({"error": "Shop not found"}, status=404), None
    throttled = ratelimit.etsy_refusal(store, request)  # 10 a second, 10,000 a day (sandbox/ratelimit.py)
    if throttled:
        return throttled, None
    fault = take_fault(store, request.path)
    early = fault_response(fault)
    return early, fault


def _int(value, default=None):
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def receipts(request, shop_id):
    store = _store_for_shop(shop_id)
    early, fault = _guard(request, store)
    if early:
        return early
    q = request.GET
    limit = _int(q.get("limit"), 25)
    offset = _int(q.get("offset"), 0)
    if limit is None or not 1 <= limit <= 100 or offset is None or offset < 0:
        return JsonResponse({"error": "limit must be between 1 and 100, offset must be >= 0"}, status=400)
    qs = SandboxOrder.objects.filter(store=store)
    for param, field, op in (
        ("min_created", "created_ts", "gte"),
        ("max_created", "created_ts", "lte"),
        ("min_last_modified", "updated_ts", "gte"),
        ("max_last_modified", "updated_ts", "lte"),
    ):
        if q.get(param):
            qs = qs.filter(**{f"{field}__{op}": _int(q[param], 0)})
    sort_on = {"created": "created_ts", "updated": "updated_ts", "receipt_id": "id"}.get(
        q.get("sort_on", "created")
    )
    if sort_on is None:
        return JsonResponse({"error": "sort_on must be one of created, updated, receipt_id"}, status=400)
    desc = q.get("sort_order", "desc").lower() in ("desc", "descending", "down")
    qs = qs.order_by(f"-{sort_on}" if desc else sort_on, "-id" if desc else "id")
    wanted = {
        name: q[f"was_{name}"].lower() == "true"
        for name in ("paid", "shipped", "canceled", "delivered")
        if f"was_{name}" in q
    }
    rows = [o.data for o in qs.only("data")]
    if wanted:
        rows = [r for r in rows if all(_flags(r)[k] == v for k, v in wanted.items())]
    page = rows[offset : offset + limit]
    return mangle(JsonResponse({"count": len(rows), "results": page}), fault)


@csrf_exempt
def receipt(request, shop_id, receipt_id):
    store = _store_for_shop(shop_id)
    early, fault = _guard(request, store)
    if early:
        return early
    order = SandboxOrder.objects.filter(store=store, external_id=str(receipt_id)).first()
    if order is None:
        return JsonResponse({"error": f"Receipt {receipt_id} not found"}, status=404)
    if request.method == "PUT":
        form = QueryDict(request.body)
        record(store, request, parsed=form.dict())
        if "was_shipped" in form:
            order.data["is_shipped"] = form["was_shipped"] == "true"
        if "was_paid" in form:
            order.data["is_paid"] = form["was_paid"] == "true"
        _touch(order)
    return mangle(JsonResponse(order.data), fault)


@csrf_exempt
def tracking(request, shop_id, receipt_id):
    store = _store_for_shop(shop_id)
    if request.method != "POST":
        return JsonResponse({"error": "Method not allowed"}, status=405)
    early, fault = _guard(request, store)
    if early:
        return early
    # The spec documents the form encoding; live v3 takes JSON bodies on its writes as well
    # (etsy/open-api #524, #897), and clients such as etsyv3 send JSON.
    if request.content_type.startswith("application/json"):
        try:
            data = json.loads(request.body or b"{}")
        except ValueError:
            return JsonResponse({"error": "Invalid JSON body"}, status=400)
        if not isinstance(data, dict):
            return JsonResponse({"error": "Invalid JSON body"}, status=400)
        form = {
            k: "" if v is None else str(v).lower() if isinstance(v, bool) else str(v) for k, v in data.items()
        }
    elif request.content_type.startswith("application/x-www-form-urlencoded"):
        form = QueryDict(request.body).dict()
    else:
        return JsonResponse(
            {"error": "Expected application/x-www-form-urlencoded or application/json"}, status=400
        )
    order = SandboxOrder.objects.filter(store=store, external_id=str(receipt_id)).first()
    if order is None:
        return JsonResponse({"error": f"Receipt {receipt_id} not found"}, status=404)
    record(store, request, parsed=form)
    code, carrier = form.get("tracking_code", ""), form.get("carrier_name", "")
    if bool(code) != bool(carrier):
        return JsonResponse({"error": "tracking_code and carrier_name must be given together"}, status=400)
    if carrier and carrier not in CARRIERS:
        return JsonResponse(
            {
                "error": f"carrier_name {carrier!r} is not a known shipping carrier; use one from "
                "/v3/application/shipping-carriers or other"
            },
            status=400,
        )
    data = order.data
    if code:
        data.setdefault("shipments", []).append(
            {
                "receipt_shipping_id": store.next_id(),
                "shipment_notification_timestamp": int(time.time()),
                "carrier_name": carrier,
                "tracking_code": code,
            }
        )
    data["is_shipped"] = True
    data["status"] = "Completed"
    _touch(order)
    return mangle(JsonResponse(data), fault)


def _touch(order: SandboxOrder) -> None:
    now = int(time.time())
    order.data["updated_timestamp"] = order.data["update_timestamp"] = now
    order.updated_ts = now
    order.status = order.data.get("status", "")
    order.save(update_fields=["data", "updated_ts", "status"])


def listing(request, listing_id):
    early, fault = _guard(request, _store_by_key(request))
    if early:
        return early
    product = SandboxProduct.objects.filter(store__kind=KIND, external_id=str(listing_id)).first()
    if product is None:
        return JsonResponse({"error": f"Listing {listing_id} not found"}, status=404)
    return mangle(JsonResponse(product.data), fault)


def listing_image(request, listing_id, image_id):
    early, fault = _guard(request, _store_by_key(request))
    if early:
        return early
    product = SandboxProduct.objects.filter(store__kind=KIND, external_id=str(listing_id)).first()
    if product is None:
        return JsonResponse({"error": f"Listing {listing_id} not found"}, status=404)
    # Served by the sandbox itself, so the demo shows real thumbnails.
    base = request.build_absolute_uri(f"/sandbox/etsy/images/{listing_id}/{image_id}")
    return mangle(
        JsonResponse(
            {
                "listing_id": int(listing_id),
                "listing_image_id": int(image_id),
                "url_75x75": f"{base}/il_75x75.svg",
                "url_170x135": f"{base}/il_170x135.svg",
                "url_570xN": f"{base}/il_570xN.svg",
                "url_fullxfull": f"{base}/il_fullxfull.svg",
            }
        ),
        fault,
    )


def image_file(request, listing_id, image_id, size):
    """A small picture of the product (a coloured tile with its initials)."""
    product = SandboxProduct.objects.filter(store__kind=KIND, external_id=str(listing_id)).first()
    title = product.data.get("title", "Item") if product else "Item"
    initials = "".join(word[0] for word in title.split()[:2]).upper()
    hue = (int(listing_id) * 47) % 360
    if size.endswith((".jpg", ".jpeg")):  # what Etsy's CDN really serves (il_570xN.….jpg)
        return HttpResponse(_jpeg_tile(hue), content_type="image/jpeg")
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="170" height="135" viewBox="0 0 170 135">'
        f'<rect width="170" height="135" fill="hsl({hue},45%,55%)"/>'
        f'<text x="85" y="80" font-family="sans-serif" font-size="48" fill="#fff" text-anchor="middle">{initials}</text>'
        "</svg>"
    )
    return HttpResponse(svg, content_type="image/svg+xml")


def _jpeg_tile(hue: int) -> bytes:
    return images.jpeg_tile(hue)


def shipping_carriers(request):
    early, fault = _guard(request, _store_by_key(request))
    if early:
        return early
    return JsonResponse(
        {
            "count": len(CARRIERS),
            "results": [
                {"shipping_carrier_id": i + 1, "name": n, "domestic_classes": [], "mail_classes": []}
                for i, n in enumerate(CARRIERS)
            ],
        }
    )


def _store_by_key(request) -> SandboxStore | None:
    keystring = request.headers.get("x-api-key", "").split(":", 1)[0]
    return (
        SandboxStore.objects.filter(kind=KIND, credentials__keystring=keystring).first()
        if keystring
        else None
    )
