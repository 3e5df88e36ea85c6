from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Exists, OuterRef, Prefetch
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from orders.admin import OrderAdmin, OrderEventInline, ReadOnlyInline, WideListMixin, cut
from orders.models import Order, OrderEvent
from returns import eligibility, portal_session, services
from returns.forms import RefundForm, RejectForm
from returns.models import Reason, ReturnLine, ReturnPolicy, ReturnRequest
from returns.portal_session import PortalSession
from shipping.models import Brand

RS = ReturnRequest.Status
STATUS_COLOURS = {
    RS.AWAITING_APPROVAL: "#b35900",
    RS.APPROVED: "#1565c0",
    RS.LABEL_ISSUED: "#0d47a1",
    RS.REJECTED: "#c62828",
    RS.RECEIVED: "#2e7d32",
    RS.REFUNDED: "#4a4a4a",
}


def status_badge(ret: ReturnRequest):
    return format_html(
        '<span style="background:{};color:#fff;padding:2px 8px;border-radius:10px;white-space:nowrap">{}</span>',
        STATUS_COLOURS.get(ret.status, "#555"),
        ret.get_status_display(),
    )


def label_link(ret: ReturnRequest):
    if not ret.pk or not ret.label:
        return "—"
    return format_html(
        '<a href="{}">Label PDF</a>', reverse("admin:returns_returnrequest_label", args=[ret.pk])
    )


def tracking_link(ret: ReturnRequest):
    if ret.tracking_url:
        return format_html(
            '<a href="{}" target="_blank" rel="noopener noreferrer">{}</a>',
            ret.tracking_url,
            ret.tracking_number,
        )
    return ret.tracking_number or "—"


class ReturnPolicyForm(forms.ModelForm):
    reasons = forms.MultipleChoiceField(
        choices=Reason.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="The reasons the portal offers.",
    )

    class Meta:
        model = ReturnPolicy
        fields = [
            "brand",
            "portal_enabled",
            "window_days",
            "non_returnable_skus",
            "reasons",
            "requires_approval",
            "label_fee",
            "label_fee_currency",
            "allow_not_shipped_with_shipdesk",
            "allow_without_outbound_shipment",
            "return_carrier",
        ]


@admin.register(ReturnPolicy)
class ReturnPolicyAdmin(admin.ModelAdmin):
    form = ReturnPolicyForm
    list_display = [
        "brand",
        "portal_enabled",
        "window_days",
        "requires_approval",
        "label_fee",
        "allow_not_shipped_with_shipdesk",
        "allow_without_outbound_shipment",
        "return_carrier",
    ]
    list_select_related = ["brand", "return_carrier"]


class ReturnPolicyInline(admin.StackedInline):
    model = ReturnPolicy
    form = ReturnPolicyForm
    extra = 1  # shown ready to fill on a brand without one; left untouched it saves nothing
    max_num = 1
    can_delete = False


# The brand page shows and edits its return policy (UI layer only). The brand's admin is found
# through the site (shipping registers it first: it comes before returns in INSTALLED_APPS).
if admin.site.is_registered(Brand):
    _brand_admin = type(admin.site.get_model_admin(Brand))
    _brand_admin.inlines = [*_brand_admin.inlines, ReturnPolicyInline]


class ReturnLineInline(ReadOnlyInline):
    model = ReturnLine
    fields = ["sku", "title", "quantity", "reason", "unit_price"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("order_line")

    @admin.display(description="SKU")
    def sku(self, obj):
        return obj.order_line.sku

    @admin.display(description="Item")
    def title(self, obj):
        return obj.order_line.title

    @admin.display(description="Unit price")
    def unit_price(self, obj):
        return obj.order_line.unit_price


class ReasonFilter(admin.SimpleListFilter):
    title = "reason"
    parameter_name = "reason"

    def lookups(self, request, model_admin):
        return Reason.choices

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(
                Exists(ReturnLine.objects.filter(return_request=OuterRef("pk"), reason=self.value()))
            )
        return queryset


class AgeFilter(admin.SimpleListFilter):
    title = "age"
    parameter_name = "age"
    BANDS = {"0-2": (0, 2), "2-7": (2, 7), "7-30": (7, 30), "30+": (30, None)}

    def lookups(self, request, model_admin):
        return [("0-2", "Under 2 days"), ("2-7", "2–7 days"), ("7-30", "1–4 weeks"), ("30+", "Over 30 days")]

    def queryset(self, request, queryset):
        if self.value() not in self.BANDS:
            return queryset
        low, high = self.BANDS[self.value()]
        now = timezone.now()
        queryset = queryset.filter(created_at__lte=now - timedelta(days=low))
        return queryset.filter(created_at__gt=now - timedelta(days=high)) if high else queryset


@admin.register(ReturnRequest)
class ReturnRequestAdmin(WideListMixin, admin.ModelAdmin):
    list_display = [
        "number",
        "order_link",
        "brand_cut",
        "badge",
        "items",
        "reasons",
        "age",
        "label_pdf",
        "tracking",
    ]
    list_filter = ["status", "brand", ReasonFilter, AgeFilter]
    list_select_related = ["order", "brand"]
    search_fields = ["=tracking_number"]
    search_help_text = "Return number (R000123), order number or return tracking number"
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50
    readonly_fields = [
        "number",
        "order_link",
        "brand",
        "badge",
        "source",
        "language",
        "customer_email",
        "customer_note",
        "carrier_account",
        "service",
        "tracking",
        "label_pdf",
        "qr",
        "label_fee",
        "carrier_fee",
        "currency",
        "label_booked_at",
        "label_error",
        "rejection_reason",
        "refund_amount",
        "items_value",
        "created_by",
        "created_at",
        "status_changed_at",
        "received_at",
        "refunded_at",
        "timeline",
    ]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "number",
                    "order_link",
                    "brand",
                    "badge",
                    "source",
                    "created_by",
                    "created_at",
                    "status_changed_at",
                ]
            },
        ),
        ("Customer", {"fields": ["customer_email", "language", "customer_note"]}),
        (
            "Label",
            {
                "fields": [
                    "carrier_account",
                    "service",
                    "tracking",
                    "label_pdf",
                    "qr",
                    "label_booked_at",
                    "label_error",
                    "label_fee",
                    "carrier_fee",
                    "currency",
                ]
            },
        ),
        (
            "Outcome",
            {"fields": ["rejection_reason", "received_at", "refunded_at", "items_value", "refund_amount"]},
        ),
        ("Timeline", {"fields": ["timeline"]}),
    ]
    inlines = [ReturnLineInline]
    actions = ["approve", "reject", "mark_received", "mark_refunded", "book_labels"]
    change_form_template = "admin/returns/returnrequest/change_form.html"

    def has_add_permission(self, request):
        return False  # returns start in the portal (or with "view as customer" on the order page)

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("lines__order_line")

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        if term.upper().startswith("R") and term[1:].isdigit():
            return queryset.filter(pk=int(term[1:])), False
        return queryset.filter(order__in=Order.objects.search(term)) | queryset.filter(
            tracking_number=term.upper()
        ), False

    # ------------------------------------------------------------ columns

    @admin.display(description="Return", ordering="pk")
    def number(self, obj):
        return obj.number

    @admin.display(description="Order", ordering="order__order_number")
    def order_link(self, obj):
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:orders_order_change", args=[obj.order_id]), obj.order
        )

    @admin.display(description="Status", ordering="status")
    def badge(self, obj):
        return status_badge(obj)

    @admin.display(description="Items")
    def items(self, obj):
        return cut(", ".join(str(ln) for ln in obj.lines.all()), 170)

    @admin.display(description="Reasons")
    def reasons(self, obj):
        return cut(", ".join(sorted({ln.get_reason_display() for ln in obj.lines.all()})), 120)

    @admin.display(description="Brand", ordering="brand")
    def brand_cut(self, obj):
        return cut(obj.brand, 110)

    @admin.display(description="Age", ordering="created_at")
    def age(self, obj):
        days = (timezone.now() - obj.created_at).days
        return "today" if days == 0 else f"{days} day{'s' if days != 1 else ''}"

    @admin.display(description="Label")
    def label_pdf(self, obj):
        return label_link(obj)

    @admin.display(description="QR code")
    def qr(self, obj):
        if not obj.qr_code:
            return "—"
        url = reverse("returns:qr_code", args=[obj.brand.slug, obj.public_token])
        # The code the customer shows at the drop-off point, as they see it (staff can check it scans).
        return format_html(
            '<a href="{}"><img src="{}" alt="QR code for label-free drop-off of {}" width="160" '
            'height="160" style="image-rendering: pixelated"></a>',
            url,
            url,
            obj.number,
        )

    @admin.display(description="Tracking")
    def tracking(self, obj):
        return tracking_link(obj)

    @admin.display(description="Items value")
    def items_value(self, obj):
        return f"{obj.items_value} {obj.order.currency}"

    @admin.display(description="Events of this return")
    def timeline(self, obj):
        events = OrderEvent.objects.filter(order_id=obj.order_id, data__return_id=obj.pk).select_related(
            "actor"
        )
        if not events:
            return "—"
        return format_html(
            "<table>{}</table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                ((e.created_at.strftime("%Y-%m-%d %H:%M"), e.message, e.actor or "") for e in events),
            ),
        )

    # ------------------------------------------------------------ actions (each calls a service)

    def _apply(self, request, queryset, verb: str, service, **kwargs) -> None:
        done, problems = 0, []
        for ret in queryset.select_related("order"):
            try:
                service(ret, actor=request.user, **kwargs)
                done += 1
            except services.ReturnError as exc:
                problems.append(str(exc))
        if done:
            self.message_user(request, f"{done} return(s) {verb}.", messages.SUCCESS)
        if problems:
            self.message_user(
                request, f"{len(problems)} not {verb}: " + "; ".join(problems[:20]), messages.ERROR
            )

    @admin.action(description="Approve (books and emails the label)")
    def approve(self, request, queryset):
        self._apply(request, queryset, "approved", services.approve)

    @admin.action(description="Reject (the reason is emailed)…")
    def reject(self, request, queryset):
        form = RejectForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            self._apply(request, queryset, "rejected", services.reject, reason=form.cleaned_data["reason"])
            return None
        return TemplateResponse(
            request,
            "admin/returns/reject.html",
            {
                **self.admin_site.each_context(request),
                "title": "Reject returns",
                "queryset": queryset,
                "form": form,
                "opts": self.model._meta,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "action": "reject",
            },
        )

    @admin.action(description="Mark received")
    def mark_received(self, request, queryset):
        self._apply(request, queryset, "marked received", services.receive)

    @admin.action(description="Mark refunded (asks for the amounts)…")
    def mark_refunded(self, request, queryset):
        return self._refund_page(request, list(queryset.select_related("order")), single=None)

    def _refund_page(self, request, returns, *, single):
        """Ask for each return's refund amount, prefilled with its returned lines' value less the
        label fee, and apply only what staff confirm. Nothing is refunded until then."""
        confirmed = "apply" in request.POST
        forms_by_return = [
            (
                ret,
                RefundForm(
                    request.POST if confirmed else None,
                    prefix=f"r{ret.pk}",
                    initial={"amount": services.default_refund_amount(ret)},
                ),
            )
            for ret in returns
        ]
        if confirmed and all(form.is_valid() for _ret, form in forms_by_return):
            done, problems = 0, []
            for ret, form in forms_by_return:
                try:
                    services.refund(ret, amount=form.cleaned_data["amount"], actor=request.user)
                    done += 1
                except services.ReturnError as exc:
                    problems.append(str(exc))
            if done:
                self.message_user(request, f"{done} return(s) marked refunded.", messages.SUCCESS)
            if problems:
                self.message_user(
                    request,
                    f"{len(problems)} not marked refunded: " + "; ".join(problems[:20]),
                    messages.ERROR,
                )
            if single is not None:
                return HttpResponseRedirect(reverse("admin:returns_returnrequest_change", args=[single.pk]))
            return None
        return TemplateResponse(
            request,
            "admin/returns/refund.html",
            {
                **self.admin_site.each_context(request),
                "title": f"Refund return {single.number}" if single else "Refund returns",
                "rows": [
                    (ret, form, services.default_refund_amount(ret), services.max_refund_amount(ret))
                    for ret, form in forms_by_return
                ],
                "opts": self.model._meta,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "action": "mark_refunded",
                "single": single,
            },
        )

    def refund_view(self, request, pk):
        ret = get_object_or_404(ReturnRequest.objects.select_related("order"), pk=pk)
        if not self.has_change_permission(request, ret):
            raise Http404
        return self._refund_page(request, [ret], single=ret)

    @admin.action(description="Book the label again (after a carrier error)")
    def book_labels(self, request, queryset):
        booked, problems = 0, []
        for ret in queryset:
            ret = services.book_return_label(ret, actor=request.user)
            if ret.label:
                booked += 1
            else:
                problems.append(f"{ret.number}: {ret.label_error or ret.get_status_display()}")
        if booked:
            self.message_user(request, f"{booked} return(s) have a label.", messages.SUCCESS)
        if problems:
            self.message_user(
                request, f"{len(problems)} without a label: " + "; ".join(problems[:20]), messages.ERROR
            )

    # ------------------------------------------------------------ extra views

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/label/", view(self.label_view), name="returns_returnrequest_label"),
            path("<int:pk>/do/<str:verb>/", view(self.transition_view), name="returns_returnrequest_do"),
            path("<int:pk>/reject/", view(self.reject_view), name="returns_returnrequest_reject"),
            path("<int:pk>/refund/", view(self.refund_view), name="returns_returnrequest_refund"),
            path(
                "view-as-customer/<int:order_id>/",
                view(self.view_as_customer),
                name="returns_view_as_customer",
            ),
        ] + super().get_urls()

    def label_view(self, request, pk):
        ret = get_object_or_404(ReturnRequest, pk=pk)
        if not self.has_view_permission(request, ret) or not ret.label:
            raise Http404("No label")
        return FileResponse(
            ret.label.open("rb"), content_type="application/pdf", filename=f"return-label-{ret.number}.pdf"
        )

    VERBS = {
        "approve": ("approved", services.approve),
        "receive": ("marked received", services.receive),
    }  # a refund asks for its amount first: refund_view

    def transition_view(self, request, pk, verb):
        if request.method != "POST" or verb not in self.VERBS:
            raise Http404
        ret = get_object_or_404(ReturnRequest, pk=pk)
        if not self.has_change_permission(request, ret):
            raise Http404
        self._apply(request, ReturnRequest.objects.filter(pk=pk), *self.VERBS[verb])
        return HttpResponseRedirect(reverse("admin:returns_returnrequest_change", args=[pk]))

    def reject_view(self, request, pk):
        ret = get_object_or_404(ReturnRequest, pk=pk)
        if not self.has_change_permission(request, ret):
            raise Http404
        form = RejectForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            self._apply(
                request,
                ReturnRequest.objects.filter(pk=pk),
                "rejected",
                services.reject,
                reason=form.cleaned_data["reason"],
            )
            return HttpResponseRedirect(reverse("admin:returns_returnrequest_change", args=[pk]))
        return TemplateResponse(
            request,
            "admin/returns/reject.html",
            {
                **self.admin_site.each_context(request),
                "title": f"Reject return {ret.number}",
                "queryset": [ret],
                "form": form,
                "opts": self.model._meta,
                "single": ret,
            },
        )

    def view_as_customer(self, request, order_id):
        """Open the portal on this order as its customer would see it (staff on the phone
        with a customer can start the return for them; it is recorded as theirs)."""
        order = get_object_or_404(Order, pk=order_id)
        if not request.user.has_perm("returns.add_returnrequest") and not request.user.is_superuser:
            raise Http404
        brand_id = eligibility.brand_id_of(order)
        brand = Brand.objects.filter(pk=brand_id).first() if brand_id else eligibility.default_brand()
        if brand is None:
            self.message_user(request, "Add a brand under Shipping › Brands first.", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order_id]))
        response = HttpResponseRedirect(reverse("returns:items", args=[brand.slug]))
        portal_session.save(
            response, PortalSession(order_id=order.pk, brand_id=brand.pk, staff_user_id=request.user.pk)
        )
        return response


# ---------------------------------------------------------------- on the order page (UI layer only)


class ReturnRequestInline(ReadOnlyInline):
    model = ReturnRequest
    fields = ["number_link", "badge", "items", "tracking", "label_pdf", "created_at"]
    verbose_name_plural = "Returns"

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .prefetch_related(Prefetch("lines", queryset=ReturnLine.objects.select_related("order_line")))
        )

    @admin.display(description="Return")
    def number_link(self, obj):
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:returns_returnrequest_change", args=[obj.pk]), obj.number
        )

    @admin.display(description="Status")
    def badge(self, obj):
        return status_badge(obj)

    @admin.display(description="Items")
    def items(self, obj):
        return ", ".join(str(ln) for ln in obj.lines.all())

    @admin.display(description="Tracking")
    def tracking(self, obj):
        return tracking_link(obj)

    @admin.display(description="Label")
    def label_pdf(self, obj):
        return label_link(obj)


@admin.display(description="Can the customer return it?")
def return_eligibility(self, obj):
    if obj is None or not obj.pk:
        return "—"
    elig = eligibility.eligibility_for_order(obj)
    return render_to_string(
        "admin/returns/eligibility_panel.html",
        {
            "elig": elig,
            "order": obj,
            "view_as_customer": reverse("admin:returns_view_as_customer", args=[obj.pk]),
        },
    )


OrderAdmin.return_eligibility = return_eligibility
OrderAdmin.readonly_fields = [*OrderAdmin.readonly_fields, "return_eligibility"]
OrderAdmin.fieldsets = [*OrderAdmin.fieldsets, ("Returns", {"fields": ["return_eligibility"]})]
_timeline = [i for i, inline in enumerate(OrderAdmin.inlines) if inline is OrderEventInline]
_at = _timeline[0] if _timeline else len(OrderAdmin.inlines)
OrderAdmin.inlines = [*OrderAdmin.inlines[:_at], ReturnRequestInline, *OrderAdmin.inlines[_at:]]
