"""The gateway adapters on their own, against the sandboxes: the request they build, the answer
they parse, and the errors they raise."""

from decimal import Decimal

import pytest

from sandbox.models import SandboxRequest
from suppliers.payments import PaymentDeclined, PaymentError, PaymentRequest, get_gateway
from suppliers.payments.base import decimal_string, minor_units


def request(key="key-1", amount="12.50", currency="EUR") -> PaymentRequest:
    return PaymentRequest(
        amount=Decimal(amount),
        currency=currency,
        reference="batch-1",
        description="Atelier Nord: 2 order(s)",
        idempotency_key=key,
        metadata={"batch": "b1"},
    )


@pytest.mark.parametrize(
    "amount,currency,minor,text",
    [
        ("12.50", "EUR", 1250, "12.50"),
        ("0.5", "usd", 50, "0.50"),
        ("1250", "JPY", 1250, "1250"),
    ],
)
def test_money_formats(amount, currency, minor, text):
    assert minor_units(Decimal(amount), currency) == minor
    assert decimal_string(Decimal(amount), currency) == text


def test_stripe_sends_a_form_encoded_confirmed_intent(stripe):
    gateway, store = stripe
    result = get_gateway(gateway).charge(request())
    sent = SandboxRequest.objects.get(store=store)
    assert result.status == "succeeded" and result.remote_id.startswith("pi_") and not result.replayed
    assert sent.parsed["params"] == {
        "amount": "1250",
        "currency": "eur",
        "payment_method": "pm_card_visa",
        "confirm": "true",
        "payment_method_types": ["card"],
        "description": "Atelier Nord: 2 order(s)",
        "metadata": {"reference": "batch-1", "batch": "b1"},
    }


def test_stripe_card_needing_authentication_is_a_decline(stripe):
    gateway, _ = stripe
    gateway.credentials = {**gateway.credentials, "payment_method": "pm_card_authenticationRequired"}
    with pytest.raises(PaymentDeclined, match="3-D Secure"):
        get_gateway(gateway).charge(request())


def test_stripe_insufficient_funds_carries_the_decline_code(stripe):
    gateway, _ = stripe
    gateway.credentials = {**gateway.credentials, "payment_method": "pm_card_chargeDeclinedInsufficientFunds"}
    with pytest.raises(PaymentDeclined) as err:
        get_gateway(gateway).charge(request())
    assert err.value.code == "insufficient_funds" and str(err.value) == "Your card has insufficient funds."


def test_stripe_wrong_key_is_an_error_without_doubt(stripe):
    gateway, _ = stripe
    gateway.credentials = {**gateway.credentials, "secret_key": "sk_test_wrong"}
    with pytest.raises(PaymentError) as err:
        get_gateway(gateway).charge(request())
    assert not err.value.in_doubt and "Invalid API Key" in str(err.value)


def test_stripe_same_key_other_amount_is_refused_and_stays_in_doubt(stripe):
    gateway, _ = stripe
    adapter = get_gateway(gateway)
    adapter.charge(request(key="k"))
    assert adapter.charge(request(key="k")).replayed
    with pytest.raises(PaymentError) as err:
        adapter.charge(request(key="k", amount="13.00"))
    assert err.value.in_doubt and "can only be used with the same parameters" in str(err.value)


def test_paypal_without_a_saved_account_needs_the_payer(paypal):
    gateway, _ = paypal
    gateway.credentials = {k: v for k, v in gateway.credentials.items() if k != "vault_id"}
    with pytest.raises(PaymentDeclined, match="the payer must approve it"):
        get_gateway(gateway).charge(request())


def test_paypal_wrong_secret_is_refused(paypal):
    gateway, _ = paypal
    gateway.credentials = {**gateway.credentials, "client_id": "AZ-other", "client_secret": "nope"}
    with pytest.raises(PaymentError, match="Client Authentication failed"):
        get_gateway(gateway).charge(request())


def test_paypal_sends_zero_decimal_currencies_without_decimals(paypal):
    gateway, store = paypal
    get_gateway(gateway).charge(request(amount="1250", currency="JPY"))
    create = SandboxRequest.objects.filter(store=store).first()
    assert create.parsed["body"]["purchase_units"][0]["amount"] == {"currency_code": "JPY", "value": "1250"}
