"""The sandbox as the vendors' own clients see it: Stripe's official Python library, pointed at
the Stripe stand-in, must get what the real API gives it (a sandbox that accepts what the real
service refuses, or answers another shape, lets a bug through every other test)."""

import gc

import pytest
import stripe

from sandbox.models import SandboxStore


@pytest.fixture
def stripe_client(live_server, transactional_db):
    SandboxStore.objects.create(
        kind="stripe", key="acct_vendor", credentials={"secret_key": "sk_test_vendor"}
    )
    http_client = stripe.RequestsClient()
    yield stripe.StripeClient(
        "sk_test_vendor",
        base_addresses={"api": f"{live_server.url}/sandbox/stripe"},
        max_network_retries=0,
        http_client=http_client,
    )
    # A keep-alive socket keeps a live-server thread, and its database session, alive: on
    # PostgreSQL the test database could then not be dropped.
    http_client.close()
    gc.collect()


def test_manual_capture_holds_the_funds_until_captured(stripe_client):
    intent = stripe_client.v1.payment_intents.create(
        params={
            "amount": 2500,
            "currency": "eur",
            "payment_method": "pm_card_visa",
            "payment_method_types": ["card"],
            "capture_method": "manual",
            "confirm": True,
        }
    )

    assert (intent.status, intent.amount_capturable, intent.amount_received) == ("requires_capture", 2500, 0)
    captured = stripe_client.v1.payment_intents.capture(intent.id, params={"amount_to_capture": 2000})
    assert (captured.status, captured.amount_received, captured.amount_capturable) == ("succeeded", 2000, 0)
    with pytest.raises(stripe.InvalidRequestError) as refused:
        stripe_client.v1.payment_intents.capture(intent.id)
    assert refused.value.code == "payment_intent_unexpected_state"


def test_an_intent_created_unconfirmed_is_confirmed_later(stripe_client):
    intent = stripe_client.v1.payment_intents.create(
        params={"amount": 1250, "currency": "gbp", "payment_method_types": ["card"]}
    )
    assert intent.status == "requires_payment_method"

    confirmed = stripe_client.v1.payment_intents.confirm(intent.id, params={"payment_method": "pm_card_visa"})
    assert (confirmed.status, confirmed.amount_received) == ("succeeded", 1250)
    assert stripe_client.v1.payment_intents.retrieve(intent.id).status == "succeeded"


def test_a_declined_confirmation_and_an_unknown_intent_are_the_real_errors(stripe_client):
    intent = stripe_client.v1.payment_intents.create(
        params={"amount": 900, "currency": "eur", "payment_method_types": ["card"]}
    )
    with pytest.raises(stripe.CardError) as declined:
        stripe_client.v1.payment_intents.confirm(
            intent.id, params={"payment_method": "pm_card_chargeDeclined"}
        )
    assert declined.value.code == "card_declined"
    with pytest.raises(stripe.InvalidRequestError) as missing:
        stripe_client.v1.payment_intents.retrieve("pi_3doesnotexist")
    assert missing.value.http_status == 404


def test_a_capture_retried_with_its_idempotency_key_captures_once(stripe_client):
    intent = stripe_client.v1.payment_intents.create(
        params={
            "amount": 3000,
            "currency": "eur",
            "payment_method": "pm_card_visa",
            "payment_method_types": ["card"],
            "capture_method": "manual",
            "confirm": True,
        }
    )
    first = stripe_client.v1.payment_intents.capture(intent.id, options={"idempotency_key": "cap-1"})
    again = stripe_client.v1.payment_intents.capture(intent.id, options={"idempotency_key": "cap-1"})
    assert first.status == again.status == "succeeded" and again.amount_received == 3000
