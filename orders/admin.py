from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.db.models import prefetch_related_objects
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from import_export.admin import ExportMixin
from import_export.formats import base_formats
from import_export.signals import post_export

from orders import holding, order_page, pushing, retracting, services
from orders.export_admin import export_response
from orders.models import AlertSubscription, Fulfilment, Order, OrderEvent, SkippedOrder
from orders.pagination import EstimatedCountPaginator
from orders.resources import OrderExportResource

STATUS_COLOURS = {
    "awaiting_shipment": "#1565c0",
    "on_hold": "#ef6c00",
    "partly_shipped": "#00838f",
    "shipped": "#2e7d32",
    "delivered": "#1b5e20",
    "cancelled": "#777",
    "pending": "#1565c0",
    "sent": "#2e7d32",
    "blocked": "#c62828",
    "failed": "#c62828",
    "attention": "#c62828",
}


def badge(value: str, label: str):
    return format_html(
        '<span style="background:{};color:#fff;padding:2px 8px;border-radius:10px;white-space:nowrap">{}</span>',
        STATUS_COLOURS.get(value, "#555"),
        label,
    )


class ReadOnlyInline(admin.TabularInline):
    """Related rows as a table on a page that never edits them (changes go through the services):
    every one of `fields` read-only, no blank rows, no adding or deleting rows here."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None):
        return False


class FulfilmentInline(ReadOnlyInline):
    model = Fulfilment
    fields = [
        "tracking_number",
        "carrier_name",
        "service",
        "covers",
        "supplier",
        "note",
        "fee_display",
        "state_badge",
        "attempts",
        "last_error",
        "sent_at",
    ]
    verbose_name_plural = "Sent to the channel"

    def get_queryset(self, request):
        # select_related: each row's title is str(fulfilment), which names its order.
        return super().get_queryset(request).select_related("order")

    def get_formset(self, request, obj=None, **kwargs):
        self._order = obj  # inline instances live for one request: the page's order, lines prefetched
        return super().get_formset(request, obj, **kwargs)

    @admin.display(description="State")
    def state_badge(self, obj):
        if obj.needs_attention and obj.state != Fulfilment.State.ATTENTION:
            return format_html(
                "{} {}", badge(obj.state, obj.get_state_display()), badge("attention", "Needs attention")
            )
        return badge(obj.state, obj.get_state_display())

    @admin.display(description="Lines")
    def covers(self, obj):
        order = getattr(self, "_order", None) or obj.order
        names = {ln.external_id: ln.sku or ln.title for ln in order.lines.all()}
        return ", ".join(f"{qty} × {names.get(str(ext), ext)}" for ext, qty in obj.lines or []) or "—"

    @admin.display(description="Fee")
    def fee_display(self, obj):
        return f"{obj.fee} {obj.fee_currency}".strip() if obj.fee is not None else "—"


class OrderEventInline(ReadOnlyInline):
    model = OrderEvent
    fields = ["created_at", "kind_label", "message", "actor"]
    verbose_name_plural = "Timeline"
    ordering = ["-created_at", "-id"]

    @admin.display(description="What")
    def kind_label(self, obj):
        colour = "#c62828" if obj.is_error else "#333"
        return format_html('<strong style="color:{}">{}</strong>', colour, obj.get_kind_display())


class SpreadsheetExportMixin(ExportMixin):
    """“Export (CSV / Excel)” on a list: exactly the rows the list shows as filtered, searched and
    drilled into by date, every page of them, through the admin's resource (every cell
    formula-neutralised, orders.resources.FormulaSafeExport). The link is in the list's
    object-tools (templates/admin/orders/export_link.html) and carries the list's own query
    string to django-import-export's export page (format, columns), which rebuilds the list's
    queryset from it. Needs the model's view permission (IMPORT_EXPORT_EXPORT_PERMISSION_CODE).
    A CSV streams as its rows are read; a large XLSX becomes a background job with a download
    link (orders.export_admin, orders.exporting)."""

    export_formats = [base_formats.CSV, base_formats.XLSX]
    to_encoding = "utf-8-sig"  # Excel reads UTF-8 CSV correctly only with the BOM
    import_export_change_list_template = None  # the admin's own change_list_template includes the link

    def get_export_filename(self, request, queryset, file_format):
        return (
            f"{self.opts.verbose_name_plural}-{timezone.localdate():%Y-%m-%d}.{file_format.get_extension()}"
        )

    def _do_file_export(self, file_format, request, queryset, export_form=None):
        # django-import-export's step from the submitted export page to the file (4.x): the page,
        # the list's queryset and the chosen resource and columns stay theirs; the file is
        # written here, in chunks, instead of as one Dataset in memory.
        if not self.has_export_permission(request):
            raise PermissionDenied
        resource = self.choose_export_resource_class(export_form, request)(
            **self.get_export_resource_kwargs(request)
        )
        selected = self.get_export_resource_fields_from_form(export_form)
        response = export_response(
            resource,
            queryset,
            request=request,
            xlsx=file_format.is_binary(),
            selected_fields=selected,
            encoding=self.to_encoding or "utf-8",
            content_type=file_format.get_content_type(),
            filename=self.get_export_filename(request, queryset, file_format),
        )
        post_export.send(sender=None, model=self.model)
        return response


class WideListMixin:
    """A list staff work in all day, at 1400 px: the app navigation sidebar (300 px; the header
    and breadcrumbs still lead everywhere) gives its width to the columns, and cells that
    could be long are cut with an ellipsis and shown whole on hover (`cut`)."""

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {"is_nav_sidebar_enabled": False, **(extra_context or {})})


# A list URL with this parameter stays a list when its search finds exactly one order.
LIST_ONLY = "_list"


def cut(text, width: int = 160):
    """`text` in one line at most `width` pixels wide, whole on hover."""
    text = str(text or "")
    if not text:
        return "—"
    return format_html('<span class="cut" style="max-width:{}px" title="{}">{}</span>', width, text, text)


def short_datetime(value):
    """A time in a list column, local: "5 Dec, 14:05" this year, "5 Dec 2025" before."""
    if not value:
        return "—"
    local = timezone.localtime(value)
    return date_format(local, "j M, H:i" if local.year == timezone.localtime().year else "j M Y")


class ShipByFilter(admin.SimpleListFilter):
    """The desk's "to ship today" and "late" queues: open orders (not yet shipped, not held)
    whose channel's ship-by date falls today or has passed."""

    title = _("ship by")
    parameter_name = "ship_by"

    def lookups(self, request, model_admin):
        return [("today", _("Today")), ("late", _("Late (ship-by passed)")), ("none", _("No date"))]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "none":
            return queryset.filter(ship_by__isnull=True)
        if value not in ("today", "late"):
            return queryset
        return queryset.late() if value == "late" else queryset.ship_by_today()


class UnmappedStatusFilter(admin.SimpleListFilter):
    """Orders held because the channel sent a custom status nobody has mapped yet."""

    title = _("channel status")
    parameter_name = "unmapped_status"

    def lookups(self, request, model_admin):
        return [("yes", _("Held: status not mapped"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            from orders.importing import UNMAPPED_PREFIX

            return queryset.filter(status=Order.Status.ON_HOLD, hold_reason__startswith=UNMAPPED_PREFIX)
        return queryset


class HoldForm(forms.Form):
    reason = forms.CharField(
        label=_("Why is it held?"),
        max_length=holding.REASON_MAX,
        widget=forms.TextInput(attrs={"size": 60, "autofocus": True}),
        help_text=_("Shown on the order and its timeline, e.g. “customer asked to change the address”."),
    )


class FastChangeList(ChangeList):
    """At a million rows the counts cost more than the page: the paginator estimates big counts
    (PostgreSQL's planner), the unfiltered total is not counted at all, and facets are off."""

    def _get_deterministic_ordering(self, ordering):
        # Django breaks ties with "-pk" whichever way the column sorts; breaking them in the
        # column's own direction lets one (column, id) index serve a click and its reverse
        # (Order.Meta.indexes) instead of sorting a whole status or country at a million rows.
        ordering = super()._get_deterministic_ordering(ordering)
        first = ordering[0] if len(ordering) > 1 else None
        if ordering[-1] == "-pk" and isinstance(first, str) and not first.startswith("-"):
            ordering[-1] = "pk"
        return ordering


@admin.register(Order)
class OrderAdmin(WideListMixin, SpreadsheetExportMixin, admin.ModelAdmin):
    resource_classes = [OrderExportResource]
    change_list_template = "admin/orders/order/change_list.html"
    list_display = [
        "number",
        "channel_name",
        "status_badge",
        "customer",
        "ship_country",
        "service",
        "total_display",
        "ordered",
        "ship_by_short",
    ]
    list_filter = [
        "status",
        ShipByFilter,
        "channel",
        ("ordered_at", admin.DateFieldListFilter),
        UnmappedStatusFilter,
    ]
    list_select_related = ["channel"]
    search_fields = ["order_number"]  # the search box; the real search is OrderQuerySet.search
    search_help_text = "Order number, customer name, email, postal code, SKU or tracking number"
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    paginator = EstimatedCountPaginator
    list_per_page = 50
    ordering = ["-ordered_at", "-id"]
    readonly_fields = [
        "channel",
        "external_id",
        "order_number",
        "status_badge",
        "remote_status",
        "hold_reason",
        "customer_name",
        "email",
        "phone",
        "requested_service",
        "payment_method",
        "total_display",
        "discount_total",
        "coupon_codes",
        "is_gift",
        "gift_message",
        "customer_note",
        "total_weight_g",
        "ordered_at",
        "ship_by",
        "imported_at",
        "shipped_at",
        "address_locked",
    ]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "channel",
                    "order_number",
                    "external_id",
                    "status_badge",
                    "remote_status",
                    "hold_reason",
                    "ordered_at",
                    "ship_by",
                    "imported_at",
                    "shipped_at",
                ]
            },
        ),
        ("Customer", {"fields": ["customer_name", "email", "phone", "customer_note"]}),
        (
            "Ship to",
            {
                "fields": [
                    "address_locked",
                    "ship_name",
                    "ship_company",
                    "ship_line1",
                    "ship_line2",
                    "ship_city",
                    "ship_state",
                    "ship_postal_code",
                    "ship_country",
                    "ship_phone",
                ]
            },
        ),
        (
            "Shipping and payment",
            {
                "fields": [
                    "requested_service",
                    "total_weight_g",
                    "payment_method",
                    "total_display",
                    "discount_total",
                    "coupon_codes",
                ]
            },
        ),
        ("Gift and notes", {"fields": ["is_gift", "gift_message", "internal_note"]}),
    ]
    # The lines are the work panel at the top (orders.order_page) and the timeline is paged
    # below the related rows: neither is an inline. Later apps add theirs (shipments, returns,
    # supplier orders); INLINE_ORDER puts them in the order staff read them.
    inlines = [FulfilmentInline]
    INLINE_ORDER = [
        "shipping.shipment",
        "orders.fulfilment",
        "returns.returnrequest",
        "suppliers.supplierorder",
    ]
    # Set by shipping's admin: (request, order, positions) -> the booking panel's context, or None.
    booking_panel = None
    actions = ["hold", "release"]

    def get_urls(self):
        from django.urls import path

        view = self.admin_site.admin_view
        return [
            path("<int:pk>/hold/", view(self.hold_view), name="orders_order_hold"),
            path("<int:pk>/release/", view(self.release_view), name="orders_order_release"),
        ] + super().get_urls()

    def _hold_page(self, request, orders, form, *, action=None):
        return TemplateResponse(
            request,
            "admin/orders/order/hold.html",
            {
                **self.admin_site.each_context(request),
                "opts": Order._meta,
                "title": _("Put %(n)s order(s) on hold") % {"n": len(orders)},
                "orders": orders,
                "order": orders[0] if len(orders) == 1 and action is None else None,
                "form": form,
                "action": action,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            },
        )

    def _report(self, request, done, refused, verb):
        if done:
            self.message_user(request, _("%(n)s order(s) %(verb)s.") % {"n": len(done), "verb": verb})
        for why in refused:
            self.message_user(request, why, messages.WARNING)

    @admin.action(description=_("Put on hold…"), permissions=["change"])
    def hold(self, request, queryset):
        orders = list(queryset.select_related("channel"))
        form = HoldForm(request.POST if request.POST.get("post") == "yes" else None)
        if form.is_bound and form.is_valid():
            done, refused = holding.hold_orders(
                orders, reason=form.cleaned_data["reason"], actor=request.user
            )
            self._report(request, done, refused, _("put on hold"))
            return None
        return self._hold_page(request, orders, form, action="hold")

    @admin.action(description=_("Release from hold"), permissions=["change"])
    def release(self, request, queryset):
        done, refused = holding.release_orders(queryset, actor=request.user)
        self._report(request, done, refused, _("released from hold"))

    def hold_view(self, request, pk):
        order = get_object_or_404(Order, pk=pk)
        if not self.has_change_permission(request, order):
            raise PermissionDenied
        form = HoldForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            done, refused = holding.hold_orders(
                [order], reason=form.cleaned_data["reason"], actor=request.user
            )
            self._report(request, done, refused, _("put on hold"))
            return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))
        return self._hold_page(request, [order], form)

    def release_view(self, request, pk):
        order = get_object_or_404(Order, pk=pk)
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))
        if not self.has_change_permission(request, order):
            raise PermissionDenied
        done, refused = holding.release_orders(
            [order], reason=request.POST.get("reason", ""), actor=request.user
        )
        self._report(request, done, refused, _("released from hold"))
        return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))

    def get_object(self, request, object_id, from_field=None):
        # The page reads the channel and the lines many times (panels, inlines): once here.
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:
            prefetch_related_objects([obj], "lines")
        return obj

    def get_inlines(self, request, obj):
        rank = {label: i for i, label in enumerate(self.INLINE_ORDER)}
        return sorted(self.inlines, key=lambda inline: rank.get(inline.model._meta.label_lower, len(rank)))

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.pk:
            booking = type(self).booking_panel
            context["work"] = order_page.work_context(request, obj, booking)
            context["timeline"] = order_page.timeline(request, obj)
            context["timeline_param"] = order_page.TIMELINE_PARAM
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_changelist(self, request, **kwargs):
        return FastChangeList

    def changelist_view(self, request, extra_context=None):
        # "When did each channel last sync?" above the list (one small query: channels are few).
        from channels.models import Channel

        channels = Channel.objects.filter(is_active=True).only(
            "name", "sync_mode", "last_synced_at", "last_sync_state", "last_error", "needs_reconnect"
        )
        stay = LIST_ONLY in request.GET  # "show the list even for one hit" (e.g. to export it)
        if stay:
            request.GET = request.GET.copy()
            del request.GET[LIST_ONLY]
        response = super().changelist_view(request, {**(extra_context or {}), "channels_sync": channels})
        return (None if stay else self._one_hit(request, response)) or response

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("channel")

    def get_search_results(self, request, queryset, search_term):
        return queryset.search(search_term), False

    def _one_hit(self, request, response):
        """A search with exactly one hit opens that order (the list is one click away: Back)."""
        if request.method != "GET" or not hasattr(response, "context_data"):
            return None  # an action's result, or a page that is not the list
        cl = response.context_data.get("cl")
        if cl is None or not cl.query or cl.result_count != 1 or len(cl.result_list) != 1:
            return None
        return HttpResponseRedirect(reverse("admin:orders_order_change", args=[cl.result_list[0].pk]))

    def has_add_permission(self, request):
        return False  # orders come from channels

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.address_locked:
            fields += [f for f in services.ADDRESS_FIELDS if f not in fields]
        return fields

    def save_model(self, request, obj, form, change):
        services.edit_order(obj, changed=form.changed_data, actor=request.user)

    @admin.display(description="Order", ordering="order_number_norm")
    def number(self, obj):
        return str(obj)

    @admin.display(description="Channel", ordering="channel_id")
    def channel_name(self, obj):
        # Sorted by id, not name: an index answers it (order_channel_id).
        return cut(obj.channel.name, 90)

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj):
        return badge(obj.status, obj.get_status_display())

    @admin.display(description="Total", ordering="total")
    def total_display(self, obj):
        return f"{obj.total} {obj.currency}"

    @admin.display(description="Customer", ordering="customer_name")
    def customer(self, obj):
        return cut(obj.customer_name, 105)

    @admin.display(description="Service", ordering="requested_service")
    def service(self, obj):
        return cut(obj.requested_service, 90)

    @admin.display(description="Ship by", ordering="ship_by")
    def ship_by_short(self, obj):
        return short_datetime(obj.ship_by)

    @admin.display(description="Ordered", ordering="ordered_at")
    def ordered(self, obj):
        return short_datetime(obj.ordered_at)


@admin.register(SkippedOrder)
class SkippedOrderAdmin(admin.ModelAdmin):
    list_display = ["order_number", "channel", "reason", "detail", "remote_status", "last_seen_at"]
    list_filter = ["reason", "channel"]
    list_select_related = ["channel"]
    search_fields = ["=order_number"]
    search_help_text = "The channel's order number"
    show_facets = admin.ShowFacets.NEVER

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip().lstrip("#")
        return (queryset.filter(order_number=term) if term else queryset), False


class NeedsFilter(admin.SimpleListFilter):
    """The desk's fulfilment queues: blocked or failed (to send again), and a manual step
    on the channel not yet done."""

    title = _("needs")
    parameter_name = "needs"

    def lookups(self, request, model_admin):
        return [("retry", _("Blocked or failed")), ("manual", _("A manual step on the channel"))]

    def queryset(self, request, queryset):
        if self.value() == "retry":
            return queryset.filter(
                state__in=[Fulfilment.State.BLOCKED, Fulfilment.State.FAILED],
                retract_requested_at__isnull=True,
            )
        if self.value() == "manual":
            return queryset.filter(state=Fulfilment.State.ATTENTION, attention_done_at__isnull=True)
        return queryset


@admin.register(Fulfilment)
class FulfilmentAdmin(admin.ModelAdmin):
    list_display = [
        "order",
        "channel",
        "tracking_number",
        "carrier_name",
        "state_badge",
        "attempts",
        "last_error",
        "created_at",
        "sent_at",
    ]
    list_filter = ["state", NeedsFilter, "order__channel"]
    list_select_related = ["order__channel"]
    search_fields = ["=tracking_number", "=order__order_number"]
    readonly_fields = [
        "order",
        "tracking_number",
        "carrier_name",
        "service",
        "tracking_url",
        "note",
        "notify_customer",
        "lines",
        "supplier",
        "fee",
        "fee_currency",
        "replaces",
        "state",
        "attention",
        "attention_done_at",
        "retract_requested_at",
        "attempts",
        "next_attempt_at",
        "last_error",
        "remote_id",
        "sent_payload",
        "created_at",
        "sent_at",
        "claimed_at",
        "claimed_by",
        "preview",
    ]
    actions = ["retry", "attention_done"]
    show_facets = admin.ShowFacets.NEVER

    def has_add_permission(self, request):
        return False

    @admin.display(description="Channel")
    def channel(self, obj):
        return obj.order.channel

    @admin.display(description="State", ordering="state")
    def state_badge(self, obj):
        return badge(obj.state, obj.get_state_display())

    @admin.display(description="What the channel will receive")
    def preview(self, obj):
        try:
            data = pushing.preview_push(obj)
        except Exception as exc:  # noqa: BLE001 - a preview must never break the page
            return f"Cannot preview: {exc}"
        rows = [(k, v) for k, v in data["fulfilment"].items() if v not in ("", None, [], ())]
        rows.insert(0, ("carrier as the channel names it", data["carrier_for_channel"]))
        rows.insert(1, ("tracking required", "yes" if data["requires_tracking"] else "no"))
        return format_html(
            "<table>{}</table>",
            format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", ((k, v) for k, v in rows)),
        )

    @admin.action(description="Done on the channel (needs attention)")
    def attention_done(self, request, queryset):
        done = sum(
            retracting.mark_attention_done(f, actor=request.user)
            for f in queryset.filter(state=Fulfilment.State.ATTENTION).select_related("order__channel")
        )
        skipped = queryset.count() - done
        self.message_user(
            request,
            f"{done} fulfilment(s) marked done on the channel"
            + (f"; {skipped} did not need attention, left alone" if skipped else ""),
            messages.SUCCESS,
        )

    @admin.action(description="Send again")
    def retry(self, request, queryset):
        done = 0
        for f in queryset.filter(
            state__in=[Fulfilment.State.BLOCKED, Fulfilment.State.FAILED], retract_requested_at__isnull=True
        ).select_related("order"):
            services.retry_fulfilment(f, actor=request.user)
            done += 1
        skipped = queryset.count() - done
        self.message_user(
            request,
            f"{done} fulfilment(s) queued again"
            + (f"; {skipped} not blocked or failed, left alone" if skipped else ""),
            messages.SUCCESS,
        )


@admin.register(AlertSubscription)
class AlertSubscriptionAdmin(admin.ModelAdmin):
    list_display = ["user", "channel", "all_channels"]
    list_select_related = ["user", "channel"]
