"""Registry of payment gateway adapters, keyed by PaymentGateway.kind."""

from suppliers.payments.base import (  # noqa: F401
    Gateway,
    PaymentDeclined,
    PaymentError,
    PaymentRequest,
    PaymentResult,
)
from suppliers.payments.paypal import PayPalGateway
from suppliers.payments.stripe import StripeGateway

GATEWAYS: dict[str, type[Gateway]] = {cls.kind: cls for cls in (StripeGateway, PayPalGateway)}


def get_gateway(account) -> Gateway:
    try:
        cls = GATEWAYS[account.kind]
    except KeyError:
        raise PaymentError(f"no payment adapter for {account.kind!r}") from None
    return cls(base_url=account.api_base_url, credentials=account.credentials)
