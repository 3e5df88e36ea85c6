"""django-q2 entry points: thin wrappers that look up ids and call services."""

from __future__ import annotations

from suppliers import placing, tracking
from suppliers.models import SupplierOrder


def place_supplier_order(supplier_order_id: int) -> str:
    supplier_order = SupplierOrder.objects.get(pk=supplier_order_id)
    try:
        return placing.place(supplier_order).status
    except placing.PlacingError as exc:
        return f"not placed: {exc}"  # recorded on the order; place_due tries again


def poll_suppliers() -> dict:
    """Every 30 minutes: place what failed to place, then read tracking from supplier APIs."""
    placed, failed = placing.place_due()
    summary = tracking.poll_all()
    return {
        "placed": placed,
        "place_failed": failed,
        "checked": summary.checked,
        "shipped": summary.shipped,
        "cancelled": summary.cancelled,
        "errors": summary.errors[:50],
    }


def check_watchlist() -> int:
    return tracking.alert_overdue()
