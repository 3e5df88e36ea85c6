"""Request plumbing of the Sendcloud stand-in: the account behind the Basic auth keys, the
v2 error envelope, the rate limiter, queued faults, and small helpers every endpoint uses."""

from __future__ import annotations

import base64
import threading
import time
from collections import deque
from datetime import UTC, datetime

from django.http import HttpResponse, JsonResponse

from sandbox.faults import fault_response, take_fault
from sandbox.models import SandboxOrder, SandboxStore

KIND = "sendcloud"


def store_for_account(account, **settings) -> SandboxStore:
    """The sandbox Sendcloud account behind a Shipdesk carrier account (keys from its credentials)."""
    creds = account.credentials or {}
    store, _ = SandboxStore.objects.get_or_create(kind=KIND, key=creds.get("public_key", ""))
    store.credentials = dict(creds)
    store.settings = {**store.settings, **settings}
    store.save(update_fields=["credentials", "settings"])
    return store


def _error(status: int, message: str, request) -> JsonResponse:
    """The v2 error envelope."""
    return JsonResponse(
        {
            "error": {
                "code": status,
                "request": request.path.split("/sendcloud/", 1)[-1].lstrip("/"),
                "message": message,
            }
        },
        status=status,
    )


def _authenticate(request) -> tuple[SandboxStore | None, HttpResponse | None]:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Basic "):
        return None, _error(401, "Invalid username/password.", request)
    try:
        public, secret = base64.b64decode(header[6:]).decode().split(":", 1)
    except (ValueError, UnicodeDecodeError):
        return None, _error(401, "Invalid username/password.", request)
    store = SandboxStore.objects.filter(kind=KIND, key=public).first()
    if store is None or store.credentials.get("secret_key") != secret:
        return None, _error(401, "Invalid username/password.", request)
    return store, None


class _Limiter:
    """Sendcloud's budget per account: POST/PUT/PATCH/DELETE 100/min with bursts of 15/s, GET
    1000/min. Over it: 429 with an empty body. Kept in memory: the sandbox is one process."""

    def __init__(self):
        self.lock = threading.Lock()
        self.hits: dict[tuple, deque] = {}

    def allow(self, store: SandboxStore, method: str) -> bool:
        s = store.settings or {}
        if method == "GET":
            limits = [(60, s.get("get_per_minute", 1000))]
        else:
            limits = [(60, s.get("post_per_minute", 100)), (1, s.get("burst_per_second", 15))]
        now = time.monotonic()
        with self.lock:
            for window, limit in limits:
                if not limit:
                    continue
                hits = self.hits.setdefault((store.pk, store.key, method == "GET", window), deque())
                while hits and hits[0] <= now - window:
                    hits.popleft()
                if len(hits) >= int(limit):
                    return False
            for window, limit in limits:
                if limit:
                    self.hits[(store.pk, store.key, method == "GET", window)].append(now)
        return True


LIMITER = _Limiter()


def _guard(request):
    """Auth, rate limit, then any queued fault. Returns (store, early response, fault)."""
    store, denied = _authenticate(request)
    if denied:
        return None, denied, None
    if not LIMITER.allow(store, request.method):
        return store, HttpResponse(status=429), None  # Sendcloud answers 429 with an empty body
    latency = (store.settings or {}).get("latency")
    if latency:  # a steady answer time for every call of this account (benchmarks, slow carriers)
        time.sleep(float(latency))
    fault = take_fault(store, request.path) if store.faults else None  # no lock when none is queued
    return store, fault_response(fault), fault


def _base(request) -> str:
    return request.build_absolute_uri(request.path.split("/api/v", 1)[0])


def _now() -> float:
    return time.time()


def _v2_date(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%d-%m-%Y %H:%M:%S")


def _public(parcel: SandboxOrder) -> dict:
    return {k: v for k, v in parcel.data.items() if not k.startswith("_")}


def _get_parcel(store, parcel_id) -> SandboxOrder | None:
    return SandboxOrder.objects.filter(store=store, external_id=str(parcel_id)).first()
