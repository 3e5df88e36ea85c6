"""What the store order's page shows and does about suppliers (UI layer only: orders never
imports suppliers; this extends orders.admin.OrderAdmin the way shipping's admin does)."""

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from orders import services as order_services
from orders.admin import OrderAdmin, ReadOnlyInline
from suppliers import routing
from suppliers.admin.badges import status_badge
from suppliers.models import SupplierOrder


class SupplierOrderInline(ReadOnlyInline):
    model = SupplierOrder
    fk_name = "order"
    fields = ["link", "supplier", "status_display", "cost", "items", "placed_at", "tracking", "shipped_at"]
    verbose_name_plural = "Supplier orders"
    template = "admin/suppliers/supplierorder/order_inline.html"

    def get_queryset(self, request):
        # order: each row's title is str(supplier order), which names its order.
        return super().get_queryset(request).select_related("supplier", "order").prefetch_related("lines")

    @admin.display(description="Supplier order")
    def link(self, obj):
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:suppliers_supplierorder_change", args=[obj.pk]),
            obj.reference,
        )

    @admin.display(description="Status")
    def status_display(self, obj):
        return status_badge(obj)

    @admin.display(description="Cost price")
    def cost(self, obj):
        return f"{obj.total_cost} {obj.currency}"

    @admin.display(description="Items")
    def items(self, obj):
        return ", ".join(str(line) for line in obj.lines.all())

    @admin.display(description="Tracking")
    def tracking(self, obj):
        return obj.tracking_number or "—"


OrderAdmin.inlines = [*OrderAdmin.inlines[:-1], SupplierOrderInline, *OrderAdmin.inlines[-1:]]


@admin.action(description="Route supplier lines")
def route_supplier_lines(modeladmin, request, queryset):
    result = routing.route_imported_orders(list(queryset.values_list("pk", flat=True)))
    modeladmin.message_user(
        request,
        f"{len(result.created)} supplier order(s) created for {len(result.orders)} order(s).",
        messages.SUCCESS,
    )


OrderAdmin.actions = [*OrderAdmin.actions, route_supplier_lines]

_order_save_model = OrderAdmin.save_model


def _save_model_refusing_locked_address(self, request, obj, form, change):
    """A locked address is read-only on the page; a stale page that still posts a different
    address gets a refusal saying who to contact, and the rest of the edit is saved."""
    if obj.pk and obj.address_locked:
        attempted = [
            name
            for name in order_services.ADDRESS_FIELDS
            if name in request.POST and request.POST[name].strip() != (getattr(obj, name) or "").strip()
        ]
        if attempted:
            self.message_user(request, lock_message(obj), messages.ERROR)
    try:
        _order_save_model(self, request, obj, form, change)
    except order_services.AddressLocked:
        self.message_user(request, lock_message(obj), messages.ERROR)


def lock_message(order) -> str:
    holders = [so.supplier for so in order.supplier_orders.select_related("supplier").exclude(placed_at=None)]
    contact = "; ".join(f"{s.name}" + (f" ({s.email})" if s.email else "") for s in holders) or "the supplier"
    return (
        f"The address of {order} was not changed: it is locked because a supplier already has the order. "
        f"To change it, contact the supplier: {contact}."
    )


OrderAdmin.save_model = _save_model_refusing_locked_address
