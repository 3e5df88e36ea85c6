"""Deciding how an order ships: brand, sender address, carrier account, service and the
tracking company the channel is told. Returns the decision with the reasons behind it."""

from __future__ import annotations

from dataclasses import dataclass, field

from orders.models import Order
from shipping.models import Address, Brand, CarrierAccount


class NoCarrier(Exception):
    pass


@dataclass
class Decision:
    carrier_account: CarrierAccount
    service: str
    tracking_company: str
    brand: Brand | None
    sender_address: Address | None
    reasons: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "carrier_account": self.carrier_account.name,
            "service": self.service,
            "tracking_company": self.tracking_company,
            "brand": self.brand.name if self.brand else "",
            "sender_address": self.sender_address.label if self.sender_address else "",
            "reasons": self.reasons,
        }


def resolve(order: Order, *, carrier_account: CarrierAccount | None = None, service: str = "") -> Decision:
    reasons: list[str] = []
    brand = Brand.objects.filter(is_default=True).select_related("sender_address").first()
    if brand:
        reasons.append(f"brand {brand.name}: the default brand")
    if carrier_account is not None:
        reasons.append(f"carrier {carrier_account.name}: chosen by staff")
    else:
        carrier_account = (
            CarrierAccount.objects.filter(is_active=True).order_by("-is_default", "name").first()
        )
        if carrier_account is None:
            raise NoCarrier("No active carrier account: add one under Shipping › Carrier accounts.")
        reasons.append(f"carrier {carrier_account.name}: the default carrier account")
    service = service or carrier_account.default_service
    return Decision(
        carrier_account=carrier_account,
        service=service,
        tracking_company=carrier_account.tracking_company or carrier_account.name,
        brand=brand,
        sender_address=brand.sender_address if brand else None,
        reasons=reasons,
    )
