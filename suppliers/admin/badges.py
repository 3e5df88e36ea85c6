"""Badges shared by the dropshipping admin pages."""

from django.utils.html import format_html

from suppliers.models import Supplier

STATUS_COLOURS = {
    "awaiting_payment": "#ef6c00",
    "paid": "#1565c0",
    "placed": "#6a1b9a",
    "shipped": "#2e7d32",
    "cancelled": "#777",
}


def status_badge(obj):
    return format_html(
        '<span style="background:{};color:#fff;padding:2px 8px;border-radius:10px;white-space:nowrap">{}</span>',
        STATUS_COLOURS.get(obj.status, "#555"),
        obj.get_status_display(),
    )


def auto_badge(supplier):
    if not supplier.auto_order:
        return format_html(
            '<span style="color:#777" title="{}">manual</span>', "Paid orders wait for “Send to supplier”"
        )
    how = "API" if supplier.order_method == Supplier.OrderMethod.API else "email"
    return format_html(
        '<span style="background:#2e7d32;color:#fff;padding:2px 8px;border-radius:10px;white-space:nowrap" '
        'title="{} accepts automatic orders: paid orders go out at once">auto · {}</span>',
        supplier.name,
        how,
    )
