"""What the API reads and writes. Orders in become the importer's RemoteOrder (the same shape a
marketplace connector produces), so the same rules decide what happens to them."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from channels.connectors.base import RemoteAddress, RemoteLine, RemoteOrder
from orders.models import Fulfilment, Order, OrderEvent, OrderLine
from returns.models import ReturnLine, ReturnRequest
from shipping.models import Shipment, ShipmentLine

# ---------------------------------------------------------------------------------------------
# Orders in


class AddressIn(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    company = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    line1 = serializers.CharField(max_length=200)
    line2 = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    city = serializers.CharField(max_length=100)
    state = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    postal_code = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
    country = serializers.CharField(min_length=2, max_length=2, help_text="ISO 3166-1 alpha-2, e.g. GB")
    phone = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")

    def validate_country(self, value: str) -> str:
        if not value.isalpha():
            raise serializers.ValidationError(_("Give a two-letter ISO country code, e.g. GB."))
        return value.upper()


class LineIn(serializers.Serializer):
    id = serializers.CharField(
        max_length=100, required=False, help_text="Your id of the line; default: its position, 1, 2, …"
    )
    sku = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    title = serializers.CharField(max_length=300)
    quantity = serializers.IntegerField(min_value=1, max_value=100_000)
    unit_price = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=Decimal("0"), required=False, default=Decimal("0")
    )
    weight_g = serializers.IntegerField(min_value=0, required=False, allow_null=True, default=None)
    image_url = serializers.URLField(max_length=500, required=False, allow_blank=True, default="")
    options = serializers.DictField(child=serializers.CharField(max_length=200), required=False, default=dict)
    is_physical = serializers.BooleanField(required=False, default=True)
    stock_location = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")


class OrderIn(serializers.Serializer):
    external_id = serializers.CharField(
        max_length=100,
        required=False,
        allow_null=True,
        help_text="Your id of the order: sending it again never makes a second order.",
    )
    order_number = serializers.CharField(
        max_length=100, required=False, allow_null=True, help_text="Default: external_id"
    )
    channel = serializers.CharField(
        max_length=100,
        required=False,
        allow_null=True,
        help_text="Name of a manual / API channel; default: the first one",
    )
    paid = serializers.BooleanField(required=False, default=True, help_text="Unpaid orders are not imported")
    ordered_at = serializers.DateTimeField(required=False)
    customer_name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True, default="")
    phone = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")
    address = AddressIn(required=False, allow_null=True, default=None)
    currency = serializers.RegexField(r"^[A-Za-z]{3}$", help_text="ISO 4217, e.g. GBP")
    total = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0"))
    discount_total = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=Decimal("0"), required=False, default=Decimal("0")
    )
    coupon_codes = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False, default=list, max_length=20
    )
    requested_service = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    payment_method = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    is_gift = serializers.BooleanField(required=False, default=False)
    gift_message = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    customer_note = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
    internal_note = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
    total_weight_g = serializers.IntegerField(min_value=0, required=False, allow_null=True, default=None)
    lines = LineIn(many=True, allow_empty=False, max_length=500)

    def validate_lines(self, lines: list[dict]) -> list[dict]:
        ids = [str(line.get("id") or n) for n, line in enumerate(lines, 1)]
        if len(set(ids)) != len(ids):
            raise serializers.ValidationError(_("Each line needs its own id."))
        return lines


def to_remote(data: dict, *, now=None) -> RemoteOrder:
    """The validated body of an order as the importer's RemoteOrder."""
    now = now or timezone.now()
    external_id = data.get("external_id") or uuid.uuid4().hex
    when = data.get("ordered_at") or now
    a = data.get("address")
    address = None
    if a:
        address = RemoteAddress(
            name=a["name"] or data["customer_name"],
            company=a["company"],
            line1=a["line1"],
            line2=a["line2"],
            city=a["city"],
            state=a["state"],
            postal_code=a["postal_code"],
            country=a["country"],
            phone=a["phone"],
        )
    return RemoteOrder(
        external_id=external_id,
        order_number=data.get("order_number") or external_id,
        remote_status="paid" if data["paid"] else "awaiting payment",
        is_paid=data["paid"],
        is_shipped=False,
        is_cancelled=False,
        created_at=when,
        updated_at=when,
        currency=data["currency"].upper(),
        total=data["total"],
        lines=[
            RemoteLine(
                external_id=str(line.get("id") or n),
                sku=line["sku"],
                title=line["title"],
                quantity=line["quantity"],
                unit_price=line["unit_price"],
                options=dict(line["options"]),
                weight_g=line["weight_g"],
                image_url=line["image_url"],
                is_physical=line["is_physical"],
                stock_location=line["stock_location"],
            )
            for n, line in enumerate(data["lines"], 1)
        ],
        address=address,
        customer_name=data["customer_name"] or (a["name"] if a else ""),
        email=data["email"],
        phone=data["phone"],
        requested_service=data["requested_service"],
        payment_method=data["payment_method"],
        discount_total=data["discount_total"],
        coupon_codes=list(data["coupon_codes"]),
        is_gift=data["is_gift"],
        gift_message=data["gift_message"],
        customer_note=data["customer_note"],
        internal_note=data["internal_note"],
        total_weight_g=data["total_weight_g"],
    )


class BulkIn(serializers.Serializer):
    orders = serializers.ListField(child=serializers.JSONField(), allow_empty=False)


# ---------------------------------------------------------------------------------------------
# Reads


class AddressOut(serializers.Serializer):
    name = serializers.CharField(source="ship_name")
    company = serializers.CharField(source="ship_company")
    line1 = serializers.CharField(source="ship_line1")
    line2 = serializers.CharField(source="ship_line2")
    city = serializers.CharField(source="ship_city")
    state = serializers.CharField(source="ship_state")
    postal_code = serializers.CharField(source="ship_postal_code")
    country = serializers.CharField(source="ship_country")
    phone = serializers.CharField(source="ship_phone")


class LineOut(serializers.ModelSerializer):
    class Meta:
        model = OrderLine
        fields = [
            "id",
            "external_id",
            "sku",
            "title",
            "quantity",
            "unit_price",
            "weight_g",
            "image_url",
            "options",
            "is_physical",
            "stock_location",
            "dropshipped_by",
        ]


class ShipmentLineOut(serializers.ModelSerializer):
    line = serializers.CharField(source="order_line.external_id", help_text="The order line's external id")
    sku = serializers.CharField(source="order_line.sku")

    class Meta:
        model = ShipmentLine
        fields = ["line", "sku", "quantity"]


class ShipmentOut(serializers.ModelSerializer):
    carrier_account = serializers.CharField(source="carrier_account.name", allow_null=True)
    lines = ShipmentLineOut(many=True, read_only=True)
    label_url = serializers.SerializerMethodField()

    class Meta:
        model = Shipment
        fields = [
            "id",
            "order",
            "status",
            "carrier_account",
            "service",
            "tracking_number",
            "tracking_url",
            "tracking_company",
            "fee",
            "currency",
            "weight_g",
            "note",
            "lines",
            "label_url",
            "created_at",
            "cancelled_at",
            "delivered_at",
        ]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_label_url(self, obj) -> str | None:
        return f"/api/v1/shipments/{obj.pk}/label" if obj.label else None


class FulfilmentOut(serializers.ModelSerializer):
    class Meta:
        model = Fulfilment
        fields = [
            "id",
            "state",
            "tracking_number",
            "carrier_name",
            "service",
            "lines",
            "supplier",
            "attention",
            "last_error",
            "created_at",
            "sent_at",
        ]


class EventOut(serializers.ModelSerializer):
    class Meta:
        model = OrderEvent
        fields = ["id", "kind", "message", "data", "created_at"]


class OrderOut(serializers.ModelSerializer):
    channel = serializers.CharField(source="channel.name")
    address = AddressOut(source="*")

    class Meta:
        model = Order
        fields = [
            "id",
            "channel",
            "external_id",
            "order_number",
            "status",
            "hold_reason",
            "customer_name",
            "email",
            "phone",
            "address",
            "requested_service",
            "currency",
            "total",
            "ordered_at",
            "imported_at",
            "updated_at",
            "shipped_at",
            "delivered_at",
            "cancelled_at",
        ]


class OrderDetailOut(OrderOut):
    lines = LineOut(many=True, read_only=True)
    shipments = ShipmentOut(many=True, read_only=True)
    fulfilments = FulfilmentOut(many=True, read_only=True)
    events = EventOut(many=True, read_only=True)

    class Meta(OrderOut.Meta):
        fields = [*OrderOut.Meta.fields, "lines", "shipments", "fulfilments", "events"]


class OrderRef(serializers.Serializer):
    id = serializers.IntegerField()
    order_number = serializers.CharField()
    status = serializers.CharField()


class OrderResult(serializers.Serializer):
    """One order of a create or bulk call."""

    index = serializers.IntegerField(required=False, help_text="Position in the bulk request")
    external_id = serializers.CharField(allow_null=True)
    outcome = serializers.ChoiceField(
        choices=["created", "exists", "conflict", "skipped", "invalid"],
        help_text="created; exists (the same order was sent before); conflict (the external id is "
        "taken by different data); skipped (not importable: see reason); invalid (see errors)",
    )
    order = OrderRef(required=False, allow_null=True)
    reason = serializers.CharField(required=False, help_text="Why it was skipped (as Skipped orders says)")
    detail = serializers.CharField(required=False)
    errors = serializers.JSONField(required=False, help_text="Field-by-field, for an invalid order")


class BulkOut(serializers.Serializer):
    created = serializers.IntegerField()
    results = OrderResult(many=True)


# ---------------------------------------------------------------------------------------------
# Actions


class BookLineIn(serializers.Serializer):
    line = serializers.CharField(max_length=100, help_text="The order line's external id")
    quantity = serializers.IntegerField(min_value=1)


class BookIn(serializers.Serializer):
    lines = BookLineIn(
        many=True, required=False, help_text="Default: every open line Shipdesk ships itself, in full"
    )
    carrier_account = serializers.IntegerField(required=False, help_text="Id; default: as the rules choose")
    service = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    weight_g = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)
    note = serializers.CharField(max_length=500, required=False, allow_null=True, default=None)
    tracking_company = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    label_size = serializers.ChoiceField(choices=["a6", "a4"], required=False, default="a6")
    rate = serializers.RegexField(
        r"^\d+\|.+$",
        required=False,
        allow_blank=True,
        default="",
        help_text="A rate's `id` from POST /orders/{id}/rates: that account and service, asked again "
        "now; the price it quotes is recorded with the shipment (overrides carrier_account and service)",
    )


class RatesIn(serializers.Serializer):
    lines = BookLineIn(
        many=True, required=False, help_text="Default: every open line Shipdesk ships itself, in full"
    )
    weight_g = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)


class RateOut(serializers.Serializer):
    id = serializers.SerializerMethodField(help_text="Pass as `rate` when booking")
    carrier_account = serializers.IntegerField(source="account_id")
    carrier = serializers.CharField()
    service = serializers.CharField()
    service_name = serializers.CharField()
    price = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    currency = serializers.CharField()
    transit_days = serializers.IntegerField(allow_null=True)
    available = serializers.SerializerMethodField()
    unavailable = serializers.CharField(help_text="Why this service cannot carry the parcel")

    def get_id(self, rate) -> str:
        return f"{rate.account_id}|{rate.service}"

    def get_available(self, rate) -> bool:
        return not rate.unavailable


class CarrierErrorOut(serializers.Serializer):
    carrier_account = serializers.IntegerField(source="account.pk")
    error = serializers.CharField()


class RatesOut(serializers.Serializer):
    rates = RateOut(many=True, help_text="Priced rates cheapest first, then unpriced, then unavailable")
    errors = CarrierErrorOut(many=True, help_text="Accounts that failed or did not answer in time")
    customs_declaration = serializers.BooleanField(help_text="The parcel crosses a customs border")
    customs_missing = serializers.ListField(child=serializers.CharField(), help_text="What the products lack")


class CancelOut(serializers.Serializer):
    message = serializers.CharField()
    shipment = ShipmentOut()


class ReturnLineOut(serializers.ModelSerializer):
    line = serializers.CharField(source="order_line.external_id")
    sku = serializers.CharField(source="order_line.sku")

    class Meta:
        model = ReturnLine
        fields = ["line", "sku", "quantity", "reason"]


class ReturnOut(serializers.ModelSerializer):
    number = serializers.CharField(read_only=True)
    brand = serializers.CharField(source="brand.name")
    lines = ReturnLineOut(many=True, read_only=True)

    class Meta:
        model = ReturnRequest
        fields = [
            "id",
            "number",
            "order",
            "brand",
            "status",
            "source",
            "customer_email",
            "customer_note",
            "tracking_number",
            "tracking_url",
            "label_fee",
            "currency",
            "rejection_reason",
            "refund_amount",
            "lines",
            "created_at",
            "status_changed_at",
            "received_at",
            "refunded_at",
        ]


class RejectIn(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class RefundIn(serializers.Serializer):
    amount = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=Decimal("0"), required=False, allow_null=True, default=None
    )
