"""Payment gateways, suppliers and their products."""

from django.contrib import admin, messages
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from import_export.admin import ImportExportModelAdmin

from channels.forms import WriteOnlyCredentialsForm, credentials_summary
from suppliers.admin.badges import auto_badge
from suppliers.emails import upload_url
from suppliers.models import PaymentGateway, Supplier, SupplierOrder, SupplierProduct
from suppliers.resources import SupplierProductResource


class PaymentGatewayForm(WriteOnlyCredentialsForm):
    class Meta:
        model = PaymentGateway
        exclude = ["credentials"]


@admin.register(PaymentGateway)
class PaymentGatewayAdmin(admin.ModelAdmin):
    form = PaymentGatewayForm
    list_display = ["name", "kind", "api_base_url", "is_active"]
    readonly_fields = ["credentials_set"]

    @admin.display(description="Credentials stored")
    def credentials_set(self, obj):
        return credentials_summary(obj)


class SupplierForm(WriteOnlyCredentialsForm):
    class Meta:
        model = Supplier
        exclude = ["credentials"]
        help_texts = {"api_base_url": "Needed when orders are placed or tracking is read through the API"}

    def clean(self):
        data = super().clean()
        uses_api = Supplier.OrderMethod.API in (data.get("order_method"), data.get("tracking_method"))
        if uses_api and not data.get("api_base_url"):
            self.add_error("api_base_url", "The supplier API is used, so give its base URL.")
        if data.get("order_method") == Supplier.OrderMethod.EMAIL and not data.get("email"):
            self.add_error("email", "Purchase orders are emailed, so give an email address.")
        return data


@admin.register(Supplier)
class SupplierAdmin(admin.ModelAdmin):
    form = SupplierForm
    list_display = [
        "name",
        "automatic",
        "order_method",
        "tracking_method",
        "currency",
        "watchlist_days",
        "awaiting_payment",
        "overdue",
        "is_active",
    ]
    list_filter = ["auto_order", "order_method", "tracking_method", "is_active"]
    search_fields = ["name", "email"]
    filter_horizontal = ["allowed_gateways"]
    readonly_fields = ["credentials_set", "upload_link"]
    fieldsets = [
        (None, {"fields": ["name", "is_active", "contact_name", "email", "phone", "currency", "notes"]}),
        ("Orders and payment", {"fields": ["auto_order", "order_method", "allowed_gateways"]}),
        ("Tracking", {"fields": ["tracking_method", "upload_link", "watchlist_days"]}),
        (
            "Supplier API (credentials are write-only)",
            {"fields": ["api_base_url", "credentials_set", "new_credentials"]},
        ),
    ]
    actions = ["new_upload_link"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_awaiting=Count("orders", filter=Q(orders__status=SupplierOrder.Status.AWAITING_PAYMENT)),
                n_overdue=Count(
                    "orders",
                    filter=Q(
                        orders__status=SupplierOrder.Status.PLACED, orders__tracking_due_at__lt=timezone.now()
                    ),
                ),
            )
        )

    @admin.display(description="Automatic orders", ordering="auto_order")
    def automatic(self, obj):
        return auto_badge(obj)

    @admin.display(description="Awaiting payment", ordering="n_awaiting")
    def awaiting_payment(self, obj):
        url = (
            reverse("admin:suppliers_supplierorder_changelist")
            + f"?supplier__id__exact={obj.pk}&status__exact=awaiting_payment"
        )
        return format_html('<a href="{}">{}</a>', url, obj.n_awaiting)

    @admin.display(description="Tracking overdue", ordering="n_overdue")
    def overdue(self, obj):
        url = (
            reverse("admin:suppliers_supplierorder_changelist")
            + f"?supplier__id__exact={obj.pk}&tracking=overdue"
        )
        return format_html(
            '<a href="{}" style="color:{}">{}</a>',
            url,
            "#c62828" if obj.n_overdue else "inherit",
            obj.n_overdue,
        )

    @admin.display(description="Credentials stored")
    def credentials_set(self, obj):
        return credentials_summary(obj)

    @admin.display(description="Private upload page")
    def upload_link(self, obj):
        if not obj.pk:
            return "Saved with the supplier."
        url = upload_url(obj)
        return format_html(
            '<a href="{}" target="_blank" rel="noopener noreferrer">{}</a><div class="help">Send this '
            "link to the supplier only: whoever has it can record tracking for their orders.</div>",
            url,
            url,
        )

    @admin.action(description="Replace the upload link (the old one stops working)")
    def new_upload_link(self, request, queryset):
        from suppliers.models import _upload_token

        for supplier in queryset:
            supplier.upload_token = _upload_token()
            supplier.save(update_fields=["upload_token"])
        self.message_user(
            request, f"New upload link for {queryset.count()} supplier(s); send it to them.", messages.SUCCESS
        )


@admin.register(SupplierProduct)
class SupplierProductAdmin(ImportExportModelAdmin):
    resource_classes = [SupplierProductResource]
    list_display = ["sku", "supplier", "supplier_sku", "title", "cost", "is_active"]
    list_filter = ["supplier", "is_active"]
    list_select_related = ["supplier"]
    search_fields = ["=sku", "supplier_sku", "title"]
    show_facets = admin.ShowFacets.NEVER

    def has_import_permission(self, request):
        return request.user.has_perm("suppliers.import_supplierproduct")

    @admin.display(description="Cost price", ordering="cost_price")
    def cost(self, obj):
        return f"{obj.cost_price} {obj.supplier.currency}"
