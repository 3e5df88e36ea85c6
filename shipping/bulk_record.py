"""Recording many shipments booked outside Shipdesk at once (a CSV "record" upload).

The same outcome as `shipping.booking.record_external_shipment` for each row, written a chunk
at a time: one query to lock the orders, one to find what is already recorded, one
multi-row INSERT per table (fulfilments, shipments, events) and one UPDATE for the orders that
become shipped, then the pushes to the channels queued after commit, a few hundred per task.
Row by row, 100,000 rows would be 100,000 transactions and 100,000 queued tasks.

Per row, as the service does: a Shipment without carrier account (idempotency key
`external-<order id>-<tracking>`, so this path and the service never record the same parcel
twice), a pending Fulfilment (what the channel will be told), an OrderEvent "Shipment
recorded", and for an order awaiting shipment or on hold the move to shipped with the
"status" event `set_status` writes. The order-side half (fulfilments, status, events) is what
`orders.services.record_fulfilment` does for one order; it belongs in orders.services as a bulk
variant once another caller needs it."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.db.models import AutoField, BigAutoField, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from channels.models import Channel
from orders import services as order_services
from orders.models import Fulfilment, Order, OrderEvent
from shipping.models import Shipment

PUSH_BATCH = 200  # fulfilments per queued push task


@dataclass
class RecordRow:
    order_id: int
    tracking_number: str
    carrier: str
    service: str = ""
    tracking_url: str = ""
    shipped_at: datetime | None = None
    row: int | None = None  # the spreadsheet row, for messages

    @property
    def key(self) -> str:
        return f"external-{self.order_id}-{self.tracking_number}"


@dataclass
class BulkRecordResult:
    recorded: list[int] = field(default_factory=list)  # shipment ids
    skipped: list[tuple[int | None, str]] = field(default_factory=list)  # (row, why)
    failed: list[tuple[int | None, str]] = field(default_factory=list)  # (row, why)


@dataclass
class _Order:
    """What the import reads of an order (plain values: 2,000 model instances a chunk cost more)."""

    id: int
    order_number: str
    status: str
    channel_id: int

    def __str__(self):
        return self.order_number if self.order_number.startswith("#") else f"#{self.order_number}"


SHIPPABLE = {s for s, allowed in order_services.TRANSITIONS.items() if Order.Status.SHIPPED in allowed}
SHIP_NOW = {Order.Status.AWAITING_SHIPMENT, Order.Status.ON_HOLD} & SHIPPABLE  # what record_fulfilment ships
# Plain strings for the per-row loops (an enum member's .value is a descriptor call each time).
CANCELLED, SHIPPED = Order.Status.CANCELLED.value, Order.Status.SHIPPED.value
BOOKED_EVENT, STATUS_EVENT = OrderEvent.Kind.BOOKED.value, OrderEvent.Kind.STATUS.value


def record_shipments(rows: list[RecordRow], *, actor=None, note: str = "") -> BulkRecordResult:
    """Record `rows` (a chunk: a few thousand at most) in one transaction. Rows already recorded
    are skipped; rows whose order is gone or cancelled fail; nothing is recorded twice."""
    try:
        return _record(rows, actor=actor, note=note)
    except IntegrityError:
        # Someone recorded one of these parcels between our check and our insert: do this chunk
        # through the one-row service, which is idempotent on the same key.
        return _record_one_by_one(rows, actor=actor, note=note)


def _record(rows: list[RecordRow], *, actor, note: str) -> BulkRecordResult:
    result = BulkRecordResult()
    now = timezone.now()
    actor_id = actor.pk if actor else None
    with transaction.atomic():
        orders = {
            o["id"]: _Order(**o) for o in Order.objects.select_for_update(of=("self",))
            .filter(pk__in={r.order_id for r in rows}).values("id", "order_number", "status", "channel_id")
        }
        notify = dict(Channel.objects.filter(pk__in={o.channel_id for o in orders.values()})
                      .values_list("id", "notify_customer"))
        recorded = _already_recorded(rows)
        todo: list[RecordRow] = []
        for r in rows:
            order = orders.get(r.order_id)
            if order is None:
                result.failed.append((r.row, "the order no longer exists"))
            elif (r.order_id, r.tracking_number) in recorded:
                result.skipped.append((r.row, f"{order} already has tracking {r.tracking_number}"))
            elif order.status == CANCELLED:
                result.failed.append((r.row, f"{order} was cancelled after the file was checked"))
            else:
                recorded.add((r.order_id, r.tracking_number))
                todo.append(r)
        if not todo:
            return result

        fulfilment_ids = Insert(
            Fulfilment, ["order_id", "tracking_number", "carrier_name", "service", "tracking_url", "notify_customer"],
            constants={"next_attempt_at": now, "created_at": now},
        ).rows([(r.order_id, r.tracking_number, r.carrier, r.service, r.tracking_url,
                 notify[orders[r.order_id].channel_id]) for r in todo], returning=True)
        decision = Prepared(Shipment, "decision",
                            lambda carrier: {"reasons": [f"recorded: shipped outside Shipdesk with {carrier}"]})
        created_at = Prepared(Shipment, "created_at", lambda when: when or now)  # the ship date, when given
        token = Shipment._meta.get_field("public_token").default
        result.recorded = Insert(
            Shipment, ["order_id", "fulfilment_id", "service", "tracking_number", "tracking_url", "tracking_company",
                       "idempotency_key", "decision", "created_at", "public_token"],
            constants={"booked_by_id": actor_id},
        ).rows([(r.order_id, f, r.service, r.tracking_number, r.tracking_url, r.carrier, r.key,
                 decision[r.carrier], created_at[r.shipped_at], token())
                for r, f in zip(todo, fulfilment_ids, strict=True)], returning=True)

        data = Prepared(OrderEvent, "data", lambda status: {"status": status} if status else {})
        events = [
            (r.order_id, BOOKED_EVENT, f"Shipment recorded: {r.carrier} {r.tracking_number}"
             + (f" ({note}{', row ' + str(r.row) if r.row else ''})" if note else ""), data[""])
            for r in todo
        ]
        events += [(order_id, STATUS_EVENT, message, data[SHIPPED])
                    for order_id, message in _ship_orders(todo, orders, now=now)]
        Insert(OrderEvent, ["order_id", "kind", "message", "data"],
               constants={"actor_id": actor_id, "created_at": now}).rows(events)
        transaction.on_commit(lambda: queue_pushes(fulfilment_ids))
    return result


def _already_recorded(rows: list[RecordRow]) -> set[tuple[int, str]]:
    """(order id, tracking number) pairs these orders already carry. Every shipment has a
    fulfilment, and a parcel the channel reported shipped has a fulfilment only, so the
    fulfilments say it all; a shipment inserted meanwhile by the one-row service trips the
    unique idempotency key and the chunk is redone through that service."""
    return set(Fulfilment.objects.filter(order_id__in={r.order_id for r in rows})
               .values_list("order_id", "tracking_number"))


def _ship_orders(rows: list[RecordRow], orders: dict[int, _Order], *, now) -> list[tuple[int, str]]:
    """Orders awaiting shipment (or on hold) become shipped. Returns (order id, the message
    set_status writes) for each."""
    first: dict[int, RecordRow] = {}
    for r in rows:
        if orders[r.order_id].status in SHIP_NOW:
            first.setdefault(r.order_id, r)
    if not first:
        return []
    Order.objects.filter(pk__in=first, status__in=SHIP_NOW).update(
        status=Order.Status.SHIPPED, shipped_at=Coalesce("shipped_at", Value(now)), hold_reason="", updated_at=now)
    shipped = Order.Status.SHIPPED.label
    return [(pk, f"{Order.Status(orders[pk].status).label} → {shipped}: shipment {r.tracking_number} booked")
            for pk, r in first.items()]


class Prepared(dict):
    """A field's database value for each distinct Python value, prepared once (a chunk of
    100,000 rows has a handful of carriers and ship dates)."""

    def __init__(self, model, name: str, make: Callable):
        super().__init__()
        self.field, self.make = model._meta.get_field(name), make

    def __missing__(self, key):
        value = self[key] = self.field.get_db_prep_save(self.make(key), connection)
        return value


class Insert:
    """A multi-row INSERT of `model` with the values of `columns` given per row, already in
    database form (str, int, bool, None, or a `Prepared` value), `constants` prepared once, and
    every other column its field's default.

    Why not bulk_create: it prepares each of the ~60 values of a recorded row through the field
    API one by one, which profiled at 85% of the import (19 of 27 s for 4,000 rows); the same
    SQL built here costs a tuple per row."""

    def __init__(self, model, columns: list[str], *, constants: dict | None = None):
        self.model, constants = model, constants or {}
        per_row_defaults, fixed = [], {}
        fields = [f for f in model._meta.concrete_fields if not isinstance(f, AutoField | BigAutoField)]
        for f in fields:
            if f.attname in columns:
                continue
            if f.attname in constants:
                fixed[f.attname] = f.get_db_prep_save(constants[f.attname], connection)
            elif f.has_default() and callable(f.default) and f.default not in (dict, list):
                per_row_defaults.append(f)  # e.g. a random token: one per row
            else:
                fixed[f.attname] = f.get_db_prep_save(f.get_default(), connection)
        self.columns = [*columns, *fixed, *(f.attname for f in per_row_defaults)]
        self.fixed = tuple(fixed.values())
        self.per_row_defaults = per_row_defaults
        by_attname = {f.attname: f for f in fields}
        self.names = [by_attname[c].column for c in self.columns]

    def rows(self, values: list[tuple], *, returning: bool = False) -> list[int]:
        if not values:
            return []
        qn = connection.ops.quote_name
        limit = connection.features.max_query_params or 30_000
        per_statement = max(1, min(1000, limit // len(self.columns)))
        head = (f"INSERT INTO {qn(self.model._meta.db_table)} ({', '.join(qn(n) for n in self.names)}) VALUES ")
        sqlite = connection.vendor == "sqlite"
        row_sql = "(" + ", ".join(["?" if sqlite else "%s"] * len(self.columns)) + ")"
        tail = f" RETURNING {qn(self.model._meta.pk.column)}" if returning else ""
        ids: list[int] = []
        with connection.cursor() as cursor:
            for i in range(0, len(values), per_statement):
                batch = values[i:i + per_statement]
                params = []
                for row in batch:
                    params.extend(row)
                    params.extend(self.fixed)
                    params.extend(f.get_db_prep_save(f.get_default(), connection) for f in self.per_row_defaults)
                sql = head + ", ".join([row_sql] * len(batch)) + tail
                if sqlite:
                    # Straight to sqlite3 with its own "?" marks: Django's wrapper rewrites each "%s" with
                    # a regex, a second of CPU per 20,000 rows here.
                    sqlite3.Cursor.execute(cursor.cursor, sql, params)
                else:
                    cursor.execute(sql, params)
                if returning:  # in VALUES order on SQLite and PostgreSQL, as bulk_create relies on too
                    ids.extend(r[0] for r in cursor.fetchall())
        return ids


def _record_one_by_one(rows: list[RecordRow], *, actor, note: str) -> BulkRecordResult:
    from shipping.booking import BookingError, record_external_shipment

    result = BulkRecordResult()
    orders = Order.objects.select_related("channel").in_bulk({r.order_id for r in rows})
    for r in rows:
        order = orders.get(r.order_id)
        if order is None:
            result.failed.append((r.row, "the order no longer exists"))
            continue
        try:
            shipment, created = record_external_shipment(
                order=order, tracking_number=r.tracking_number, carrier=r.carrier, service=r.service,
                tracking_url=r.tracking_url, shipped_at=r.shipped_at, actor=actor,
                note=f"{note}, row {r.row}" if note and r.row else note)
        except BookingError as exc:
            result.failed.append((r.row, str(exc)))
            continue
        if created:
            result.recorded.append(shipment.pk)
        else:
            result.skipped.append((r.row, f"{order} already has tracking {r.tracking_number}"))
    return result


def queue_pushes(fulfilment_ids: list[int]) -> None:
    from django_q.tasks import async_task

    for i in range(0, len(fulfilment_ids), PUSH_BATCH):
        batch = fulfilment_ids[i:i + PUSH_BATCH]
        async_task("shipping.csv_tasks.push_fulfilments", batch, task_name=f"push-fulfilments-{batch[0]}")
