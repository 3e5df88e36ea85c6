"""`make bench NAME=admin`: the order list as staff use it, at 1,000 and at 1,000,000 orders.

On a database of its own (SQLite or PostgreSQL, bench.common) filled with realistic data
(bench/data.py: two lines per order, fulfilments, shipments and a timeline for the shipped
ones, statuses skewed as in a real backlog) it times the admin order list through Django's test
client (middleware, query, template): the first page, a status filter, a search by order
number, by customer email and by postal code. It measures at 1,000 orders, loads up to
1,000,000 (BENCH_ADMIN_ORDERS) in the same run and measures again. value = the slowest p95 at
the large size (goal < 150 ms); ratio = that / the slowest p95 at 1,000 (goal < 3)."""

from __future__ import annotations

import os
import statistics
import time

from bench.common import database_url, report, rss_mb, setup_django

TOTAL = int(os.environ.get("BENCH_ADMIN_ORDERS", 1_000_000))
RUNS = int(os.environ.get("BENCH_ADMIN_RUNS", 40))


def run():
    setup_django(database_url("admin"))
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from channels.models import Channel
    from tests.factories import UserFactory

    call_command("migrate", verbosity=0)
    from bench.data import load_orders
    from tests.factories import BrandFactory, CarrierAccountFactory

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
    url = reverse("admin:orders_order_changelist")
    load_seconds = 0.0

    def load(start, stop):
        nonlocal load_seconds
        load_seconds += load_orders(channels=channels, carrier=carrier, brand=brand, first=start, last=stop)

    def measure(n):
        probe = str(n // 2)
        cases = {
            "first page": "",
            "status filter": "?status__exact=awaiting_shipment",
            "search order number": f"?q=%23{probe}",
            "search email": f"?q=customer{probe}%40example.com",
            "search postal code": "?q=LS1+4AB",
        }
        results = {}
        for label, query in cases.items():
            for _ in range(3):
                assert client.get(url + query).status_code == 200
            times = []
            for _ in range(RUNS):
                t0 = time.perf_counter()
                response = client.get(url + query)
                times.append((time.perf_counter() - t0) * 1000)
                assert response.status_code == 200
            if label.startswith("search") and "postal" not in label:
                assert f"#{probe}</a>".encode() in response.content or response.status_code == 302, label
            times.sort()
            results[label] = {"p95": times[int(0.95 * (len(times) - 1))], "median": statistics.median(times)}
        return results

    load(1, 1_000)
    small = measure(1_000)
    load(1_001, TOTAL)
    large = measure(TOTAL)

    worst_small = max(r["p95"] for r in small.values())
    worst_large = max(r["p95"] for r in large.values())
    detail = "; ".join(f"{k} {v['p95']:.0f} ms" for k, v in large.items())
    report(
        "admin",
        value=worst_large,
        unit="ms (p95)",
        baseline=worst_small,
        ratio=worst_large / worst_small,
        goal="p95 < 150 ms at 1,000,000 orders; ratio < 3",
        peak_mb=rss_mb(),
        sentence=(
            f"Order list at {TOTAL:,} orders (realistic data) on {connection.vendor}: slowest p95 "
            f"{worst_large:.0f} ms ({detail}) against {worst_small:.0f} ms at 1,000 orders: ratio "
            f"{worst_large / worst_small:.2f} (goals: < 150 ms, ratio < 3). Loading took {load_seconds:.0f} s."
        ),
        detail={"1000": small, str(TOTAL): large},
        orders=TOTAL,
        load_seconds=round(load_seconds, 1),
        goal_met=worst_large < 150 and worst_large / worst_small < 3,
    )
