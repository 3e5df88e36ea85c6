"""The built-in carrier: the merchant's own postage account. It prints its own labels and
numbers parcels in the UPU S10 format (2 letters, 8 digits, a mod-11 check digit, country)."""

from __future__ import annotations

import hashlib

from shipping.carriers import register
from shipping.carriers.base import Booking, BookingRequest, CancelResult, Carrier, Rate
from shipping.labels import LabelContent, render_label

S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)
MAX_LOGO_BYTES = 2 * 1024 * 1024


def s10_check_digit(serial: str) -> int:
    total = sum(int(d) * w for d, w in zip(serial, S10_WEIGHTS, strict=True))
    check = 11 - total % 11
    return {10: 0, 11: 5}.get(check, check)


def s10_number(prefix: str, serial: int, country: str) -> str:
    digits = f"{serial % 10**8:08d}"
    return f"{prefix.upper()[:2]:<2}{digits}{s10_check_digit(digits)}{(country or 'XX').upper()[:2]}"


def is_valid_s10(number: str) -> bool:
    if len(number) != 13 or not number[2:11].isdigit():
        return False
    return s10_check_digit(number[2:10]) == int(number[10])


def brand_logo(brand_name: str) -> bytes:
    """The logo file of the brand the parcel goes out under (brand names are unique), read from
    storage; empty when the brand has none or it cannot be read (the label then prints the name)."""
    from shipping.models import Brand

    brand = Brand.objects.filter(name=brand_name).only("logo").first() if brand_name else None
    if brand is None or not brand.logo:
        return b""
    try:
        with brand.logo.open("rb") as f:
            data = f.read(MAX_LOGO_BYTES + 1)
    except OSError:
        return b""
    return data if len(data) <= MAX_LOGO_BYTES else b""  # a logo bigger than this is no label logo


@register
class SelfPrintCarrier(Carrier):
    kind = "selfprint"

    def book(self, request: BookingRequest) -> Booking:
        # Deterministic from the reference: a retried booking returns the same number.
        serial = int(hashlib.sha256(request.reference.encode()).hexdigest(), 16)
        tracking = s10_number(self.account.prefix or "SD", serial, request.sender.country)
        pdf = render_label(
            LabelContent(
                tracking_number=tracking,
                sender_lines=request.sender.lines,
                recipient_lines=request.recipient.lines,
                order_number=request.order_number,
                weight_g=request.weight_g,
                service=request.service,
                carrier=self.account.tracking_company or self.account.name,
                brand=request.brand_name,
                logo=brand_logo(request.brand_name),
            )
        )
        return Booking(
            tracking_number=tracking,
            label_pdf=pdf,
            tracking_url=self.tracking_url(tracking),
            service=request.service,
        )

    def book_return(self, request: BookingRequest) -> Booking:
        return self.book(request)

    def rates(self, request: BookingRequest) -> list[Rate]:
        """The account's default service at its configured price per parcel (unpriced when none
        is set: staff can still pick it, a rule choosing by price passes it over)."""
        account = self.account
        price = account.flat_rate
        return [
            Rate(
                account_id=account.pk,
                carrier=account.tracking_company or account.name,
                service=account.default_service,
                service_name=account.default_service or "Self-printed label",
                price=price,
                currency=(account.flat_rate_currency or request.currency) if price is not None else "",
                transit_days=account.transit_days,
            )
        ]

    def cancel(self, external_id: str, tracking_number: str) -> CancelResult:
        return CancelResult(cancelled=True, message="Self-printed label voided; do not post it.")
