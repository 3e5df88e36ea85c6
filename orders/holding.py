"""Staff put an order on hold (nothing is booked for it until someone releases it) and release
it, each time with a reason on the timeline. Order.status changes only through set_status."""

from __future__ import annotations

from django.db import transaction

from orders.lines import line_positions
from orders.models import Order
from orders.services import InvalidTransition, S, set_status

# An order can be held while something of it is still ours to ship.
HOLDABLE = (S.AWAITING_SHIPMENT, S.PARTLY_SHIPPED)
REASON_MAX = Order._meta.get_field("hold_reason").max_length


class HoldRefused(InvalidTransition):
    pass


def hold_order(order: Order, *, reason: str, actor=None) -> Order:
    """Put the order on hold with staff's reason. Raises HoldRefused when it cannot be held (already
    held, shipped, delivered or cancelled) or no reason is given."""
    reason = " ".join((reason or "").split())[:REASON_MAX]
    if not reason:
        raise HoldRefused(f"{order}: say why it is held")
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        if order.status not in HOLDABLE:
            raise HoldRefused(f"{order} is {order.get_status_display().lower()}: it cannot be put on hold")
        set_status(order, S.ON_HOLD, reason=f"held by staff: {reason}", actor=actor)
        order.hold_reason = reason
        order.save(update_fields=["hold_reason", "updated_at"])
    return order


def release_order(order: Order, *, reason: str = "", actor=None) -> Order:
    """Take the order off hold: it goes back to where its lines are (awaiting shipment, partly
    shipped or shipped). Raises HoldRefused if it is not on hold."""
    reason = " ".join((reason or "").split()) or "released by staff"
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        if order.status != S.ON_HOLD:
            raise HoldRefused(f"{order} is not on hold")
        positions = line_positions(order)
        if positions and all(p.shipped >= p.line.quantity for p in positions):
            target = S.SHIPPED
        elif any(p.shipped for p in positions):
            target = S.PARTLY_SHIPPED
        else:
            target = S.AWAITING_SHIPMENT
        held_for = order.hold_reason
        set_status(
            order,
            target,
            reason=f"released from hold ({held_for or 'no reason recorded'}): {reason}",
            actor=actor,
        )
    return order


def hold_orders(orders, *, reason: str, actor=None) -> tuple[list[Order], list[str]]:
    """Hold many; returns (held, why the others were not)."""
    return _each(orders, lambda o: hold_order(o, reason=reason, actor=actor))


def release_orders(orders, *, reason: str = "", actor=None) -> tuple[list[Order], list[str]]:
    return _each(orders, lambda o: release_order(o, reason=reason, actor=actor))


def _each(orders, act) -> tuple[list[Order], list[str]]:
    done, refused = [], []
    for order in orders:
        try:
            done.append(act(order))
        except HoldRefused as exc:
            refused.append(str(exc))
    return done, refused
