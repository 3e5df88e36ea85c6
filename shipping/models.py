import secrets
from decimal import Decimal

from django.conf import settings
from django.db import models

from channels.fields import EncryptedJSONField
from orders.models import Fulfilment, Order


class Address(models.Model):
    label = models.CharField(max_length=100, unique=True, help_text="How staff call it: “Leeds warehouse”")
    name = models.CharField(max_length=200)
    company = models.CharField(max_length=200, blank=True)
    line1 = models.CharField("address line 1", max_length=200)
    line2 = models.CharField("address line 2", max_length=200, blank=True)
    city = models.CharField(max_length=100)
    state = models.CharField("state / region", max_length=100, blank=True)
    postal_code = models.CharField(max_length=20)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2")
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=50, blank=True)

    class Meta:
        ordering = ["label"]
        verbose_name_plural = "addresses"

    def __str__(self):
        return self.label

    @property
    def lines(self) -> list[str]:
        city_line = " ".join(x for x in (self.postal_code, self.city) if x)
        return [x for x in (self.name, self.company, self.line1, self.line2, city_line, self.state, self.country) if x]


class Brand(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(unique=True)
    logo = models.FileField(upload_to="brands/", blank=True)
    primary_color = models.CharField(max_length=7, default="#1f4e79", help_text="Hex colour, e.g. #1f4e79")
    accent_color = models.CharField(max_length=7, default="#f2b134")
    sender_address = models.ForeignKey(Address, on_delete=models.PROTECT, related_name="+")
    return_address = models.ForeignKey(Address, on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    is_default = models.BooleanField(default=False, help_text="Used when no shipping rule picks a brand.")

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class CarrierAccount(models.Model):
    class Kind(models.TextChoices):
        SELFPRINT = "selfprint", "Own account (self-printed labels)"
        SENDCLOUD = "sendcloud", "Sendcloud"

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.SELFPRINT)
    api_base_url = models.URLField("API base URL", max_length=500, blank=True)
    credentials = EncryptedJSONField(default=dict, blank=True)
    default_service = models.CharField(max_length=100, blank=True, help_text="e.g. Tracked 48")
    tracking_company = models.CharField(
        max_length=100, blank=True, help_text="Who carries the parcel, as channels are told (Royal Mail, USPS…)"
    )
    tracking_url_template = models.CharField(
        max_length=300, blank=True, help_text="e.g. https://track.example.com/?n={tracking_number}"
    )
    prefix = models.CharField(max_length=2, default="SD", help_text="Self-printed tracking numbers start with this")
    is_active = models.BooleanField(default=True)
    is_default = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def adapter(self):
        from shipping.carriers import get_carrier

        return get_carrier(self)


def _public_token() -> str:
    return secrets.token_urlsafe(16)


class Shipment(models.Model):
    class Status(models.TextChoices):
        BOOKED = "booked", "Label booked"
        IN_TRANSIT = "in_transit", "In transit"
        DELIVERED = "delivered", "Delivered"
        CANCEL_REQUESTED = "cancel_requested", "Cancellation queued"
        CANCELLED = "cancelled", "Cancelled"
        EXCEPTION = "exception", "Problem"

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="shipments")
    fulfilment = models.OneToOneField(Fulfilment, null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="shipment")
    # Empty for a shipment booked outside Shipdesk (recorded from a CSV, or by a dropshipping supplier).
    carrier_account = models.ForeignKey(CarrierAccount, on_delete=models.PROTECT, related_name="shipments",
                                        null=True, blank=True)
    brand = models.ForeignKey(Brand, null=True, blank=True, on_delete=models.SET_NULL, related_name="shipments")
    sender_address = models.ForeignKey(Address, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    service = models.CharField(max_length=100, blank=True)
    tracking_number = models.CharField(max_length=100, blank=True, db_index=True)
    tracking_url = models.URLField(max_length=500, blank=True)
    tracking_company = models.CharField(max_length=100, blank=True)
    external_id = models.CharField(max_length=100, blank=True, help_text="The carrier's id for the parcel")
    idempotency_key = models.CharField(max_length=100, unique=True)
    label = models.FileField(upload_to="labels/%Y/%m/", blank=True)
    fee = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0"))
    currency = models.CharField(max_length=3, blank=True)
    weight_g = models.PositiveIntegerField("weight (g)", null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.BOOKED, db_index=True)
    decision = models.JSONField(default=dict, blank=True, help_text="Which rule and mapping chose the carrier, and why")
    public_token = models.CharField(max_length=32, unique=True, default=_public_token, editable=False)
    booked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.tracking_number or 'shipment'} ({self.order})"

    @property
    def is_open(self) -> bool:
        return self.status in (self.Status.BOOKED, self.Status.CANCEL_REQUESTED)

    @property
    def is_external(self) -> bool:
        return self.carrier_account_id is None


class BulkJob(models.Model):
    """A long piece of work staff started from the admin (book 200 orders, import a CSV), run by
    the task cluster. Staff can leave and come back: progress and results live here."""

    class Kind(models.TextChoices):
        BOOK_ORDERS = "book_orders", "Book selected orders"
        CSV_BOOK = "csv_book", "CSV: book shipments"
        CSV_RECORD = "csv_record", "CSV: record shipments booked elsewhere"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    params = models.JSONField(default=dict, blank=True, help_text="What to do: order ids, options…")
    results = models.JSONField(default=list, blank=True, help_text="One entry per item: id, ok, message")
    message = models.TextField(blank=True)
    source_file = models.FileField(upload_to="jobs/source/%Y/%m/", blank=True)
    output_file = models.FileField(upload_to="jobs/output/%Y/%m/", blank=True, help_text="e.g. merged labels PDF")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.get_kind_display()} #{self.pk}"

    @property
    def percent(self) -> int:
        return int(100 * (self.done + self.failed) / self.total) if self.total else (100 if self.status == "done" else 0)
