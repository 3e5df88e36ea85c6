"""Recording many shipments booked outside Shipdesk at once (a CSV "record" upload).

The same outcome as `shipping.booking.record_external_shipment` for each row, written a chunk
at a time: one query to lock the orders, one to find what is already recorded, one
multi-row INSERT per table (fulfilments, shipments, events), the orders that become shipped
moved by `orders.services.ship_orders_in_bulk` (the bulk side of the one writer of order
status), then the pushes to the channels queued after commit, a few hundred per task. Row by
row, 100,000 rows would be 100,000 transactions and 100,000 queued tasks.

Per row, as the service does: a Shipment without carrier account (idempotency key
`external-<order id>-<tracking>`, so this path and the service never record the same parcel
twice), a pending Fulfilment (what the channel will be told), an OrderEvent "Shipment
recorded", and for an order awaiting shipment or on hold the move to shipped with the
"status" event `set_status` writes (through `ship_orders_in_bulk`, which applies the same
transitions table)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from channels.models import Channel
from orders import services as order_services
from orders.models import Fulfilment, Order, OrderEvent, OrderLine
from shipping.bulk_sql import Insert, Prepared, select_in
from shipping.models import Shipment, ShipmentLine

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


# Plain strings for the per-row loops (an enum member's .value is a descriptor call each time).
CANCELLED, BOOKED_EVENT = Order.Status.CANCELLED.value, OrderEvent.Kind.BOOKED.value


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
            row[0]: _Order(*row)
            for row in select_in(
                Order,
                ["id", "order_number", "status", "channel_id"],
                "id",
                {r.order_id for r in rows},
                lock=True,
            )
        }
        notify = dict(
            Channel.objects.filter(pk__in={o.channel_id for o in orders.values()}).values_list(
                "id", "notify_customer"
            )
        )
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

        held = _lines_held(todo)
        lines_json = _LinesJson()
        fulfilment_ids = Insert(
            Fulfilment,
            [
                "order_id",
                "tracking_number",
                "carrier_name",
                "service",
                "tracking_url",
                "notify_customer",
                "lines",
            ],
            constants={"next_attempt_at": now, "created_at": now},
        ).rows(
            [
                (
                    r.order_id,
                    r.tracking_number,
                    r.carrier,
                    r.service,
                    r.tracking_url,
                    notify[orders[r.order_id].channel_id],
                    lines_json[_json_key(held[i])],
                )
                for i, r in enumerate(todo)
            ],
            returning=True,
        )
        decision = Prepared(
            Shipment,
            "decision",
            lambda carrier: {"reasons": [f"recorded: shipped outside Shipdesk with {carrier}"]},
        )
        created_at = Prepared(Shipment, "created_at", lambda when: when or now)  # the ship date, when given
        token = Shipment._meta.get_field("public_token").default
        result.recorded = Insert(
            Shipment,
            [
                "order_id",
                "fulfilment_id",
                "service",
                "tracking_number",
                "tracking_url",
                "tracking_company",
                "idempotency_key",
                "decision",
                "created_at",
                "public_token",
            ],
            constants={"booked_by_id": actor_id},
        ).rows(
            [
                (
                    r.order_id,
                    f,
                    r.service,
                    r.tracking_number,
                    r.tracking_url,
                    r.carrier,
                    r.key,
                    decision[r.carrier],
                    created_at[r.shipped_at],
                    token(),
                )
                for r, f in zip(todo, fulfilment_ids, strict=True)
            ],
            returning=True,
        )
        Insert(ShipmentLine, ["shipment_id", "order_line_id", "quantity"]).rows(
            [
                (shipment_id, line_id, quantity)
                for shipment_id, picked in zip(result.recorded, held, strict=True)
                for line_id, _, quantity in picked
            ]
        )

        Insert(
            OrderEvent,
            ["order_id", "kind", "message"],
            constants={"actor_id": actor_id, "created_at": now, "data": {}},
        ).rows(
            [
                (
                    r.order_id,
                    BOOKED_EVENT,
                    f"Shipment recorded: {r.carrier} {r.tracking_number}"
                    + (f" ({note}{', row ' + str(r.row) if r.row else ''})" if note else ""),
                )
                for r in todo
            ]
        )
        # The order's first parcel in this chunk names the change, as record_fulfilment's reason.
        reasons: dict[int, str] = {}
        for r in todo:
            reasons.setdefault(r.order_id, f"shipment {r.tracking_number} booked")
        order_services.ship_orders_in_bulk(
            reasons, actor=actor, now=now, targets=order_services.statuses_from_lines(reasons)
        )
        transaction.on_commit(lambda: queue_pushes(fulfilment_ids))
    return result


class _LinesJson(dict):
    """Fulfilment.lines in database form, prepared once per distinct value."""

    def __init__(self):
        super().__init__()
        self.field = Fulfilment._meta.get_field("lines")

    def __missing__(self, key):
        from django.db import connection

        value = self[key] = self.field.get_db_prep_save([list(x) for x in key], connection)
        return value


def _json_key(picked: list[tuple[int, str, int]]) -> tuple:
    return tuple((external_id, quantity) for _, external_id, quantity in picked)


def _lines_held(rows: list[RecordRow]) -> list[list[tuple[int, str, int]]]:
    """(line id, external id, quantity) each recorded parcel holds: what Shipdesk still had to
    ship, as shipping.booking.recorded_lines decides for one parcel (a few queries a chunk)."""
    ids = {r.order_id for r in rows}
    physical: dict[int, list[OrderLine]] = {}
    for line in OrderLine.objects.filter(order_id__in=ids, is_physical=True).order_by("id"):
        physical.setdefault(line.order_id, []).append(line)
    covered: dict[int, dict[str, int]] = {}
    for order_id, lines in (
        Fulfilment.objects.filter(order_id__in=ids).live().values_list("order_id", "lines")
    ):
        for external_id, quantity in lines or []:
            per = covered.setdefault(order_id, {})
            per[str(external_id)] = per.get(str(external_id), 0) + int(quantity)
    held = []
    for r in rows:
        lines, per = physical.get(r.order_id, []), covered.setdefault(r.order_id, {})
        picked = [
            (ln.pk, ln.external_id, ln.quantity - per.get(ln.external_id, 0))
            for ln in lines
            if not ln.dropshipped_by and ln.quantity > per.get(ln.external_id, 0)
        ]
        if not picked:  # a further parcel (a resend), or an order a supplier ships whole
            own = [ln for ln in lines if not ln.dropshipped_by] or lines
            picked = [(ln.pk, ln.external_id, ln.quantity) for ln in own]
        for _, external_id, quantity in picked:  # a second row for the same order holds what is left
            per[external_id] = per.get(external_id, 0) + quantity
        held.append(picked)
    return held


def _already_recorded(rows: list[RecordRow]) -> set[tuple[int, str]]:
    """(order id, tracking number) pairs these orders already carry. Every shipment has a
    fulfilment, and a parcel the channel reported shipped has a fulfilment only, so the
    fulfilments say it all; a shipment inserted meanwhile by the one-row service trips the
    unique idempotency key and the chunk is redone through that service."""
    return set(select_in(Fulfilment, ["order_id", "tracking_number"], "order_id", {r.order_id for r in rows}))


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
                order=order,
                tracking_number=r.tracking_number,
                carrier=r.carrier,
                service=r.service,
                tracking_url=r.tracking_url,
                shipped_at=r.shipped_at,
                actor=actor,
                note=f"{note}, row {r.row}" if note and r.row else note,
            )
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
        batch = fulfilment_ids[i : i + PUSH_BATCH]
        async_task("shipping.csv_tasks.push_fulfilments", batch, task_name=f"push-fulfilments-{batch[0]}")
