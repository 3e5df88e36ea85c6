from datetime import timedelta

from django.db import models
from django.db.models import Q
from django.utils import timezone

from channels.fields import EncryptedJSONField


class ChannelQuerySet(models.QuerySet):
    def due_for_sync(self, now=None) -> list["Channel"]:
        """Active automatic channels whose interval has passed and that are not syncing now.
        (Channels are few; the interval check runs in Python to stay portable across databases.)"""
        now = now or timezone.now()
        candidates = self.filter(is_active=True, sync_mode=Channel.SyncMode.AUTO, sync_started_at__isnull=True)
        return [
            c
            for c in candidates
            if c.last_synced_at is None
            or c.last_synced_at <= now - timedelta(minutes=c.sync_interval_minutes) + timedelta(seconds=5)
        ]


class Channel(models.Model):
    class Kind(models.TextChoices):
        ETSY = "etsy", "Etsy"
        SHOPIFY = "shopify", "Shopify"
        EBAY = "ebay", "eBay"
        AMAZON = "amazon", "Amazon"
        ECWID = "ecwid", "Ecwid"

    class SyncMode(models.TextChoices):
        AUTO = "auto", "Automatic (every interval)"
        MANUAL = "manual", "Manual only (“Sync now”)"

    class SyncState(models.TextChoices):
        NEVER = "never", "Never synced"
        RUNNING = "running", "Running"
        OK = "ok", "OK"
        ERROR = "error", "Error"

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    api_base_url = models.URLField(
        "API base URL", max_length=500, help_text="e.g. https://openapi.etsy.com/v3/application"
    )
    shop_id = models.CharField(
        "shop / store id", max_length=100, blank=True, help_text="Etsy shop_id, Ecwid store id, Amazon marketplace id"
    )
    credentials = EncryptedJSONField(default=dict, blank=True)
    sync_mode = models.CharField(max_length=10, choices=SyncMode.choices, default=SyncMode.AUTO)
    sync_interval_minutes = models.PositiveIntegerField(default=5)
    requires_tracking = models.BooleanField(
        default=False, help_text="Never tell the channel an order shipped without a tracking number."
    )
    notify_customer = models.BooleanField(default=True, help_text="Ask the channel to email the buyer on shipment.")
    import_window_days = models.PositiveIntegerField(
        default=30, help_text="On the first sync, orders created this many days back are read."
    )
    is_active = models.BooleanField(default=True)
    default_note = models.CharField(
        "default note to buyer", max_length=500, blank=True,
        help_text="Sent with every shipment where the channel shows the buyer a note, unless staff write one.")

    # Sync state: written by orders.importing / orders.tasks only.
    cursor = models.JSONField(default=dict, blank=True, editable=False)
    sync_started_at = models.DateTimeField(null=True, blank=True, editable=False)
    sync_heartbeat_at = models.DateTimeField(null=True, blank=True, editable=False)
    sync_claimed_by = models.CharField(max_length=100, blank=True, editable=False)
    last_synced_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_sync_state = models.CharField(
        max_length=10, choices=SyncState.choices, default=SyncState.NEVER, editable=False
    )
    last_sync_summary = models.JSONField(default=dict, blank=True, editable=False)
    last_error = models.TextField(blank=True, editable=False)
    needs_reconnect = models.BooleanField(default=False, editable=False)

    objects = ChannelQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def claim_sync(self, *, stale_after_minutes: int = 30) -> bool:
        """Atomically mark this channel as syncing. False if another run holds it (and is not stale)."""
        now = timezone.now()
        claimed = (
            Channel.objects.filter(pk=self.pk)
            .filter(Q(sync_started_at__isnull=True) | Q(sync_started_at__lt=now - timedelta(minutes=stale_after_minutes)))
            .update(sync_started_at=now, last_sync_state=Channel.SyncState.RUNNING)
        )
        if claimed:
            self.sync_started_at = now
        return bool(claimed)

    def release_sync(self, *, state: str, summary: dict, error: str = "") -> None:
        now = timezone.now()
        Channel.objects.filter(pk=self.pk).update(
            sync_started_at=None, last_synced_at=now, last_sync_state=state, last_sync_summary=summary, last_error=error
        )
        self.sync_started_at, self.last_synced_at, self.last_sync_state = None, now, state
        self.last_sync_summary, self.last_error = summary, error

    def connector(self, **kwargs):
        from channels.connectors import get_connector

        return get_connector(self, **kwargs)


class StatusMapping(models.Model):
    """Maps a channel's own (custom) status to ours. Used by channels with custom statuses."""

    class Target(models.TextChoices):
        IMPORT = "import", "Import (awaiting shipment)"
        ON_HOLD = "on_hold", "Import on hold"
        SHIPPED = "shipped", "Shipped"
        CANCELLED = "cancelled", "Cancelled"
        IGNORE = "ignore", "Do not import"

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="status_mappings")
    remote_status = models.CharField(max_length=100)
    maps_to = models.CharField(max_length=20, choices=Target.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["channel", "remote_status"], name="uniq_status_mapping")]

    def __str__(self):
        return f"{self.remote_status} → {self.get_maps_to_display()}"


class WebhookEvent(models.Model):
    """A webhook delivery we accepted, kept so a repeated delivery of the same event is
    recognised and answered without queueing the work twice."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="webhook_events")
    event_id = models.CharField(max_length=200)
    topic = models.CharField(max_length=100, blank=True)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["channel", "event_id"], name="uniq_webhook_event")]

    def __str__(self):
        return f"{self.channel} {self.topic} {self.event_id}"


class RateBudget(models.Model):
    """The shared rate budget of one channel account and operation (see channels/ratebudget.py):
    `tat` is the GCRA's theoretical arrival time, in UNIX seconds. Used when the cache is not
    shared (no Redis): the database is what every worker of the install shares."""

    key = models.CharField(max_length=255, primary_key=True)
    tat = models.FloatField()

    def __str__(self):
        return self.key
