"""API keys and idempotency records (api.keys), then outgoing webhook endpoints and deliveries
(api.webhooks)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

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
