import secrets
from decimal import Decimal

from django.conf import settings
from django.db import models

from channels.fields import EncryptedJSONField
from channels.models import Channel
from orders.addresses import address_lines
from orders.models import Fulfilment, Order, OrderLine


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
    brand = models.ForeignKey(
        "Brand",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Parcels sent from this address carry this brand (unless a rule names one)",
    )

    class Meta:
        ordering = ["label"]
        verbose_name_plural = "addresses"

    def __str__(self):
        return self.label

    @property
    def lines(self) -> list[str]:
        return address_lines(
            name=self.name,
            company=self.company,
            line1=self.line1,
            line2=self.line2,
            city=self.city,
            state=self.state,
            postal_code=self.postal_code,
            country=self.country,
        )


class Brand(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(unique=True)
    logo = models.FileField(upload_to="brands/", blank=True)
    primary_color = models.CharField(max_length=7, default="#1f4e79", help_text="Hex colour, e.g. #1f4e79")
    accent_color = models.CharField(max_length=7, default="#f2b134")
    sender_address = models.ForeignKey(Address, on_delete=models.PROTECT, related_name="+")
    return_address = models.ForeignKey(
        Address, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    is_default = models.BooleanField(default=False, help_text="Used when no shipping rule picks a brand.")

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class CarrierAccount(models.Model):
    class Kind(models.TextChoices):
        SELFPRINT = "selfprint", "Own account (self-printed labels)"
        SENDCLOUD = "sendcloud", "Sendcloud"
        KARRIO = "karrio", "Direct carrier account (Karrio)"

    class LabelFormat(models.TextChoices):
        PDF = "pdf", "PDF"
        ZPL = "zpl", "ZPL (thermal printer)"

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.SELFPRINT)
    api_base_url = models.URLField("API base URL", max_length=500, blank=True)
    credentials = EncryptedJSONField(default=dict, blank=True)
    default_service = models.CharField(max_length=100, blank=True, help_text="e.g. Tracked 48")
    tracking_company = models.CharField(
        max_length=100,
        blank=True,
        help_text="Who carries the parcel, as channels are told (Royal Mail, USPS…)",
    )
    tracking_url_template = models.CharField(
        max_length=300, blank=True, help_text="e.g. https://track.example.com/?n={tracking_number}"
    )
    prefix = models.CharField(
        max_length=2, default="SD", help_text="Self-printed tracking numbers start with this"
    )
    return_service = models.CharField(
        max_length=100,
        blank=True,
        help_text="Service for return labels (Sendcloud: a shipping option code, e.g. postnl:return)",
    )
    # Direct carrier accounts (kind "karrio"): which installed Karrio extension drives the account
    # (its id, e.g. "ups", "mydhl", "canadapost"; choices come from the installed extensions, so
    # they are not fixed in the schema), test or live host, and the label format the account asks for.
    karrio_carrier = models.CharField(
        "carrier",
        max_length=50,
        blank=True,
        help_text="Direct carrier accounts: the Karrio extension that speaks this carrier's API",
    )
    test_mode = models.BooleanField(
        default=True,
        help_text="Direct carrier accounts: use the carrier's test host (when no API base URL is set)",
    )
    label_format = models.CharField(
        max_length=3,
        choices=LabelFormat.choices,
        default=LabelFormat.PDF,
        help_text="ZPL for thermal printers, where the carrier offers it",
    )
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


class Package(models.Model):
    """A box or envelope: its dimensions go to the carrier, its own weight is added to the parcel's."""

    name = models.CharField(max_length=100, unique=True)
    length_cm = models.DecimalField(max_digits=6, decimal_places=1, null=True, blank=True)
    width_cm = models.DecimalField(max_digits=6, decimal_places=1, null=True, blank=True)
    height_cm = models.DecimalField(max_digits=6, decimal_places=1, null=True, blank=True)
    tare_g = models.PositiveIntegerField("own weight (g)", default=0)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class ShippingMapping(models.Model):
    """How one channel's orders ship by default, and (in its lines) per requested service."""

    channel = models.OneToOneField(Channel, on_delete=models.CASCADE, related_name="shipping_mapping")
    shipping_name = models.CharField(
        "default shipping name",
        max_length=100,
        blank=True,
        help_text="The shipping method the channel is told, e.g. “Standard”. Empty: the carrier's service.",
    )
    carrier_account = models.ForeignKey(
        CarrierAccount,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Empty: the default carrier account.",
    )
    service = models.CharField(
        max_length=100, blank=True, help_text="Empty: the carrier account's default service."
    )
    tracking_company = models.CharField(
        max_length=100,
        blank=True,
        help_text="Who carries the parcel, as the channel is told. Empty: the carrier account's tracking company.",
    )

    class Meta:
        ordering = ["channel__name"]

    def __str__(self):
        return f"Shipping for {self.channel}"


class ShippingMappingLine(models.Model):
    class Match(models.TextChoices):
        EXACT = "exact", "is"
        CONTAINS = "contains", "contains"

    mapping = models.ForeignKey(ShippingMapping, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField(default=0)
    requested_service = models.CharField(
        "channel's service",
        max_length=200,
        help_text="The service string the channel sends, e.g. “Std CA D2D Dom”",
    )
    match = models.CharField(max_length=10, choices=Match.choices, default=Match.EXACT)
    shipping_name = models.CharField(max_length=100, blank=True)
    carrier_account = models.ForeignKey(
        CarrierAccount, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    service = models.CharField(max_length=100, blank=True)
    tracking_company = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self):
        return f"{self.get_match_display()} “{self.requested_service}”"

    def matches(self, requested: str) -> bool:
        wanted, got = (
            " ".join(self.requested_service.split()).lower(),
            " ".join((requested or "").split()).lower(),
        )
        if not wanted:
            return False
        return wanted == got if self.match == self.Match.EXACT else wanted in got


class ShippingRule(models.Model):
    """If an order matches every condition set here, these actions apply. Rules run in order;
    for each action the first matching rule that sets it wins."""

    name = models.CharField(max_length=100)
    position = models.PositiveIntegerField(default=0, db_index=True, help_text="Lower runs first")
    is_active = models.BooleanField(default=True)
    # Conditions: empty means “any”.
    channel = models.ForeignKey(
        Channel,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="The shop the order came from",
    )
    countries = models.CharField(
        "destination countries",
        max_length=300,
        blank=True,
        help_text="ISO codes separated by commas, e.g. “GB, IE”",
    )
    min_weight_g = models.PositiveIntegerField("weight from (g)", null=True, blank=True)
    max_weight_g = models.PositiveIntegerField("weight up to (g)", null=True, blank=True)
    requested_service = models.CharField(
        max_length=200, blank=True, help_text="The channel's requested service contains this text"
    )
    sku = models.CharField(
        "SKU",
        max_length=100,
        blank=True,
        help_text="The order has a line with this SKU; * matches anything, e.g. “MUG-*”",
    )
    min_total = models.DecimalField(
        "order total from", max_digits=12, decimal_places=2, null=True, blank=True
    )
    max_total = models.DecimalField(
        "order total up to", max_digits=12, decimal_places=2, null=True, blank=True
    )
    # Actions: empty means “this rule does not decide it”.
    brand = models.ForeignKey(Brand, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    sender_address = models.ForeignKey(
        Address,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Ship from this address (else the brand's sender address)",
    )
    carrier_account = models.ForeignKey(
        CarrierAccount, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    service = models.CharField(max_length=100, blank=True)
    package = models.ForeignKey(Package, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["position", "id"]

    def __str__(self):
        return self.name

    @property
    def country_list(self) -> list[str]:
        return [c.strip().upper() for c in self.countries.replace(";", ",").split(",") if c.strip()]

    def clean(self):
        from django.core.exceptions import ValidationError

        if not any(
            [self.brand_id, self.sender_address_id, self.carrier_account_id, self.service, self.package_id]
        ):
            raise ValidationError(
                "Choose at least one action: brand, sender address, carrier, service or package."
            )
        if (
            self.min_weight_g is not None
            and self.max_weight_g is not None
            and self.min_weight_g > self.max_weight_g
        ):
            raise ValidationError({"max_weight_g": "The upper weight is below the lower one."})
        if self.min_total is not None and self.max_total is not None and self.min_total > self.max_total:
            raise ValidationError({"max_total": "The upper total is below the lower one."})
        bad = [c for c in self.country_list if len(c) != 2 or not c.isalpha()]
        if bad:
            raise ValidationError({"countries": f"Not ISO 3166-1 alpha-2 codes: {', '.join(bad)}"})


class ShipmentQuerySet(models.QuerySet):
    def open(self):
        return self.filter(status__in=[Shipment.Status.BOOKED, Shipment.Status.CANCEL_REQUESTED])

    def trackable(self):
        """Shipments whose parcel may still change: booked, moving, or waiting for a queued cancellation."""
        return self.filter(
            status__in=[
                Shipment.Status.BOOKED,
                Shipment.Status.IN_TRANSIT,
                Shipment.Status.CANCEL_REQUESTED,
                Shipment.Status.EXCEPTION,
            ],
            carrier_account__isnull=False,
        )


class Shipment(models.Model):
    class Status(models.TextChoices):
        BOOKED = "booked", "Label booked"
        IN_TRANSIT = "in_transit", "In transit"
        DELIVERED = "delivered", "Delivered"
        CANCEL_REQUESTED = "cancel_requested", "Cancellation queued"
        CANCELLED = "cancelled", "Cancelled"
        EXCEPTION = "exception", "Problem"

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="shipments")
    fulfilment = models.OneToOneField(
        Fulfilment, null=True, blank=True, on_delete=models.SET_NULL, related_name="shipment"
    )
    # Empty for a shipment booked outside Shipdesk (recorded from a CSV, or by a dropshipping supplier).
    carrier_account = models.ForeignKey(
        CarrierAccount, on_delete=models.PROTECT, related_name="shipments", null=True, blank=True
    )
    brand = models.ForeignKey(
        Brand, null=True, blank=True, on_delete=models.SET_NULL, related_name="shipments"
    )
    sender_address = models.ForeignKey(
        Address, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    service = models.CharField(max_length=100, blank=True)
    tracking_number = models.CharField(max_length=100, blank=True, db_index=True)
    tracking_url = models.URLField(max_length=500, blank=True)
    tracking_company = models.CharField(max_length=100, blank=True, db_index=True)
    external_id = models.CharField(max_length=100, blank=True, help_text="The carrier's id for the parcel")
    idempotency_key = models.CharField(max_length=100, unique=True)
    label = models.FileField(upload_to="labels/%Y/%m/", blank=True)
    label_format = models.CharField(
        max_length=3, default="pdf", help_text="pdf, or zpl (the carrier's thermal-printer label)"
    )
    fee = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0"))
    currency = models.CharField(max_length=3, blank=True)
    weight_g = models.PositiveIntegerField("weight (g)", null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.BOOKED, db_index=True)
    decision = models.JSONField(
        default=dict, blank=True, help_text="Which rule and mapping chose the carrier, and why"
    )
    public_token = models.CharField(max_length=32, unique=True, default=_public_token, editable=False)
    booked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    package = models.ForeignKey("Package", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    shipping_name = models.CharField(
        max_length=100, blank=True, help_text="The shipping method the channel is told"
    )
    label_size = models.CharField(max_length=2, default="a6", help_text="a6 (label printer) or a4 (sheet)")
    # Set the first time staff download the label (alone, in a job's merged PDF or a printed
    # selection): the desk's "labels not yet printed" queue is booked labels without it.
    label_printed_at = models.DateTimeField("label printed", null=True, blank=True)
    note = models.CharField("note to buyer", max_length=500, blank=True)
    # Tracking, written by shipping.tracking only.
    carrier_status = models.CharField(max_length=50, blank=True, help_text="The carrier's last status code")
    carrier_status_message = models.CharField(max_length=200, blank=True)
    carrier_status_at = models.DateTimeField(null=True, blank=True)
    last_tracked_at = models.DateTimeField(null=True, blank=True, help_text="Last poll or webhook")
    picked_up_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    objects = ShipmentQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "last_tracked_at"], name="shipment_tracking_due")]

    def __str__(self):
        return f"{self.tracking_number or 'shipment'} ({self.order})"

    @property
    def is_picked_up(self) -> bool:
        return self.status in (self.Status.IN_TRANSIT, self.Status.DELIVERED) or self.picked_up_at is not None

    @property
    def cancel_refusal(self) -> str:
        """Why this shipment cannot be cancelled now, in words for staff ("" when it can)."""
        if self.status == self.Status.CANCELLED:
            return "Already cancelled."
        if self.status == self.Status.CANCEL_REQUESTED:
            return "Cancellation queued: the carrier cancels it unless the parcel moves."
        if self.is_picked_up:
            when = self.picked_up_at or self.carrier_status_at
            return (
                f"The carrier picked the parcel up{' on ' + when.strftime('%d %b %Y %H:%M') if when else ''}; "
                "a label cannot be cancelled after pickup. Refuse the delivery or book a return instead."
            )
        if self.status == self.Status.EXCEPTION:
            return ""
        if self.is_external:
            return f"Booked outside Shipdesk: cancel it with {self.tracking_company or 'the carrier'}."
        return ""

    @property
    def is_open(self) -> bool:
        return self.status in (self.Status.BOOKED, self.Status.CANCEL_REQUESTED)

    @property
    def is_external(self) -> bool:
        return self.carrier_account_id is None


class ShipmentLine(models.Model):
    """What a parcel holds: an order line and how many of it."""

    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="shipment_lines")
    quantity = models.PositiveIntegerField()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["shipment", "order_line"], name="uniq_shipment_line"),
            models.CheckConstraint(
                condition=models.Q(quantity__gt=0), name="shipment_line_quantity_positive"
            ),
        ]

    def __str__(self):
        return f"{self.quantity} × {self.order_line.sku or self.order_line.title}"


class TrackingEvent(models.Model):
    """One thing the carrier said about a parcel (webhook or poll), shown on the tracking page."""

    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="tracking_events")
    code = models.CharField(max_length=50, help_text="The carrier's status code or name")
    status = models.CharField(
        max_length=20, blank=True, help_text="What it means for the shipment, if anything"
    )
    message = models.CharField(max_length=300, blank=True)
    location = models.CharField(max_length=200, blank=True)
    occurred_at = models.DateTimeField()
    source = models.CharField(max_length=10, default="poll", help_text="webhook or poll")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["shipment", "code", "occurred_at"], name="uniq_tracking_event")
        ]

    def __str__(self):
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.message or self.code}"


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
        MERGING = "merging", "Merging labels"
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
    output_file = models.FileField(
        upload_to="jobs/output/%Y/%m/", blank=True, help_text="e.g. merged labels PDF"
    )
    slips_file = models.FileField(upload_to="jobs/output/%Y/%m/", blank=True, help_text="Packing slips PDF")
    # The merge step's claim (a bulk booking): who merges, and when it last said it was alive.
    claimed_by = models.CharField(max_length=100, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    alerted_at = models.DateTimeField(
        null=True, blank=True, help_text="When staff were emailed it failed or stalled"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.get_kind_display()} #{self.pk}"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

    @property
    def failures(self) -> list[dict]:
        if self.kind == self.Kind.BOOK_ORDERS and self.pk:
            items = self.items.filter(state=BulkJobItem.State.FAILED).select_related("order")
            return [
                {"order_id": i.order_id, "order": i.order_label, "ok": False, "message": i.message}
                for i in items
            ]
        return [r for r in self.results or [] if not r.get("ok")]

    @property
    def percent(self) -> int:
        return (
            int(100 * (self.done + self.failed) / self.total)
            if self.total
            else (100 if self.status == "done" else 0)
        )


class BulkJobItem(models.Model):
    """One order of a bulk booking: the unit of work any worker can claim, and the record of
    what became of it. A worker claims it with a conditional UPDATE and keeps `heartbeat_at`
    fresh; an item whose heartbeat went stale (its worker died) is claimed again, and its
    `reference` (the booking's idempotency key) makes the re-run find the label already bought."""

    class State(models.TextChoices):
        QUEUED = "queued", "Waiting"
        RUNNING = "running", "Booking"
        BOOKED = "booked", "Booked"
        FAILED = "failed", "Failed"

    job = models.ForeignKey(BulkJob, on_delete=models.CASCADE, related_name="items")
    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    order_label = models.CharField(
        max_length=100, blank=True, help_text="The order's number, kept if it is deleted"
    )
    position = models.PositiveIntegerField(
        help_text="Where staff selected it: the merged PDF follows this order"
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    attempts = models.PositiveIntegerField(default=0, help_text="How many times a worker claimed it")
    reference = models.CharField(
        max_length=100, blank=True, help_text="The booking reference of the last attempt"
    )
    claimed_by = models.CharField(max_length=100, blank=True, help_text="host:pid of the worker")
    claimed_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    shipment = models.ForeignKey(Shipment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    message = models.TextField(blank=True, help_text="Why it failed, in the carrier's or Shipdesk's words")
    finished_at = models.DateTimeField(null=True, blank=True)
    # A CSV "book" row: its checked booking choices (carrier_account_id, service, weight_g,
    # package_id or dimensions, note) and, for the failure report, its row number and cells.
    options = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["job", "position"]
        constraints = [models.UniqueConstraint(fields=["job", "position"], name="uniq_bulk_job_item")]
        indexes = [models.Index(fields=["job", "state"], name="bulk_item_state")]

    def __str__(self):
        return f"{self.order_label or self.order_id} in job #{self.job_id}: {self.get_state_display()}"


class EmailTemplate(models.Model):
    """The merchant's own words for a customer email, for one channel or for all of them."""

    class Kind(models.TextChoices):
        SHIPPED = "shipped", "Shipment confirmation"
        DELIVERED = "delivered", "Delivered"

    class Mode(models.TextChoices):
        AUTO = "auto", "On, unless the channel already emails the buyer"
        ON = "on", "Always send"
        OFF = "off", "Off"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    channel = models.ForeignKey(
        Channel,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="Empty: every channel without its own template",
    )
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.AUTO)
    subject = models.CharField(max_length=200)
    body = models.TextField(
        help_text="Django template syntax: {{ order }}, {{ customer_name }}, {{ tracking_number }}, "
        "{{ tracking_page }}, {{ carrier }}, {{ brand }}, {{ lines }}…"
    )

    class Meta:
        ordering = ["kind", "channel__name"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "channel"], name="uniq_email_template"),
            models.UniqueConstraint(
                fields=["kind"], condition=models.Q(channel__isnull=True), name="uniq_email_template_default"
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} ({self.channel or 'all channels'})"


class SentEmail(models.Model):
    """One customer email per shipment and kind, ever: the row is claimed before sending."""

    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="emails")
    kind = models.CharField(max_length=20, choices=EmailTemplate.Kind.choices)
    to = models.EmailField(blank=True)
    subject = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shipment", "kind"], name="uniq_sent_email")]

    def __str__(self):
        return f"{self.get_kind_display()} to {self.to or '—'}"
