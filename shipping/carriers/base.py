"""The one interface every carrier implements, and the plain data it speaks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from orders.addresses import address_lines


class CarrierError(Exception):
    """`field`: what the carrier's validation error concerns, so the booking form shows it next to
    that field: "address", "weight", "dimensions", "customs" or "" (not one field)."""

    def __init__(self, message: str, *, retryable: bool = False, field: str = ""):
        super().__init__(message)
        self.retryable = retryable
        self.field = field


class NotSupported(CarrierError):
    pass


class BadSignature(CarrierError):
    """A webhook whose signature does not match: not from the carrier, ignore it."""


@dataclass
class Party:
    name: str
    line1: str
    city: str
    postal_code: str
    country: str
    line2: str = ""
    state: str = ""
    company: str = ""
    email: str = ""
    phone: str = ""

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


@dataclass
class ItemLine:
    """One line of what the parcel holds, for the carrier's item list and customs."""

    sku: str
    title: str
    quantity: int
    unit_price: Decimal = Decimal("0")
    weight_g: int = 0  # of one unit; 0 = unknown
    # Customs (issue 16): the product's HS code, country of origin (ISO alpha-2) and the words a
    # customs officer reads; empty when unknown (a cross-border booking refuses before that).
    hs_code: str = ""
    origin_country: str = ""
    customs_description: str = ""


@dataclass
class Customs:
    """The declaration a parcel crossing a customs border carries (None on BookingRequest when the
    parcel stays inside one customs territory). The items are BookingRequest.item_lines."""

    currency: str
    contents: str = "merchandise"  # merchandise, gift, documents, sample, return_merchandise
    incoterm: str = "DAP"  # DAP: the recipient pays duties; DDP: the sender does
    invoice_number: str = ""  # usually the order number
    invoice_date: str = ""  # ISO date
    sender_tax_id: str = ""  # EORI / VAT / IOSS of the sender, where the merchant has one
    recipient_tax_id: str = ""


@dataclass
class BookingRequest:
    reference: str  # our idempotency key: the same reference never buys two labels
    order_number: str
    sender: Party
    recipient: Party
    weight_g: int
    service: str = ""
    brand_name: str = ""
    value: Decimal = Decimal("0")
    currency: str = ""
    items: list[tuple[str, int]] = field(default_factory=list)  # (sku or title, quantity)
    item_lines: list[ItemLine] = field(default_factory=list)  # the same lines in full (customs)
    # The package chosen by a shipping rule (dimensions in cm), when there is one.
    length_cm: Decimal | None = None
    width_cm: Decimal | None = None
    height_cm: Decimal | None = None
    label_size: str = "a6"  # "a6": one label per page (label printer); "a4": a sheet of four (office printer)
    label_format: str = "pdf"  # "pdf" or "zpl" (thermal printers, where the carrier offers it)
    customs: Customs | None = None


@dataclass
class Booking:
    tracking_number: str
    label_pdf: bytes
    external_id: str = ""
    tracking_url: str = ""
    fee: Decimal = Decimal("0")
    currency: str = ""
    service: str = ""
    carrier_name: str = ""  # who really carries it (an aggregator such as Sendcloud says PostNL, DPD…)
    # Label-free drop-off: a PNG the customer shows at the drop-off point instead of a printed label,
    # where the carrier offers one (empty otherwise). The label PDF is always there too.
    qr_code: bytes = b""
    # Why there is no QR code although the carrier may offer one (it could not be fetched); the
    # booking itself stands. Empty when all went well or the carrier simply has none.
    qr_error: str = ""
    # "pdf": label_pdf is a PDF (with the customs form appended where there is one); "zpl":
    # label_pdf holds the ZPL the carrier returned (the name stays label_pdf for the old callers).
    label_format: str = "pdf"
    # True when label_pdf already holds the customs form the carrier returned (CN22/CN23 or
    # commercial invoice); False: the booking service appends a CN22/CN23 it draws itself.
    customs_form_included: bool = False


@dataclass
class Rate:
    """One price for one service of one carrier account, for the selected lines (issue 16).
    A service that cannot carry the parcel comes back with `price` None and `unavailable` saying
    why in plain words (destination, weight, dimensions, the carrier's own error)."""

    account_id: int
    carrier: str  # the carrier's display name: "UPS", "DHL Express", "PostNL (Sendcloud)"
    service: str  # the service code to book with (BookingRequest.service)
    service_name: str
    price: Decimal | None = None
    currency: str = ""
    transit_days: int | None = None
    unavailable: str = ""


@dataclass
class TrackingUpdate:
    """Something the carrier said about a parcel. `status` is a Shipment.Status value when the
    update changes what the shipment is (booked, in_transit, delivered, cancelled…), else ""."""

    code: str
    message: str
    occurred_at: datetime
    status: str = ""
    external_id: str = ""
    tracking_number: str = ""
    location: str = ""
    is_status: bool = False  # the parcel's current status (authoritative), not only a history line


@dataclass
class ServiceOption:
    code: str
    name: str
    carrier: str = ""
    min_weight_g: int = 0
    max_weight_g: int = 0
    price: Decimal | None = None
    transit_days: int | None = None


@dataclass
class CancelResult:
    cancelled: bool
    queued: bool = False  # the carrier accepted the request and will cancel later
    message: str = ""


class Carrier:
    kind = ""
    #: how often one parcel may be polled for tracking; None: this carrier has no tracking to poll
    poll_interval: timedelta | None = None
    #: at most this many parcels per polling run, to stay inside the carrier's rate limits
    poll_budget: int = 0

    def __init__(self, account):
        self.account = account

    def book(self, request: BookingRequest) -> Booking:
        raise NotSupported(f"{self.kind} cannot book labels")

    def cancel(self, external_id: str, tracking_number: str) -> CancelResult:
        raise NotSupported(f"{self.kind} cannot cancel labels")

    def book_return(self, request: BookingRequest) -> Booking:
        """A label from the customer (request.sender) back to the merchant (request.recipient)."""
        raise NotSupported(f"{self.kind} cannot book return labels")

    def label(self, external_id: str, *, size: str = "a6") -> bytes:
        """The label PDF again (a6: label printer; a4: a sheet)."""
        raise NotSupported(f"{self.kind} cannot fetch labels again")

    def track(self, external_id: str, tracking_number: str) -> list[TrackingUpdate]:
        """What the carrier knows about the parcel now, newest last."""
        raise NotSupported(f"{self.kind} has no tracking to poll")

    def parse_webhook(self, body: bytes, headers) -> list[TrackingUpdate]:
        """Verify and read a webhook delivery. Raises BadSignature when it is not from the carrier."""
        raise NotSupported(f"{self.kind} sends no webhooks")

    def rates(self, request: BookingRequest) -> list[Rate]:
        """Every service of this account that could carry the parcel described by `request` (its
        sender, recipient, weight, dimensions, items, customs), priced where the carrier quotes
        prices. Raises CarrierError when the carrier cannot be asked (auth, timeout, 5xx)."""
        raise NotSupported(f"{self.kind} gives no rates")

    def services(self, *, sender_country: str = "", to_country: str = "") -> list[ServiceOption]:
        """The services this account can book (for choosing in mappings and rules)."""
        return (
            [ServiceOption(code=self.account.default_service, name=self.account.default_service)]
            if self.account.default_service
            else []
        )

    def close(self) -> None:
        """Let go of network connections (adapters used with contextlib.closing)."""

    def tracking_url(self, tracking_number: str) -> str:
        template = self.account.tracking_url_template
        return template.format(tracking_number=tracking_number) if template else ""
