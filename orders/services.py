"""Every change of an order's state happens here, in a transaction, with an OrderEvent.

Later apps (shipping, returns, suppliers) tell orders what happened by calling these
functions; admin actions, views and tasks call them and hold no rules of their own."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from orders.lines import (  # noqa: F401 - where the lines are; part of this module's interface
    InvalidLines,
    LinePosition,
    as_json,
    check_lines,
    default_lines,
    line_positions,
    nothing_to_ship_reason,
    positions_of,
    unshipped_lines,
)
from orders.models import Fulfilment, Order, OrderEvent, OrderLine

log = logging.getLogger(__name__)

S = Order.Status
# Which status may follow which: data, not ifs.
TRANSITIONS: dict[str, set[str]] = {
    S.AWAITING_SHIPMENT: {S.ON_HOLD, S.PARTLY_SHIPPED, S.SHIPPED, S.CANCELLED},
    S.ON_HOLD: {S.AWAITING_SHIPMENT, S.PARTLY_SHIPPED, S.SHIPPED, S.CANCELLED},
    S.PARTLY_SHIPPED: {S.AWAITING_SHIPMENT, S.ON_HOLD, S.SHIPPED, S.CANCELLED},
    S.SHIPPED: {S.DELIVERED, S.AWAITING_SHIPMENT, S.PARTLY_SHIPPED, S.CANCELLED},
    S.DELIVERED: {S.SHIPPED, S.PARTLY_SHIPPED},
    S.CANCELLED: set(),
}
# The statuses a recorded fulfilment ships an order from (refresh_status, ship_orders_in_bulk).
SHIPS_ON_FULFILMENT = (S.AWAITING_SHIPMENT, S.ON_HOLD, S.PARTLY_SHIPPED)
# The statuses a parcel can be booked in: nothing shipped yet, or some lines still open.
BOOKABLE = (S.AWAITING_SHIPMENT, S.PARTLY_SHIPPED)


class InvalidTransition(Exception):
    pass


def record_event(
    order: Order, kind: str, message: str, *, data: dict | None = None, actor=None
) -> OrderEvent:
    # savepoint=False: no extra statements inside a caller's transaction (counted queries stay put).
    with transaction.atomic(savepoint=False):
        event = OrderEvent.objects.create(
            order=order, kind=kind, message=message, data=data or {}, actor=actor
        )
        announce_events([event])
    return event


def announce_events(events: list[OrderEvent]) -> None:
    """Hand new OrderEvent rows to each dotted path in settings.ORDER_EVENT_HANDLERS, inside the
    transaction that wrote them (outgoing webhooks write their delivery rows there, so a change
    that rolls back leaves no delivery, and one that commits never lacks its delivery). Unlike
    run_handlers, a failing handler raises: the change and what it announces stand or fall together.
    Callers: record_event, and the bulk paths that create events (orders.importing)."""
    if not events:
        return
    for handler in _event_handlers():
        handler(events)


def _event_handlers() -> list:
    from django.utils.module_loading import import_string

    paths = tuple(settings.ORDER_EVENT_HANDLERS)
    if _event_handlers_cache.get("paths") != paths:  # settings can change in tests
        _event_handlers_cache.update(paths=paths, handlers=[import_string(p) for p in paths])
    return _event_handlers_cache["handlers"]


_event_handlers_cache: dict = {}


def set_status(order: Order, status: str, *, reason: str, actor=None) -> Order:
    """The one writer of Order.status."""
    if order.status == status:
        return order
    if status not in TRANSITIONS[order.status]:
        raise InvalidTransition(
            f"{order} is {order.get_status_display().lower()}; it cannot become {S(status).label.lower()}"
        )
    with transaction.atomic():
        previous = order.status
        order.status = status
        fields = ["status", "updated_at"]
        if status in (S.SHIPPED, S.PARTLY_SHIPPED) and not order.shipped_at:
            order.shipped_at = timezone.now()  # the first parcel left
            fields.append("shipped_at")
        elif status == S.AWAITING_SHIPMENT and order.shipped_at:
            order.shipped_at = None  # its parcels were all voided
            fields.append("shipped_at")
        if status != S.ON_HOLD and order.hold_reason:
            order.hold_reason = ""
            fields.append("hold_reason")
        order.save(update_fields=fields)
        record_event(
            order,
            OrderEvent.Kind.STATUS,
            _status_message(previous, status, reason),
            data={"status": status},
            actor=actor,
        )
    return order


def _status_message(previous: str, status: str, reason: str) -> str:
    return f"{S(previous).label} → {S(status).label}: {reason}"


def ship_orders_in_bulk(
    reasons: Mapping[int, str],
    *,
    actor=None,
    now: datetime | None = None,
    targets: Mapping[int, str] | None = None,
) -> list[int]:
    """What refresh_status does to the status of each of many orders, for a bulk import of
    recorded shipments (a spreadsheet of 100,000 rows): an order awaiting shipment, on hold or
    partly shipped moves to `targets[order id]` (shipped when omitted; `statuses_from_lines`
    derives them from where the lines are) exactly as `set_status` moves it (the same
    transitions table, the same fields, the same "status" event, with `reasons[order id]` as
    its reason); an order in any other status is left as it is.

    A few statements whatever the count: per (status it leaves, status it reaches), one
    UPDATE … RETURNING (the status is in its WHERE, so an order changed meanwhile is left alone
    and the event names the status it really left), then one INSERT of the events. Runs inside
    the caller's transaction. Returns the ids of the orders it moved."""
    if not reasons:
        return []
    now = now or timezone.now()
    targets = targets or {}
    position = {pk: i for i, pk in enumerate(reasons)}
    qn = connection.ops.quote_name
    field = {f.name: f for f in Order._meta.concrete_fields}
    when = field["shipped_at"].get_db_prep_save(now, connection)
    per_statement = (connection.features.max_query_params or 30_000) - 10
    by_target: dict[str, list[int]] = {}
    for pk in reasons:
        by_target.setdefault(targets.get(pk) or S.SHIPPED, []).append(pk)
    moved: list[tuple[int, str, str]] = []  # (order id, the status it left, the status it reached)
    with transaction.atomic(), connection.cursor() as cursor:
        for status, ids in by_target.items():
            for previous in (s for s in SHIPS_ON_FULFILMENT if status in TRANSITIONS[s] and s != status):
                for i in range(0, len(ids), per_statement):
                    batch = ids[i : i + per_statement]
                    # Written out: Django's update() has no RETURNING, and its `__in` prepares every id
                    # through the field API (a second per 100,000 ids).
                    cursor.execute(
                        f"UPDATE {qn(Order._meta.db_table)} SET {qn(field['status'].column)} = %s, "
                        f"{qn(field['shipped_at'].column)} = COALESCE({qn(field['shipped_at'].column)}, %s), "
                        f"{qn(field['hold_reason'].column)} = '', {qn(field['updated_at'].column)} = %s "
                        f"WHERE {qn(field['id'].column)} IN ({', '.join(['%s'] * len(batch))}) "
                        f"AND {qn(field['status'].column)} = %s RETURNING {qn(field['id'].column)}",
                        [str(status), when, when, *batch, str(previous)],
                    )
                    moved += [(pk, previous, status) for (pk,) in cursor.fetchall()]
        moved.sort(key=lambda item: position[item[0]])  # events in the caller's order
        event = {f.name: f for f in OrderEvent._meta.concrete_fields}
        created = event["created_at"].get_db_prep_save(now, connection)
        actor_id = actor.pk if actor else None
        columns = ", ".join(
            qn(event[n].column) for n in ("order", "kind", "message", "data", "actor", "created_at")
        )
        cursor.executemany(
            f"INSERT INTO {qn(OrderEvent._meta.db_table)} ({columns}) VALUES (%s, %s, %s, %s, %s, %s)",
            [
                (
                    pk,
                    OrderEvent.Kind.STATUS.value,
                    _status_message(previous, status, "") + reasons[pk],
                    event["data"].get_db_prep_save({"status": str(status)}, connection),
                    actor_id,
                    created,
                )
                for pk, previous, status in moved
            ],
        )
    return [pk for pk, _, _ in moved]


def ship_from_channel(order: Order, *, tracking: list[tuple[str, str]]) -> None:
    """The channel says the order shipped (fulfilled there, not here): the lines still open are
    recorded as fulfilled on the channel (sent: the channel already knows)."""
    known = set(order.fulfilments.values_list("tracking_number", flat=True))
    if known:
        # The channel marks an order shipped on the first tracking we send it: that is our own
        # (partial) fulfilment echoed back, not news. Only tracking we have never seen counts.
        tracking = [(number, carrier) for number, carrier in tracking if number not in known]
        if not tracking:
            return
    with transaction.atomic():
        open_lines = [(p.line, p.open) for p in line_positions(order) if p.open]
        if not open_lines:  # every line is in a parcel already: the channel only echoes us
            return
        detail = ", ".join(f"{number} ({carrier})" if carrier else number for number, carrier in tracking)
        for number, carrier in tracking or [("", "")]:
            # The channel does not say which parcel held which line: each covers what was open.
            Fulfilment.objects.create(
                order=order,
                tracking_number=number,
                carrier_name=carrier,
                state=Fulfilment.State.SENT,
                sent_at=timezone.now(),
                note="fulfilled on the channel",
                lines=as_json(open_lines),
            )
        refresh_status(order, reason="fulfilled on the channel" + (f", tracking {detail}" if detail else ""))


def cancel_from_channel(order: Order, *, remote_status: str) -> None:
    """The channel cancelled the order: cancel here; open shipments are flagged for voiding."""
    with transaction.atomic():
        if order.status == S.CANCELLED:
            return
        order.status = S.CANCELLED
        order.save(update_fields=["status", "updated_at"])
        record_event(
            order,
            OrderEvent.Kind.STATUS,
            f"Cancelled on the channel (status “{remote_status}”). Void any label booked for it.",
            data={"status": S.CANCELLED},
        )
        _on_cancelled(order.pk)


def _on_cancelled(order_id: int) -> None:
    """Once the cancellation commits, tell later apps (settings.ORDER_CANCELLED_HANDLERS: dropshipping
    cancels the supplier orders) without orders importing them."""
    if settings.ORDER_CANCELLED_HANDLERS:
        transaction.on_commit(lambda: run_handlers("ORDER_CANCELLED_HANDLERS", [order_id]))


def run_handlers(setting: str, order_ids: list[int]) -> None:
    """Call each dotted path listed in `settings.<setting>` with the order ids. Runs after the
    change has committed: one broken hook is logged and must not undo it or stop the others."""
    from django.utils.module_loading import import_string

    for path in getattr(settings, setting):
        try:
            import_string(path)(order_ids)
        except Exception:
            log.exception("%s: %s failed for orders %s", setting, path, order_ids[:20])


def record_fulfilment(
    *,
    order: Order,
    lines: list[tuple[OrderLine | str, int]],
    tracking_number: str,
    carrier_name: str,
    service: str = "",
    tracking_url: str = "",
    note: str = "",
    supplier: str = "",
    fee=None,
    fee_currency: str = "",
    replaces: Fulfilment | None = None,
    notify_customer: bool | None = None,
    actor=None,
) -> Fulfilment:
    """A parcel exists holding `lines` ((OrderLine or its external id, quantity), never empty):
    create what the channel will be told, bring the order's status up to date, and send it to
    the channel once the transaction commits. `supplier`: the dropshipping supplier who shipped
    it. `replaces`: a relabel, this fulfilment takes that one's place on the channel (the
    outbox updates or cancels the old one when it sends this one)."""
    picked = check_lines(order, lines)
    with transaction.atomic():
        fulfilment = Fulfilment.objects.create(
            order=order,
            tracking_number=tracking_number,
            carrier_name=carrier_name,
            service=service,
            tracking_url=tracking_url,
            note=note[:500],
            lines=as_json(picked),
            supplier=supplier,
            fee=fee,
            fee_currency=fee_currency if fee is not None else "",
            replaces=replaces,
            notify_customer=order.channel.notify_customer if notify_customer is None else notify_customer,
            next_attempt_at=timezone.now(),
        )
        refresh_status(
            order,
            reason=f"shipment {tracking_number or '(no tracking)'} booked"
            + (f" by {supplier}" if supplier else ""),
            actor=actor,
        )
        transaction.on_commit(lambda: _enqueue_push(fulfilment.pk))
    return fulfilment


def _enqueue_push(fulfilment_id: int) -> None:
    from django_q.tasks import async_task

    async_task("orders.tasks.push_fulfilment", fulfilment_id, task_name=f"push-fulfilment-{fulfilment_id}")


def retry_fulfilment(f: Fulfilment, *, actor=None) -> None:
    """Staff send a failed or blocked fulfilment again (after fixing the cause)."""
    with transaction.atomic():
        f.state, f.next_attempt_at, f.claimed_at = Fulfilment.State.PENDING, timezone.now(), None
        f.save(update_fields=["state", "next_attempt_at", "claimed_at"])
        record_event(
            f.order,
            OrderEvent.Kind.NOTE,
            f"Fulfilment {f.tracking_number or '(no tracking)'} queued again",
            actor=actor,
        )
        refresh_status(f.order, reason=f"tracking {f.tracking_number or '(none)'} queued again", actor=actor)
        transaction.on_commit(lambda: _enqueue_push(f.pk))


ADDRESS_FIELDS = [
    "ship_name",
    "ship_company",
    "ship_line1",
    "ship_line2",
    "ship_city",
    "ship_state",
    "ship_postal_code",
    "ship_country",
    "ship_phone",
]


class AddressLocked(Exception):
    pass


def edit_order(order: Order, *, changed: list[str], actor=None) -> Order:
    """Staff edited an order in the admin (address, internal note)."""
    if not changed:
        return order
    if order.address_locked and set(changed) & set(ADDRESS_FIELDS):
        raise AddressLocked(
            f"The address of {order} is locked: a supplier already has the order. "
            "Contact the supplier to change it."
        )
    with transaction.atomic():
        order.save()
        record_event(
            order,
            OrderEvent.Kind.NOTE,
            "Edited by staff: " + ", ".join(changed),
            actor=actor,
            data={"fields": changed},
        )
    return order


def apply_status_mapping(channel, remote_status: str, maps_to: str, *, actor=None) -> int:
    """Staff mapped a custom channel status: release the orders held for it. Returns how many."""
    from orders.importing import UNMAPPED_PREFIX

    target = {"import": S.AWAITING_SHIPMENT, "shipped": S.SHIPPED, "cancelled": S.CANCELLED}.get(maps_to)
    held = Order.objects.filter(
        channel=channel, status=S.ON_HOLD, hold_reason=f"{UNMAPPED_PREFIX}{remote_status}"
    )
    changed = 0
    for order in held:
        if target is None:  # mapped to "on hold" or "do not import": keep it held, say why
            order.hold_reason = f"channel status “{remote_status}” is mapped to {maps_to.replace('_', ' ')}"
            order.save(update_fields=["hold_reason", "updated_at"])
            record_event(order, OrderEvent.Kind.NOTE, order.hold_reason, actor=actor)
        else:
            set_status(order, target, reason=f"channel status “{remote_status}” is now mapped", actor=actor)
        changed += 1
    return changed


def unmapped_statuses(channel) -> list[tuple[str, int]]:
    """Custom statuses seen on this channel with no mapping yet, with how many orders wait on each."""
    from django.db.models import Count

    from orders.importing import UNMAPPED_PREFIX
    from orders.models import SkippedOrder

    held = (
        Order.objects.filter(channel=channel, status=S.ON_HOLD, hold_reason__startswith=UNMAPPED_PREFIX)
        .values("remote_status")
        .annotate(n=Count("id"))
    )
    skipped = (
        SkippedOrder.objects.filter(channel=channel, reason=SkippedOrder.Reason.UNMAPPED_STATUS)
        .values("remote_status")
        .annotate(n=Count("id"))
    )
    counts: dict[str, int] = {}
    for row in [*held, *skipped]:
        counts[row["remote_status"]] = counts.get(row["remote_status"], 0) + row["n"]
    mapped = set(channel.status_mappings.values_list("remote_status", flat=True))
    return sorted((status, n) for status, n in counts.items() if status not in mapped)


# -- dropshipping (called by suppliers; orders never imports suppliers)


def lock_address(order: Order, *, reason: str, actor=None) -> bool:
    """Freeze the shipping address because a supplier has the order: imports stop changing it
    and staff edits are refused. Returns True if it was unlocked before (and records why)."""
    with transaction.atomic():
        locked = Order.objects.filter(pk=order.pk, address_locked=False).update(
            address_locked=True, updated_at=timezone.now()
        )
        order.address_locked = True
        if locked:
            record_event(order, OrderEvent.Kind.SUPPLIER, f"Shipping address locked: {reason}", actor=actor)
    return bool(locked)


def route_lines_to_supplier(order: Order, lines: list[OrderLine], *, supplier: str, actor=None) -> None:
    """A dropshipping supplier ships these lines: Shipdesk never puts them in a parcel of its
    own, whatever the supplier order's state (suppliers.routing calls this)."""
    ids = [ln.pk for ln in lines if ln.dropshipped_by != supplier]
    if not ids:
        return
    with transaction.atomic():
        OrderLine.objects.filter(pk__in=ids).update(dropshipped_by=supplier)
        for ln in lines:
            ln.dropshipped_by = supplier


def release_lines_from_supplier(
    order: Order, lines: list[OrderLine], *, supplier: str, reason: str, actor=None
) -> list[OrderLine]:
    """The supplier will not ship these lines after all (its order was cancelled): they are
    Shipdesk's to ship again while the store order is open. Returns the lines released."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        if order.status in (S.CANCELLED, S.DELIVERED):
            return []
        released = [ln for ln in lines if ln.dropshipped_by == supplier]
        if not released:
            return []
        OrderLine.objects.filter(pk__in=[ln.pk for ln in released]).update(dropshipped_by="")
        for ln in released:
            ln.dropshipped_by = ""
        what = ", ".join(f"{ln.quantity} × {ln.sku or ln.title}" for ln in released)
        record_event(
            order,
            OrderEvent.Kind.SUPPLIER,
            f"{what} no longer shipped by {supplier} ({reason}): back with the shipping desk",
            actor=actor,
        )
    return released


def _target_status(current: str, positions: list[LinePosition]) -> str:
    if current == S.CANCELLED or not positions:
        return current
    if all(p.shipped >= p.line.quantity for p in positions):
        return current if current == S.DELIVERED else S.SHIPPED
    if any(p.shipped for p in positions):
        return S.PARTLY_SHIPPED
    return S.AWAITING_SHIPMENT if current in (S.SHIPPED, S.PARTLY_SHIPPED, S.DELIVERED) else current


def refresh_status(order: Order, *, reason: str, actor=None) -> Order:
    """The order's status from where its physical lines are, the one place that derives it:

    - shipped: every physical line is in a parcel that left (a pending or sent fulfilment, own
      or a supplier's). An order whose parcels are all booked but whose tracking the channel
      has not heard yet counts as shipped: the goods left, the outbox is telling the channel;
    - partly shipped: some units left, others are still open (whoever ships them) or in a
      parcel whose fulfilment is blocked or failed;
    - awaiting shipment: nothing left yet (an order on hold stays on hold until something does).

    A blocked or failed fulfilment never makes the order look shipped: its lines count as in a
    parcel (they are not booked again) but not as shipped, and the order page says it needs
    attention. Delivered and cancelled orders are left alone (a delivered order whose lines
    come open again goes back, e.g. after a relabel). Records a "status" event when it changes."""
    with transaction.atomic():
        order.refresh_from_db(fields=["status", "shipped_at", "hold_reason"])
        positions = line_positions(order)
        target = _target_status(order.status, positions)
        if target == order.status:
            return order
        if target == S.PARTLY_SHIPPED:
            still = ", ".join(
                f"{p.line.quantity - p.shipped} × {p.line.sku or p.line.title}"
                for p in positions
                if p.shipped < p.line.quantity
            )
            reason = f"{reason}; still to ship: {still}"
        set_status(order, target, reason=reason, actor=actor)
    return order


def statuses_from_lines(order_ids) -> dict[int, str]:
    """refresh_status's target for many orders at once (three queries): order id -> status."""
    positions = positions_of(order_ids)
    current = dict(Order.objects.filter(pk__in=list(positions)).values_list("id", "status"))
    return {pk: _target_status(current[pk], positions[pk]) for pk in positions if pk in current}


def ship_when_complete(order: Order, *, reason: str, actor=None) -> bool:
    """Bring the status up to date (refresh_status); returns whether the order is shipped."""
    refresh_status(order, reason=reason, actor=actor)
    return order.status == S.SHIPPED


# -- shipping desk (called by shipping; orders never imports shipping)


def withdraw_fulfilment(f: Fulfilment, *, reason: str, actor=None) -> bool:
    """Take back a fulfilment the channel has not been sent yet (its label was cancelled).
    Returns False when it is too late: it was sent, or a worker is sending it right now."""
    with transaction.atomic():
        deleted, _ = Fulfilment.objects.filter(
            pk=f.pk,
            state__in=[Fulfilment.State.PENDING, Fulfilment.State.BLOCKED, Fulfilment.State.FAILED],
            claimed_at__isnull=True,
        ).delete()
        if deleted:
            record_event(
                f.order,
                OrderEvent.Kind.NOTE,
                f"Tracking {f.tracking_number or '(none)'} withdrawn before it was sent to "
                f"{f.order.channel.name}: {reason}",
                actor=actor,
            )
    return bool(deleted)


def back_to_awaiting_shipment(order: Order, *, reason: str, actor=None) -> Order:
    """A label was voided: its lines are open again, and the status follows (refresh_status)."""
    return refresh_status(order, reason=reason, actor=actor)


def mark_delivered(order: Order, *, reason: str, at=None, actor=None) -> bool:
    """The carrier delivered the order. Returns False if the order is not shipped (nothing changes)."""
    with transaction.atomic():
        if order.status != S.SHIPPED:
            return False
        set_status(order, S.DELIVERED, reason=reason, actor=actor)
        order.delivered_at = at or timezone.now()
        Order.objects.filter(pk=order.pk).update(delivered_at=order.delivered_at)
    return True


def cancel_order(order: Order, *, reason: str, actor=None) -> Order:
    """Staff cancel the order here (its labels are dealt with by the caller). Fulfilments not yet
    sent are withdrawn so the channel is never told a cancelled order shipped."""
    with transaction.atomic():
        was_cancelled = order.status == S.CANCELLED
        for f in order.fulfilments.exclude(state=Fulfilment.State.SENT):
            withdraw_fulfilment(f, reason="the order was cancelled", actor=actor)
        set_status(order, S.CANCELLED, reason=reason, actor=actor)
        order.cancelled_at = timezone.now()
        Order.objects.filter(pk=order.pk).update(cancelled_at=order.cancelled_at)
        if not was_cancelled:
            _on_cancelled(order.pk)
    return order
