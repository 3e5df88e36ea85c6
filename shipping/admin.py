from django import forms
from django.contrib import admin, messages
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from channels.forms import WriteOnlyCredentialsForm, credentials_summary
from orders.admin import OrderAdmin, badge
from orders.models import Order
from shipping.booking import BookingError, book_shipment, cancel_shipment
from shipping.models import Address, Brand, CarrierAccount, Shipment


@admin.register(Address)
class AddressAdmin(admin.ModelAdmin):
    list_display = ["label", "name", "city", "postal_code", "country"]
    search_fields = ["label", "name", "city", "postal_code"]


@admin.register(Brand)
class BrandAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "sender_address", "return_address", "is_default"]
    list_select_related = ["sender_address", "return_address"]
    prepopulated_fields = {"slug": ["name"]}


class CarrierAccountForm(WriteOnlyCredentialsForm):
    class Meta:
        model = CarrierAccount
        exclude = ["credentials"]


@admin.register(CarrierAccount)
class CarrierAccountAdmin(admin.ModelAdmin):
    form = CarrierAccountForm
    list_display = ["name", "kind", "default_service", "tracking_company", "is_default", "is_active"]
    readonly_fields = ["credentials_set"]

    @admin.display(description="Credentials stored")
    def credentials_set(self, obj):
        return credentials_summary(obj)


def label_link(shipment):
    if not shipment.pk or not shipment.label:
        return "—"
    url = reverse("admin:shipping_shipment_label", args=[shipment.pk])
    return format_html('<a href="{}">Label PDF</a>', url)


def tracking_link(shipment):
    if shipment.tracking_url:
        return format_html('<a href="{}" target="_blank" rel="noopener">{}</a>', shipment.tracking_url,
                           shipment.tracking_number)
    return shipment.tracking_number or "—"


class ShipmentInline(admin.TabularInline):
    model = Shipment
    extra = 0
    can_delete = False
    fields = ["tracking", "carrier_account", "service", "status", "fee", "weight_g", "label", "why", "created_at"]
    readonly_fields = fields
    fk_name = "order"

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="Tracking")
    def tracking(self, obj):
        return tracking_link(obj)

    @admin.display(description="Label")
    def label(self, obj):
        return label_link(obj)

    @admin.display(description="Why this carrier")
    def why(self, obj):
        return "; ".join((obj.decision or {}).get("reasons", [])) or "—"


class BookForm(forms.Form):
    carrier_account = forms.ModelChoiceField(
        queryset=CarrierAccount.objects.filter(is_active=True), required=False,
        help_text="Leave empty to let the shipping rules choose.",
    )
    service = forms.CharField(required=False, help_text="Leave empty for the carrier account's default service.")
    weight_g = forms.IntegerField(label="Weight (g)", required=False, min_value=1, max_value=70000)


@admin.register(Shipment)
class ShipmentAdmin(admin.ModelAdmin):
    list_display = ["tracking", "order", "channel", "carrier_account", "service", "status_badge", "fee", "label",
                    "created_at"]
    list_filter = ["status", "carrier_account", "order__channel"]
    list_select_related = ["order__channel", "carrier_account"]
    search_fields = ["=tracking_number", "=order__order_number"]
    show_facets = admin.ShowFacets.NEVER
    readonly_fields = ["order", "fulfilment", "carrier_account", "brand", "sender_address", "service",
                       "tracking", "tracking_company", "external_id", "label", "fee", "currency", "weight_g",
                       "status", "decision", "booked_by", "created_at", "cancelled_at"]
    exclude = ["idempotency_key", "tracking_number", "tracking_url"]
    actions = ["cancel"]

    def has_add_permission(self, request):
        return False

    def get_urls(self):
        return [
            path("<int:pk>/label/", self.admin_site.admin_view(self.label_view), name="shipping_shipment_label"),
            path("book/<int:order_id>/", self.admin_site.admin_view(self.book_view), name="shipping_shipment_book"),
        ] + super().get_urls()

    def label_view(self, request, pk):
        shipment = get_object_or_404(Shipment, pk=pk)
        if not self.has_view_permission(request, shipment) or not shipment.label:
            raise Http404("No label")
        return FileResponse(shipment.label.open("rb"), content_type="application/pdf",
                            filename=f"label-{shipment.tracking_number}.pdf")

    def book_view(self, request, order_id):
        order = get_object_or_404(Order.objects.select_related("channel"), pk=order_id)
        if not self.has_view_permission(request) or not request.user.has_perm("shipping.add_shipment"):
            raise Http404
        form = BookForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                shipment = book_shipment(order=order, carrier_account=form.cleaned_data["carrier_account"],
                                         service=form.cleaned_data["service"], weight_g=form.cleaned_data["weight_g"],
                                         actor=request.user)
            except BookingError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(request, format_html(
                    "Booked {} with {}. {}", shipment.tracking_number, shipment.carrier_account, label_link(shipment)),
                    messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))
        context = {**self.admin_site.each_context(request), "title": f"Book a shipment for {order}", "order": order,
                   "form": form, "opts": Order._meta}
        return TemplateResponse(request, "admin/shipping/book_shipment.html", context)

    @admin.display(description="Tracking", ordering="tracking_number")
    def tracking(self, obj):
        return tracking_link(obj)

    @admin.display(description="Label")
    def label(self, obj):
        return label_link(obj)

    @admin.display(description="Channel")
    def channel(self, obj):
        return obj.order.channel

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj):
        return badge(obj.status, obj.get_status_display())

    @admin.action(description="Cancel label (before pickup)")
    def cancel(self, request, queryset):
        done, problems = 0, []
        for shipment in queryset.select_related("order", "carrier_account"):
            try:
                cancel_shipment(shipment, actor=request.user)
                done += 1
            except BookingError as exc:
                problems.append(str(exc))
        if done:
            self.message_user(request, f"{done} shipment(s) cancelled.", messages.SUCCESS)
        for problem in problems:
            self.message_user(request, problem, messages.ERROR)


# The order page shows its shipments and offers booking (UI layer only: orders never imports shipping).
OrderAdmin.inlines = [*OrderAdmin.inlines[:1], ShipmentInline, *OrderAdmin.inlines[1:]]


@admin.action(description="Book shipment")
def book_shipments(modeladmin, request, queryset):
    booked, problems = 0, []
    for order in queryset.select_related("channel"):
        try:
            book_shipment(order=order, actor=request.user)
            booked += 1
        except BookingError as exc:
            problems.append(f"{order}: {exc}")
    if booked:
        modeladmin.message_user(request, f"Booked {booked} shipment(s).", messages.SUCCESS)
    if problems:
        modeladmin.message_user(request, f"{len(problems)} not booked: " + "; ".join(problems[:20]), messages.ERROR)


OrderAdmin.actions = [*OrderAdmin.actions, book_shipments]
