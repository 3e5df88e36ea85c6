"""Dropshipping: suppliers, their products and cost prices, the orders Shipdesk forwards to
them, and the batches in which staff pay those orders."""

from __future__ import annotations

import secrets
import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone

from channels.fields import EncryptedJSONField
from orders.models import Order, OrderLine


def _upload_token() -> str:
    return secrets.token_urlsafe(24)


def _reference() -> str:
    return "PO-" + uuid.uuid4().hex[:10].upper()


class PaymentGateway(models.Model):
    """An account with a payment gateway that Shipdesk pays suppliers through."""

    class Kind(models.TextChoices):
        STRIPE = "stripe", "Card via Stripe"
        PAYPAL = "paypal", "PayPal"

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    api_base_url = models.URLField(
        "API base URL",
        max_length=500,
        help_text="https://api.stripe.com/v1 or https://api-m.paypal.com (sandbox: https://api-m.sandbox.paypal.com)",
    )
    credentials = EncryptedJSONField(
        default=dict,
        blank=True,
        help_text='Stripe: {"secret_key", "payment_method"}; PayPal: {"client_id", "client_secret", "vault_id"}',
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def adapter(self):
        from suppliers.payments import get_gateway

        return get_gateway(self)


class Supplier(models.Model):
    class OrderMethod(models.TextChoices):
        API = "api", "Supplier API"
        EMAIL = "email", "Email with a CSV purchase order"

    class TrackingMethod(models.TextChoices):
        API = "api", "Polling the supplier API"
        PAGE = "page", "Supplier's private upload page"
        CSV = "csv", "CSV imported by staff"

    name = models.CharField(max_length=100, unique=True)
    contact_name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True, help_text="Purchase orders and the upload link go here.")
    phone = models.CharField(max_length=50, blank=True)
    currency = models.CharField(max_length=3, default="EUR", help_text="Cost prices and payments, ISO 4217")
    auto_order = models.BooleanField(
        "automatic orders",
        default=False,
        help_text="Send paid orders to the supplier at once. When off, paid orders wait for “Send to supplier”.",
    )
    allowed_gateways = models.ManyToManyField(
        PaymentGateway,
        blank=True,
        related_name="suppliers",
        help_text="The ways this supplier accepts payment.",
    )
    order_method = models.CharField(max_length=10, choices=OrderMethod.choices, default=OrderMethod.EMAIL)
    tracking_method = models.CharField(
        max_length=10, choices=TrackingMethod.choices, default=TrackingMethod.PAGE
    )
    api_base_url = models.URLField("API base URL", max_length=500, blank=True)
    credentials = EncryptedJSONField(default=dict, blank=True)
    watchlist_days = models.PositiveIntegerField(
        default=7, help_text="Placed orders without tracking after this many days are listed and alerted."
    )
    upload_token = models.CharField(max_length=64, unique=True, default=_upload_token, editable=False)
    is_active = models.BooleanField(default=True)
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def api(self):
        from suppliers.supplier_api import SupplierApi

        return SupplierApi(base_url=self.api_base_url, credentials=self.credentials)


class SupplierProduct(models.Model):
    """A SKU the merchant sells and the supplier ships. A SKU has at most one supplier."""

    supplier = models.ForeignKey(Supplier, on_delete=models.CASCADE, related_name="products")
    sku = models.CharField("SKU", max_length=100, unique=True, help_text="The SKU on the store's order lines")
    supplier_sku = models.CharField(
        "supplier's SKU", max_length=100, blank=True, help_text="The supplier's own code, when it differs"
    )
    title = models.CharField(max_length=300, blank=True)
    cost_price = models.DecimalField(max_digits=12, decimal_places=2, help_text="In the supplier's currency")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["sku"]
        permissions = [("import_supplierproduct", "Can import supplier products from CSV")]

    def __str__(self):
        return f"{self.sku} → {self.supplier}"


class PaymentBatch(models.Model):
    """Supplier orders of one supplier, paid together in one payment."""

    class Status(models.TextChoices):
        AWAITING_PAYMENT = "awaiting_payment", "Awaiting payment"
        PAID = "paid", "Paid"
        CANCELLED = "cancelled", "Cancelled"

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="payment_batches")
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.AWAITING_PAYMENT, db_index=True
    )
    currency = models.CharField(max_length=3)
    amount = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    gateway = models.ForeignKey(
        PaymentGateway, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Each attempt has its own idempotency key; a declined attempt moves to the next one, an
    # attempt without an answer (timeout, garbled reply) is retried with the same key.
    attempt = models.PositiveIntegerField(default=1)
    in_doubt = models.BooleanField(
        default=False, help_text="The last attempt got no clear answer from the gateway."
    )
    claimed_at = models.DateTimeField(null=True, blank=True, editable=False)
    remote_id = models.CharField("gateway payment id", max_length=100, blank=True)
    last_error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    paid_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "payment batches"

    def __str__(self):
        return f"Batch #{self.pk} ({self.supplier})"

    @property
    def idempotency_key(self) -> str:
        return f"shipdesk-batch-{self.uid}-{self.attempt}"


class SupplierOrderQuerySet(models.QuerySet):
    def awaiting_payment(self):
        return self.filter(status=SupplierOrder.Status.AWAITING_PAYMENT)

    def overdue(self, now=None):
        """Placed, no tracking yet, and past the supplier's watchlist days."""
        return self.filter(status=SupplierOrder.Status.PLACED, tracking_due_at__lt=now or timezone.now())


class SupplierOrder(models.Model):
    """The part of a store order one supplier ships."""

    class Status(models.TextChoices):
        AWAITING_PAYMENT = "awaiting_payment", "Awaiting payment"
        PAID = "paid", "Paid"
        PLACED = "placed", "Placed"
        SHIPPED = "shipped", "Shipped"
        CANCELLED = "cancelled", "Cancelled"

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="supplier_orders")
    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="orders")
    reference = models.CharField(
        max_length=20,
        unique=True,
        default=_reference,
        editable=False,
        help_text="Our purchase order number, as the supplier sees it",
    )
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.AWAITING_PAYMENT, db_index=True
    )
    currency = models.CharField(max_length=3)
    total_cost = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    batch = models.ForeignKey(
        PaymentBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="supplier_orders"
    )
    remote_id = models.CharField("supplier's order id", max_length=100, blank=True)
    placed_at = models.DateTimeField(null=True, blank=True)
    tracking_due_at = models.DateTimeField(
        null=True, blank=True, db_index=True, help_text="Placed + the supplier's watchlist days"
    )
    shipped_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    tracking_number = models.CharField(max_length=100, blank=True, db_index=True)
    carrier = models.CharField(max_length=100, blank=True)
    tracking_url = models.URLField(max_length=500, blank=True)
    shipment = models.ForeignKey(
        "shipping.Shipment", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_error = models.TextField(blank=True)
    watch_alerted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = SupplierOrderQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["order", "supplier"], name="uniq_supplier_order")]
        indexes = [
            models.Index(fields=["supplier", "status", "-created_at"], name="supplier_order_list"),
            models.Index(fields=["status", "tracking_due_at"], name="supplier_order_watch"),
        ]

    def __str__(self):
        return f"{self.reference} ({self.supplier}, {self.order})"


class SupplierOrderLine(models.Model):
    supplier_order = models.ForeignKey(SupplierOrder, on_delete=models.CASCADE, related_name="lines")
    # A store line goes to one supplier at most: routing twice creates nothing new.
    order_line = models.OneToOneField(OrderLine, on_delete=models.PROTECT, related_name="supplier_line")
    sku = models.CharField("SKU", max_length=100)
    supplier_sku = models.CharField("supplier's SKU", max_length=100, blank=True)
    title = models.CharField(max_length=300)
    quantity = models.PositiveIntegerField()
    unit_cost = models.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"{self.quantity} × {self.sku}"

    @property
    def line_cost(self) -> Decimal:
        return self.unit_cost * self.quantity
