"""The API app's admin: API keys (created here, shown once); orders of the manual / API channels,
added by hand or imported from a spreadsheet (both call the same intake as the API); webhook
endpoints and their deliveries."""

from __future__ import annotations

import json
import uuid

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from api import spreadsheet, webhooks
from api.delivery import UnsafeURL, check_url
from api.forms import ApiKeyForm, ManualLineFormSet, ManualOrderForm, OrderSheetForm
from api.intake import take_orders
from api.models import ApiKey, ManualOrder, Scope, WebhookDelivery, WebhookEndpoint
from orders.attribution import acting_via


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    form = ApiKeyForm
    list_display = ["name", "masked", "scope_list", "created_at", "last_used_at", "state"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix"]
    readonly_fields = ["masked", "created_by", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["name", "scopes"]
        return ["name", "scopes", "masked", "created_by", "created_at", "last_used_at", "revoked_at"]

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the timelines keep naming the key

    @admin.display(description=_("key"))
    def masked(self, obj):
        return obj.masked

    @admin.display(description=_("scopes"))
    def scope_list(self, obj):
        return ", ".join(obj.scopes or []) or "–"

    @admin.display(description=_("state"))
    def state(self, obj):
        return _("revoked") if obj.revoked_at else _("active")

    def save_model(self, request, obj, form, change):
        if not change:
            # The full key exists only in this request: it is shown on the next page, never stored.
            request._api_key_text = obj.issue()
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def response_add(self, request, obj, post_url_continue=None):
        context = {
            **self.admin_site.each_context(request),
            "title": _("API key created"),
            "key": obj,
            "key_text": request._api_key_text,
            "opts": self.opts,
            "scopes": [label for value, label in Scope.choices if value in obj.scopes],
        }
        response = TemplateResponse(request, "admin/api/apikey/created.html", context)
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description=_("Revoke selected keys"))
    def revoke(self, request, queryset):
        revoked = sum(key.revoke() for key in queryset)
        self.message_user(request, _("%(n)d key(s) revoked; calls with them now get 401.") % {"n": revoked})


@admin.register(ManualOrder)
class ManualOrderAdmin(admin.ModelAdmin):
    """The orders of manual / API channels; "Add" enters one by hand, "Import" reads a spreadsheet.
    Each links to the order's own page, where it is booked like any other."""

    change_list_template = "admin/api/manualorder/change_list.html"
    list_display = ["number", "channel", "customer_name", "status", "total", "currency", "ordered_at"]
    list_select_related = ["channel"]
    list_filter = ["status", "channel"]
    search_fields = ["order_number_norm"]

    def get_search_results(self, request, queryset, search_term):
        # The order number as staff type it ("#1042" or "1042"), by its indexed normal form.
        from orders import normalise

        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(order_number_norm=normalise.order_number(term)), False

    def get_queryset(self, request):
        return super().get_queryset(request).filter(channel__kind="manual")

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("order"), ordering="order_number")
    def number(self, obj):
        return format_html('<a href="{}">{}</a>', reverse("admin:orders_order_change", args=[obj.pk]), obj)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("import/", view(self.import_view), name="api_manualorder_import"),
            path("import/template.csv", view(self.template_view), name="api_manualorder_template"),
        ] + super().get_urls()

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ManualOrderForm(request.POST or None, initial={"token": uuid.uuid4().hex})
        lines = ManualLineFormSet(request.POST or None, prefix="lines")
        if request.method == "POST" and form.is_valid() and lines.is_valid():
            picked = [
                f.cleaned_data for f in lines.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")
            ]
            with acting_via("", actor=request.user):
                [result] = take_orders([form.as_order(picked)])
            if result["outcome"] in ("created", "exists"):
                order_id = result["order"]["id"]
                self.message_user(request, _("Order %(n)s added.") % {"n": result["order"]["order_number"]})
                return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order_id]))
            form.add_error(None, _describe(result))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Add an order by hand"),
            "form": form,
            "lines": lines,
            "opts": self.opts,
        }
        return TemplateResponse(request, "admin/api/manualorder/add.html", context)

    def import_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = OrderSheetForm(request.POST or None, request.FILES or None)
        results = None
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            if upload.size > settings.CSV_MAX_UPLOAD_MB * 1024 * 1024:
                form.add_error(
                    "file", _("The file is larger than %(mb)s MB.") % {"mb": settings.CSV_MAX_UPLOAD_MB}
                )
            else:
                try:
                    sheet = spreadsheet.read_orders(upload.read(), max_orders=settings.API_BULK_MAX_ORDERS)
                except spreadsheet.SheetError as exc:
                    form.add_error("file", str(exc))
                else:
                    with acting_via("", actor=request.user, source="spreadsheet"):
                        outcomes = take_orders([order for _rows, order in sheet])
                    results = [
                        {"rows": rows, "outcome": r["outcome"], "order": r.get("order"), "why": _describe(r)}
                        for (rows, _order), r in zip(sheet, outcomes, strict=True)
                    ]
                    created = sum(1 for r in results if r["outcome"] == "created")
                    self.message_user(
                        request,
                        _("%(created)d of %(total)d order(s) added.")
                        % {"created": created, "total": len(results)},
                        messages.SUCCESS if created == len(results) else messages.WARNING,
                    )
        context = {
            **self.admin_site.each_context(request),
            "title": _("Import orders from a spreadsheet"),
            "form": form,
            "results": results,
            "columns": spreadsheet.COLUMNS,
            "opts": self.opts,
        }
        return TemplateResponse(request, "admin/api/manualorder/import.html", context)

    def template_view(self, request):
        response = HttpResponse(spreadsheet.template_csv(), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="orders-template.csv"'
        return response


def _describe(result: dict) -> str:
    """One sentence for staff about an order that was not added."""
    outcome = result["outcome"]
    if outcome == "skipped":
        return _("Not imported: %(detail)s") % {"detail": result.get("detail") or result.get("reason")}
    if outcome == "conflict":
        return result.get("detail", "")
    if outcome == "invalid":
        return "; ".join(_flatten(result.get("errors") or {}))
    if outcome == "exists":
        return _("Already added earlier.")
    return ""


def _flatten(errors, prefix: str = "") -> list[str]:
    if isinstance(errors, dict):
        return [m for k, v in errors.items() for m in _flatten(v, f"{prefix}{k}." if prefix or k else "")]
    if isinstance(errors, list):
        out = []
        for item in errors:
            out += (
                _flatten(item, prefix) if isinstance(item, dict | list) else [f"{prefix.rstrip('.')}: {item}"]
            )
        return out
    return [f"{prefix.rstrip('.')}: {errors}"]


class WebhookEndpointForm(forms.ModelForm):
    event_types = forms.MultipleChoiceField(
        label=_("Event types"),
        choices=list(webhooks.EVENT_TYPES.items()),
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Only these events are sent to this URL."),
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "description", "event_types"]

    def clean_url(self):
        url = self.cleaned_data["url"]
        try:
            check_url(url)
        except UnsafeURL as exc:
            raise forms.ValidationError(str(exc)) from exc
        return url


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ["url", "description", "is_active", "types", "pending", "failed", "consecutive_failures"]
    list_filter = ["is_active"]
    search_fields = ["url", "description"]
    actions = ["send_test", "enable"]
    readonly_fields = [
        "secret",
        "is_active",
        "disabled_at",
        "disabled_reason",
        "consecutive_failures",
        "failing_since",
        "created_at",
        "recent_deliveries",
    ]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_pending=Count("deliveries", filter=Q(deliveries__state=WebhookDelivery.State.PENDING)),
                n_failed=Count("deliveries", filter=Q(deliveries__state=WebhookDelivery.State.FAILED)),
            )
        )

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["url", "description", "event_types"]
        return ["url", "description", "event_types", *self.readonly_fields]

    @admin.display(description=_("event types"))
    def types(self, obj):
        return ", ".join(obj.event_types)

    @admin.display(description=_("pending"), ordering="n_pending")
    def pending(self, obj):
        return obj.n_pending

    @admin.display(description=_("failed"), ordering="n_failed")
    def failed(self, obj):
        return obj.n_failed

    @admin.display(description=_("recent deliveries"))
    def recent_deliveries(self, obj):
        rows = obj.deliveries.order_by("-created_at", "-id")[:20]
        link = reverse("admin:api_webhookdelivery_changelist") + f"?endpoint__id__exact={obj.pk}"
        table = format_html_join(
            "",
            "<tr><td><a href='{}'>{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    reverse("admin:api_webhookdelivery_change", args=[d.pk]),
                    d.event_type,
                    d.get_state_display(),
                    d.attempts,
                    d.response_status or "",
                    d.next_attempt_at or "",
                    d.created_at,
                )
                for d in rows
            ),
        )
        return format_html(
            "<table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>{}</table>"
            "<p><a href='{}'>{}</a></p>",
            _("event"),
            _("state"),
            _("attempts"),
            _("answer"),
            _("next attempt"),
            _("written"),
            table,
            link,
            _("All deliveries to this endpoint"),
        )

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    @admin.action(description=_("Send a test event"))
    def send_test(self, request, queryset):
        sent = [webhooks.send_test_event(e, actor=request.user) for e in queryset]
        self.message_user(
            request,
            ngettext("%(n)d test event queued", "%(n)d test events queued", len(sent)) % {"n": len(sent)},
            messages.SUCCESS,
        )

    @admin.action(description=_("Re-enable"))
    def enable(self, request, queryset):
        disabled = list(queryset.filter(is_active=False))
        for endpoint in disabled:
            webhooks.enable_endpoint(endpoint, actor=request.user)
        self.message_user(
            request,
            ngettext("%(n)d endpoint re-enabled", "%(n)d endpoints re-enabled", len(disabled))
            % {"n": len(disabled)},
            messages.SUCCESS,
        )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "event_type",
        "endpoint",
        "state",
        "attempts",
        "response_status",
        "next_attempt_at",
        "webhook_id",
    ]
    list_filter = ["state", "event_type", "endpoint"]
    list_select_related = ["endpoint"]
    search_fields = ["webhook_id"]
    actions = ["resend"]
    fields = [
        "endpoint",
        "event_type",
        "webhook_id",
        "state",
        "attempts",
        "last_attempt_at",
        "next_attempt_at",
        "delivered_at",
        "last_error",
        "headers_sent",
        "body_sent",
        "response_status",
        "response_body",
        "order_link",
        "created_at",
    ]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("request headers"))
    def headers_sent(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.request_headers, indent=2))

    @admin.display(description=_("request body"))
    def body_sent(self, obj):
        try:
            shown = json.dumps(json.loads(obj.body), indent=2, ensure_ascii=False)
        except ValueError:
            shown = obj.body
        return format_html("<pre>{}</pre>", shown)

    @admin.display(description=_("order"))
    def order_link(self, obj):
        if not obj.order_id:
            return "-"
        return format_html(
            "<a href='{}'>{}</a>", reverse("admin:orders_order_change", args=[obj.order_id]), obj.order_id
        )

    @admin.action(description=_("Resend (same webhook-id)"))
    def resend(self, request, queryset):
        done = sum(webhooks.resend(d, actor=request.user) for d in queryset)
        busy = queryset.count() - done
        message = ngettext("%(n)d delivery queued again", "%(n)d deliveries queued again", done) % {"n": done}
        if busy:
            message += "; " + _("%(n)d being sent right now, left alone") % {"n": busy}
        self.message_user(request, message, messages.SUCCESS)
