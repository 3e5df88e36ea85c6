from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from channels.models import Channel
from orders import addresses, normalise


def end_of_day(now):
    """Midnight after `now`, in the install's time zone (TIME_ZONE)."""
    from datetime import datetime, time, timedelta

    from django.utils import timezone

    return timezone.make_aware(datetime.combine(timezone.localdate(now) + timedelta(days=1), time.min))


class OrderQuerySet(models.QuerySet):
    def awaiting_shipment(self):
        return self.filter(status=Order.Status.AWAITING_SHIPMENT)

    def to_ship(self):
        """Something of it is still ours to ship and nobody holds it."""
        return self.filter(status__in=[Order.Status.AWAITING_SHIPMENT, Order.Status.PARTLY_SHIPPED])

    def ship_by_today(self, now=None):
        """To ship, with a ship-by date later today (local time): the "to ship today" queue."""
        from django.utils import timezone

        now = now or timezone.now()
        return self.to_ship().filter(ship_by__gte=now, ship_by__lt=end_of_day(now))

    def late(self, now=None):
        """To ship, and its ship-by date has passed."""
        from django.utils import timezone

        return self.to_ship().filter(ship_by__lt=now or timezone.now())

    SEARCH_LIMIT = 5000
    PREFIX_FROM = 3  # normalised characters from which order numbers and postal codes match by prefix

    def search(self, term: str):
        """Staff search. Each branch is an exact or prefix match on an indexed column; the
        branches are gathered with one UNION of index lookups and the list is filtered by id, so
        a million orders answer as fast as a thousand (an OR of EXISTS would scan the table).
        Order numbers and postal codes match by prefix on their normal forms from PREFIX_FROM
        characters (`SO4A` finds `SO4A 1AA`, `#10` does not find every order from 100 up)."""
        term = (term or "").strip()
        if not term:
            return self
        from django.db import connections

        connection = connections[self.db]
        limit = self.SEARCH_LIMIT if connection.features.supports_slicing_ordering_in_compound else None
        base = Order.objects.using(self.db).order_by()
        number = normalise.order_number(term)
        branches = (
            [base.filter(_normal_match("order_number_norm", number, connection.vendor)).values("id")[:limit]]
            if number
            else []
        )
        if "@" in term:
            branches.append(base.filter(email_norm=normalise.email(term)).values("id")[:limit])
        else:
            postal = normalise.postal_code(term)
            if postal:
                branches.append(
                    base.filter(_normal_match("postal_code_norm", postal, connection.vendor)).values("id")[
                        :limit
                    ]
                )
            for variant in {term, term.title()}:
                branches.append(base.filter(customer_name__startswith=variant).values("id")[:limit])
            codes = list({term, term.upper()})
            branches.append(
                OrderLine.objects.using(self.db).order_by().filter(sku__in=codes).values("order_id")[:limit]
            )
            branches.append(
                Fulfilment.objects.using(self.db)
                .order_by()
                .filter(tracking_number__in=codes)
                .values("order_id")[:limit]
            )
        if not branches:
            return self.none()
        union = branches[0].union(*branches[1:]) if len(branches) > 1 else branches[0]
        # The ids are read here, not left as a subquery: PostgreSQL answers `id IN (subquery)`
        # of a few thousand ids with a hash join over the whole table, and `id IN (list)` with the
        # primary key index (measured by bench/admin.py at 100,000 orders).
        return self.filter(pk__in=[row["id"] for row in union])


def _normal_match(column: str, value: str, vendor: str) -> models.Q:
    """`column` (a normal form: digits and capitals only) equal to `value`, or starting with it
    once `value` is long enough. On PostgreSQL a LIKE 'value%', answered by the
    varchar_pattern_ops index Django adds beside every indexed CharField (right under any
    collation); elsewhere a range (>= value, < value + U+FFFF) that the column's plain b-tree
    answers (SQLite's LIKE is case-insensitive and skips indexes; it compares text bytewise)."""
    if len(value) < OrderQuerySet.PREFIX_FROM:
        return models.Q(**{column: value})
    if vendor == "postgresql":
        return models.Q(**{f"{column}__startswith": value})
    return models.Q(**{f"{column}__gte": value, f"{column}__lt": value + "\uffff"})


class Order(models.Model):
    class Status(models.TextChoices):
        AWAITING_SHIPMENT = "awaiting_shipment", "Awaiting shipment"
        ON_HOLD = "on_hold", "On hold"
        # Some physical lines are in parcels (own or a supplier's), others still open.
        PARTLY_SHIPPED = "partly_shipped", "Partly shipped"
        SHIPPED = "shipped", "Shipped"
        DELIVERED = "delivered", "Delivered"
        CANCELLED = "cancelled", "Cancelled"

    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="orders")
    external_id = models.CharField(max_length=100)
    order_number = models.CharField(max_length=100)
    order_number_norm = models.CharField(max_length=100, editable=False, db_index=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.AWAITING_SHIPMENT)
    remote_status = models.CharField(max_length=100, blank=True)
    hold_reason = models.CharField(max_length=200, blank=True)

    customer_name = models.CharField(max_length=200, blank=True, db_index=True)
    email = models.EmailField(max_length=254, blank=True)
    email_norm = models.CharField(max_length=254, blank=True, editable=False, db_index=True)
    phone = models.CharField(max_length=50, blank=True)

    ship_name = models.CharField("recipient", max_length=200, blank=True)
    ship_company = models.CharField("company", max_length=200, blank=True)
    ship_line1 = models.CharField("address line 1", max_length=200, blank=True)
    ship_line2 = models.CharField("address line 2", max_length=200, blank=True)
    ship_city = models.CharField("city", max_length=100, blank=True)
    ship_state = models.CharField("state / region", max_length=100, blank=True)
    ship_postal_code = models.CharField("postal code", max_length=20, blank=True)
    postal_code_norm = models.CharField(max_length=20, blank=True, editable=False, db_index=True)
    ship_country = models.CharField("country", max_length=2, blank=True, help_text="ISO 3166-1 alpha-2")
    ship_phone = models.CharField("recipient phone", max_length=50, blank=True)

    requested_service = models.CharField(max_length=200, blank=True, db_index=True)
    payment_method = models.CharField(max_length=100, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    total = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    discount_total = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    coupon_codes = models.CharField(max_length=300, blank=True)
    is_gift = models.BooleanField(default=False)
    gift_message = models.TextField(blank=True)
    customer_note = models.TextField(blank=True)
    internal_note = models.TextField(blank=True)
    total_weight_g = models.PositiveIntegerField("total weight (g)", null=True, blank=True)

    ordered_at = models.DateTimeField()
    # The channel's latest ship date (Amazon LatestShipDate, eBay shipByDate, Etsy
    # expected_ship_date), where it gives one: the desk's "to ship today" and "late" queues.
    ship_by = models.DateTimeField("ship by", null=True, blank=True, db_index=True)
    remote_updated_at = models.DateTimeField(null=True, blank=True)
    imported_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    shipped_at = models.DateTimeField(null=True, blank=True, db_index=True)  # the desk's daily chart
    delivered_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    address_locked = models.BooleanField(default=False, help_text="Set once a supplier has the order.")
    # Digest of the channel's data as last imported: a replayed page with the same data changes nothing.
    payload_hash = models.CharField(max_length=64, blank=True, editable=False)

    objects = OrderQuerySet.as_manager()

    class Meta:
        ordering = ["-ordered_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "external_id"], name="uniq_order_per_channel")
        ]
        permissions = [("import_shipments", "Can import shipments from a spreadsheet")]
        indexes = [
            models.Index(fields=["-ordered_at", "-id"], name="order_list_default"),
            models.Index(fields=["status", "-ordered_at"], name="order_status_date"),
            models.Index(fields=["channel", "status", "-ordered_at"], name="order_channel_status_date"),
            models.Index(fields=["order_number_norm", "postal_code_norm"], name="order_lookup"),
            # The order list's sortable columns at a million rows: each (column, id), read forwards
            # or backwards (orders.admin.FastChangeList breaks ties in the column's direction).
            models.Index(fields=["total", "id"], name="order_total_id"),
            models.Index(fields=["status", "id"], name="order_status_id"),
            models.Index(fields=["channel", "id"], name="order_channel_id"),
            models.Index(fields=["ship_country", "id"], name="order_country_id"),
            models.Index(fields=["requested_service", "id"], name="order_service_id"),
            models.Index(fields=["ship_by", "id"], name="order_ship_by_id"),
            # The desk's "to ship today" and "late" queues: open statuses, by ship-by date.
            models.Index(fields=["status", "ship_by"], name="order_status_ship_by"),
        ]

    def __str__(self):
        return f"#{self.order_number}" if not self.order_number.startswith("#") else self.order_number

    def save(self, *args, **kwargs):
        self.fill_normal_forms()
        super().save(*args, **kwargs)

    def fill_normal_forms(self):
        self.order_number_norm = normalise.order_number(self.order_number)
        self.email_norm = normalise.email(self.email)
        self.postal_code_norm = normalise.postal_code(self.ship_postal_code)

    @property
    def address_lines(self) -> list[str]:
        return addresses.address_lines(
            name=self.ship_name,
            company=self.ship_company,
            line1=self.ship_line1,
            line2=self.ship_line2,
            city=self.ship_city,
            state=self.ship_state,
            postal_code=self.ship_postal_code,
            country=self.ship_country,
        )


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    external_id = models.CharField(max_length=100)
    sku = models.CharField("SKU", max_length=100, blank=True, db_index=True)
    title = models.CharField(max_length=300)
    quantity = models.PositiveIntegerField(default=1)
    unit_price = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    weight_g = models.PositiveIntegerField("weight (g)", null=True, blank=True)
    image_url = models.URLField(max_length=500, blank=True)
    options = models.JSONField(default=dict, blank=True)
    stock_location = models.CharField(max_length=100, blank=True)
    is_physical = models.BooleanField(default=True)
    # Set (through orders.services) when a dropshipping supplier ships this line: Shipdesk never
    # puts it in a parcel of its own, whatever the supplier order's state.
    dropshipped_by = models.CharField("shipped by supplier", max_length=200, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["order", "external_id"], name="uniq_line_per_order")]

    def __str__(self):
        return f"{self.quantity} × {self.sku or self.title}"

    @property
    def options_display(self) -> str:
        return ", ".join(f"{k}: {v}" for k, v in (self.options or {}).items())


class Product(models.Model):
    """The catalogue entry behind a SKU: what a customs officer needs to know about it (issue 16).
    Filled by staff (admin, spreadsheet import) or from the channel where its API says; bookings
    read it by SKU for the lines a parcel holds."""

    sku = models.CharField("SKU", max_length=100, unique=True)
    title = models.CharField(max_length=300, blank=True)
    hs_code = models.CharField(
        "HS code",
        max_length=12,
        blank=True,
        help_text=_("Harmonized System tariff code, 6 to 10 digits, e.g. 691200"),
    )
    origin_country = models.CharField(
        _("country of origin"), max_length=2, blank=True, help_text=_("ISO 3166-1 alpha-2, where it was made")
    )
    customs_description = models.CharField(
        max_length=255,
        blank=True,
        help_text=_("What it is, in plain words a customs officer reads: “ceramic mug”"),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sku"]

    def __str__(self):
        return self.sku

    def save(self, *args, **kwargs):
        self.hs_code = "".join(ch for ch in self.hs_code or "" if ch.isdigit())
        self.origin_country = (self.origin_country or "").strip().upper()
        super().save(*args, **kwargs)

    def clean(self):
        from django.core.exceptions import ValidationError

        digits = "".join(ch for ch in self.hs_code or "" if ch.isdigit())
        if self.hs_code and not 6 <= len(digits) <= 10:
            raise ValidationError({"hs_code": _("An HS code has 6 to 10 digits.")})
        country = (self.origin_country or "").strip()
        if country and (len(country) != 2 or not country.isalpha()):
            raise ValidationError({"origin_country": _("Use the ISO 3166-1 alpha-2 code, e.g. FR.")})


class OrderEvent(models.Model):
    class Kind(models.TextChoices):
        IMPORTED = "imported", "Imported"
        UPDATED = "updated", "Updated from channel"
        STATUS = "status", "Status changed"
        BOOKED = "booked", "Shipment booked"
        SHIPMENT_CANCELLED = "shipment_cancelled", "Shipment cancelled"
        PUSHED = "pushed", "Sent to channel"
        PUSH_BLOCKED = "push_blocked", "Blocked"
        PUSH_FAILED = "push_failed", "Push failed"
        TRACKING = "tracking", "Tracking update"
        EMAIL = "email", "Email sent"
        NOTE = "note", "Note"
        RETURN = "return", "Return"
        SUPPLIER = "supplier", "Supplier"
        ERROR = "error", "Error"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    message = models.TextField()
    data = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["order", "-created_at"], name="event_order_date")]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.message}"

    @property
    def is_error(self) -> bool:
        return self.kind in (self.Kind.ERROR, self.Kind.PUSH_FAILED, self.Kind.PUSH_BLOCKED)


class SkippedOrder(models.Model):
    """An order a sync saw and did not import, with the reason. Removed when it later qualifies."""

    class Reason(models.TextChoices):
        UNPAID = "unpaid", "Not paid"
        SHIPPED = "shipped", "Already shipped"
        CANCELLED = "cancelled", "Cancelled"
        DIGITAL_ONLY = "digital_only", "Digital items only"
        NO_ADDRESS = "no_address", "No shipping address"
        OUTSIDE_WINDOW = "outside_window", "Outside the import window"
        UNMAPPED_STATUS = "unmapped_status", "Unmapped status"
        MALFORMED = "malformed", "Malformed order"

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="skipped_orders")
    external_id = models.CharField(max_length=100)
    order_number = models.CharField(max_length=100, db_index=True)
    reason = models.CharField(max_length=20, choices=Reason.choices, db_index=True)
    detail = models.CharField(max_length=500, blank=True)
    remote_status = models.CharField(max_length=100, blank=True)
    first_seen_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["-last_seen_at"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "external_id"], name="uniq_skipped_per_channel")
        ]

    def __str__(self):
        return f"{self.order_number}: {self.get_reason_display()}"


class FulfilmentQuerySet(models.QuerySet):
    def live(self):
        """Fulfilments that still cover their lines: not withdrawn, not retracted or being
        retracted (a cancelled label's lines are open again)."""
        return self.filter(state__in=Fulfilment.LIVE_STATES, retract_requested_at__isnull=True)


class Fulfilment(models.Model):
    """The outbox to the channel: what it will be told about one shipment."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        BLOCKED = "blocked", "Blocked"
        FAILED = "failed", "Failed"
        # Its label was cancelled after the channel heard: the channel is being put right
        # (`retract_requested_at`), or was (CANCELLED), or staff must do it there (ATTENTION).
        CANCELLED = "cancelled", "Withdrawn from the channel"
        ATTENTION = "attention", "Needs attention"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="fulfilments")
    tracking_number = models.CharField(max_length=100, blank=True, db_index=True)
    carrier_name = models.CharField("tracking company", max_length=100, blank=True)
    service = models.CharField(max_length=100, blank=True)
    tracking_url = models.URLField(max_length=500, blank=True)
    note = models.CharField("note to buyer", max_length=500, blank=True)
    notify_customer = models.BooleanField(default=True)
    lines = models.JSONField(
        default=list, blank=True, help_text="[[line external id, quantity], …]: what the parcel holds"
    )
    supplier = models.CharField(
        max_length=200, blank=True, help_text="The dropshipping supplier who shipped it"
    )
    fee = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    fee_currency = models.CharField(max_length=3, blank=True)
    # A relabel: this fulfilment replaces that one on the channel (update its tracking where the API can).
    replaces = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    retract_requested_at = models.DateTimeField(
        null=True, blank=True, help_text="Its label was cancelled after it was sent"
    )
    attention = models.TextField(blank=True, help_text="What staff must do on the channel")
    attention_done_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    remote_id = models.CharField(max_length=100, blank=True)
    sent_payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    objects = FulfilmentQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="fulfilment_due")]

    def __str__(self):
        return f"{self.order} {self.tracking_number or '(no tracking)'} [{self.state}]"

    @property
    def needs_attention(self) -> bool:
        """The channel was not (or could not be) told: staff must act."""
        return self.state in (self.State.BLOCKED, self.State.FAILED) or (
            self.state == self.State.ATTENTION and self.attention_done_at is None
        )


Fulfilment.LIVE_STATES = (
    Fulfilment.State.PENDING,
    Fulfilment.State.SENT,
    Fulfilment.State.BLOCKED,
    Fulfilment.State.FAILED,
)


class RemoteProductCache(models.Model):
    """Per-channel cache of product facts an order payload lacks (Etsy weight and image)."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    data = models.JSONField(default=dict)
    fetched_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["channel", "key"], name="uniq_product_cache")]

    def __str__(self):
        return self.key


class AlertSubscription(models.Model):
    """A staff member who wants email about errors on some channels, or on all of them."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_subscriptions"
    )
    channel = models.ForeignKey(Channel, null=True, blank=True, on_delete=models.CASCADE)
    all_channels = models.BooleanField(default=False)

    def __str__(self):
        return f"{self.user} → {'all channels' if self.all_channels else self.channel}"


class StaffAlert(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    channel = models.ForeignKey(Channel, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    subject = models.CharField(max_length=200)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True, db_index=True)

    def __str__(self):
        return self.subject


class ExportJob(models.Model):
    """A spreadsheet export too big to write inside a web request (an XLSX of many rows): the
    list's query, resource and columns, written by the task cluster to a file staff download.
    Like every unit of work it is a row with a claim and a heartbeat: the every-minute dispatcher
    queues it again if its worker dies (orders.exporting)."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Ready to download"
        FAILED = "failed", "Failed"

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    model_label = models.CharField(max_length=100)  # "orders.order": the list exported
    resource_path = models.CharField(max_length=200)  # the import-export resource's dotted path
    selected_fields = models.JSONField(default=list, blank=True)
    query = models.BinaryField()  # the list's pickled QuerySet.query (filters, search, ordering)
    file_format = models.CharField(max_length=10)  # "xlsx" or "csv"
    filename = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    claimed_by = models.CharField(max_length=100, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    file = models.FileField(upload_to="exports/", blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"Export #{self.pk}: {self.filename}"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

    @property
    def percent(self) -> int:
        return (
            100 if self.status == self.Status.DONE else int(100 * self.done / self.total) if self.total else 0
        )
