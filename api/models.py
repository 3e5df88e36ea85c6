"""API keys and idempotency records (api.keys), then outgoing webhook endpoints and deliveries
(api.webhooks)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from orders.models import Order

# ---------------------------------------------------------------------------------------------
# API keys

KEY_PREFIX = "sdk"


class Scope(models.TextChoices):
    ORDERS_READ = "orders:read", _("Orders: read")
    ORDERS_WRITE = "orders:write", _("Orders: create")
    SHIPMENTS_READ = "shipments:read", _("Shipments: read, download labels")
    SHIPMENTS_WRITE = "shipments:write", _("Shipments: book and cancel")
    RETURNS_READ = "returns:read", _("Returns: read")
    RETURNS_WRITE = "returns:write", _("Returns: approve, reject, receive, refund")


def _digest(secret: str) -> str:
    # A key's secret is 32 random bytes: a plain SHA-256 cannot be brute-forced, and it keeps
    # every API call at one cheap hash (a password hasher would cost ~100 ms per call).
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKeyQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True)


class ApiKey(models.Model):
    """One integration's key. The full key (`sdk_<prefix>_<secret>`) is shown once, when it is
    created; Shipdesk keeps the prefix (to find the row) and a SHA-256 of the secret."""

    name = models.CharField(_("name"), max_length=100, unique=True, help_text=_("Who uses it, e.g. “ERP”."))
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(_("scopes"), default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def __str__(self):
        return self.name

    @classmethod
    def new(cls, *, name: str, scopes: list[str], created_by=None) -> tuple[ApiKey, str]:
        """Create a key; returns it and the full key text, which is never stored nor shown again."""
        key = cls(name=name, scopes=list(scopes), created_by=created_by)
        text = key.issue()
        key.save(force_insert=True)
        return key, text

    def issue(self) -> str:
        """Give this unsaved key its prefix and secret; returns the full key text (shown once)."""
        secret = secrets.token_urlsafe(32)
        self.prefix, self.secret_hash = secrets.token_hex(6), _digest(secret)
        return f"{KEY_PREFIX}_{self.prefix}_{secret}"

    @property
    def masked(self) -> str:
        return f"{KEY_PREFIX}_{self.prefix}_…"

    @classmethod
    def find(cls, text: str) -> ApiKey | None:
        """The active key `text` is, or None (unknown, malformed, wrong secret or revoked)."""
        parts = (text or "").strip().split("_", 2)
        if len(parts) != 3 or parts[0] != KEY_PREFIX:
            return None
        key = cls.objects.filter(prefix=parts[1]).first()
        if key is None or not hmac.compare_digest(key.secret_hash, _digest(parts[2])):
            return None
        return key

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def has_scope(self, scope: str) -> bool:
        return scope in (self.scopes or [])

    def revoke(self) -> bool:
        return bool(
            ApiKey.objects.filter(pk=self.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        )


class IdempotencyRecord(models.Model):
    """The first answer to a request sent with an `Idempotency-Key`: a retry with the same key and
    body gets it again; the same key with another body is refused."""

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    endpoint = models.CharField(max_length=200)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)  # null while in progress
    response = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["api_key", "key"], name="uniq_idempotency_key")]

    def __str__(self):
        return f"{self.api_key} {self.key}"


class ManualOrder(Order):
    """Orders of the manual / API channels, as staff add them by hand or from a spreadsheet in the
    admin (api/admin.py); the rows are plain orders."""

    class Meta:
        proxy = True
        verbose_name = _("order added by hand")
        verbose_name_plural = _("orders added by hand")


# ---------------------------------------------------------------------------------------------
# Outgoing webhooks: endpoints staff register, and one delivery row per (event, endpoint).


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def new_webhook_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


class WebhookEndpoint(models.Model):
    """A receiver outside Shipdesk (an ERP, a warehouse system) and the event types it wants."""

    url = models.URLField(_("URL"), max_length=500)
    description = models.CharField(_("description"), max_length=200, blank=True)
    event_types = models.JSONField(_("event types"), default=list, blank=True)
    secret = models.CharField(_("signing secret"), max_length=100, default=new_webhook_secret, editable=False)
    is_active = models.BooleanField(_("active"), default=True)
    disabled_at = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_reason = models.CharField(max_length=500, blank=True, editable=False)
    # Failed attempts in a row, and since when every attempt has failed (None: the last succeeded).
    consecutive_failures = models.PositiveIntegerField(default=0, editable=False)
    failing_since = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, editable=False
    )

    class Meta:
        ordering = ["url", "id"]
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")

    def __str__(self):
        return self.description or self.url

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        from api.webhooks import forget_subscriptions

        forget_subscriptions()

    def delete(self, *args, **kwargs):
        result = super().delete(*args, **kwargs)
        from api.webhooks import forget_subscriptions

        forget_subscriptions()
        return result


class WebhookDelivery(models.Model):
    """One event for one endpoint: the unit of work of the sender (claim, heartbeat, next attempt).
    `webhook_id` and `body` never change, so every retry (and a resend) is the same message."""

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Delivered")
        FAILED = "failed", _("Failed (gave up)")

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_type = models.CharField(_("event type"), max_length=50)
    webhook_id = models.CharField(max_length=50, unique=True, default=new_webhook_id, editable=False)
    body = models.TextField(help_text=_("The JSON sent, exactly as signed."))
    order_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    event_id = models.BigIntegerField(null=True, blank=True)
    state = models.CharField(max_length=20, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=100, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    request_headers = models.JSONField(default=dict, blank=True)
    response_status = models.PositiveIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)
    last_error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="webhook_delivery_due"),
            models.Index(fields=["endpoint", "-created_at"], name="webhook_delivery_endpoint"),
        ]

    def __str__(self):
        return f"{self.event_type} → {self.endpoint} ({self.webhook_id})"
