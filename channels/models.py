from datetime import timedelta

from django.db import models
from django.db.models import Q
from django.utils import timezone

from channels.fields import EncryptedJSONField


def sync_stale_before(now=None):
    """A sync claim whose heartbeat is older than this is dead (its worker was killed)."""
    from django.conf import settings

    return (now or timezone.now()) - timedelta(seconds=settings.SYNC_HEARTBEAT_STALE_SECONDS)


def worker_name() -> str:
    """host:pid of this process, as staff see it on a sync claim."""
    import os
    import socket

    return f"{socket.gethostname()}:{os.getpid()}"


def _stale_claim(stale) -> Q:
    return Q(sync_started_at__isnull=False) & (
        Q(sync_heartbeat_at__lt=stale) | Q(sync_heartbeat_at__isnull=True, sync_started_at__lt=stale)
    )


class ChannelQuerySet(models.QuerySet):
    def due_for_sync(self, now=None) -> list["Channel"]:
        """Active automatic channels whose interval has passed and that are not syncing now, and
        any active channel whose sync died (stale heartbeat): it is resumed from its saved cursor.
        (Channels are few; the interval check runs in Python to stay portable across databases.)"""
        now = now or timezone.now()
        # A dead sync is finished whatever the mode: staff who pressed "Sync now" expect it done.
        candidates = (
            self.filter(is_active=True)
            .exclude(kind=Channel.Kind.MANUAL)
            .filter(
                Q(sync_mode=Channel.SyncMode.AUTO, sync_started_at__isnull=True)
                | _stale_claim(sync_stale_before(now))
            )
        )
        return [
            c
            for c in candidates
            if c.sync_started_at is not None  # a dead sync: resume it now, whatever the interval
            or c.last_synced_at is None
            or c.last_synced_at <= now - timedelta(minutes=c.sync_interval_minutes) + timedelta(seconds=5)
        ]

    def stale_syncs(self, now=None):
        """Channels whose sync claim is held by a worker that stopped renewing it."""
        return self.filter(_stale_claim(sync_stale_before(now)))


class Channel(models.Model):
    class Kind(models.TextChoices):
        ETSY = "etsy", "Etsy"
        SHOPIFY = "shopify", "Shopify"
        EBAY = "ebay", "eBay"
        AMAZON = "amazon", "Amazon"
        ECWID = "ecwid", "Ecwid"
        # Orders entered by staff, a spreadsheet or Shipdesk's own API: no connector, never synced,
        # nobody to tell when they ship (channels/connectors/manual.py).
        MANUAL = "manual", "Manual / API"

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
        "API base URL",
        max_length=500,
        blank=True,
        help_text="e.g. https://openapi.etsy.com/v3/application (empty for a manual / API channel)",
    )
    shop_id = models.CharField(
        "shop / store id",
        max_length=100,
        blank=True,
        help_text="Etsy shop_id, Ecwid store id, Amazon marketplace id",
    )
    credentials = EncryptedJSONField(default=dict, blank=True)
    sync_mode = models.CharField(max_length=10, choices=SyncMode.choices, default=SyncMode.AUTO)
    sync_interval_minutes = models.PositiveIntegerField(default=5)
    requires_tracking = models.BooleanField(
        default=False, help_text="Never tell the channel an order shipped without a tracking number."
    )
    notify_customer = models.BooleanField(
        default=True, help_text="Ask the channel to email the buyer on shipment."
    )
    import_window_days = models.PositiveIntegerField(
        default=30, help_text="On the first sync, orders created this many days back are read."
    )
    is_active = models.BooleanField(default=True)
    default_note = models.CharField(
        "default note to buyer",
        max_length=500,
        blank=True,
        help_text="Sent with every shipment where the channel shows the buyer a note, unless staff write one.",
    )

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

    def claim_sync(self, *, worker: str | None = None) -> bool:
        """Atomically mark this channel as syncing. False if another run holds it and is alive
        (renewed its heartbeat within SYNC_HEARTBEAT_STALE_SECONDS). A dead run's claim is taken
        over; the sync then continues from the cursor saved after its last page."""
        now = timezone.now()
        worker = worker or worker_name()
        claimed = (
            Channel.objects.filter(pk=self.pk)
            .filter(Q(sync_started_at__isnull=True) | _stale_claim(sync_stale_before(now)))
            .update(
                sync_started_at=now,
                sync_heartbeat_at=now,
                sync_claimed_by=worker,
                last_sync_state=Channel.SyncState.RUNNING,
            )
        )
        if claimed:
            self.sync_started_at, self.sync_heartbeat_at, self.sync_claimed_by = now, now, worker
            self.cursor = Channel.objects.filter(pk=self.pk).values_list("cursor", flat=True).get()
        return bool(claimed)

    def _own_claim(self) -> Q:
        return Q(pk=self.pk, sync_started_at=self.sync_started_at, sync_claimed_by=self.sync_claimed_by)

    def renew_sync_heartbeat(self) -> bool:
        """Say this sync is alive. False when the claim is no longer ours (it went stale and
        another worker took it over): the caller must stop."""
        if self.sync_started_at is None:
            return True  # not running under a claim (a direct import, e.g. in a shell)
        now = timezone.now()
        if Channel.objects.filter(self._own_claim()).update(sync_heartbeat_at=now):
            self.sync_heartbeat_at = now
            return True
        return False

    def release_sync(self, *, state: str, summary: dict, error: str = "") -> bool:
        """End this run's claim with its outcome. False (and nothing written) if the claim was
        taken over meanwhile: the run that holds it now reports."""
        now = timezone.now()
        own = self._own_claim() if self.sync_started_at else Q(pk=self.pk)
        released = Channel.objects.filter(own).update(
            sync_started_at=None,
            sync_heartbeat_at=None,
            sync_claimed_by="",
            last_synced_at=now,
            last_sync_state=state,
            last_sync_summary=summary,
            last_error=error,
        )
        self.sync_started_at, self.sync_heartbeat_at, self.sync_claimed_by = None, None, ""
        if released:
            self.last_synced_at, self.last_sync_state = now, state
            self.last_sync_summary, self.last_error = summary, error
        return bool(released)

    def sync_task_name(self, why: str = "") -> str:
        """The django-q2 task name staff read in the task queue: "sync Etsy UK shop (webhook)"."""
        name = f"sync {self.name}" + (f" ({why})" if why else "")
        return name[:100]  # django_q.Task.name's length

    def is_syncing(self, now=None) -> bool:
        """A run holds the claim and is alive (renewed its heartbeat recently)."""
        if self.sync_started_at is None:
            return False
        beat = self.sync_heartbeat_at or self.sync_started_at
        return beat >= sync_stale_before(now)

    @property
    def syncing_since(self) -> str:
        """ "since 14:02:11 UTC by web-1:4242, last heartbeat 8 s ago", for "already syncing"."""
        if not self.sync_started_at:
            return ""
        beat = self.sync_heartbeat_at or self.sync_started_at
        age = max(0, int((timezone.now() - beat).total_seconds()))
        return (
            f"since {self.sync_started_at:%Y-%m-%d %H:%M:%S} UTC by {self.sync_claimed_by or 'an unknown worker'}, "
            f"last heartbeat {age} s ago"
        )

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
        constraints = [
            models.UniqueConstraint(fields=["channel", "remote_status"], name="uniq_status_mapping")
        ]

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
