"""The API app's admin: (API keys above, when they arrive) webhook endpoints and their deliveries."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from api import webhooks
from api.delivery import UnsafeURL, check_url
from api.models import WebhookDelivery, WebhookEndpoint


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
