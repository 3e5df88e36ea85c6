"""API keys (api.keys) and outgoing webhook endpoints and deliveries (api.webhooks) live here."""


# ---------------------------------------------------------------------------------------------
# Outgoing webhooks: endpoints staff register, and one delivery row per (event, endpoint).

import base64  # noqa: E402
import secrets  # noqa: E402
import uuid  # noqa: E402

from django.conf import settings  # noqa: E402
from django.db import models  # noqa: E402
from django.utils.translation import gettext_lazy as _  # noqa: E402


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
