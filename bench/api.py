"""`make bench NAME=api`: orders created through the API's bulk endpoint, against a bare bulk_create.

Measurements (each a function in MEASUREMENTS, reported on its own line; add one by appending):

- `bulk_orders`: BENCH_API_ORDERS orders (10,000 by default, 2 physical lines each) created
  through `POST /api/v1/orders/bulk` in calls of 1,000, over HTTP to a server thread in this
  process (authentication, throttling, validation of every field, the importer's rules, events,
  the per-order results), against a bare bulk_create of the same orders and lines in the same run,
  1,000 after each call. Goal: API time / bare time <= 3.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

from bench.common import database_url, report, rss_mb, serve_in_thread, setup_django, timed

ORDERS = int(os.environ.get("BENCH_API_ORDERS", 10_000))
PER_CALL = 1_000


def order_dict(n: int, prefix: str) -> dict:
    return {
        "external_id": f"{prefix}-{n}",
        "order_number": f"{prefix}-{n}",
        "customer_name": f"Customer {n}",
        "email": f"c{n}@example.test",
        "address": {
            "name": f"Customer {n}",
            "line1": f"{n} High Street",
            "city": "Leeds",
            "postal_code": "LS1 4AB",
            "country": "GB",
        },
        "currency": "GBP",
        "total": "32.00",
        "requested_service": "Tracked 48",
        "lines": [
            {
                "id": "1",
                "sku": "MUG-1",
                "title": "Mug",
                "quantity": 2,
                "unit_price": "10.00",
                "weight_g": 400,
            },
            {
                "id": "2",
                "sku": "TEE-M",
                "title": "Tee",
                "quantity": 1,
                "unit_price": "12.00",
                "weight_g": 200,
            },
        ],
    }


def bare_bulk_create(channel, orders: list[dict]) -> None:
    """The same rows with nothing around them: Order and OrderLine bulk_create per 1,000."""
    from orders.models import Order, OrderLine

    now = datetime.now(tz=UTC)
    for i in range(0, len(orders), PER_CALL):
        chunk = orders[i : i + PER_CALL]
        rows = []
        for d in chunk:
            a = d["address"]
            o = Order(
                channel=channel,
                external_id=d["external_id"],
                order_number=d["order_number"],
                customer_name=d["customer_name"],
                email=d["email"],
                ship_name=a["name"],
                ship_line1=a["line1"],
                ship_city=a["city"],
                ship_postal_code=a["postal_code"],
                ship_country=a["country"],
                currency=d["currency"],
                total=Decimal(d["total"]),
                requested_service=d["requested_service"],
                ordered_at=now,
            )
            o.fill_normal_forms()
            rows.append(o)
        Order.objects.bulk_create(rows)
        OrderLine.objects.bulk_create(
            [
                OrderLine(
                    order=o,
                    external_id=ln["id"],
                    sku=ln["sku"],
                    title=ln["title"],
                    quantity=ln["quantity"],
                    unit_price=Decimal(ln["unit_price"]),
                    weight_g=ln["weight_g"],
                )
                for o, d in zip(rows, chunk, strict=True)
                for ln in d["lines"]
            ]
        )


def bulk_orders(base: str, key_text: str) -> dict:
    import requests

    from channels.models import Channel
    from orders.models import Order, OrderLine

    api_orders = [order_dict(n, "API") for n in range(ORDERS)]
    bare_orders = [order_dict(n, "BARE") for n in range(ORDERS)]
    # Inactive: the API's orders go to the default manual channel, never to this one.
    bare_channel = Channel.objects.create(
        name="Bare", kind=Channel.Kind.MANUAL, sync_mode=Channel.SyncMode.MANUAL, is_active=False
    )
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {key_text}"
    created, api_seconds, bare_seconds = 0, 0.0, 0.0
    # Call by call, each followed by the bare insert of as many rows: a busy machine slows both
    # alike, so the ratio stays what the code costs.
    for i in range(0, ORDERS, PER_CALL):
        with timed() as t_api:
            answer = session.post(
                f"{base}/api/v1/orders/bulk", json={"orders": api_orders[i : i + PER_CALL]}, timeout=600
            )
            answer.raise_for_status()
        created += answer.json()["created"]
        with timed() as t_bare:
            bare_bulk_create(bare_channel, bare_orders[i : i + PER_CALL])
        api_seconds += t_api["seconds"]
        bare_seconds += t_bare["seconds"]
    assert created == ORDERS, created
    assert OrderLine.objects.filter(order__channel=bare_channel).count() == 2 * ORDERS
    assert Order.objects.exclude(channel=bare_channel).count() == ORDERS
    ratio = api_seconds / bare_seconds
    return report(
        "api",
        value=ORDERS / api_seconds,
        unit="orders/s",
        baseline=ORDERS / bare_seconds,
        ratio=ratio,
        goal="bulk endpoint / bare bulk_create <= 3",
        peak_mb=rss_mb(),
        sentence=(
            f"Created {ORDERS} orders (2 lines each) through POST /api/v1/orders/bulk in calls of {PER_CALL} at "
            f"{ORDERS / api_seconds:,.0f} orders/s against {ORDERS / bare_seconds:,.0f} for a bare "
            f"bulk_create of the same rows: ratio {ratio:.2f} (goal <= 3)."
        ),
        measurement="bulk_orders",
        orders=ORDERS,
        api_seconds=round(api_seconds, 2),
        bare_seconds=round(bare_seconds, 2),
        goal_met=ratio <= 3,
    )


MEASUREMENTS: list[Callable[[str, str], dict]] = [bulk_orders]


def run():
    setup_django(database_url("api"))
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["api_key"] = (
        "100000/minute"  # times the work, not the limit
    )
    from rest_framework.settings import api_settings

    api_settings.reload()
    from api.auth import ApiKeyThrottle
    from api.models import ApiKey, Scope

    ApiKeyThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
    _key, text = ApiKey.new(name="bench", scopes=[s.value for s in Scope])
    server, base = serve_in_thread()
    logging.getLogger("django.request").setLevel(logging.ERROR)
    try:
        for measure in MEASUREMENTS:
            measure(base, text)
    finally:
        server.shutdown()
