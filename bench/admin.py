"""`make bench NAME=admin`: the order desk as staff use it, at 1,000 orders and at BENCH_ADMIN_ORDERS
(1,000,000 by default).

On a database of its own (SQLite or PostgreSQL, bench.common) filled with realistic data
(bench/data.py: two lines per order, fulfilments, shipments and a timeline for the shipped
ones, statuses skewed as in a real backlog) it times, through Django's test client (middleware,
queries, template), every search branch of the order list (order number whole and by prefix,
email, postal code whole and by prefix, customer name, SKU, tracking number), every filter
(status, channel, ordered-at), every sortable column both ways, and the order page of a busy
order (50 lines, 200 events, shipments, fulfilments, a return, a supplier order). Each case
is also EXPLAINed once: a full scan of an order-sized table is named in the result.

It measures at 1,000 orders, loads up to the large size in the same run and measures again.
value = the slowest p95 at the large size (goal < 150 ms); ratio = that / the slowest p95 at
1,000 (goal < 3). BENCH_ADMIN_RUNS requests per case (40)."""

from __future__ import annotations

import os
import re
import statistics
import time

from bench.common import database_url, report, rss_mb, setup_django

TOTAL = int(os.environ.get("BENCH_ADMIN_ORDERS", 1_000_000))
RUNS = int(os.environ.get("BENCH_ADMIN_RUNS", 40))
BIG_TABLES = (
    "orders_order",
    "orders_orderline",
    "orders_fulfilment",
    "orders_orderevent",
    "shipping_shipment",
)
SORTABLE = ["1", "2", "3", "4", "5", "6", "7", "8"]  # the list's columns after the checkbox


def cases(n: int, busy_url: str) -> dict[str, str]:
    """Label -> URL (query string on the order list, or the busy order's page) for a database
    of n orders numbered 1..n (bench.data)."""
    probe = n // 2
    list_cases = {
        "first page": "",
        "search order number": f"?q=%23{probe}",
        "search order number prefix": f"?q={str(probe)[:4]}",
        "search email": f"?q=customer{probe}%40example.com",
        "search postal code": "?q=LS1+4AB",
        "search postal code prefix": "?q=SO4A",
        "search customer name": f"?q=Customer+{probe}",
        "search SKU": "?q=SKU-123",
        "search tracking number": f"?q=SD{probe}GB",
        "filter status awaiting": "?status__exact=awaiting_shipment",
        "filter status on hold": "?status__exact=on_hold",
        "filter channel": "?channel__id__exact={channel}",
        "filter ordered past 7 days": "?ordered_at__gte={week}",
        "filter status + channel": "?status__exact=awaiting_shipment&channel__id__exact={channel}",
    }
    for column in SORTABLE:
        list_cases[f"sort column {column} up"] = f"?o={column}"
        list_cases[f"sort column {column} down"] = f"?o=-{column}"
    return {**{k: "LIST" + v for k, v in list_cases.items()}, "order page 50 lines 200 events": busy_url}


def full_scans(sql: str, params, connection) -> list[str]:
    """The big tables this query reads from end to end (EXPLAIN / EXPLAIN QUERY PLAN)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("EXPLAIN " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
            return sorted({t for t in BIG_TABLES if re.search(rf"Seq Scan on {t}\b", plan)})
        cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        plan = "\n".join(str(row[-1]) for row in cursor.fetchall())
        return sorted({t for t in BIG_TABLES if re.search(rf"SCAN {t}\b(?! USING)", plan)})


def run():
    setup_django(database_url("admin"))
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse
    from django.utils import timezone

    from bench.data import load_orders
    from channels.models import Channel
    from tests.factories import BrandFactory, CarrierAccountFactory, UserFactory, busy_order

    call_command("migrate", verbosity=0)
    channels = [
        Channel.objects.create(
            name=f"Shop {i}", kind=kind, api_base_url="https://example.invalid/", shop_id=str(i)
        ).pk
        for i, kind in enumerate(["etsy", "shopify", "ebay", "amazon", "ecwid"])
    ]
    carrier, brand = (
        CarrierAccountFactory(name="Bench carrier").pk,
        BrandFactory(name="Bench", is_default=True).pk,
    )
    client = Client()
    client.force_login(UserFactory(username="bench", is_superuser=True, is_staff=True))
    list_url = reverse("admin:orders_order_changelist")
    load_seconds = 0.0
    scans: dict[str, list[str]] = {}

    def load(start, stop):
        nonlocal load_seconds
        load_seconds += load_orders(channels=channels, carrier=carrier, brand=brand, first=start, last=stop)

    def measure(n, busy):
        week = (timezone.now() - timezone.timedelta(days=7)).strftime("%Y-%m-%d+00:00:00%%2B00:00")
        results = {}
        for label, target in cases(n, reverse("admin:orders_order_change", args=[busy.pk])).items():
            url = list_url + target[4:] if target.startswith("LIST") else target
            url = url.format(channel=channels[2], week=week)
            for _ in range(3):
                assert client.get(url).status_code in (200, 302), label
            times = []
            for _ in range(RUNS):
                t0 = time.perf_counter()
                response = client.get(url)
                times.append((time.perf_counter() - t0) * 1000)
                assert response.status_code in (200, 302), label
            with CaptureQueriesContext(connection) as captured:
                client.get(url)
            found = set()
            for query in captured.captured_queries:
                if (
                    query["sql"].lstrip().upper().startswith("SELECT")
                    and "django_session" not in query["sql"]
                ):
                    found.update(
                        full_scans(query["sql"], None, connection) if "%s" not in query["sql"] else []
                    )
            if found:
                scans[label] = sorted(found)
            times.sort()
            results[label] = {
                "p95": round(times[int(0.95 * (len(times) - 1))], 1),
                "median": round(statistics.median(times), 1),
                "queries": len(captured.captured_queries),
            }
            print(
                f"  {n:>9,} {label:<34} p95 {results[label]['p95']:7.1f} ms  median "
                f"{results[label]['median']:7.1f} ms  {results[label]['queries']} queries",
                flush=True,
            )
        return results

    load(1, 1_000)
    busy = busy_order(  # its own external id and number: bench.data numbers orders 1..n
        lines=50,
        events=200,
        shipments=4,
        with_return=True,
        with_supplier=True,
        channel=Channel.objects.get(pk=channels[0]),
        external_id="busy-1",
        order_number="BUSY-1",
    )
    small = measure(1_000, busy)
    scans_small, scans = scans, {}
    load(1_001, TOTAL)
    large = measure(TOTAL, busy)

    worst_small = max(r["p95"] for r in small.values())
    worst_large = max(r["p95"] for r in large.values())
    slowest = sorted(large.items(), key=lambda kv: -kv[1]["p95"])[:5]
    detail = "; ".join(f"{k} {v['p95']:.0f} ms" for k, v in slowest)
    over = [k for k, v in large.items() if v["p95"] >= 150]
    report(
        "admin",
        value=worst_large,
        unit="ms (p95)",
        baseline=worst_small,
        ratio=worst_large / worst_small,
        goal="every search branch, filter, sort and the busy order page p95 < 150 ms at 1,000,000 orders; ratio < 3",
        peak_mb=rss_mb(),
        sentence=(
            f"Order desk at {TOTAL:,} orders (realistic data) on {connection.vendor}: {len(large)} cases, slowest "
            f"p95 {worst_large:.0f} ms (slowest five: {detail}) against {worst_small:.0f} ms at 1,000 orders: "
            f"ratio {worst_large / worst_small:.2f} (goals: < 150 ms, ratio < 3). "
            + (f"Over 150 ms: {', '.join(over)}. " if over else "Every case under 150 ms. ")
            + (f"Full scans: {scans}. " if scans else "No case scans an order-sized table. ")
            + f"Order page of 50 lines / 200 events: {large['order page 50 lines 200 events']['queries']} queries. "
            f"Loading took {load_seconds:.0f} s."
        ),
        detail={"1000": small, str(TOTAL): large},
        full_scans={"1000": scans_small, str(TOTAL): scans},
        orders=TOTAL,
        load_seconds=round(load_seconds, 1),
        goal_met=worst_large < 150 and worst_large / worst_small < 3,
    )
