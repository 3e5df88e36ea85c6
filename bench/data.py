"""Realistic data for the benchmarks that read what staff read (the admin lists and search).

An order is never alone in a real shop's database: each has two lines, most have been shipped
(a fulfilment sent to the channel and a shipment with its label), and each has a timeline of
three or four events. Statuses are skewed as in a real backlog: most orders delivered or on
their way, a tenth awaiting shipment, a few on hold or cancelled. Everything is written with
INSERT … SELECT over a number series, in the same SQL on SQLite and PostgreSQL, so a million
orders load in minutes; every column not named here gets its model default, so a field added
to a model later needs no change here."""

from __future__ import annotations

import time

# Per hundred orders: 60 delivered, 20 shipped, 10 awaiting shipment, 3 on hold, 7 cancelled.
STATUS_SQL = (
    "CASE WHEN g %% 100 < 60 THEN 'delivered' WHEN g %% 100 < 80 THEN 'shipped' "
    "WHEN g %% 100 < 90 THEN 'awaiting_shipment' WHEN g %% 100 < 93 THEN 'on_hold' ELSE 'cancelled' END"
)
SHIPPED = "('delivered', 'shipped')"
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
    "SO4A 1BB",
    "90210",
    "K1A 0B1",
    "2000",
    "160-0022",
]
CITIES = [
    "Leeds",
    "Manchester",
    "Paris",
    "Lyon",
    "Amsterdam",
    "Berlin",
    "London",
    "Edinburgh",
    "Marseille",
    "Utrecht",
    "Southampton",
    "Beverly Hills",
    "Ottawa",
    "Sydney",
    "Tokyo",
]
COUNTRIES = ["GB", "GB", "FR", "FR", "NL", "DE", "GB", "GB", "FR", "NL", "GB", "US", "CA", "AU", "JP"]


def _pick(values: list[str], expr: str) -> str:
    """CASE over `expr` % len(values): the same SQL on both databases (no arrays in SQLite)."""
    whens = " ".join(f"WHEN {i} THEN '{v}'" for i, v in enumerate(values))
    return f"CASE ({expr}) %% {len(values)} {whens} END"


def _dialect():
    from django.db import connection

    pg = connection.vendor == "postgresql"

    def ago(days_expr: str) -> str:
        if pg:
            return f"CAST(%(now)s AS timestamptz) - ({days_expr}) * interval '1 day'"
        return f"strftime('%%Y-%%m-%%d %%H:%%M:%%f', %(now)s, '-' || ({days_expr}) || ' days')"

    def json(expr: str) -> str:
        return f"CAST({expr} AS jsonb)" if pg else expr

    def series(start: str, stop: str) -> str:
        if pg:
            return f"SELECT generate_series({start}, {stop}) AS g"
        return f"WITH RECURSIVE s(g) AS (SELECT {start} UNION ALL SELECT g + 1 FROM s WHERE g < {stop}) SELECT g FROM s"

    return ago, json, series


def insert_sql(model, values_sql: dict[str, str], source: str) -> tuple[str, list]:
    """INSERT … SELECT for `model`: the given SQL per column, the model default for the rest."""
    from django.db import connection

    columns, values, params = [], [], []
    for f in model._meta.concrete_fields:
        if f.primary_key:
            continue
        columns.append(connection.ops.quote_name(f.column))
        if f.column in values_sql:
            values.append(values_sql[f.column])
        elif f.has_default() or not f.null:
            values.append("%(d_" + f.column + ")s")
            params.append((f"d_{f.column}", f.get_db_prep_save(f.get_default(), connection)))
        else:
            values.append("NULL")
    return (
        f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) SELECT {', '.join(values)} {source}",
        params,
    )


def load_orders(
    *, channels: list[int], carrier: int, brand: int, first: int, last: int, chunk: int = 100_000, say=print
) -> float:
    """Orders numbered first..last (order number = external id = g) across `channels`, with their
    lines, fulfilments, shipments and events. Returns the seconds it took."""
    from django.db import connection
    from django.utils import timezone

    from orders import normalise
    from orders.models import Fulfilment, Order, OrderEvent, OrderLine
    from shipping.models import Shipment

    ago, json, series = _dialect()
    channel_sql = _pick([str(c) for c in channels], "g").replace("'", "")
    order_sql, order_params = insert_sql(
        Order,
        {
            "channel_id": f"CAST({channel_sql} AS integer)",
            "external_id": "CAST(g AS TEXT)",
            "order_number": "CAST(g AS TEXT)",
            "order_number_norm": "CAST(g AS TEXT)",
            "status": STATUS_SQL,
            "remote_status": "'paid'",
            "customer_name": "'Customer ' || g",
            "email": "'customer' || g || '@example.com'",
            "email_norm": "'customer' || g || '@example.com'",
            "ship_name": "'Customer ' || g",
            "ship_line1": "g || ' High Street'",
            "ship_city": _pick(CITIES, "g"),
            "ship_postal_code": _pick(POSTAL_CODES, "g"),
            "postal_code_norm": _pick([normalise.postal_code(p) for p in POSTAL_CODES], "g"),
            "ship_country": _pick(COUNTRIES, "g"),
            "requested_service": "'Standard'",
            "currency": "'GBP'",
            "total": "CAST(10 + (g %% 9000) / 100.0 AS numeric)"
            if connection.vendor == "postgresql"
            else "10 + (g %% 9000) / 100.0",
            "total_weight_g": "300 + g %% 1700",
            "ordered_at": ago("g %% 60 + 1"),
            "imported_at": ago("g %% 60 + 1"),
            "updated_at": ago("g %% 60"),
            "shipped_at": f"CASE WHEN {STATUS_SQL} IN {SHIPPED} THEN {ago('g %% 60')} END",
            "delivered_at": f"CASE WHEN {STATUS_SQL} = 'delivered' THEN {ago('g %% 30')} END",
        },
        f"FROM ({series('%(start)s', '%(stop)s')}) AS numbers",
    )
    line_sql, line_params = insert_sql(
        OrderLine,
        {
            "order_id": "o.id",
            "external_id": "o.external_id || '-' || n.n",
            "sku": "'SKU-' || ((o.id * 7 + n.n) %% 500)",
            "title": "'Product ' || ((o.id * 7 + n.n) %% 500)",
            "quantity": "1 + (o.id + n.n) %% 2",
            "unit_price": "12.50",
            "weight_g": "250",
            "is_physical": "TRUE" if connection.vendor == "postgresql" else "1",
        },
        "FROM orders_order o CROSS JOIN (SELECT 1 AS n UNION ALL SELECT 2) AS n WHERE o.id BETWEEN %(lo)s AND %(hi)s",
    )
    fulfilment_sql, fulfilment_params = insert_sql(
        Fulfilment,
        {
            "order_id": "o.id",
            "tracking_number": "'SD' || o.id || 'GB'",
            "carrier_name": "'Royal Mail'",
            "service": "'Tracked 48'",
            "lines": json("'[[\"' || o.external_id || '-1\", 1]]'"),
            "state": "'sent'",
            "attempts": "1",
            "created_at": "o.shipped_at",
            "sent_at": "o.shipped_at",
        },
        f"FROM orders_order o WHERE o.id BETWEEN %(lo)s AND %(hi)s AND o.status IN {SHIPPED}",
    )
    shipment_sql, shipment_params = insert_sql(
        Shipment,
        {
            "order_id": "f.order_id",
            "fulfilment_id": "f.id",
            "carrier_account_id": "%(carrier)s",
            "brand_id": "%(brand)s",
            "service": "'Tracked 48'",
            "tracking_number": "f.tracking_number",
            "tracking_company": "'Royal Mail'",
            "idempotency_key": "'bench-' || f.order_id",
            "public_token": "'tok' || f.order_id",
            "fee": "3.20",
            "currency": "'GBP'",
            "weight_g": "850",
            "status": "CASE WHEN o.status = 'delivered' THEN 'delivered' ELSE 'in_transit' END",
            "created_at": "f.created_at",
        },
        "FROM orders_fulfilment f JOIN orders_order o ON o.id = f.order_id WHERE f.order_id BETWEEN %(lo)s AND %(hi)s",
    )
    event_sql, event_params = insert_sql(
        OrderEvent,
        {
            "order_id": "o.id",
            "kind": "e.kind",
            "message": "e.message || ' #' || o.order_number",
            "data": json("'{}'"),
            "created_at": "o.ordered_at",
        },
        "FROM orders_order o JOIN (SELECT 'imported' AS kind, 'Imported' AS message, 0 AS shipped "
        "UNION ALL SELECT 'booked', 'Label booked with Royal Mail', 1 "
        "UNION ALL SELECT 'pushed', 'Sent to the channel', 1 "
        "UNION ALL SELECT 'status', 'Awaiting shipment → Shipped', 1) AS e "
        f"ON e.shipped = 0 OR o.status IN {SHIPPED} WHERE o.id BETWEEN %(lo)s AND %(hi)s",
    )

    started = time.perf_counter()
    base = {"now": timezone.now().strftime("%Y-%m-%d %H:%M:%S"), "carrier": carrier, "brand": brand}
    with connection.cursor() as cursor:
        for start in range(first, last + 1, chunk):
            stop = min(start + chunk - 1, last)
            cursor.execute("SELECT coalesce(max(id), 0) FROM orders_order")
            before = cursor.fetchone()[0]
            cursor.execute(order_sql, {**base, **dict(order_params), "start": start, "stop": stop})
            # The ids the rows really got: a PostgreSQL sequence may be ahead of max(id).
            cursor.execute("SELECT min(id), max(id) FROM orders_order WHERE id > %s", [before])
            lo, hi = cursor.fetchone()
            ids = {**base, "lo": lo, "hi": hi}
            cursor.execute(line_sql, {**ids, **dict(line_params)})
            cursor.execute(fulfilment_sql, {**ids, **dict(fulfilment_params)})
            cursor.execute(shipment_sql, {**ids, **dict(shipment_params)})
            cursor.execute(event_sql, {**ids, **dict(event_params)})
            say(f"  loaded {stop:,} orders with lines, fulfilments, shipments and events")
        for table in (
            "orders_order",
            "orders_orderline",
            "orders_fulfilment",
            "shipping_shipment",
            "orders_orderevent",
        ):
            cursor.execute(f"ANALYZE {table}")
    return time.perf_counter() - started
