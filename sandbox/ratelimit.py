"""The stand-ins' rate limits: a token bucket per account (and per operation where the API
meters operations apart, as Amazon does), with each API's documented rate and burst
(shared/api-facts.md, shared/specs/). Each stand-in answers a refused call with its own API's 429
(body and headers); this module only keeps the buckets.

`settings.SANDBOX_TIME_SCALE` speeds every documented bucket up alike (1 = real time; the test
suite runs 50 times faster, with the connectors' budgets scaled the same, so the ratios stay
true). A store may set its own limits, taken as they are (not scaled): `settings["rate_limits"]`
= {operation: [rate per second, burst]} (Shopify's stand-in also reads `bucket_size` and
`leak_rate`). `settings["log_calls"] = True` keeps the time of every call the bucket let through
in `settings["_calls"]`, and every refusal is counted in `settings["_throttled"]` and kept in the
store's request log (SandboxRequest, `parsed = {"status": 429, …}`), for tests and benchmarks."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from django.conf import settings as django_settings
from django.db import transaction

from sandbox.models import SandboxRequest, SandboxStore

DAY = 86_400

# operation -> (rate per second, burst); "api" where one bucket covers the whole API
LIMITS: dict[str, dict[str, tuple[float, float]]] = {
    "shopify": {"api": (2.0, 40)},
    "etsy": {"api": (10.0, 10), "day": (10_000 / DAY, 10_000)},
    "ebay": {"api": (100_000 / DAY, 100_000)},
    "ecwid": {"api": (10.0, 100)},
    # Direct carriers: none publishes numbers (U); UPS and Canada Post are given a modest bucket,
    # MyDHL test credentials the commonly cited 500 calls a day (C).
    "ups": {"api": (10.0, 50)},
    "mydhl": {"api": (500 / DAY, 500)},
    "canadapost": {"api": (2.0, 60)},
    "amazon": {
        "searchOrders": (0.0056, 20),
        "getOrder": (0.5, 30),
        "getOrders": (0.0167, 20),
        "getOrderV0": (0.5, 30),
        "getOrderItems": (0.5, 30),
        "confirmShipment": (2.0, 10),
        "getCatalogItem": (2.0, 2),
    },
}


@dataclass
class Decision:
    allowed: bool
    level: float  # calls in the bucket after this one (Shopify's "32/40")
    size: float  # the bucket's size (burst)
    wait: float  # seconds until a call would be let through (0 when allowed)
    rate: float  # the documented rate, unscaled (Amazon's x-amzn-RateLimit-Limit)


def scale() -> float:
    return float(getattr(django_settings, "SANDBOX_TIME_SCALE", 1.0) or 1.0)


def limit_of(store: SandboxStore, kind: str, operation: str) -> tuple[float, float, float]:
    """(documented rate, burst, effective rate): the store's own limit, else the documented one
    sped up by SANDBOX_TIME_SCALE."""
    own = ((store.settings or {}).get("rate_limits") or {}).get(operation)
    if own:
        return float(own[0]), float(own[1]), float(own[0])
    rate, burst = LIMITS[kind][operation]
    return rate, burst, rate * scale()


def take(
    store: SandboxStore,
    kind: str,
    operation: str = "api",
    *,
    request=None,
    rate: float | None = None,
    burst: float | None = None,
) -> Decision:
    """One call into the bucket of `store` and `operation`: let through (and counted) or refused
    with the seconds to wait. `rate` and `burst` override the table (Shopify's store settings)."""
    documented, size, effective = limit_of(store, kind, operation)
    if rate is not None:
        documented = effective = float(rate)
    if burst is not None:
        size = float(burst)
    now = time.time()
    with transaction.atomic():
        locked = SandboxStore.objects.select_for_update().only("settings").get(pk=store.pk)
        state = locked.settings or {}
        buckets = state.setdefault("_buckets", {})
        level, last = buckets.get(operation, [0.0, now])
        level = max(0.0, float(level) - (now - float(last)) * effective)  # leaked since the last call
        allowed = level + 1 <= size
        wait = 0.0 if allowed else (level + 1 - size) / effective
        if allowed:
            level += 1
            if state.get("log_calls"):
                state.setdefault("_calls", []).append(now)
        else:
            state["_throttled"] = int(state.get("_throttled", 0)) + 1
        buckets[operation] = [level, now]
        locked.settings = state
        locked.save(update_fields=["settings"])
    if not allowed and request is not None:
        SandboxRequest.objects.create(
            store=store,
            method=request.method,
            path=request.path,
            parsed={"status": 429, "operation": operation, "wait": round(wait, 3)},
        )
    return Decision(allowed, level, size, wait, documented)


def retry_after(wait: float) -> str:
    """A Retry-After value: whole seconds in real time; tenths when the sandbox runs faster
    (a scaled wait of 0.02 s told as "1" would slow every test that meets one)."""
    if scale() <= 1 or wait >= 1:
        return str(max(1, math.ceil(wait)))
    return f"{max(0.1, math.ceil(wait * 10) / 10):.1f}"


def etsy_refusal(store: SandboxStore, request):
    """Etsy meters calls per second and per rolling day; over either: 429. The old docs say a
    429 carries no limit headers; its body follows Etsy's `{"error": …}` shape (text **(U)**)."""
    from django.http import JsonResponse

    for operation in ("api", "day"):
        if not take(store, "etsy", operation, request=request).allowed:
            return JsonResponse({"error": "You have exceeded the rate limit for this API key."}, status=429)
    return None
