"""GET /healthz: can this web process reach what Shipdesk needs? JSON, for load balancers and
monitoring. 200 when the database, the cache and the task broker answer; 503 naming the parts that
failed. The task cluster's heartbeat (age of the last dispatcher run) is reported too; it fails
the check only with `?cluster=1`, so a stopped cluster does not take the web servers out of a load
balancer, while a monitor can still alert on it.

Error details go to the log, not the public answer (they may name hosts)."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable

from django.core.cache import caches
from django.db import connections
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from config.heartbeat import dispatcher_beat

log = logging.getLogger(__name__)


def check_database() -> dict:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"vendor": connections["default"].vendor}


def check_cache() -> dict:
    """A write and a read: with several web processes the cache must be a shared one (Redis)."""
    cache = caches["default"]
    key, value = f"healthz:{uuid.uuid4().hex}", uuid.uuid4().hex
    cache.set(key, value, 10)
    if cache.get(key) != value:
        raise RuntimeError("the cache did not return what was just written")
    cache.delete(key)
    return {"backend": cache.__class__.__name__}


def check_broker() -> dict:
    from django_q.brokers import get_broker

    broker = get_broker()
    try:
        broker.ping()
        return {"broker": broker.__class__.__name__, "queued": broker.queue_size()}
    finally:
        if hasattr(
            broker.connection, "connection_pool"
        ):  # Redis: a pool per get_broker(); the ORM's is Django's
            broker.connection.close()


CHECKS: dict[str, Callable[[], dict]] = {
    "database": check_database,
    "cache": check_cache,
    "broker": check_broker,
}


def run_checks() -> dict[str, dict]:
    results = {}
    for name, check in CHECKS.items():
        started = time.monotonic()
        try:
            result = {"ok": True, **check()}
        except Exception as exc:  # noqa: BLE001 - any failure is the answer, not a 500
            log.warning("healthz: %s failed: %r", name, exc)
            result = {"ok": False, "error": exc.__class__.__name__}
        result["ms"] = round((time.monotonic() - started) * 1000, 1)
        results[name] = result
    return results


@never_cache
@require_safe
def healthz(request):
    checks = run_checks()
    try:
        beat = dispatcher_beat()
        checks["cluster"] = {"ok": not beat.stale, **beat.as_dict()}
    except Exception as exc:  # noqa: BLE001 - the database check already says why
        checks["cluster"] = {"ok": False, "error": exc.__class__.__name__}
    required = [*CHECKS, "cluster"] if request.GET.get("cluster") == "1" else list(CHECKS)
    failed = [name for name in required if not checks[name]["ok"]]
    body = {"status": "fail" if failed else "ok", "failed": failed, "checks": checks}
    return JsonResponse(body, status=503 if failed else 200)
