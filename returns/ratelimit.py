"""Fixed-window counters in the Django cache, for the portal's lookup form.

The counters live in the cache named by RETURNS_RATELIMIT_CACHE (the default cache unless set).
Django's default cache is local memory, which is per process: with several web processes or
servers each keeps its own count, so a deployment with more than one process needs a shared
cache (Redis, Memcached, or the database cache) for the limits to hold as configured."""

from __future__ import annotations

import hashlib
import ipaddress
import re
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches

_UNITS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "h": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([a-z]+?)s?\s*$")


@dataclass(frozen=True)
class Rate:
    limit: int
    period: int  # seconds

    @classmethod
    def parse(cls, value: str) -> Rate:
        """'5/minute', '10/day', '100/15m', '3/h' -> Rate."""
        match = _RATE.match((value or "").lower())
        if not match or match.group(3) not in _UNITS:
            raise ValueError(f"Not a rate: {value!r} (write it as 5/minute, 10/day, 20/15m…)")
        count, multiple, unit = match.groups()
        return cls(limit=int(count), period=int(multiple or 1) * _UNITS[unit])


def clock() -> float:
    return time.time()


def _cache():
    return caches[getattr(settings, "RETURNS_RATELIMIT_CACHE", "default")]


def _key(scope: str, ident: str, rate: Rate, now: float) -> str:
    digest = hashlib.sha256(f"{scope}:{ident}".encode()).hexdigest()[:32]
    return f"returns:rl:{scope}:{digest}:{rate.period}:{int(now // rate.period)}"


def count(scope: str, ident: str, rate: Rate, *, now: float | None = None) -> int:
    return _cache().get(_key(scope, ident, rate, clock() if now is None else now), 0)


def hit(scope: str, ident: str, rate: Rate, *, now: float | None = None) -> int:
    """Count one event and return the count in the current window."""
    key = _key(scope, ident, rate, clock() if now is None else now)
    cache = _cache()
    cache.add(key, 0, timeout=rate.period + 1)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=rate.period + 1)
        return 1


def retry_after(rate: Rate, *, now: float | None = None) -> int:
    now = clock() if now is None else now
    return max(1, int(rate.period - now % rate.period))


def client_address(request) -> str:
    """The client's address as far as we can trust it. Behind N proxies of our own
    (RETURNS_TRUSTED_PROXY_COUNT), the N-th address from the right of X-Forwarded-For is the
    client; anything left of it is whatever the client chose to send. IPv6 clients are counted
    per /64, the block one subscriber usually holds."""
    address = request.META.get("REMOTE_ADDR", "")
    proxies = getattr(settings, "RETURNS_TRUSTED_PROXY_COUNT", 0)
    if proxies:
        forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
        if len(forwarded) >= proxies:
            address = forwarded[-proxies]
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address or "unknown"
    if ip.version == 6 and not ip.ipv4_mapped:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip.ipv4_mapped or ip) if ip.version == 6 else str(ip)
