"""A cancelled store order takes its supplier orders with it, as far as they can still go.

Runs after the cancellation commits, through settings.ORDER_CANCELLED_HANDLERS (orders never
imports suppliers), whoever cancelled: staff (shipping.cancellation) or the channel (pull-back).

    awaiting payment  cancelled here: nobody has been paid or told
    paid, not placed  cancelled here, so it is never placed; the supplier has the money: flagged
    placed            cancelled with the supplier through its API where it takes orders that way;
                      otherwise (email, or the API refuses or does not answer) flagged: contact them
    shipped           left as it is and flagged: the goods are on their way

Flagged means an error on the store order's timeline and a staff alert, as other supplier errors."""

from __future__ import annotations

import logging

from orders.alerts import alert_staff
from suppliers import services
from suppliers.models import Supplier, SupplierOrder
from suppliers.supplier_api import SupplierApiError

log = logging.getLogger(__name__)

S = SupplierOrder.Status
REASON = "the store order was cancelled"


def cancel_supplier_orders(order_ids: list[int]) -> dict[str, int]:
    """The ORDER_CANCELLED_HANDLERS hook. Returns counts by outcome (cancelled, flagged)."""
    counts = {"cancelled": 0, "flagged": 0}
    open_orders = (
        SupplierOrder.objects.filter(order_id__in=order_ids)
        .exclude(status=S.CANCELLED)
        .select_related("supplier", "order__channel", "batch")
        .order_by("id")
    )
    for supplier_order in open_orders:
        try:
            outcome = cancel_for_store_order(supplier_order)
        except Exception:  # noqa: BLE001 - one supplier order must not stop the others
            log.exception("cancelling supplier order %s failed", supplier_order.pk)
            outcome = _flag(
                supplier_order,
                f"could not be cancelled (an internal error, logged); contact {supplier_order.supplier.name}",
            )
        counts[outcome] += 1
    return counts


def cancel_for_store_order(supplier_order: SupplierOrder) -> str:
    """Cancel or flag one supplier order of a cancelled store order: "cancelled" or "flagged"."""
    supplier = supplier_order.supplier
    if supplier_order.status == S.AWAITING_PAYMENT:
        try:
            services.cancel(supplier_order, reason=REASON)
        except services.SupplierOrderError as exc:  # its batch's payment is in doubt
            return _flag(supplier_order, f"not cancelled although {REASON}: {exc}")
        return "cancelled"
    if supplier_order.status == S.PAID:
        services.set_status(supplier_order, S.CANCELLED, reason=f"{REASON} before it was placed")
        return _flag(
            supplier_order,
            f"was paid but never placed, and {REASON}: ask {supplier.name} for a refund or a credit",
            cancelled=True,
        )
    if supplier_order.status == S.SHIPPED:
        number = f" (tracking {supplier_order.tracking_number})" if supplier_order.tracking_number else ""
        return _flag(
            supplier_order,
            f"{supplier.name} has already shipped it{number}, but {REASON}: "
            f"contact {supplier.name} about the parcel and a return",
        )
    # Placed: the supplier has it.
    if supplier.order_method != Supplier.OrderMethod.API or not supplier_order.remote_id:
        return _flag(
            supplier_order,
            f"{supplier.name} has this order (placed by email), but {REASON}: "
            f"contact {supplier.name} to cancel it",
        )
    try:
        remote = supplier.api().cancel(supplier_order.remote_id, reason=REASON)  # HTTP, outside a transaction
    except SupplierApiError as exc:
        return _flag(
            supplier_order,
            f"{supplier.name} did not cancel it ({exc}), but {REASON}: contact {supplier.name} to cancel it",
        )
    if not remote.is_cancelled:
        return _flag(
            supplier_order,
            f"{supplier.name} answered with status “{remote.status}” instead of "
            f"cancelling it, but {REASON}: contact {supplier.name}",
        )
    services.set_status(
        supplier_order,
        S.CANCELLED,
        reason=f"{REASON}; cancelled through {supplier.name}'s API (their order {remote.remote_id})",
    )
    return "cancelled"


def _flag(supplier_order: SupplierOrder, message: str, *, cancelled: bool = False) -> str:
    services.record(supplier_order, message, error=True)
    alert_staff(
        supplier_order.order.channel,
        f"Supplier order {supplier_order.reference}: store order cancelled",
        f"{supplier_order.supplier.name} ({supplier_order.reference}, store order {supplier_order.order}): "
        f"{message}",
    )
    return "cancelled" if cancelled else "flagged"
