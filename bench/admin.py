"""`make bench NAME=admin`: the order list as staff use it, at 1,000 and at 1,000,000 orders.

On a PostgreSQL database of its own (bench.common.database_url; its loader is PostgreSQL SQL, so
on SQLite it says so and records nothing) it times the admin order list through Django's
test client (middleware, query, template): the first page, a status filter, a search by order
number and a search by customer email. It measures at 1,000 orders, loads up to 1,000,000 in
the same run and measures again. value = the slowest p95 at 1,000,000 (goal < 150 ms); ratio =
that / the slowest p95 at 1,000 (goal < 3)."""

from __future__ import annotations

import os
import statistics
import time

from bench.common import database_url, report, rss_mb, setup_django, wanted_database

TOTAL = int(os.environ.get("BENCH_ADMIN_ORDERS", 1_000_000))
RUNS = int(os.environ.get("BENCH_ADMIN_RUNS", 40))

INSERT = """
INSERT INTO orders_order (channel_id, external_id, order_number, order_number_norm, status, remote_status, hold_reason,
  customer_name, email, email_norm, phone, ship_name, ship_company, ship_line1, ship_line2, ship_city, ship_state,
  ship_postal_code, postal_code_norm, ship_country, ship_phone, requested_service, payment_method, currency, total,
  discount_total, coupon_codes, is_gift, gift_message, customer_note, internal_note, total_weight_g, ordered_at,
  remote_updated_at, imported_at, updated_at, address_locked, payload_hash)
SELECT %(channel)s + (g %% 5), g::text, g::text, g::text,
  CASE WHEN g %% 20 < 15 THEN 'shipped' WHEN g %% 20 < 19 THEN 'awaiting_shipment' ELSE 'cancelled' END,
  'Paid', '', 'Customer ' || g, 'customer' || g || '@example.com', 'customer' || g || '@example.com', '',
  'Customer ' || g, '', g || ' High Street', '', 'Leeds', '', 'LS' || (g %% 30) || ' ' || (g %% 9) || 'AB',
  'LS' || (g %% 30) || (g %% 9) || 'AB', 'GB', '', 'Royal Mail Tracked 48', 'cc', 'GBP', 26.49, 0, '', false, '',
  '', '', 850, now() - (g || ' minutes')::interval, now(), now(), now(), false, ''
FROM generate_series(%(start)s, %(stop)s) AS g
"""


def run():
    if wanted_database() != "postgres":
        print("The admin benchmark loads its million orders with PostgreSQL SQL; on SQLite no result is recorded.")
        return
    setup_django(database_url("admin"))
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from channels.models import Channel
    from tests.factories import UserFactory

    call_command("migrate", verbosity=0)
    first = None
    for i in range(5):
        ch = Channel.objects.create(name=f"Shop {i}", kind="etsy", api_base_url="https://example.invalid/", shop_id=str(i))
        first = first or ch.pk
    client = Client()
    client.force_login(UserFactory(username="bench"))
    url = reverse("admin:orders_order_changelist")

    def load(start, stop):
        step = 100_000
        with connection.cursor() as cursor:
            for s in range(start, stop + 1, step):
                cursor.execute(INSERT, {"channel": first, "start": s, "stop": min(s + step - 1, stop)})
            cursor.execute("ANALYZE orders_order")

    def measure(n):
        probe = str(n // 2)
        cases = {
            "first page": "",
            "status filter": "?status__exact=awaiting_shipment",
            "search order number": f"?q=%23{probe}",
            "search email": f"?q=customer{probe}%40example.com",
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
            if label.startswith("search"):
                assert f"#{probe}</a>".encode() in response.content, label
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
        "admin", value=worst_large, unit="ms (p95)", baseline=worst_small, ratio=worst_large / worst_small,
        goal="p95 < 150 ms at 1,000,000 orders; ratio < 3", peak_mb=rss_mb(),
        sentence=(f"Order list at {TOTAL:,} orders on PostgreSQL: slowest p95 {worst_large:.0f} ms ({detail}) "
                  f"against {worst_small:.0f} ms at 1,000 orders: ratio {worst_large / worst_small:.2f} "
                  f"(goals: < 150 ms, ratio < 3)."),
        detail={"1000": small, str(TOTAL): large},
    )
