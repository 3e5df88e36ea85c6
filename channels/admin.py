from django.contrib import admin, messages
from django.db.models import Count, Q
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from channels.forms import WriteOnlyCredentialsForm, credentials_summary
from channels.models import Channel, StatusMapping, WebhookEvent


class ChannelForm(WriteOnlyCredentialsForm):
    class Meta:
        model = Channel
        exclude = ["credentials"]
        help_texts = {"shop_id": "Etsy shop_id, Shopify shop name, Ecwid store id, Amazon marketplace id"}


class StatusMappingInline(admin.TabularInline):
    model = StatusMapping
    extra = 1


class SyncFilter(admin.SimpleListFilter):
    """The desk's sync queues: a sync whose worker stopped renewing its heartbeat, and a last
    sync that failed (active channels)."""

    title = _("sync")
    parameter_name = "sync"

    def lookups(self, request, model_admin):
        return [("stale", _("Stalled (heartbeat stale)")), ("failed", _("Last sync failed"))]

    def queryset(self, request, queryset):
        if self.value() == "stale":
            return queryset.stale_syncs()
        if self.value() == "failed":
            return queryset.filter(is_active=True, last_sync_state=Channel.SyncState.ERROR)
        return queryset


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    form = ChannelForm
    list_display = [
        "name",
        "kind",
        "sync_mode",
        "sync_state",
        "last_synced_at",
        "awaiting",
        "skipped",
        "is_active",
    ]
    list_filter = ["kind", "sync_mode", "is_active", "last_sync_state", SyncFilter]
    search_fields = ["name", "shop_id"]
    readonly_fields = [
        "credentials_set",
        "unmapped",
        "last_synced_at",
        "last_sync_state",
        "sync_started_at",
        "sync_claimed_by",
        "sync_heartbeat_at",
        "last_error",
        "last_sync_summary",
        "needs_reconnect",
        "cursor",
    ]
    fieldsets = [
        (None, {"fields": ["name", "kind", "is_active", "api_base_url", "shop_id"]}),
        ("Credentials (write-only)", {"fields": ["credentials_set", "new_credentials"]}),
        ("Status mapping", {"fields": ["unmapped"]}),
        ("Sync", {"fields": ["sync_mode", "sync_interval_minutes", "import_window_days"]}),
        ("Telling the channel", {"fields": ["requires_tracking", "notify_customer", "default_note"]}),
        (
            "Last sync",
            {
                "fields": [
                    "last_sync_state",
                    "last_synced_at",
                    "sync_started_at",
                    "sync_claimed_by",
                    "sync_heartbeat_at",
                    "last_error",
                    "last_sync_summary",
                    "needs_reconnect",
                    "cursor",
                ]
            },
        ),
    ]
    inlines = [StatusMappingInline]
    actions = ["sync_now"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_awaiting=Count("orders", filter=Q(orders__status="awaiting_shipment"), distinct=True),
                n_skipped=Count("skipped_orders", distinct=True),
            )
        )

    @admin.display(description="Statuses waiting for a mapping")
    def unmapped(self, obj):
        from orders.services import unmapped_statuses  # UI layer: shows rows of a later app

        if not obj.pk:
            return "—"
        rows = unmapped_statuses(obj)
        if not rows:
            return "none: every status seen is understood"
        return format_html_join(", ", "<strong>{}</strong> ({} orders)", rows)

    def save_formset(self, request, form, formset, change):
        super().save_formset(request, form, formset, change)
        if formset.model is StatusMapping:
            from orders.services import apply_status_mapping

            for mapping in formset.new_objects + [obj for obj, _ in formset.changed_objects]:
                released = apply_status_mapping(
                    mapping.channel, mapping.remote_status, mapping.maps_to, actor=request.user
                )
                if released:
                    self.message_user(
                        request, f"{released} order(s) held for “{mapping.remote_status}” updated."
                    )

    @admin.display(description="Credentials stored")
    def credentials_set(self, obj):
        return credentials_summary(obj)

    @admin.display(description="Last sync", ordering="last_sync_state")
    def sync_state(self, obj):
        colour = {"ok": "#2e7d32", "error": "#c62828", "running": "#1565c0"}.get(obj.last_sync_state, "#777")
        text = obj.get_last_sync_state_display()
        if obj.needs_reconnect:
            text += " · needs reconnecting"
        detail = ""
        if obj.sync_started_at:
            from channels.models import sync_stale_before

            beat = obj.sync_heartbeat_at or obj.sync_started_at
            stalled = beat < sync_stale_before()
            colour = "#c62828" if stalled else colour
            text = "Stalled" if stalled else "Running"
            detail = f"{obj.syncing_since}" + ("; resumed at the next dispatch" if stalled else "")
        elif obj.last_sync_state == "error" and obj.last_error:
            detail = obj.last_error if len(obj.last_error) <= 160 else obj.last_error[:157] + "…"
        return format_html(
            '<span style="color:{};font-weight:bold" title="{}">{}</span>{}',
            colour,
            obj.last_error,
            text,
            format_html('<br><span class="help">{}</span>', detail) if detail else "",
        )

    @admin.display(description="Awaiting shipment", ordering="n_awaiting")
    def awaiting(self, obj):
        url = (
            reverse("admin:orders_order_changelist")
            + f"?channel__id__exact={obj.pk}&status__exact=awaiting_shipment"
        )
        return format_html('<a href="{}">{}</a>', url, obj.n_awaiting)

    @admin.display(description="Not imported", ordering="n_skipped")
    def skipped(self, obj):
        url = reverse("admin:orders_skippedorder_changelist") + f"?channel__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, obj.n_skipped)

    @admin.action(description="Sync now")
    def sync_now(self, request, queryset):
        from django_q.tasks import async_task

        count = 0
        for channel in queryset:
            async_task("orders.tasks.sync_channel", channel.pk, task_name=f"sync-{channel.pk}")
            count += 1
        self.message_user(
            request,
            f"Sync started for {count} channel(s); results appear under “Last sync”.",
            messages.SUCCESS,
        )


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    """Read-only log of webhook deliveries (repeats are recognised by the channel's event id)."""

    list_display = ["received_at", "channel", "topic", "event_id"]
    list_filter = ["channel", "topic"]
    list_select_related = ["channel"]
    search_fields = ["=event_id"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
