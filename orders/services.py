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

from orders.models import Fulfilment, Order, OrderEvent

log = logging.getLogger(__name__)

S = Order.Status
# Which status may follow which: data, not ifs.
TRANSITIONS: dict[str, set[str]] = {
    S.AWAITING_SHIPMENT: {S.ON_HOLD, S.SHIPPED, S.CANCELLED},
    S.ON_HOLD: {S.AWAITING_SHIPMENT, S.SHIPPED, S.CANCELLED},
    S.SHIPPED: {S.DELIVERED, S.AWAITING_SHIPMENT, S.CANCELLED},
    S.DELIVERED: {S.SHIPPED},
    S.CANCELLED: set(),
}
# The statuses a recorded fulfilment ships an order from (record_fulfilment, ship_when_complete).
SHIPS_ON_FULFILMENT = (S.AWAITING_SHIPMENT, S.ON_HOLD)


class InvalidTransition(Exception):
    pass


def record_event(order: Order, kind: str, message: str, *, data: dict | None = None, actor=None) -> OrderEvent:
    return OrderEvent.objects.create(order=order, kind=kind, message=message, data=data or {}, actor=actor)


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
        if status == S.SHIPPED and not order.shipped_at:
            order.shipped_at = timezone.now()
            fields.append("shipped_at")
        if status != S.ON_HOLD and order.hold_reason:
            order.hold_reason = ""
            fields.append("hold_reason")
        order.save(update_fields=fields)
        record_event(order, OrderEvent.Kind.STATUS, _status_message(previous, status, reason),
                     data={"status": status}, actor=actor)
    return order


def _status_message(previous: str, status: str, reason: str) -> str:
    return f"{S(previous).label} → {S(status).label}: {reason}"


def ship_orders_in_bulk(reasons: Mapping[int, str], *, actor=None, now: datetime | None = None) -> list[int]:
    """What record_fulfilment does to the status of each of many orders, for a bulk import of
    whole-order shipments (a spreadsheet of 100,000 rows): an order awaiting shipment or on hold
    becomes shipped exactly as `set_status` moves it (the same transitions table, the same
    fields, the same "status" event, with `reasons[order id]` as its reason); an order in any
    other status is left as it is. `reasons` maps order ids to reasons.

    A few statements whatever the count: per status it ships from, one UPDATE … RETURNING (the
    status is in its WHERE, so an order changed meanwhile is left alone and the event names the
    status it really left), then one INSERT of the events. Runs inside the caller's
    transaction. Returns the ids of the orders it shipped."""
    if not reasons:
        return []
    now = now or timezone.now()
    status = S.SHIPPED
    position = {pk: i for i, pk in enumerate(reasons)}
    qn = connection.ops.quote_name
    field = {f.name: f for f in Order._meta.concrete_fields}
    when = field["shipped_at"].get_db_prep_save(now, connection)
    per_statement = (connection.features.max_query_params or 30_000) - 10
    ids = list(reasons)
    shipped: list[tuple[int, str]] = []  # (order id, the status it left)
    with transaction.atomic(), connection.cursor() as cursor:
        for previous in (s for s in SHIPS_ON_FULFILMENT if status in TRANSITIONS[s]):
            for i in range(0, len(ids), per_statement):
                batch = ids[i:i + per_statement]
                # Written out: Django's update() has no RETURNING, and its `__in` prepares every id
                # through the field API (a second per 100,000 ids).
                cursor.execute(
                    f"UPDATE {qn(Order._meta.db_table)} SET {qn(field['status'].column)} = %s, "
                    f"{qn(field['shipped_at'].column)} = COALESCE({qn(field['shipped_at'].column)}, %s), "
                    f"{qn(field['hold_reason'].column)} = '', {qn(field['updated_at'].column)} = %s "
                    f"WHERE {qn(field['id'].column)} IN ({', '.join(['%s'] * len(batch))}) "
                    f"AND {qn(field['status'].column)} = %s RETURNING {qn(field['id'].column)}",
                    [status.value, when, when, *batch, previous.value])
                shipped += [(pk, previous) for (pk,) in cursor.fetchall()]
        shipped.sort(key=lambda item: position[item[0]])  # events in the caller's order
        prefix = {previous: _status_message(previous, status, "") for previous in SHIPS_ON_FULFILMENT}
        event = {f.name: f for f in OrderEvent._meta.concrete_fields}
        data = event["data"].get_db_prep_save({"status": status.value}, connection)
        created = event["created_at"].get_db_prep_save(now, connection)
        actor_id = actor.pk if actor else None
        columns = ", ".join(qn(event[n].column) for n in ("order", "kind", "message", "data", "actor", "created_at"))
        cursor.executemany(
            f"INSERT INTO {qn(OrderEvent._meta.db_table)} ({columns}) VALUES (%s, %s, %s, %s, %s, %s)",
            [(pk, OrderEvent.Kind.STATUS.value, prefix[previous] + reasons[pk], data, actor_id, created)
             for pk, previous in shipped])
    return [pk for pk, _ in shipped]


def ship_from_channel(order: Order, *, tracking: list[tuple[str, str]]) -> None:
    """The channel says the order shipped (fulfilled there, not here)."""
    known = set(order.fulfilments.values_list("tracking_number", flat=True))
    if known:
        # The channel marks an order shipped on the first tracking we send it: that is our own
        # (partial) fulfilment echoed back, not news. Only tracking we have never seen counts.
        tracking = [(number, carrier) for number, carrier in tracking if number not in known]
        if not tracking:
            return
    with transaction.atomic():
        detail = ", ".join(f"{number} ({carrier})" if carrier else number for number, carrier in tracking)
        for number, carrier in tracking:
            Fulfilment.objects.create(order=order, tracking_number=number, carrier_name=carrier,
                                      state=Fulfilment.State.SENT, sent_at=timezone.now(),
                                      note="fulfilled on the channel")
        set_status(order, S.SHIPPED, reason="fulfilled on the channel" + (f", tracking {detail}" if detail else ""))


def cancel_from_channel(order: Order, *, remote_status: str) -> None:
    """The channel cancelled the order: cancel here; open shipments are flagged for voiding."""
    with transaction.atomic():
        if order.status == S.CANCELLED:
            return
        order.status = S.CANCELLED
        order.save(update_fields=["status", "updated_at"])
        record_event(order, OrderEvent.Kind.STATUS,
                     f"Cancelled on the channel (status “{remote_status}”). Void any label booked for it.",
                     data={"status": S.CANCELLED})
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
    *, order: Order, tracking_number: str, carrier_name: str, service: str = "", tracking_url: str = "",
    note: str = "", lines: list | None = None, notify_customer: bool | None = None, actor=None,
) -> Fulfilment:
    """A shipment exists: create what the channel will be told, mark the order shipped, and
    send it to the channel once the transaction commits."""
    with transaction.atomic():
        fulfilment = Fulfilment.objects.create(
            order=order, tracking_number=tracking_number, carrier_name=carrier_name, service=service,
            tracking_url=tracking_url, note=note, lines=lines or [],
            notify_customer=order.channel.notify_customer if notify_customer is None else notify_customer,
            next_attempt_at=timezone.now(),
        )
        # A split order (own stock + suppliers) is shipped once every part is.
        ship_when_complete(order, reason=f"shipment {tracking_number or '(no tracking)'} booked", actor=actor)
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
        record_event(f.order, OrderEvent.Kind.NOTE, f"Fulfilment {f.tracking_number or '(no tracking)'} queued again",
                     actor=actor)
        transaction.on_commit(lambda: _enqueue_push(f.pk))


ADDRESS_FIELDS = ["ship_name", "ship_company", "ship_line1", "ship_line2", "ship_city", "ship_state",
                  "ship_postal_code", "ship_country", "ship_phone"]


class AddressLocked(Exception):
    pass


def edit_order(order: Order, *, changed: list[str], actor=None) -> Order:
    """Staff edited an order in the admin (address, internal note)."""
    if not changed:
        return order
    if order.address_locked and set(changed) & set(ADDRESS_FIELDS):
        raise AddressLocked(f"The address of {order} is locked: a supplier already has the order. "
                            "Contact the supplier to change it.")
    with transaction.atomic():
        order.save()
        record_event(order, OrderEvent.Kind.NOTE, "Edited by staff: " + ", ".join(changed), actor=actor,
                     data={"fields": changed})
    return order


def apply_status_mapping(channel, remote_status: str, maps_to: str, *, actor=None) -> int:
    """Staff mapped a custom channel status: release the orders held for it. Returns how many."""
    from orders.importing import UNMAPPED_PREFIX

    target = {"import": S.AWAITING_SHIPMENT, "shipped": S.SHIPPED, "cancelled": S.CANCELLED}.get(maps_to)
    held = Order.objects.filter(channel=channel, status=S.ON_HOLD, hold_reason=f"{UNMAPPED_PREFIX}{remote_status}")
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

    held = (Order.objects.filter(channel=channel, status=S.ON_HOLD, hold_reason__startswith=UNMAPPED_PREFIX)
            .values("remote_status").annotate(n=Count("id")))
    skipped = (SkippedOrder.objects.filter(channel=channel, reason=SkippedOrder.Reason.UNMAPPED_STATUS)
               .values("remote_status").annotate(n=Count("id")))
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
        locked = Order.objects.filter(pk=order.pk, address_locked=False).update(address_locked=True,
                                                                                 updated_at=timezone.now())
        order.address_locked = True
        if locked:
            record_event(order, OrderEvent.Kind.SUPPLIER, f"Shipping address locked: {reason}", actor=actor)
    return bool(locked)


def unshipped_lines(order: Order) -> list[tuple]:
    """(OrderLine, quantity still to ship) for physical lines not yet covered by a fulfilment.
    A fulfilment without lines covers the whole order."""
    covered: dict[str, int] = {}
    # A fulfilment withdrawn (or being withdrawn) from the channel no longer covers its lines.
    live = order.fulfilments.filter(retract_requested_at__isnull=True).exclude(
        state__in=[Fulfilment.State.CANCELLED, Fulfilment.State.ATTENTION])
    for lines in live.values_list("lines", flat=True):
        if not lines:
            return []
        for external_id, quantity in lines:
            covered[str(external_id)] = covered.get(str(external_id), 0) + int(quantity)
    remaining = []
    for line in order.lines.filter(is_physical=True):
        left = line.quantity - covered.get(line.external_id, 0)
        if left > 0:
            remaining.append((line, left))
    return remaining


def ship_when_complete(order: Order, *, reason: str, actor=None) -> bool:
    """An order split between own stock and suppliers is shipped when all its parts are.

    After a partial fulfilment (one with `lines`): shipped if nothing is left to ship, otherwise
    (back to) awaiting shipment with the lines still to ship named. Returns whether it is
    shipped. record_fulfilment marks an order shipped on its first fulfilment; calling this
    right after it (suppliers.tracking does) applies the rule."""
    remaining = unshipped_lines(order)
    with transaction.atomic():
        if not remaining:
            if order.status in SHIPS_ON_FULFILMENT:
                set_status(order, S.SHIPPED, reason=reason, actor=actor)
            return order.status == S.SHIPPED
        still = ", ".join(f"{qty} × {line.sku or line.title}" for line, qty in remaining)
        if order.status == S.SHIPPED:
            set_status(order, S.AWAITING_SHIPMENT, reason=f"{reason}; still to ship: {still}", actor=actor)
        else:
            record_event(order, OrderEvent.Kind.NOTE, f"Partly shipped ({reason}); still to ship: {still}",
                         actor=actor)
    return False


# -- shipping desk (called by shipping; orders never imports shipping)

def withdraw_fulfilment(f: Fulfilment, *, reason: str, actor=None) -> bool:
    """Take back a fulfilment the channel has not been sent yet (its label was cancelled).
    Returns False when it is too late: it was sent, or a worker is sending it right now."""
    with transaction.atomic():
        deleted, _ = Fulfilment.objects.filter(
            pk=f.pk, state__in=[Fulfilment.State.PENDING, Fulfilment.State.BLOCKED, Fulfilment.State.FAILED],
            claimed_at__isnull=True,
        ).delete()
        if deleted:
            record_event(f.order, OrderEvent.Kind.NOTE,
                         f"Tracking {f.tracking_number or '(none)'} withdrawn before it was sent to "
                         f"{f.order.channel.name}: {reason}", actor=actor)
    return bool(deleted)


def back_to_awaiting_shipment(order: Order, *, reason: str, actor=None) -> Order:
    """Its last live shipment was cancelled: the order needs shipping again."""
    with transaction.atomic():
        if order.status != S.SHIPPED:
            return order
        set_status(order, S.AWAITING_SHIPMENT, reason=reason, actor=actor)
        Order.objects.filter(pk=order.pk).update(shipped_at=None)
        order.shipped_at = None
    return order


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


# placeholder: the lines branch replaces this
def refresh_status(order, *, reason, actor=None):
    return ship_when_complete(order, reason=reason, actor=actor)
