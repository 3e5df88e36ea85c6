"""Rates for the lines of an order (the booking form, the order page's "How it ships" panel):
the parcel those lines make, as the rules would send it, priced by every active account."""

from __future__ import annotations

from dataclasses import dataclass, field

from orders.models import Order, OrderLine
from shipping import booking, customs, rating, rules
from shipping.carriers.base import BookingRequest, Rate
from shipping.models import CarrierAccount


@dataclass
class Quote:
    """What the booking form shows: the rate shop (None when no parcel could be described, see
    `problem`), whether the parcel needs a customs declaration and what it lacks."""

    shop: rating.RateShop | None = None
    request: BookingRequest | None = None
    problem: str = ""
    missing: list[customs.Missing] = field(default_factory=list)

    @property
    def needs_customs(self) -> bool:
        return self.request is not None and self.request.customs is not None


def parcel_for(
    order: Order, picked: list[tuple[OrderLine, int]], *, weight_g: int | None = None
) -> tuple[BookingRequest | None, str]:
    """The request a parcel of `picked` lines would make (sender from the rules), or why none."""
    weight = weight_g or rules.order_weight(order, picked)
    try:
        decision = rules.resolve(order, weight_g=weight)
    except rules.NoCarrier as exc:
        return None, str(exc)
    if decision.sender_address is None:
        return None, "No sender address: add a default brand with a sender address under Shipping › Brands."
    weight += decision.package.tare_g if decision.package else 0
    return booking.parcel_request(order, picked, decision, weight_g=weight), ""


def quote(
    order: Order,
    picked: list[tuple[OrderLine, int]],
    *,
    weight_g: int | None = None,
    accounts: list[CarrierAccount] | None = None,
) -> Quote:
    """Every active account's rates for a parcel of `picked` lines, asked concurrently."""
    if not picked:
        return Quote(problem="no lines chosen")
    request, problem = parcel_for(order, picked, weight_g=weight_g)
    if request is None:
        return Quote(problem=problem)
    missing = customs.missing_fields(request.item_lines) if request.customs else []
    return Quote(shop=rating.shop(request, accounts), request=request, missing=missing)


def requote(
    order: Order,
    picked: list[tuple[OrderLine, int]],
    *,
    account: CarrierAccount,
    service: str,
    weight_g: int | None = None,
) -> Rate | None:
    """The rate `account` quotes *now* for `service` on a parcel of `picked` (checked) lines: the
    price a booking records is the price of the moment it is bought. None when the parcel lacks
    customs data (book_shipment then refuses, naming what is missing). Raises BookingError when
    no parcel can be described or the carrier no longer offers that service."""
    from shipping.booking import BookingError

    again = quote(order, picked, weight_g=weight_g, accounts=[account])
    if again.shop is None:
        raise BookingError(again.problem)
    if again.missing:
        return None
    rate = again.shop.find(account.pk, service)
    if rate is None:
        why = (
            "; ".join(a.error for a in again.shop.errors)
            or "it no longer offers that service for this parcel"
        )
        raise BookingError(f"{account.name} did not quote that rate again: {why}", field="rate")
    return rate
