"""`make bench NAME=portal`: the returns portal's lookup at 1,000,000 orders.

On a PostgreSQL database of its own (bench.common.database_url; on SQLite it records nothing:
its loader is PostgreSQL SQL), migrated here, it loads a million
orders, each shipped with Shipdesk under one brand, then sends 1,000 lookups (order number as
printed, postal code typed loosely) through the real view with Django's test client: URL
routing, middleware, CSRF, the rate limits (raised so that none trips, but still counted in the
cache), the indexed match, the signed session cookie and the redirect. Each must land on the
items page. Baseline: the same 1,000 matches as a bare indexed SELECT on one cursor.
value = p99 of a lookup in ms (goal < 20 ms, with at most 3 queries per lookup)."""

from __future__ import annotations

import json
import os
import random
import re
import statistics
import time

from bench.common import database_url, report, rss_mb, setup_django, wanted_database
from bench.data import insert_sql

ORDERS = int(os.environ.get("BENCH_PORTAL_ORDERS", 1_000_000))
LOOKUPS = int(os.environ.get("BENCH_PORTAL_LOOKUPS", 1_000))
CHUNK = 200_000
POSTAL_CODES = [
    "LS1 4AB",
    "M1 1AE",
    "75011",
    "69002",
    "1011 AB",
    "10115",
    "SW1A 1AA",
    "EH1 1YZ",
    "13001",
    "3511 AB",
]

# Values for the columns the lookup cares about, as SQL over g (the row number); every other
# column gets its model default, so fields added to Order later need no change here.
ORDER_SQL = {
    "channel_id": "%(channel)s",
    "external_id": "'bench-' || g",
    "order_number": "'#' || (100000 + g)",
    "order_number_norm": "(100000 + g)::text",
    "status": "'delivered'",
    "customer_name": "'Customer ' || g",
    "email": "'customer' || g || '@example.com'",
    "email_norm": "'customer' || g || '@example.com'",
    "ship_name": "'Customer ' || g",
    "ship_line1": "g || ' High Street'",
    "ship_city": "'Leeds'",
    "ship_postal_code": "(%(postal)s::text[])[1 + g %% 10]",
    "postal_code_norm": "(%(postal_norm)s::text[])[1 + g %% 10]",
    "ship_country": "'GB'",
    "currency": "'GBP'",
    "total": "26.49",
    "ordered_at": "now() - ((g %% 40) + 5) * interval '1 day'",
    "delivered_at": "now() - (g %% 40) * interval '1 day'",
    "shipped_at": "now() - ((g %% 40) + 2) * interval '1 day'",
    "imported_at": "now()",
    "updated_at": "now()",
}
SHIPMENT_SQL = {
    "order_id": "o.id",
    "carrier_account_id": "%(carrier)s",
    "brand_id": "%(brand)s",
    "tracking_number": "'SD' || o.id || 'GB'",
    "idempotency_key": "'bench-' || o.id",
    "public_token": "md5(o.id::text)",
    "status": "'delivered'",
    "created_at": "o.ordered_at + interval '1 day'",
}


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def load(brand, carrier, channel) -> float:
    from django.db import connection

    from orders import normalise
    from orders.models import Order
    from shipping.models import Shipment

    started = time.perf_counter()
    order_sql, order_defaults = insert_sql(Order, ORDER_SQL, "FROM generate_series(%(start)s, %(stop)s) AS g")
    ship_sql, ship_defaults = insert_sql(
        Shipment, SHIPMENT_SQL, "FROM orders_order o WHERE o.id BETWEEN %(start)s AND %(stop)s"
    )
    base = {
        "channel": channel.pk,
        "brand": brand.pk,
        "carrier": carrier.pk,
        "postal": POSTAL_CODES,
        "postal_norm": [normalise.postal_code(p) for p in POSTAL_CODES],
    }
    with connection.cursor() as cursor:
        for start in range(1, ORDERS + 1, CHUNK):
            stop = min(start + CHUNK - 1, ORDERS)
            cursor.execute("SELECT coalesce(max(id), 0) FROM orders_order")
            before = cursor.fetchone()[0]
            cursor.execute(order_sql, {**base, **dict(order_defaults), "start": start, "stop": stop})
            cursor.execute(ship_sql, {**base, **dict(ship_defaults), "start": before + 1, "stop": 2**62})
            print(f"  loaded {stop:,} orders", flush=True)
        cursor.execute("ANALYZE orders_order")
        cursor.execute("ANALYZE shipping_shipment")
    return time.perf_counter() - started


def run():
    if wanted_database() != "postgres":
        print(
            "The portal benchmark loads its million orders with PostgreSQL SQL; on SQLite no result is recorded."
        )
        return None
    url = database_url("portal")
    setup_django(url)
    from django.conf import settings
    from django.core.cache import caches
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from orders import normalise
    from returns.models import ReturnPolicy
    from tests.factories import BrandFactory, CarrierAccountFactory, ChannelFactory

    call_command("migrate", verbosity=0)
    brand = BrandFactory(name="Bench Brand", slug="bench", is_default=True)
    carrier = CarrierAccountFactory(name="Bench carrier")
    ReturnPolicy.objects.create(brand=brand, return_carrier=carrier)
    print(
        f"Loading {ORDERS:,} orders (each with a Shipdesk shipment) into {url.rsplit('/', 1)[1]}…", flush=True
    )
    load_seconds = load(brand, carrier, ChannelFactory(name="Bench shop"))

    # The limits stay in the path (each lookup still counts in the cache) but never trip here.
    settings.RETURNS_LOOKUP_RATE_PER_IP = "1000000/minute"
    settings.RETURNS_LOOKUP_RATE_PER_ORDER = "1000000/day"
    caches[settings.RETURNS_RATELIMIT_CACHE].clear()

    rng = random.Random(42)
    picks = [rng.randint(1, ORDERS) for _ in range(LOOKUPS)]
    # Typed as customers type them: "#100042" or " 100042 ", postal code in lower case without its space.
    typed = [
        (rng.choice(["#{}", "{}", " {} "]).format(100000 + g), POSTAL_CODES[g % 10].lower().replace(" ", ""))
        for g in picks
    ]
    client = Client(HTTP_HOST="localhost")
    url = "/returns/bench/"

    def lookup(number, postal):
        response = client.post(url, {"order_number": number, "postal_code": postal})
        if response.status_code != 303 or not response["Location"].endswith("/items/"):
            raise SystemExit(
                f"Lookup of {number!r} / {postal!r} failed: {response.status_code} {response.get('Location')}"
            )

    for number, postal in typed[:50]:  # warm up: connections, templates, caches
        lookup(number, postal)

    with CaptureQueriesContext(connection) as ctx:
        for number, postal in typed[:100]:
            lookup(number, postal)
    queries_per_lookup = len(ctx.captured_queries) / 100

    # Wall time is the measure; CPU time of this process is kept beside it, because on a busy
    # machine wall time also counts the waits for a core.
    timings, cpu = [], []
    load_before = os.getloadavg()[0]
    for number, postal in typed:
        started, cpu_started = time.perf_counter(), time.process_time()
        lookup(number, postal)
        timings.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)

    bare = []
    with connection.cursor() as cursor:
        for number, postal in typed:
            started = time.perf_counter()
            cursor.execute(
                "SELECT id FROM orders_order WHERE order_number_norm = %s AND postal_code_norm = %s",
                [normalise.order_number(number), normalise.postal_code(postal)],
            )
            assert cursor.fetchone()
            bare.append((time.perf_counter() - started) * 1000)
        cursor.execute(
            "EXPLAIN SELECT id FROM orders_order WHERE order_number_norm = %s AND postal_code_norm = %s",
            ["100042", "LS14AB"],
        )
        plan = " ".join(row[0] for row in cursor.fetchall())

    used = re.search(r"using (\S+)", plan)
    index = used.group(1) if used else "none (no index used)"
    p99, median = percentile(timings, 99), statistics.median(timings)
    bare_p99, bare_median = percentile(bare, 99), statistics.median(bare)
    met = p99 < 20 and queries_per_lookup <= 3
    sentence = (
        f"Portal lookup at {ORDERS:,} orders, {LOOKUPS:,} lookups through the view: median {median:.2f} ms, "
        f"p99 {p99:.2f} ms, {queries_per_lookup:g} queries per lookup (goal: p99 < 20 ms, ≤ 3 queries: "
        f"{'met' if met else 'NOT met'}). The bare indexed SELECT: median {bare_median:.3f} ms, "
        f"p99 {bare_p99:.3f} ms. CPU per lookup: median {statistics.median(cpu):.2f} ms. "
        f"Load average {load_before:.1f} on {os.cpu_count()} cores. Loading took {load_seconds:.0f} s."
    )
    return report(
        "portal",
        value=p99,
        unit="ms (p99)",
        baseline=bare_p99,
        ratio=p99 / bare_p99 if bare_p99 else 0,
        goal="p99 < 20 ms with at most 3 queries per lookup, at 1,000,000 orders",
        peak_mb=rss_mb(),
        sentence=sentence,
        median_ms=round(median, 3),
        p99_ms=round(p99, 3),
        queries_per_lookup=queries_per_lookup,
        baseline_median_ms=round(bare_median, 4),
        baseline_p99_ms=round(bare_p99, 4),
        orders=ORDERS,
        lookups=LOOKUPS,
        goal_met=met,
        index=index,
        plan=plan[:300],
        load_seconds=round(load_seconds, 1),
        cpu_median_ms=round(statistics.median(cpu), 3),
        cpu_p99_ms=round(percentile(cpu, 99), 3),
        load_average=round(load_before, 2),
        cores=os.cpu_count(),
    )


if __name__ == "__main__":
    print(json.dumps(run(), default=str))
