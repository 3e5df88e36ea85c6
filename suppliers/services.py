"""The one writer of SupplierOrder.status, and small state changes around it.

Every change records an event on the store order's timeline (kind "supplier"), in the same
transaction. Routing, payment, placing and tracking live in their own modules and call these."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from orders import services as order_services
from orders.models import OrderEvent
from suppliers.models import SupplierOrder

S = SupplierOrder.Status
TRANSITIONS: dict[str, set[str]] = {
    S.AWAITING_PAYMENT: {S.PAID, S.CANCELLED},
    S.PAID: {S.PLACED, S.CANCELLED},
    S.PLACED: {S.SHIPPED, S.CANCELLED},
    S.SHIPPED: set(),
    S.CANCELLED: set(),
}
TIMESTAMPS = {S.PLACED: "placed_at", S.SHIPPED: "shipped_at", S.CANCELLED: "cancelled_at"}


class SupplierOrderError(Exception):
    pass


def record(
    supplier_order: SupplierOrder, message: str, *, actor=None, data: dict | None = None, error: bool = False
) -> OrderEvent:
    """An event on the store order's timeline about one of its supplier orders."""
    kind = OrderEvent.Kind.ERROR if error else OrderEvent.Kind.SUPPLIER
    return order_services.record_event(
        supplier_order.order,
        kind,
        f"{supplier_order.supplier.name} ({supplier_order.reference}): {message}",
        data={"supplier_order": supplier_order.pk, **(data or {})},
        actor=actor,
    )


def set_status(
    supplier_order: SupplierOrder, status: str, *, reason: str, actor=None, fields: dict | None = None
) -> SupplierOrder:
    """Change the status (allowed transitions only), with the extra `fields` saved alongside."""
    current = SupplierOrder.Status(supplier_order.status)
    if status not in TRANSITIONS[current]:
        raise SupplierOrderError(
            f"{supplier_order.reference} is {current.label.lower()}; it cannot become {S(status).label.lower()}"
        )
    with transaction.atomic():
        supplier_order.status = status
        changed = {"status", "updated_at", *(fields or {})}
        for name, value in (fields or {}).items():
            setattr(supplier_order, name, value)
        if status in TIMESTAMPS and not getattr(supplier_order, TIMESTAMPS[status]):
            setattr(supplier_order, TIMESTAMPS[status], timezone.now())
            changed.add(TIMESTAMPS[status])
        supplier_order.save(update_fields=sorted(changed))
        record(
            supplier_order,
            f"{current.label} → {S(status).label}: {reason}",
            actor=actor,
            data={"status": status},
        )
        if status == S.CANCELLED:
            # Its lines are the shipping desk's again while the store order is open.
            order_services.release_lines_from_supplier(
                supplier_order.order,
                [ln.order_line for ln in supplier_order.lines.select_related("order_line")],
                supplier=supplier_order.supplier.name,
                reason=f"{supplier_order.reference} was cancelled",
                actor=actor,
            )
    return supplier_order


def cancel(supplier_order: SupplierOrder, *, reason: str, actor=None) -> SupplierOrder:
    """Cancel a supplier order that has not been paid yet (afterwards, the supplier has the money
    or the order, and staff settle it with them)."""
    if supplier_order.status != S.AWAITING_PAYMENT:
        raise SupplierOrderError(
            f"{supplier_order.reference} is {supplier_order.get_status_display().lower()}: "
            f"only orders awaiting payment can be cancelled here; contact {supplier_order.supplier.name}."
        )
    batch = supplier_order.batch
    if batch is not None and (batch.in_doubt or batch.claimed_at):
        raise SupplierOrderError(
            f"{supplier_order.reference} is in batch #{batch.pk}, whose last payment attempt has no answer yet; "
            "open the batch and retry the payment first."
        )
    return set_status(supplier_order, S.CANCELLED, reason=reason, actor=actor, fields={"batch": None})
