"""The one interface every payment gateway adapter implements, and the plain data it speaks.

An adapter turns a PaymentRequest into the gateway's HTTP calls and the answer into a
PaymentResult or one of two errors. Nothing outside an adapter knows a gateway field name;
nothing inside one touches the ORM."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

# Currencies without a minor unit (Stripe's list).
ZERO_DECIMAL = {
    "BIF",
    "CLP",
    "DJF",
    "GNF",
    "JPY",
    "KMF",
    "KRW",
    "MGA",
    "PYG",
    "RWF",
    "UGX",
    "VND",
    "VUV",
    "XAF",
    "XOF",
    "XPF",
}


def minor_units(amount: Decimal, currency: str) -> int:
    """12.50 EUR -> 1250; 1250 JPY -> 1250."""
    exponent = 0 if currency.upper() in ZERO_DECIMAL else 2
    return int((Decimal(amount) * (10**exponent)).quantize(Decimal("1")))


def decimal_string(amount: Decimal, currency: str) -> str:
    """12.5 EUR -> "12.50"; 1250 JPY -> "1250"."""
    places = Decimal("1") if currency.upper() in ZERO_DECIMAL else Decimal("0.01")
    return str(Decimal(amount).quantize(places))


@dataclass
class PaymentRequest:
    amount: Decimal
    currency: str  # ISO 4217, any case
    reference: str  # ours, shown on the gateway's dashboard
    description: str
    idempotency_key: str  # the same key never charges twice
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass
class PaymentResult:
    remote_id: str  # the gateway's id for the payment
    status: str  # the gateway's own status word, for the timeline
    replayed: bool = False  # the gateway answered from an earlier request with the same key


class PaymentDeclined(Exception):
    """A definitive no: nothing was charged, and a new attempt (new key) may succeed."""

    def __init__(self, message: str, *, code: str = ""):
        super().__init__(message)
        self.code = code


class PaymentError(Exception):
    """The payment did not go through. `in_doubt`: the gateway may have charged (no answer, or
    an answer we cannot read), so a retry must reuse the same idempotency key."""

    def __init__(self, message: str, *, in_doubt: bool = False):
        super().__init__(message)
        self.in_doubt = in_doubt


class Gateway:
    """Base class. Subclasses set `kind` and implement `charge`."""

    kind: str = ""
    label: str = ""

    def __init__(self, *, base_url: str, credentials: dict, session=None):
        self.base_url = base_url.rstrip("/")
        self.credentials = dict(credentials or {})
        self.session = session

    def charge(self, request: PaymentRequest) -> PaymentResult:
        """Take the payment at once. Raises PaymentDeclined or PaymentError."""
        raise NotImplementedError
