"""Shipments: the list (and its export), the shipment page (what the channel will receive,
tracking events), and the booking, cancelling and relabelling pages."""

import io

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.files.storage import default_storage
from django.db.models import Prefetch, Q
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy
from django.utils.translation import gettext_lazy as _

from channels.connectors.carriers import TRACKING_COMPANIES
from orders import normalise, pushing
from orders import services as order_services
from orders.admin import ReadOnlyInline, SpreadsheetExportMixin, WideListMixin, badge, cut, short_datetime
from orders.models import Order
from shipping import labels, printing, rules
from shipping.admin import booking_page
from shipping.booking import BookingError, book_shipment, cancel_shipment, relabel_shipment
from shipping.models import CarrierAccount, Shipment, ShipmentLine, TrackingEvent
from shipping.resources import ShipmentExportResource
from shipping.templatetags.shipping_labels import thumbnail_html
from shipping.thumbnails import label_thumbnail


def label_link(shipment):
    if not shipment.pk or not shipment.label:
        return "—"
    url = reverse("admin:shipping_shipment_label", args=[shipment.pk])
    return format_html(
        '<a href="{}">{}</a>', url, "Label ZPL" if shipment.label_format == "zpl" else "Label PDF"
    )


def held_lines(shipment):
    """What the parcel holds, one line each."""
    lines = list(shipment.lines.all()) if shipment.pk else []
    if not lines:
        return "—"
    return format_html_join(mark_safe("<br>"), "{}", ((str(sl),) for sl in lines))


def tracking_link(shipment):
    if shipment.tracking_url:
        return format_html(
            '<a href="{}" target="_blank" rel="noopener">{}</a>',
            shipment.tracking_url,
            shipment.tracking_number,
        )
    return shipment.tracking_number or "—"


def public_link(shipment):
    if not shipment.pk:
        return "—"
    return format_html(
        '<a href="{}" target="_blank" rel="noopener">Tracking page</a>',
        reverse("shipping:track", args=[shipment.public_token]),
    )


def status_badge(shipment):
    text = shipment.get_status_display()
    if shipment.carrier_status_message and shipment.status not in (Shipment.Status.CANCELLED,):
        text = f"{text} · {shipment.carrier_status_message}"
    colour = {
        "booked": "awaiting_shipment",
        "in_transit": "shipped",
        "delivered": "delivered",
        "cancel_requested": "on_hold",
        "cancelled": "cancelled",
        "exception": "failed",
    }.get(shipment.status)
    return badge(colour, text)


def shipment_actions(shipment, *, short: bool = False):
    """Cancel and relabel while the carrier allows it; otherwise the reason why not (the first
    sentence in a narrow column, all of it on hover)."""
    refusal = shipment.cancel_refusal
    if refusal:
        text = refusal.split("; ")[0].split(": ")[0] + "." if short else refusal
        return format_html('<span title="{}" style="color:#777">{}</span>', refusal, text.replace("..", "."))
    return format_html(
        '<a class="button" href="{}">Cancel label</a> <a class="button" href="{}">Relabel</a>',
        reverse("admin:shipping_shipment_cancel", args=[shipment.pk]),
        reverse("admin:shipping_shipment_relabel", args=[shipment.pk]),
    )


def why(shipment):
    """In a narrow column: the rules and the mapping line that decided (the reasons in full are
    on the order's “How it ships” panel and on the shipment page)."""
    decision = shipment.decision or {}
    parts = [f"rule “{r['name']}”" for r in decision.get("rules") or []]
    if decision.get("mapping_line"):
        parts.append(f"mapping line {decision['mapping_line']['match']}")
    if not parts and decision.get("reasons"):
        return decision["reasons"][-1] if shipment.is_external else "defaults (no rule, no mapping line)"
    return "; ".join(parts) or "—"


def channel_preview(fulfilment):
    """What the channel receives (or received) for this shipment."""
    if fulfilment is None:
        return "Nothing: the tracking was withdrawn before it was sent (or the label was cancelled)."
    try:
        data = pushing.preview_push(fulfilment)
    except Exception as exc:  # noqa: BLE001 - a preview must never break the page
        return f"Cannot preview: {exc}"
    rows = [
        (
            "state",
            f"{fulfilment.get_state_display()}"
            + (f": {fulfilment.last_error}" if fulfilment.last_error else ""),
        )
    ]
    rows.append(("carrier as the channel names it", data["carrier_for_channel"] or "—"))
    rows.append(("tracking required", "yes" if data["requires_tracking"] else "no"))
    if data["requires_tracking"] and not fulfilment.tracking_number:
        rows.append(("will be", "BLOCKED: the channel requires a tracking number and this shipment has none"))
    rows += [(k, v) for k, v in data["fulfilment"].items() if v not in ("", None, [], ())]
    if fulfilment.sent_payload:
        rows.append(("request sent", fulfilment.sent_payload))
    return format_html(
        "<table>{}</table>",
        format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", ((k, v) for k, v in rows)),
    )


class TrackingEventInline(ReadOnlyInline):
    model = TrackingEvent
    fields = ["occurred_at", "code", "status", "message", "location", "source"]
    verbose_name_plural = "Tracking events"


class ShipmentInline(ReadOnlyInline):
    model = Shipment
    fields = [
        "tracking",
        "carrier_account",
        "service",
        "state",
        "held",
        "note",
        "fee_display",
        "label_pdf",
        "why",
        "actions",
        "public",
    ]
    fk_name = "order"

    def get_queryset(self, request):
        # order: each row's title is str(shipment), which names its order.
        return (
            super()
            .get_queryset(request)
            .select_related("carrier_account", "order")
            .prefetch_related(Prefetch("lines", queryset=ShipmentLine.objects.select_related("order_line")))
        )

    @admin.display(description="Holds")
    def held(self, obj):
        return held_lines(obj)

    @admin.display(description="Fee")
    def fee_display(self, obj):
        return f"{obj.fee} {obj.currency}".strip() if obj.fee else "—"

    @admin.display(description="Tracking")
    def tracking(self, obj):
        return tracking_link(obj)

    @admin.display(description="Label")
    def label_pdf(self, obj):
        return label_link(obj)

    @admin.display(description="Status")
    def state(self, obj):
        return status_badge(obj)

    @admin.display(description="Why this carrier")
    def why(self, obj):
        return why(obj)

    @admin.display(description="")
    def actions(self, obj):
        return shipment_actions(obj, short=True)

    @admin.display(description="Customer sees")
    def public(self, obj):
        return public_link(obj)


class BookForm(forms.Form):
    """Booking one parcel: the carrier (or the rules), and, for a new booking, the order's open
    lines with their quantities (preselected with what Shipdesk ships itself: untick a line or
    lower a quantity to split the order into several parcels) and the note to the buyer."""

    carrier_account = forms.ModelChoiceField(
        queryset=CarrierAccount.objects.filter(is_active=True),
        required=False,
        help_text="Leave empty to let the shipping rules and the channel's mapping choose.",
    )
    service = forms.CharField(required=False, help_text="Leave empty for the service the rules choose.")
    rate = forms.CharField(required=False, widget=forms.HiddenInput)  # the radio buttons of the rates table
    weight_g = forms.IntegerField(
        label="Weight (g)",
        required=False,
        min_value=1,
        max_value=70000,
        help_text="Leave empty for the weight of the lines in the parcel.",
    )

    def __init__(self, *args, positions=None, channel=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.line_rows = []
        if positions is None:
            return
        self.fields["tracking_company"] = forms.CharField(
            required=False,
            max_length=100,
            help_text="Leave empty: the channel is told the carrier that carries "
            "the parcel. Fill in only to overrule it.",
        )
        self.fields["note"] = forms.CharField(
            label="Note to the buyer",
            required=False,
            max_length=500,
            initial=channel.default_note if channel else "",
            widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
            help_text="Sent to the channel with the tracking, where its API carries a note.",
        )
        for p in positions:
            if not p.open:
                continue
            pk = p.line.pk
            self.fields[f"take_{pk}"] = forms.BooleanField(required=False, initial=bool(p.to_ship))
            self.fields[f"qty_{pk}"] = forms.IntegerField(
                required=False, min_value=0, max_value=100000, initial=p.to_ship or p.open
            )
            self.line_rows.append((p, self[f"take_{pk}"], self[f"qty_{pk}"]))

    @property
    def main_fields(self):
        return [
            self[name] for name in self.fields if not name.startswith(("take_", "qty_")) and name != "rate"
        ]

    def chosen_lines(self) -> list:
        return [
            (p.line, self.cleaned_data.get(f"qty_{p.line.pk}") or 0)
            for p, _, _ in self.line_rows
            if self.cleaned_data.get(f"take_{p.line.pk}")
        ]


class TrackingCompanyFilter(admin.SimpleListFilter):
    """Who carries the parcel, including shipments recorded from elsewhere (no carrier account).
    The choices are the names Shipdesk knows (its vocabulary, CSV_EXTRA_CARRIERS, the carrier
    accounts), not a DISTINCT over every shipment."""

    title = "tracking company"
    parameter_name = "tracking_company"

    def lookups(self, request, model_admin):
        names = (
            set(TRACKING_COMPANIES)
            | set(settings.CSV_EXTRA_CARRIERS)
            | set(
                CarrierAccount.objects.exclude(tracking_company="").values_list("tracking_company", flat=True)
            )
        )
        return [(name, name) for name in sorted(names, key=str.lower)]

    def queryset(self, request, queryset):
        return queryset.filter(tracking_company=self.value()) if self.value() else queryset


class LabelPrintedFilter(admin.SimpleListFilter):
    """The desk's "labels not yet printed" queue: booked labels nobody has downloaded."""

    title = _("label printed")
    parameter_name = "printed"

    def lookups(self, request, model_admin):
        return [("no", _("Booked, not printed yet")), ("yes", _("Printed"))]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return printing.not_printed(queryset)
        if self.value() == "yes":
            return queryset.filter(label_printed_at__isnull=False)
        return queryset


@admin.register(Shipment)
class ShipmentAdmin(WideListMixin, SpreadsheetExportMixin, admin.ModelAdmin):
    resource_classes = [ShipmentExportResource]  # the export reads the list's select_related
    change_list_template = "admin/shipping/shipment/change_list.html"
    list_display = [
        "tracking",
        "order",
        "channel",
        "carrier",
        "service_cut",
        "state",
        "fee",
        "label_pdf",
        "created",
    ]
    list_filter = ["status", LabelPrintedFilter, "carrier_account", TrackingCompanyFilter, "order__channel"]
    list_select_related = ["order__channel", "carrier_account"]
    date_hierarchy = "created_at"
    search_fields = ["=tracking_number", "=order__order_number"]  # the search box; the search is below
    search_help_text = "Tracking number or order number"
    show_facets = admin.ShowFacets.NEVER
    readonly_fields = [
        "order",
        "fulfilment",
        "held",
        "note",
        "carrier_account",
        "brand",
        "sender_address",
        "service",
        "shipping_name",
        "package",
        "tracking",
        "tracking_company",
        "external_id",
        "label_pdf",
        "label_preview",
        "fee",
        "currency",
        "weight_g",
        "state",
        "cancel_state",
        "public",
        "channel_receives",
        "why_this_carrier",
        "carrier_status",
        "carrier_status_at",
        "last_tracked_at",
        "picked_up_at",
        "delivered_at",
        "booked_by",
        "created_at",
        "cancelled_at",
    ]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "order",
                    "state",
                    "cancel_state",
                    "held",
                    "note",
                    "tracking",
                    "tracking_company",
                    "service",
                    "shipping_name",
                    "carrier_account",
                    "external_id",
                    "label_pdf",
                    "label_preview",
                    "public",
                    "fee",
                    "currency",
                    "weight_g",
                    "package",
                    "brand",
                    "sender_address",
                    "booked_by",
                    "created_at",
                    "cancelled_at",
                ]
            },
        ),
        ("Why this carrier", {"fields": ["why_this_carrier"]}),
        ("What the channel receives", {"fields": ["fulfilment", "channel_receives"]}),
        (
            "Tracking",
            {
                "fields": [
                    "carrier_status",
                    "carrier_status_at",
                    "last_tracked_at",
                    "picked_up_at",
                    "delivered_at",
                ]
            },
        ),
    ]
    inlines = [TrackingEventInline]
    actions = ["print_labels", "cancel", "download_zpl"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/label/", view(self.label_view), name="shipping_shipment_label"),
            path("<int:pk>/label.png", view(self.thumbnail_view), name="shipping_shipment_thumbnail"),
            path("<int:pk>/cancel-label/", view(self.cancel_view), name="shipping_shipment_cancel"),
            path("<int:pk>/relabel/", view(self.relabel_view), name="shipping_shipment_relabel"),
            path("book/<int:order_id>/", view(self.book_view), name="shipping_shipment_book"),
            path("cancel-order/<int:order_id>/", view(self.cancel_order_view), name="shipping_order_cancel"),
        ] + super().get_urls()

    def get_search_results(self, request, queryset, search_term):
        # Both exact and indexed: the order number as staff type it (“#1042”, “1042”) by its normal form.
        term = search_term.strip()
        if not term:
            return queryset, False
        found = queryset.filter(
            Q(tracking_number=term) | Q(order__order_number_norm=normalise.order_number(term))
        )
        return found, False

    def cancel_order_view(self, request, order_id):
        from shipping.admin.orders import cancel_order_view

        return cancel_order_view(self, request, order_id)

    def _can_book(self, request):
        return self.has_view_permission(request) and request.user.has_perm("shipping.add_shipment")

    def label_view(self, request, pk):
        shipment = get_object_or_404(Shipment, pk=pk)
        if not self.has_view_permission(request, shipment) or not shipment.label:
            raise Http404("No label")
        printing.mark_printed([shipment.pk])
        zpl = shipment.label_format == "zpl"
        return FileResponse(
            shipment.label.open("rb"),
            content_type="application/zpl" if zpl else "application/pdf",
            filename=f"label-{shipment.tracking_number}.{'zpl' if zpl else 'pdf'}",
            as_attachment=zpl,  # a browser cannot show ZPL: it goes to the thermal printer
        )

    def thumbnail_view(self, request, pk):
        """The label's first page as PNG, rendered on first view and kept (shipping.thumbnails)."""
        shipment = get_object_or_404(Shipment, pk=pk)
        if not self.has_view_permission(request, shipment):
            raise Http404
        name = label_thumbnail(shipment)
        if name is None:
            raise Http404("No label")
        response = FileResponse(default_storage.open(name, "rb"), content_type="image/png")
        response["Cache-Control"] = "private, max-age=86400"  # the name changes with the label
        return response

    def book_view(self, request, order_id):
        order = get_object_or_404(Order.objects.select_related("channel"), pk=order_id)
        if not self._can_book(request):
            raise Http404
        positions = order_services.line_positions(order)
        form = BookForm(request.POST or None, positions=positions, channel=order.channel)
        if request.method == "POST" and form.is_valid():
            try:
                account, service, quote = booking_page.chosen_rate(order, form)
                shipment = book_shipment(
                    order=order,
                    carrier_account=account,
                    service=service,
                    weight_g=form.cleaned_data["weight_g"],
                    lines=form.chosen_lines(),
                    note=form.cleaned_data["note"],
                    tracking_company=form.cleaned_data["tracking_company"].strip(),
                    actor=request.user,
                    quote=quote,
                )
            except BookingError as exc:
                if not booking_page.show_next_to_field(form, exc):
                    self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(
                    request,
                    format_html(
                        "Booked {} with {}: {}. {}",
                        shipment.tracking_number,
                        shipment.carrier_account,
                        ", ".join(str(sl) for sl in shipment.lines.select_related("order_line")),
                        label_link(shipment),
                    ),
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))
        picked = order_services.default_lines(order)
        weight = rules.order_weight(order, picked) if picked else None
        try:
            decision, problem = rules.resolve(order, weight_g=weight), ""
        except rules.NoCarrier as exc:
            decision, problem = None, str(exc)
        if decision is not None and decision.rate_rule is None:  # a rate rule: the rates table says
            problem = rules.service_problem(decision, order, weight_g=weight)
        context = {
            **self.admin_site.each_context(request),
            **booking_page.rates_context(order, form, picked),
            "title": f"Book a shipment for {order}",
            "order": order,
            "form": form,
            "opts": Order._meta,
            "decision": decision,
            "problem": problem,
            "nothing_left": "" if picked else order_services.nothing_to_ship_reason(order),
            "positions": positions,
        }
        return TemplateResponse(request, "admin/shipping/book_shipment.html", context)

    def _shipment_page(self, request, pk):
        shipment = get_object_or_404(
            Shipment.objects.select_related("order__channel", "carrier_account"), pk=pk
        )
        if not self.has_change_permission(request, shipment):
            raise Http404
        return shipment

    def _back(self, request, shipment):
        target = (
            request.POST.get("next")
            or request.GET.get("next")
            or reverse("admin:orders_order_change", args=[shipment.order_id])
        )
        return HttpResponseRedirect(target if target.startswith("/") else "/")

    def cancel_view(self, request, pk):
        shipment = self._shipment_page(request, pk)
        if request.method == "POST":
            try:
                message = cancel_shipment(shipment, actor=request.user)
            except BookingError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                shipment.refresh_from_db()
                level = messages.SUCCESS if shipment.status == Shipment.Status.CANCELLED else messages.WARNING
                self.message_user(
                    request, f"{shipment.tracking_number}: {shipment.get_status_display()}. {message}", level
                )
            return self._back(request, shipment)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Cancel label {shipment.tracking_number}?",
            "shipment": shipment,
            "opts": Shipment._meta,
            "refusal": shipment.cancel_refusal,
        }
        return TemplateResponse(request, "admin/shipping/shipment_cancel.html", context)

    def relabel_view(self, request, pk):
        shipment = self._shipment_page(request, pk)
        form = BookForm(
            request.POST or None,
            initial={
                "carrier_account": shipment.carrier_account,
                "service": shipment.service,
                "weight_g": shipment.weight_g,
            },
        )
        if request.method == "POST" and form.is_valid():
            try:
                message, new = relabel_shipment(
                    shipment,
                    carrier_account=form.cleaned_data["carrier_account"],
                    service=form.cleaned_data["service"],
                    weight_g=form.cleaned_data["weight_g"],
                    actor=request.user,
                )
            except BookingError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(
                    request,
                    format_html(
                        "{} cancelled ({}); new label {} booked with {}. {}",
                        shipment.tracking_number,
                        message,
                        new.tracking_number,
                        new.carrier_account,
                        label_link(new),
                    ),
                    messages.SUCCESS,
                )
                return self._back(request, shipment)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Relabel {shipment.tracking_number}",
            "shipment": shipment,
            "form": form,
            "opts": Shipment._meta,
            "refusal": shipment.cancel_refusal,
        }
        return TemplateResponse(request, "admin/shipping/shipment_relabel.html", context)

    @admin.display(description="Tracking", ordering="tracking_number")
    def tracking(self, obj):
        return tracking_link(obj)

    @admin.display(description="Holds")
    def held(self, obj):
        return held_lines(obj)

    @admin.display(description="Label")
    def label_pdf(self, obj):
        return label_link(obj)

    @admin.display(description=gettext_lazy("Label preview"))
    def label_preview(self, obj):
        return thumbnail_html(obj, width=240)

    @admin.display(description="Channel")
    def channel(self, obj):
        return cut(obj.order.channel, 100)

    @admin.display(description="Carrier account", ordering="carrier_account")
    def carrier(self, obj):
        return cut(obj.carrier_account or obj.tracking_company, 120)

    @admin.display(description="Service", ordering="service")
    def service_cut(self, obj):
        return cut(obj.service, 120)

    @admin.display(description="Created", ordering="created_at")
    def created(self, obj):
        return short_datetime(obj.created_at)

    @admin.display(description="Status", ordering="status")
    def state(self, obj):
        return status_badge(obj)

    @admin.display(description="Cancel")
    def cancel_state(self, obj):
        return shipment_actions(obj)

    @admin.display(description="Public tracking page")
    def public(self, obj):
        return public_link(obj)

    @admin.display(description="Why")
    def why_this_carrier(self, obj):
        reasons = (obj.decision or {}).get("reasons") or []
        return (
            format_html("<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((r,) for r in reasons)))
            if reasons
            else "—"
        )

    @admin.display(description="Preview")
    def channel_receives(self, obj):
        return channel_preview(obj.fulfilment)

    @admin.action(description=_("Print labels (one PDF, marks them printed)"))
    def print_labels(self, request, queryset):
        pdf, printed = printing.print_labels(queryset.order_by("created_at", "pk"))
        if not printed:
            self.message_user(request, _("None of the selected shipments has a label."), messages.WARNING)
            return None
        return FileResponse(
            io.BytesIO(pdf),
            as_attachment=True,
            content_type="application/pdf",
            filename=f"labels-{timezone.localdate():%Y-%m-%d}-{len(printed)}.pdf",
        )

    @admin.action(description="Download ZPL labels (thermal printer, one .zpl file)")
    def download_zpl(self, request, queryset):
        data, zpl, other = labels.zpl_file(queryset.order_by("pk"))
        if not zpl:
            self.message_user(request, "None of the selected shipments has a ZPL label.", messages.WARNING)
            return None
        if other:
            self.message_user(request, f"{other} PDF label(s) left out of the .zpl file.", messages.WARNING)
        response = HttpResponse(data, content_type="application/zpl")
        response["Content-Disposition"] = 'attachment; filename="labels.zpl"'
        return response

    @admin.action(description="Cancel label (before pickup)")
    def cancel(self, request, queryset):
        done, queued, problems = 0, 0, []
        for shipment in queryset.select_related("order__channel", "carrier_account"):
            try:
                cancel_shipment(shipment, actor=request.user)
            except BookingError as exc:
                problems.append(str(exc))
                continue
            shipment.refresh_from_db()
            if shipment.status == Shipment.Status.CANCELLED:
                done += 1
            else:
                queued += 1
        if done:
            self.message_user(request, f"{done} label(s) cancelled.", messages.SUCCESS)
        if queued:
            self.message_user(
                request,
                f"{queued} cancellation(s) queued by the carrier: they complete unless the parcel moves.",
                messages.WARNING,
            )
        for problem in problems:
            self.message_user(request, problem, messages.ERROR)
