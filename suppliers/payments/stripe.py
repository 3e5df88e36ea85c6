"""Stripe PaymentIntents: one form-encoded POST that creates and confirms the payment with the
account's saved card, under an `Idempotency-Key` (Stripe replays the first answer for it).

Credentials: {"secret_key": "sk_…", "payment_method": "pm_…"}."""

from __future__ import annotations

from suppliers.http import NoAnswer, json_body, send
from suppliers.payments.base import (
    Gateway,
    PaymentDeclined,
    PaymentError,
    PaymentRequest,
    PaymentResult,
    minor_units,
)


def intent_form(request: PaymentRequest, payment_method: str) -> dict[str, str]:
    form = {
        "amount": str(minor_units(request.amount, request.currency)),
        "currency": request.currency.lower(),
        "payment_method": payment_method,
        "confirm": "true",
        "payment_method_types[]": "card",
        "description": request.description[:1000],
        "metadata[reference]": request.reference,
    }
    for key, value in request.metadata.items():
        form[f"metadata[{key}]"] = str(value)[:500]
    return form


def parse_intent(body: dict, *, replayed: bool = False) -> PaymentResult:
    status = body.get("status", "")
    if status in ("succeeded", "processing"):
        return PaymentResult(remote_id=body.get("id", ""), status=status, replayed=replayed)
    if status == "requires_action":
        raise PaymentDeclined(
            "The card needs the cardholder's authentication (3-D Secure); use another card.",
            code="authentication_required",
        )
    error = body.get("last_payment_error") or {}
    raise PaymentDeclined(
        error.get("message") or f"Stripe left the payment {status or 'unconfirmed'}.",
        code=error.get("code", status),
    )


def parse_error(status: int, body: dict) -> Exception:
    error = body.get("error") or {}
    message = error.get("message") or f"HTTP {status}"
    if status == 402 or error.get("type") == "card_error":
        return PaymentDeclined(message, code=error.get("decline_code") or error.get("code", ""))
    if error.get("type") == "idempotency_error" or status == 409:
        # An earlier request with this key may have charged: keep the key, keep the doubt.
        return PaymentError(f"Stripe: {message}", in_doubt=True)
    if status in (401, 403):
        return PaymentError(f"Stripe refused the API key: {message}")
    return PaymentError(f"Stripe: {message}")


class StripeGateway(Gateway):
    kind = "stripe"
    label = "Card via Stripe"

    def headers(self, request: PaymentRequest) -> dict:
        return {
            "Authorization": f"Bearer {self.credentials.get('secret_key', '')}",
            "Idempotency-Key": request.idempotency_key,
            "Accept": "application/json",
        }

    def charge(self, request: PaymentRequest) -> PaymentResult:
        payment_method = self.credentials.get("payment_method", "")
        if not payment_method:
            raise PaymentError("The Stripe account has no saved card (payment_method) to pay with.")
        try:
            response = send(
                "POST",
                f"{self.base_url}/payment_intents",
                session=self.session,
                data=intent_form(request, payment_method),
                headers=self.headers(request),
            )
            body = json_body(response)
        except NoAnswer as exc:
            raise PaymentError(f"Stripe did not answer clearly: {exc}", in_doubt=True) from exc
        if response.status_code >= 400:
            raise parse_error(response.status_code, body)
        return parse_intent(body, replayed=response.headers.get("Idempotent-Replayed") == "true")
