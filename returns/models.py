"""Returns: each brand's policy, and the returns customers start in the portal."""

from __future__ import annotations

import secrets
import uuid
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q, Sum
from django.utils.translation import gettext_lazy as _

from orders.models import Order, OrderLine
from shipping.models import Brand, CarrierAccount


class Reason(models.TextChoices):
    """Why a customer sends an item back. A fixed catalogue (so every reason exists in every
    portal language); each brand's policy picks the ones its portal offers."""

    TOO_SMALL = "too_small", _("Too small")
    TOO_LARGE = "too_large", _("Too large")
    DAMAGED = "damaged", _("Arrived damaged")
    FAULTY = "faulty", _("Faulty or does not work")
    NOT_AS_DESCRIBED = "not_as_described", _("Not as described")
    WRONG_ITEM = "wrong_item", _("Wrong item sent")
    ARRIVED_LATE = "arrived_late", _("Arrived too late")
    CHANGED_MIND = "changed_mind", _("Changed my mind")
    OTHER = "other", _("Other reason")


def default_reasons() -> list[str]:
    return list(Reason.values)


class ReturnPolicy(models.Model):
    """What a brand's customers may return, and how. A brand without a policy row uses the
    defaults below (see returns.eligibility.policy_for)."""

    brand = models.OneToOneField(Brand, on_delete=models.CASCADE, related_name="return_policy")
    portal_enabled = models.BooleanField(default=True, help_text="Customers can start returns in the portal.")
    window_days = models.PositiveIntegerField(
        default=30,
        help_text="Days a customer has to start a return: counted from delivery (from dispatch when the "
        "delivery date is not known; from the order date for orders not sent through Shipdesk).",
    )
    non_returnable_skus = models.TextField(
        "non-returnable SKUs",
        blank=True,
        help_text="One SKU per line (or separated by commas): final-sale items.",
    )
    reasons = models.JSONField(default=default_reasons, help_text="The reasons the portal offers, in order.")
    requires_approval = models.BooleanField(
        "staff approve before the label",
        default=False,
        help_text="On: the customer gets the label only after staff approve the return.",
    )
    label_fee = models.DecimalField(
        max_digits=8,
        decimal_places=2,
        default=Decimal("0"),
        help_text="Deducted from the refund; 0 for free returns.",
    )
    label_fee_currency = models.CharField(max_length=3, blank=True, help_text="Empty: the order's currency.")
    allow_not_shipped_with_shipdesk = models.BooleanField(
        "allow returns for orders not shipped with Shipdesk",
        default=False,
        help_text="On: any imported order can be returned. Off: only orders with a Shipdesk shipment.",
    )
    allow_without_outbound_shipment = models.BooleanField(
        "allow returns without an outbound shipment",
        default=False,
        help_text="On: an order still awaiting shipment or partly shipped here can be returned (its goods left "
        "through a 3PL, a supplier, a shop counter). Returnable: what its recorded parcels hold, or, "
        "with no parcel recorded, its physical items. Off: such orders are refused.",
    )
    return_carrier = models.ForeignKey(
        CarrierAccount,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Books the return labels. Empty: the default active carrier account.",
    )

    class Meta:
        verbose_name_plural = "return policies"

    def __str__(self):
        return f"Return policy of {self.brand}"

    def clean(self):
        unknown = [r for r in (self.reasons or []) if r not in Reason.values]
        if unknown or not self.reasons:
            raise ValidationError({"reasons": "Pick at least one reason from the list."})

    @property
    def non_returnable_sku_set(self) -> set[str]:
        raw = (self.non_returnable_skus or "").replace(",", "\n")
        return {s.strip().upper() for s in raw.splitlines() if s.strip()}

    @property
    def reason_choices(self) -> list[tuple[str, str]]:
        labels = dict(Reason.choices)
        return [(r, labels[r]) for r in (self.reasons or []) if r in labels]


def _public_token() -> str:
    return secrets.token_urlsafe(16)


def _new_key() -> str:
    return uuid.uuid4().hex


class ReturnRequestQuerySet(models.QuerySet):
    def open(self):
        return self.exclude(status__in=[ReturnRequest.Status.REJECTED, ReturnRequest.Status.REFUNDED])

    def counting(self):
        """Returns whose items count as 'being returned' (everything except rejected ones)."""
        return self.exclude(status=ReturnRequest.Status.REJECTED)


class ReturnRequest(models.Model):
    class Status(models.TextChoices):
        AWAITING_APPROVAL = "awaiting_approval", _("Awaiting approval")
        APPROVED = "approved", _("Approved")
        LABEL_ISSUED = "label_issued", _("Label issued")
        REJECTED = "rejected", _("Rejected")
        RECEIVED = "received", _("Received")
        REFUNDED = "refunded", _("Refunded")

    class Source(models.TextChoices):
        PORTAL = "portal", "Portal"
        STAFF = "staff", "Staff (view as customer)"

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="returns")
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="returns")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.AWAITING_APPROVAL)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.PORTAL)
    # The confirm form carries this key: pressing "Confirm" twice finds the first return.
    idempotency_key = models.CharField(max_length=64, unique=True, default=_new_key, editable=False)
    public_token = models.CharField(max_length=32, unique=True, default=_public_token, editable=False)
    language = models.CharField(
        max_length=10, default="en", help_text="The customer's portal language (emails)"
    )
    customer_email = models.EmailField(blank=True)
    customer_note = models.TextField(blank=True)

    carrier_account = models.ForeignKey(
        CarrierAccount, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    service = models.CharField(max_length=100, blank=True)
    tracking_number = models.CharField(max_length=100, blank=True, db_index=True)
    tracking_url = models.URLField(max_length=500, blank=True)
    external_id = models.CharField(
        max_length=100, blank=True, help_text="The carrier's id for the return parcel"
    )
    label = models.FileField(upload_to="returns/labels/%Y/%m/", blank=True)
    qr_code = models.FileField(
        upload_to="returns/qr/%Y/%m/",
        blank=True,
        help_text="Label-free drop-off code, when the carrier offers one",
    )
    label_fee = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal("0"))
    carrier_fee = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal("0"))
    currency = models.CharField(max_length=3, blank=True)
    # Set by the one worker that books the label; a claim older than a few minutes is stale.
    label_claimed_at = models.DateTimeField(null=True, blank=True, editable=False)
    label_booked_at = models.DateTimeField(null=True, blank=True)
    label_error = models.TextField(blank=True)

    rejection_reason = models.TextField(blank=True)
    refund_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Staff who started it with “view as customer”",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    status_changed_at = models.DateTimeField(auto_now_add=True)
    received_at = models.DateTimeField(null=True, blank=True)
    refunded_at = models.DateTimeField(null=True, blank=True)

    objects = ReturnRequestQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "return"
        indexes = [models.Index(fields=["status", "-created_at"], name="return_queue")]

    def __str__(self):
        return self.number

    @property
    def number(self) -> str:
        return f"R{self.pk:06d}" if self.pk else "R(new)"

    @property
    def has_label(self) -> bool:
        return bool(self.label)

    @property
    def items_value(self) -> Decimal:
        return sum((ln.quantity * ln.order_line.unit_price for ln in self.lines.all()), Decimal("0"))


class ReturnLine(models.Model):
    return_request = models.ForeignKey(ReturnRequest, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="return_lines")
    quantity = models.PositiveIntegerField()
    reason = models.CharField(max_length=30, choices=Reason.choices, db_index=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="return_line_quantity_positive"),
            models.UniqueConstraint(fields=["return_request", "order_line"], name="uniq_return_line"),
        ]

    def __str__(self):
        return f"{self.quantity} × {self.order_line.sku or self.order_line.title}"


def quantities_being_returned(order: Order) -> dict[int, int]:
    """{order line id: quantity in returns that still count (not rejected)}."""
    rows = (
        ReturnLine.objects.filter(order_line__order=order)
        .exclude(return_request__status=ReturnRequest.Status.REJECTED)
        .values("order_line_id")
        .annotate(total=Sum("quantity"))
    )
    return {r["order_line_id"]: r["total"] for r in rows}
