"""Supplier orders, payment batches and the checkout."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from orders.admin import ReadOnlyInline, WideListMixin, cut, short_datetime
from suppliers import checkout, placing, routing, services, tracking
from suppliers.admin.badges import auto_badge, status_badge
from suppliers.forms import CheckoutForm, StaffTrackingCsvForm
from suppliers.models import PaymentBatch, PaymentGateway, SupplierOrder, SupplierOrderLine
from suppliers.payments import PaymentDeclined, PaymentError


class TrackingFilter(admin.SimpleListFilter):
    title = "tracking"
    parameter_name = "tracking"

    def lookups(self, request, model_admin):
        return [
            ("overdue", "Overdue (watchlist)"),
            ("waiting", "Placed, waiting for tracking"),
            ("received", "Received"),
        ]

    def queryset(self, request, queryset):
        if self.value() == "overdue":
            return queryset.overdue()
        if self.value() == "waiting":
            return queryset.filter(status=SupplierOrder.Status.PLACED)
        if self.value() == "received":
            return queryset.exclude(tracking_number="")
        return queryset


class SupplierOrderLineInline(ReadOnlyInline):
    model = SupplierOrderLine
    fields = ["sku", "supplier_sku", "title", "quantity", "unit_cost", "line_cost"]


@admin.register(SupplierOrder)
class SupplierOrderAdmin(WideListMixin, admin.ModelAdmin):
    list_display = [
        "reference",
        "store_order",
        "supplier_cut",
        "automatic",
        "status_display",
        "cost",
        "batch",
        "placed",
        "tracking",
        "tracking_due",
    ]
    list_filter = ["status", "supplier", TrackingFilter]
    list_select_related = ["supplier", "order", "batch__supplier"]
    search_fields = ["=reference", "=order__order_number", "=tracking_number", "=remote_id"]
    search_help_text = "PO reference, store order number, tracking number or the supplier's order id"
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 100
    readonly_fields = [
        "reference",
        "order",
        "supplier",
        "status_display",
        "cost",
        "batch",
        "remote_id",
        "placed_at",
        "tracking_due_at",
        "shipped_at",
        "cancelled_at",
        "tracking",
        "carrier",
        "shipment",
        "last_error",
        "watch_alerted_at",
        "created_at",
        "updated_at",
    ]
    fields = readonly_fields
    inlines = [SupplierOrderLineInline]
    actions = ["pay_selected", "send_to_supplier", "request_fulfilment_again", "cancel_selected"]
    change_list_template = "admin/suppliers/supplierorder/change_list.html"

    def has_add_permission(self, request):
        return False  # made by routing

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        return [
            path(
                "import-tracking/",
                self.admin_site.admin_view(self.import_tracking_view),
                name="suppliers_supplierorder_import_tracking",
            ),
        ] + super().get_urls()

    @admin.display(description="Store order", ordering="order__order_number")
    def store_order(self, obj):
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:orders_order_change", args=[obj.order_id]), obj.order
        )

    @admin.display(description="Supplier", ordering="supplier")
    def supplier_cut(self, obj):
        return cut(obj.supplier, 100)

    @admin.display(description="Placed", ordering="placed_at")
    def placed(self, obj):
        return short_datetime(obj.placed_at)

    @admin.display(description="Tracking due", ordering="tracking_due_at")
    def tracking_due(self, obj):
        return short_datetime(obj.tracking_due_at)

    @admin.display(description="Auto")
    def automatic(self, obj):
        return auto_badge(obj.supplier)

    @admin.display(description="Status", ordering="status")
    def status_display(self, obj):
        return status_badge(obj)

    @admin.display(description="Cost price", ordering="total_cost")
    def cost(self, obj):
        return f"{obj.total_cost} {obj.currency}"

    @admin.display(description="Tracking", ordering="tracking_number")
    def tracking(self, obj):
        if obj.tracking_url:
            return format_html(
                '<a href="{}" target="_blank" rel="noopener">{}</a>',
                obj.tracking_url,
                cut(obj.tracking_number, 110),
            )
        return cut(obj.tracking_number, 110)

    @admin.action(description="Pay selected")
    def pay_selected(self, request, queryset):
        try:
            batch, left_out = checkout.create_batch(queryset, actor=request.user)
        except checkout.BatchError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return None
        if left_out:
            self.message_user(
                request,
                f"{left_out} selected order(s) are not awaiting payment and were left out.",
                messages.WARNING,
            )
        return HttpResponseRedirect(reverse("admin:suppliers_paymentbatch_checkout", args=[batch.pk]))

    @admin.action(description="Send to supplier (paid orders)")
    def send_to_supplier(self, request, queryset):
        sent, problems = 0, []
        for supplier_order in queryset.filter(status=SupplierOrder.Status.PAID):
            try:
                placing.place(supplier_order, actor=request.user)
                sent += 1
            except placing.PlacingError as exc:
                problems.append(f"{supplier_order.reference}: {exc}")
        skipped = queryset.exclude(status=SupplierOrder.Status.PAID).count()
        self.message_user(
            request,
            f"{sent} order(s) sent to the supplier"
            + (f"; {skipped} not paid or already sent, left alone" if skipped else ""),
            messages.SUCCESS if sent else messages.WARNING,
        )
        for problem in problems:
            self.message_user(request, problem, messages.ERROR)

    @admin.action(description="Tell the channel again (Shopify: request fulfilment)")
    def request_fulfilment_again(self, request, queryset):
        # After a failed request (the timeline shows the error): one call per store order.
        orders = {so.order for so in queryset.select_related("order__channel")}
        failed = []
        for order in orders:
            ok, message = routing.request_fulfilment(order)
            if not ok:
                failed.append(f"{order}: {message}")
        told = len(orders) - len(failed)
        if told:
            self.message_user(
                request,
                f"{told} store order(s): the channel was told again (see each timeline).",
                messages.SUCCESS,
            )
        for problem in failed:
            self.message_user(request, problem, messages.ERROR)

    @admin.action(description="Cancel (not yet paid)")
    def cancel_selected(self, request, queryset):
        done, problems = 0, []
        for supplier_order in queryset.select_related("supplier", "batch"):
            try:
                services.cancel(supplier_order, reason="cancelled by staff", actor=request.user)
                done += 1
            except services.SupplierOrderError as exc:
                problems.append(str(exc))
        if done:
            self.message_user(request, f"{done} supplier order(s) cancelled.", messages.SUCCESS)
        for problem in problems:
            self.message_user(request, problem, messages.ERROR)

    def import_tracking_view(self, request):
        if not self.has_change_permission(request):
            raise PermissionDenied
        form = StaffTrackingCsvForm(request.POST or None, request.FILES or None)
        summary = None
        if request.method == "POST" and form.is_valid():
            try:
                summary = tracking.import_csv(
                    form.cleaned_data["file"].read(),
                    supplier=form.cleaned_data["supplier"],
                    source=f"a CSV imported by {request.user}",
                    actor=request.user,
                )
            except tracking.TrackingError as exc:
                self.message_user(request, f"Nothing imported: {exc}.", messages.ERROR)
            else:
                level = messages.SUCCESS if not summary.problems else messages.WARNING
                self.message_user(request, f"Tracking CSV: {summary}.", level)
        context = {
            **self.admin_site.each_context(request),
            "title": "Import supplier tracking (CSV)",
            "form": form,
            "summary": summary,
            "opts": self.opts,
        }
        return TemplateResponse(request, "admin/suppliers/supplierorder/import_tracking.html", context)


# -- payment batches and the checkout


class BatchOrderInline(ReadOnlyInline):
    model = SupplierOrder
    fk_name = "batch"
    fields = ["reference", "order", "status", "total_cost", "placed_at", "tracking_number"]
    verbose_name_plural = "Orders in this batch"


@admin.register(PaymentBatch)
class PaymentBatchAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "supplier",
        "status_display",
        "amount_display",
        "gateway",
        "attempt",
        "in_doubt",
        "last_error",
        "created_at",
        "paid_at",
        "checkout_link",
    ]
    list_filter = ["status", "supplier", "in_doubt"]
    list_select_related = ["supplier", "gateway"]
    show_facets = admin.ShowFacets.NEVER
    readonly_fields = [
        "supplier",
        "status_display",
        "amount_display",
        "gateway",
        "attempt",
        "in_doubt",
        "remote_id",
        "last_error",
        "created_by",
        "created_at",
        "paid_by",
        "paid_at",
        "checkout_link",
    ]
    fields = readonly_fields
    inlines = [BatchOrderInline]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        return [
            path(
                "<int:pk>/checkout/",
                self.admin_site.admin_view(self.checkout_view),
                name="suppliers_paymentbatch_checkout",
            ),
        ] + super().get_urls()

    @admin.display(description="Status", ordering="status")
    def status_display(self, obj):
        return status_badge(obj)

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, obj):
        return f"{obj.amount} {obj.currency}"

    @admin.display(description="Checkout")
    def checkout_link(self, obj):
        if not obj.pk or obj.status != PaymentBatch.Status.AWAITING_PAYMENT:
            return "—"
        return format_html(
            '<a href="{}">Pay</a>', reverse("admin:suppliers_paymentbatch_checkout", args=[obj.pk])
        )

    def checkout_view(self, request, pk):
        batch = get_object_or_404(PaymentBatch.objects.select_related("supplier"), pk=pk)
        if not self.has_change_permission(request, batch):
            raise PermissionDenied
        gateways = list(checkout.allowed_gateways(batch))
        form = CheckoutForm(
            request.POST or None,
            gateways=PaymentGateway.objects.filter(pk__in=[g.pk for g in gateways]).order_by("name"),
        )
        here = reverse("admin:suppliers_paymentbatch_checkout", args=[batch.pk])
        if request.method == "POST" and form.is_valid():
            gateway = form.cleaned_data["gateway"]
            try:
                batch = checkout.pay_batch(batch, gateway=gateway, actor=request.user)
            except PaymentDeclined as exc:
                self.message_user(
                    request,
                    f"Declined by {gateway.name}: {exc}. The batch is still awaiting payment.",
                    messages.ERROR,
                )
                return HttpResponseRedirect(here)
            except (PaymentError, checkout.BatchError) as exc:
                self.message_user(
                    request,
                    str(exc)
                    if isinstance(exc, checkout.BatchError)
                    else PaymentBatch.objects.get(pk=batch.pk).last_error or str(exc),
                    messages.ERROR,
                )
                return HttpResponseRedirect(here)
            self.message_user(
                request,
                f"Paid {batch.amount} {batch.currency} to {batch.supplier.name} through "
                f"{gateway.name} ({batch.remote_id}).",
                messages.SUCCESS,
            )
            return HttpResponseRedirect(reverse("admin:suppliers_paymentbatch_change", args=[batch.pk]))
        orders = list(
            batch.supplier_orders.exclude(status=SupplierOrder.Status.CANCELLED)
            .select_related("order__channel")
            .prefetch_related("lines")
            .order_by("reference")
        )
        checks = []
        if batch.status == PaymentBatch.Status.AWAITING_PAYMENT and request.method == "GET":
            checks = checkout.check_addresses([so.order for so in orders])
        context = {
            **self.admin_site.each_context(request),
            "title": f"Pay {batch.supplier.name}",
            "batch": batch,
            "orders": orders,
            "total": sum((so.total_cost for so in orders), 0),
            "checks": checks,
            "gateways": gateways,
            "form": form,
            "opts": self.opts,
        }
        return TemplateResponse(request, "admin/suppliers/paymentbatch/checkout.html", context)
