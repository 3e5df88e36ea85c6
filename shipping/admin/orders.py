"""The order page, extended by the shipping desk (UI layer only: orders never imports shipping):
its shipments with cancel and relabel, a panel saying how it ships and why, and the actions
"Book shipments" (a background job with a progress bar) and "Cancel orders"."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db import transaction
from django.db.models import Prefetch, Q
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from orders import services as order_services
from orders.admin import OrderAdmin
from orders.models import Order
from orders.order_page import page_positions
from shipping import bulk, cancellation, quoting, rating, rules
from shipping.admin.jobs import progress_url
from shipping.admin.shipments import BookForm, ShipmentInline
from shipping.booking import LIVE
from shipping.models import ShipmentLine


def _reasons(reasons):
    return format_html(
        "<ul style='margin:4px 0 0 16px'>{}</ul>",
        format_html_join("", "<li>{}</li>", ((r,) for r in reasons)),
    )


def shipping_panel(obj):
    """How this order ships and why (which rule, which mapping line), what is left to ship, and
    what stops it or needs attention."""
    if obj is None or not obj.pk:
        return "—"
    parts = []
    for live in (
        obj.shipments.filter(status__in=LIVE)
        .order_by("created_at")
        .select_related("carrier_account")
        .prefetch_related(Prefetch("lines", queryset=ShipmentLine.objects.select_related("order_line")))
    ):
        decision = live.decision or {}
        held = ", ".join(str(sl) for sl in live.lines.all()) or "—"
        fee = f" · fee {live.fee} {live.currency}" if live.fee else ""
        parts.append(
            format_html(
                "<p><strong>Shipped with {} · {}</strong> ({}): {}{}</p>",
                live.carrier_account or live.tracking_company,
                live.service or "—",
                live.tracking_number,
                held,
                fee,
            )
        )
        if decision.get("reasons"):
            parts.append(_reasons(decision["reasons"]))
    if obj.status in (*order_services.BOOKABLE, Order.Status.ON_HOLD):
        parts += _what_is_left(obj)
    for f in obj.fulfilments.all():
        if f.needs_attention:
            what = f.attention or f.last_error or "not sent"
            parts.append(
                format_html(
                    '<p class="errornote"><strong>Needs attention:</strong> {} not sent to {}: {} <a href="{}">Open</a></p>',
                    f.tracking_number or "A shipment without tracking",
                    obj.channel.name,
                    what,
                    reverse("admin:orders_fulfilment_change", args=[f.pk]),
                )
            )
    if obj.status != Order.Status.CANCELLED:
        parts.append(
            format_html(
                '<p><a href="{}">Cancel this order (labels, channel and here)…</a></p>',
                reverse("admin:shipping_order_cancel", args=[obj.pk]),
            )
        )
    return format_html_join("", "{}", ((p,) for p in parts)) if parts else "—"


def _rate_rule_panel(order, picked, decision):
    """A rule that chooses by rate: which rate would win now and what the others cost."""
    request, problem = quoting.parcel_for(order, picked)
    if request is None:
        return [format_html('<p class="errornote">Cannot ship yet: {}</p>', problem)]
    winner, reasons, _ = rating.choose_for_rule(decision.rate_rule, request)
    head = (
        format_html(
            "<p><strong>Will ship with {} · {}</strong> (the {} rate)</p>",
            winner.carrier,
            winner.service_name or winner.service,
            decision.rate_rule.get_rate_choice_display().lower(),
        )
        if winner
        else format_html('<p class="errornote"><strong>No rate fits:</strong> {}</p>', reasons[0])
    )
    return [head, format_html('<div class="rate-reasons">{}</div>', _reasons(reasons))]


def _what_is_left(order):
    """The panel for the lines Shipdesk still ships: how they would ship (only a carrier and
    service that serve the destination and weight), or why nothing is left."""
    positions = page_positions(order)
    picked = [(p.line, p.to_ship) for p in positions if p.to_ship]
    if not picked:
        if order.status == Order.Status.ON_HOLD:
            return []
        return [
            format_html(
                "<p><strong>Nothing left for us to ship:</strong> {}</p>",
                order_services.nothing_to_ship_reason(order, positions),
            )
        ]
    parts = []
    weight = rules.order_weight(order, picked)
    try:
        decision = rules.resolve(order, weight_g=weight)
    except rules.NoCarrier as exc:
        parts.append(format_html('<p class="errornote">Cannot ship yet: {}</p>', exc))
    else:
        problem = rules.service_problem(decision, order, weight_g=weight)
        if problem:
            parts.append(
                format_html(
                    '<p class="errornote"><strong>No carrier serves this order as the rules '
                    "stand:</strong> {}. Choose another carrier or service when booking, or "
                    "change the rule or mapping.</p>",
                    problem,
                )
            )
        elif decision.rate_rule is not None:
            parts += _rate_rule_panel(order, picked, decision)
        else:
            parts.append(format_html("<p><strong>Will ship with {}</strong></p>", decision.describe()))
        parts.append(_reasons(decision.reasons))
    held = ", ".join(f"{qty} × {ln.sku or ln.title}" for ln, qty in picked)
    parts.append(format_html("<p>Left for us to ship: {} ({} g)</p>", held, weight))
    return parts


def booking_panel(request, order, positions):
    """The order page's booking panel (orders.order_page.work_context): how it ships and why,
    and the booking form of shipping.admin.shipments.BookForm spread over the page: a checkbox
    and a quantity on each open line, the carrier and the note beside the button. Its inputs
    belong to the form the page puts after the order's own (form="book-form"), which posts to
    the booking view, so a split is booked from here in one click."""
    can_book = order.status in order_services.BOOKABLE and request.user.has_perm("shipping.add_shipment")
    form = BookForm(positions=positions, channel=order.channel, auto_id="book_%s") if can_book else None
    line_fields, main_fields = {}, []
    if form is not None:
        for field in form.fields.values():
            field.widget.attrs["form"] = "book-form"
        line_fields = {p.line.pk: (take, qty) for p, take, qty in form.line_rows}
        main_fields = [form["carrier_account"], form["note"]]
        main_fields[1].field.widget.attrs.update(rows=1, cols=40)
    return {
        "title": _("How it ships"),
        "panel": shipping_panel(order),
        "url": reverse("admin:shipping_shipment_book", args=[order.pk]),
        "can_book": bool(form and form.line_rows),
        "line_fields": line_fields,
        "main_fields": main_fields,
    }


@admin.action(description="Book shipments (labels A6, one per page)")
def book_shipments(modeladmin, request, queryset):
    return _start_booking(modeladmin, request, queryset, "a6")


@admin.action(description="Book shipments (labels on A4 sheets, four per page)")
def book_shipments_a4(modeladmin, request, queryset):
    return _start_booking(modeladmin, request, queryset, "a4")


class BulkBookForm(forms.Form):
    note = forms.CharField(
        label="Note to the buyer",
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text="One note for every parcel of this batch. Empty: each channel's default note.",
    )


def _start_booking(modeladmin, request, queryset, layout):
    """A confirmation page with the note to the buyer (one for all), then the background job."""
    if not request.user.has_perm("shipping.add_shipment"):
        modeladmin.message_user(request, "You may not book shipments.", messages.ERROR)
        return None
    form = BulkBookForm(request.POST if request.POST.get("post") == "yes" else None)
    if form.is_bound and form.is_valid():
        ids = list(queryset.order_by("ordered_at", "id").values_list("pk", flat=True))
        note = form.cleaned_data["note"].strip() or None
        with transaction.atomic():  # the job starts on commit, with its note
            job = bulk.start_bulk_booking(order_ids=ids, actor=request.user, layout=layout)
            job.params = {**job.params, "note": note}
            job.save(update_fields=["params"])
        return HttpResponseRedirect(progress_url(job))
    return TemplateResponse(
        request,
        "admin/shipping/bulk_book.html",
        {
            **modeladmin.admin_site.each_context(request),
            "title": f"Book shipments for {queryset.count()} order(s)",
            "form": form,
            "orders": queryset.select_related("channel"),
            "opts": Order._meta,
            "layout": bulk.LAYOUTS.get(layout, layout),
            "action": request.POST.get("action"),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        },
    )


@admin.action(description="Cancel orders (void labels, cancel on the channel)")
def cancel_orders(modeladmin, request, queryset):
    orders = list(queryset.select_related("channel"))
    if request.POST.get("post") == "yes":
        if not request.user.has_perm("orders.change_order"):
            raise Http404
        report = [(order, cancellation.cancel_order(order, actor=request.user)) for order in orders]
        return TemplateResponse(
            request,
            "admin/shipping/order_cancel.html",
            {
                **modeladmin.admin_site.each_context(request),
                "title": "Cancelled orders",
                "report": report,
                "opts": Order._meta,
            },
        )
    return TemplateResponse(
        request,
        "admin/shipping/order_cancel.html",
        {
            **modeladmin.admin_site.each_context(request),
            "title": f"Cancel {len(orders)} order(s)?",
            "orders": orders,
            "opts": Order._meta,
            "action": "cancel_orders",
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        },
    )


def cancel_order_view(model_admin, request, order_id):
    """One order: a confirmation page, then the report of each step."""
    order = get_object_or_404(Order.objects.select_related("channel"), pk=order_id)
    if not request.user.has_perm("orders.change_order"):
        raise Http404
    context = {**model_admin.admin_site.each_context(request), "opts": Order._meta, "order": order}
    if request.method == "POST":
        steps = cancellation.cancel_order(order, actor=request.user)
        failed = [s for s in steps if not s.ok]
        model_admin.message_user(
            request,
            "; ".join(f"{s.what}: {s.message}" for s in steps),
            messages.ERROR if failed else messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))
    context.update({"title": f"Cancel {order}?", "orders": [order]})
    return TemplateResponse(request, "admin/shipping/order_cancel.html", context)


class ServiceMappedFilter(admin.SimpleListFilter):
    """The desk's "unmapped shipping services" queue: orders still to ship whose requested
    service no mapping line of their channel maps (rules.unmapped_services)."""

    title = "shipping service"
    parameter_name = "service_mapped"

    def lookups(self, request, model_admin):
        return [("no", "To ship, service not mapped")]

    def queryset(self, request, queryset):
        if self.value() != "no":
            return queryset
        pairs = rules.unmapped_services()
        if not pairs:
            return queryset.none()
        match = Q()
        for p in pairs:
            match |= Q(channel_id=p["channel_id"], requested_service=p["service"])
        return queryset.to_ship().filter(match)


OrderAdmin.list_filter = [*OrderAdmin.list_filter, ServiceMappedFilter]
OrderAdmin.inlines = [*OrderAdmin.inlines, ShipmentInline]  # placed by OrderAdmin.INLINE_ORDER
OrderAdmin.booking_panel = booking_panel
OrderAdmin.actions = [*OrderAdmin.actions, book_shipments, book_shipments_a4, cancel_orders]
