"""The one interface every carrier implements, and the plain data it speaks."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal


class CarrierError(Exception):
    def __init__(self, message: str, *, retryable: bool = False):
        super().__init__(message)
        self.retryable = retryable


class NotSupported(CarrierError):
    pass


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
        city_line = " ".join(x for x in (self.postal_code, self.city) if x)
        return [x for x in (self.name, self.company, self.line1, self.line2, city_line, self.state, self.country) if x]


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


@dataclass
class Booking:
    tracking_number: str
    label_pdf: bytes
    external_id: str = ""
    tracking_url: str = ""
    fee: Decimal = Decimal("0")
    currency: str = ""
    service: str = ""


@dataclass
class CancelResult:
    cancelled: bool
    queued: bool = False  # the carrier accepted the request and will cancel later
    message: str = ""


class Carrier:
    kind = ""

    def __init__(self, account):
        self.account = account

    def book(self, request: BookingRequest) -> Booking:
        raise NotSupported(f"{self.kind} cannot book labels")

    def cancel(self, external_id: str, tracking_number: str) -> CancelResult:
        raise NotSupported(f"{self.kind} cannot cancel labels")

    def book_return(self, request: BookingRequest) -> Booking:
        """A label from the customer (request.sender) back to the merchant (request.recipient)."""
        raise NotSupported(f"{self.kind} cannot book return labels")

    def tracking_url(self, tracking_number: str) -> str:
        template = self.account.tracking_url_template
        return template.format(tracking_number=tracking_number) if template else ""
