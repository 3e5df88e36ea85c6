"""Placing paid supplier orders: through the supplier's API or by email with a CSV purchase
order. Placed means the store order's shipping address is locked."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from orders import services as order_services
from suppliers import services
from suppliers.emails import send_purchase_order
from suppliers.models import Supplier, SupplierOrder
from suppliers.supplier_api import PurchaseOrder, SupplierApiError

log = logging.getLogger(__name__)


class PlacingError(Exception):
    pass


def enqueue_placing(supplier_order_ids: list[int]) -> None:
    from django_q.tasks import async_task

    for pk in supplier_order_ids:
        async_task("suppliers.tasks.place_supplier_order", pk, task_name=f"place-supplier-order-{pk}")


def purchase_order(supplier_order: SupplierOrder) -> PurchaseOrder:
    order = supplier_order.order
    return PurchaseOrder(
        reference=supplier_order.reference,
        currency=supplier_order.currency,
        ship_to={
            "name": order.ship_name,
            "company": order.ship_company,
            "line1": order.ship_line1,
            "line2": order.ship_line2,
            "city": order.ship_city,
            "state": order.ship_state,
            "postal_code": order.ship_postal_code,
            "country": order.ship_country,
            "phone": order.ship_phone or order.phone,
            "email": order.email,
        },
        items=[(line.supplier_sku or line.sku, line.quantity) for line in supplier_order.lines.all()],
        note=f"Store order {order}",
    )


def place(supplier_order: SupplierOrder, *, actor=None) -> SupplierOrder:
    """Send a paid supplier order to its supplier. Placing twice is harmless: an order already
    placed is returned as it is, and the supplier API is idempotent on our reference."""
    supplier_order = SupplierOrder.objects.select_related("supplier", "order__channel").get(
        pk=supplier_order.pk
    )
    if supplier_order.status != SupplierOrder.Status.PAID:
        return supplier_order
    supplier = supplier_order.supplier
    # Lock first: the address the supplier receives is the address the order keeps.
    order_services.lock_address(
        supplier_order.order,
        actor=actor,
        reason=f"{supplier.name} has the order ({supplier_order.reference}); "
        "contact the supplier to change it",
    )
    try:
        if supplier.order_method == Supplier.OrderMethod.API:
            remote = supplier.api().place(purchase_order(supplier_order))  # HTTP, outside any transaction
            remote_id, how = (
                remote.remote_id,
                f"through {supplier.name}'s API (their order {remote.remote_id})",
            )
        else:
            if not supplier.email:
                raise PlacingError(f"{supplier.name} has no email address for purchase orders")
            remote_id, how = (
                "",
                f"by email to {send_purchase_order(supplier_order)} with a CSV purchase order",
            )
    except (SupplierApiError, PlacingError, OSError) as exc:
        first_failure = not supplier_order.last_error  # retries every poll: alert staff once
        with transaction.atomic():
            supplier_order.last_error = str(exc)[:2000]
            supplier_order.save(update_fields=["last_error", "updated_at"])
            services.record(supplier_order, f"could not be placed: {exc}", actor=actor, error=True)
        from orders.alerts import alert_staff

        if first_failure:
            alert_staff(
                supplier_order.order.channel,
                f"Supplier order {supplier_order.reference} not placed",
                str(exc),
            )
        raise PlacingError(str(exc)) from exc
    due = timezone.now() + timedelta(days=supplier.watchlist_days)
    return services.set_status(
        supplier_order,
        SupplierOrder.Status.PLACED,
        actor=actor,
        reason=f"sent {how}",
        fields={"remote_id": remote_id, "tracking_due_at": due, "last_error": ""},
    )


def place_due() -> tuple[int, int]:
    """Paid orders of automatic suppliers that are not placed yet (a failed attempt): try again."""
    placed = failed = 0
    due = SupplierOrder.objects.filter(
        status=SupplierOrder.Status.PAID, supplier__auto_order=True, supplier__is_active=True
    )
    for supplier_order in due:
        try:
            place(supplier_order)
            placed += 1
        except PlacingError:
            failed += 1
    return placed, failed
