"""Request plumbing of the Shopify stand-in: the access token, the leaky bucket, faults, and
answers with Shopify's headers and error shape."""

from __future__ import annotations

import json
import math

from django.http import JsonResponse

from sandbox import ratelimit
from sandbox.faults import fault_response, mangle, record, take_fault
from sandbox.models import SandboxStore

KIND = "shopify"


def _error(status: int, errors, **headers) -> JsonResponse:
    response = JsonResponse({"errors": errors}, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _drip(store: SandboxStore, request=None) -> tuple[bool, float, int, float]:
    """One call into the store's leaky bucket (sandbox/ratelimit.py: 40 calls, 2 a second, sped
    up by SANDBOX_TIME_SCALE; a store's own `bucket_size` / `leak_rate` as they are):
    (allowed, level, size, seconds to wait)."""
    own = store.settings or {}
    d = ratelimit.take(store, KIND, request=request, rate=own.get("leak_rate"), burst=own.get("bucket_size"))
    return d.allowed, d.level, int(d.size), d.wait


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
    allowed, level, size, wait = _drip(store, request)
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
        return (
            _error(415, "Unsupported Media Type: expected application/json"),
            store,
            fault,
            call_limit,
            None,
        )
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return _error(400, "Invalid JSON"), store, fault, call_limit, None
    record(store, request, parsed=body if isinstance(body, dict) else {})
    spec = body.get(resource) if isinstance(body, dict) else None
    if not isinstance(spec, dict):
        return (
            _error(400, {resource: "Required parameter missing or invalid"}),
            store,
            fault,
            call_limit,
            None,
        )
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
