"""`make bench NAME=sync`: a first sync of BENCH_SYNC_ORDERS orders per channel (10,000 by
default; BENCH_SYNC_KINDS picks channels) against the rate-enforcing sandbox, as a ratio to the
floor the channel's documented limits allow.

Every call goes over real HTTP to the sandbox (a server thread in this process), which meters
each account (and each Amazon operation) with the documented rate and burst and answers 429
when a call comes too soon; the connector paces itself through the shared rate budget
(channels/ratebudget.py). Both sides run SANDBOX_TIME_SCALE = RATE_LIMIT_TIME_SCALE times faster
than real time, chosen per channel so its floor is about BENCH_SYNC_SECONDS (45 by default), but
never so fast that a listing call comes less than BENCH_SYNC_PAGE_SECONDS (2 by default) after
the one before (the real limits leave minutes): the ratios stay true and the run takes minutes.

The scenario is steady state: every bucket of the account starts empty (other work of the same
account has spent it), so the sync gets exactly the documented sustained rate and the floor is
the time its calls need at that rate (simulated over the very calls the sync made, in order,
with no time for anything else). The ratio measured / floor says how much the pacing, the
import and everything else add on top of the limits (goal <= 1.2 on every channel), and the
sandbox's count of 429s must be zero. Also reported, in real time from the documented limits:
the same floor, and a first sync's on an account whose buckets are full (the burst first)."""

from __future__ import annotations

import importlib
import logging
import math
import os
import subprocess
import time
from datetime import UTC, datetime

from bench.common import database_url, report, rss_mb, serve_in_thread, setup_django, timed

ORDERS = int(os.environ.get("BENCH_SYNC_ORDERS", 10_000))
KINDS = [k for k in os.environ.get("BENCH_SYNC_KINDS", "etsy,shopify,ebay,amazon,ecwid").split(",") if k]
TARGET_SECONDS = float(os.environ.get("BENCH_SYNC_SECONDS", 45))
PAGE_SECONDS = float(os.environ.get("BENCH_SYNC_PAGE_SECONDS", 2.0))
GOAL = 1.2
PAGE = {"etsy": 100, "shopify": 250, "ebay": 200, "amazon": 100, "ecwid": 100}
LISTING = {"amazon": "searchOrders"}  # the operation that lists orders (elsewhere "api")
# the sandbox's name for each client operation (Amazon) and bucket (Etsy's per-day is "day")
SANDBOX_OPS = {
    ("amazon", "v0.getOrders"): "getOrders",
    ("amazon", "v0.getOrder"): "getOrderV0",
    ("amazon", "v0.getOrderItems"): "getOrderItems",
    ("amazon", "v0.confirmShipment"): "confirmShipment",
    ("etsy", "api", 1): "day",
}


def limits_of(kind: str) -> dict[str, tuple]:
    from channels.connectors.limits import LIMITS
    from channels.ratebudget import Limit

    return {op: (lim,) if isinstance(lim, Limit) else tuple(lim) for op, lim in LIMITS[kind].items()}


def floor_seconds(kind: str, operations: list[str], *, scale: float = 1.0, full: bool = False) -> float:
    """The least time `operations` (in order) take under the documented limits sped up `scale`
    times, with nothing else taking time: GCRA per bucket, starting empty (or `full`)."""
    limits = limits_of(kind)
    tat: dict[tuple[str, int], float] = {}
    t = 0.0
    for op in operations:
        for n, limit in enumerate(limits.get(op, ())):
            interval = 1 / (limit.rate * scale)
            tau = (limit.burst - 1) * interval
            key = (op, n)
            tat.setdefault(key, 0.0 if full else limit.burst * interval)
            t = max(t, tat[key] - tau)
        for n, limit in enumerate(limits.get(op, ())):
            key = (op, n)
            tat[key] = max(tat[key], t) + 1 / (limit.rate * scale)
    return t


def predicted_floor(kind: str, count: int) -> float:
    """Real-time floor of the listing calls alone (empty buckets), to choose the time scale."""
    pages = math.ceil(count / PAGE[kind])
    return pages * max(1 / lim.rate for lim in limits_of(kind)[LISTING.get(kind, "api")])


def drain(kind: str, connector, store) -> None:
    """Every bucket of the account empty now, on both sides, as a busy account's would be: the
    client's budget holds no slot, and the sandbox's bucket holds what our client's burst put
    there (the client keeps a margin below the documented burst for network jitter)."""
    from channels.models import RateBudget
    from channels.ratebudget import _redis_cache, time_scale

    if _redis_cache() is not None:
        raise SystemExit("bench sync drains the budgets in the database: run it without CACHE_URL")

    now = time.time()
    buckets = store.settings.setdefault("_buckets", {})
    budget = connector.http.budget
    for op, limits in limits_of(kind).items():
        for n, limit in enumerate(limits):
            interval = 1 / (limit.rate * time_scale())
            key = budget.key(op) + (f":{n}" if n else "")
            RateBudget.objects.update_or_create(
                key=key, defaults={"tat": now + limit.client_burst() * interval}
            )
            sandbox_op = SANDBOX_OPS.get((kind, op, n)) or SANDBOX_OPS.get((kind, op)) or op
            buckets[sandbox_op] = [float(limit.client_burst()), now]
    store.save(update_fields=["settings"])


def bench_channel(kind: str, count: int, base: str) -> dict:
    from django.conf import settings

    from channels.connectors import connector_class
    from channels.models import Channel
    from orders.importing import import_orders
    from orders.models import Order
    from sandbox.models import SandboxRequest
    from sandbox.stores import store_for_channel

    bench_import = importlib.import_module("bench.import")
    config = bench_import.channel_settings(kind, base)
    channel = Channel.objects.create(name=f"bench-sync-{kind}", kind=kind, import_window_days=30, **config)
    store = store_for_channel(channel)
    with timed() as t_fill:
        bench_import.fill_sandbox(kind, store, count, seed=KINDS.index(kind) + 11)

    # Fast enough to finish in minutes, slow enough that each listing call still leaves at least
    # PAGE_SECONDS for reading and storing a page (as the real limits leave far more): a scale at
    # which the sandbox's and our own work per page outlasts the interval would measure them.
    pages = math.ceil(count / PAGE[kind])
    scale = max(
        0.05,
        min(
            predicted_floor(kind, count) / TARGET_SECONDS, predicted_floor(kind, count) / pages / PAGE_SECONDS
        ),
    )
    settings.SANDBOX_TIME_SCALE = settings.RATE_LIMIT_TIME_SCALE = scale
    settings.RATE_LIMIT_MAX_WAIT = 3600
    connector = connector_class(kind)(
        base_url=channel.api_base_url, credentials=channel.credentials, shop_id=channel.shop_id
    )
    store.refresh_from_db()
    drain(kind, connector, store)

    with timed() as t_sync:
        summary = import_orders(channel, connector=connector, now=datetime.now(tz=UTC))
    assert summary.imported == count and not summary.errors, (kind, summary)
    assert Order.objects.filter(channel=channel).count() == count

    store.refresh_from_db()
    throttled = int(store.settings.get("_throttled", 0))
    operations = connector.http.budget.operations
    floor = floor_seconds(kind, operations, scale=scale)
    ratio = t_sync["seconds"] / floor
    calls: dict[str, int] = {}
    for op in operations:
        calls[op] = calls.get(op, 0) + 1
    SandboxRequest.objects.filter(store=store).delete()
    return {
        "orders": count,
        "time_scale": round(scale, 3),
        "seconds": round(t_sync["seconds"], 2),
        "floor_seconds": round(floor, 2),
        "ratio": round(ratio, 3),
        "calls": calls,
        "http_calls": connector.http.calls,
        "throttled_429": throttled,
        "waited_seconds": round(connector.http.budget.waited, 2),
        "floor_real_seconds": round(floor_seconds(kind, operations), 1),
        "first_sync_floor_real_seconds": round(floor_seconds(kind, operations, full=True), 1),
        "fill_seconds": round(t_fill["seconds"], 1),
    }


def amazon_first_sync_seconds(count: int) -> float:
    """A first Amazon sync of `count` orders at the documented limits, buckets full: one
    searchOrders per 100 orders, each followed by v0 getOrders for 50 orders at a time (the
    catalogue calls are per ASIN, a handful, and left out)."""
    operations = []
    for start in range(0, count, 100):
        operations.append("searchOrders")
        operations += ["v0.getOrders"] * math.ceil(min(100, count - start) / 50)
    return floor_seconds("amazon", operations, full=True)


def commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=os.path.dirname(__file__),
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def run():
    setup_django(database_url("sync"))
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    server, base = serve_in_thread()
    logging.getLogger("django.request").setLevel(logging.CRITICAL)  # 404s for missing products, 429s
    results = {}
    try:
        for kind in KINDS:
            results[kind] = r = bench_channel(kind, ORDERS, base)
            print(
                f"  {kind:8} {r['orders']} orders in {r['seconds']:.1f} s at time scale {r['time_scale']} "
                f"against a floor of {r['floor_seconds']:.1f} s: ratio {r['ratio']:.2f}; calls {r['calls']}; "
                f"429s {r['throttled_429']}; at real speed the floor is {r['floor_real_seconds']:,.0f} s "
                f"(buckets full: {r['first_sync_floor_real_seconds']:,.0f} s)",
                flush=True,
            )
    finally:
        server.shutdown()

    worst = max(results, key=lambda k: results[k]["ratio"])
    throttled = sum(r["throttled_429"] for r in results.values())
    total = sum(r["seconds"] for r in results.values())
    floors = sum(r["floor_seconds"] for r in results.values())
    amazon_1k, amazon_10k = amazon_first_sync_seconds(1_000), amazon_first_sync_seconds(10_000)
    report(
        "sync",
        value=total,
        unit="s",
        baseline=floors,
        ratio=results[worst]["ratio"],
        goal=f"ratio <= {GOAL} on every channel; no 429",
        peak_mb=rss_mb(),
        sentence=(
            f"A first sync of {ORDERS} orders per channel against the rate-enforcing sandbox, every bucket "
            f"starting empty: worst ratio to the documented-limit floor {results[worst]['ratio']:.2f} ({worst}; "
            f"goal <= {GOAL}), "
            + ", ".join(f"{k} {r['ratio']:.2f}" for k, r in results.items())
            + f"; {throttled} 429s. At the documented limits a first Amazon sync of 1,000 orders needs "
            f"{amazon_1k:,.0f} s of waiting (within the bursts) and of 10,000 orders {amazon_10k:,.0f} s "
            f"({amazon_10k / 3600:.1f} h)."
        ),
        orders=ORDERS,
        worst=worst,
        throttled_429=throttled,
        goal_met=results[worst]["ratio"] <= GOAL and not throttled,
        amazon_first_sync_1000_seconds=round(amazon_1k),
        amazon_first_sync_10000_seconds=round(amazon_10k),
        channels=results,
        database=connection.vendor,
        commit=commit(),
        load=round(os.getloadavg()[0], 2),
    )
