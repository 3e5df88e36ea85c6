"""PayPal Orders v2: an OAuth client-credentials token (cached, as PayPal asks), then create the
order and capture it, each under its own `PayPal-Request-Id` derived from the idempotency key
(PayPal answers a repeated id with the original result, 200 instead of 201).

The merchant pays from a saved PayPal account (`vault_id`), so the order is approved as it is
created and no buyer redirect is needed. Credentials:
{"client_id": "…", "client_secret": "…", "vault_id": "…"}."""

from __future__ import annotations

import hashlib

from django.core.cache import cache

from suppliers.http import NoAnswer, json_body, send
from suppliers.payments.base import (
    Gateway,
    PaymentDeclined,
    PaymentError,
    PaymentRequest,
    PaymentResult,
    decimal_string,
)

APPROVED, COMPLETED = "APPROVED", "COMPLETED"


def order_body(request: PaymentRequest, vault_id: str) -> dict:
    body = {
        "intent": "CAPTURE",
        "purchase_units": [
            {
                "reference_id": request.reference[:256],
                "custom_id": request.reference[:127],
                "description": request.description[:127],
                "amount": {
                    "currency_code": request.currency.upper(),
                    "value": decimal_string(request.amount, request.currency),
                },
            }
        ],
    }
    if vault_id:
        body["payment_source"] = {"paypal": {"vault_id": vault_id}}
    return body


def captured(order: dict) -> tuple[str, str] | None:
    """(capture id, capture status) of the order's first capture, if any."""
    for unit in order.get("purchase_units") or []:
        for capture in (unit.get("payments") or {}).get("captures") or []:
            return capture.get("id", ""), capture.get("status", "")
    return None


def parse_error(status: int, body: dict) -> Exception:
    details = body.get("details") or [{}]
    issue = details[0].get("issue", "")
    text = (
        details[0].get("description")
        or body.get("message")
        or body.get("error_description")
        or f"HTTP {status}"
    )
    if status == 422:
        return PaymentDeclined(f"PayPal: {text}" + (f" ({issue})" if issue else ""), code=issue)
    if status in (401, 403):
        return PaymentError(f"PayPal refused the credentials: {text}")
    return PaymentError(f"PayPal: {body.get('name', '')} {text}".replace("  ", " "))


class PayPalGateway(Gateway):
    kind = "paypal"
    label = "PayPal"

    def _cache_key(self) -> str:
        digest = hashlib.sha256(
            f"{self.base_url}|{self.credentials.get('client_id', '')}".encode()
        ).hexdigest()
        return f"paypal-token:{digest[:32]}"

    def token(self, *, fresh: bool = False) -> str:
        key = self._cache_key()
        if not fresh and (token := cache.get(key)):
            return token
        response = send(
            "POST",
            f"{self.base_url}/v1/oauth2/token",
            session=self.session,
            auth=(self.credentials.get("client_id", ""), self.credentials.get("client_secret", "")),
            data={"grant_type": "client_credentials"},
            headers={"Accept": "application/json"},
        )
        body = json_body(response)
        if response.status_code != 200 or not body.get("access_token"):
            raise PaymentError(f"PayPal refused the credentials: {body.get('error_description') or body}")
        cache.set(key, body["access_token"], max(60, int(body.get("expires_in", 3600)) - 300))
        return body["access_token"]

    def _post(self, path: str, body: dict, request_id: str) -> tuple[int, dict]:
        for fresh in (False, True):  # a cached token may have expired early: fetch a new one once
            response = send(
                "POST",
                f"{self.base_url}{path}",
                session=self.session,
                json=body,
                headers={
                    "Authorization": f"Bearer {self.token(fresh=fresh)}",
                    "PayPal-Request-Id": request_id,
                    "Prefer": "return=representation",
                    "Accept": "application/json",
                },
            )
            if response.status_code != 401:
                break
        return response.status_code, json_body(response)

    def charge(self, request: PaymentRequest) -> PaymentResult:
        try:
            status, order = self._post(
                "/v2/checkout/orders",
                order_body(request, self.credentials.get("vault_id", "")),
                f"{request.idempotency_key}-create",
            )
            if status >= 400:
                raise parse_error(status, order)
            replayed = status == 200
            if order.get("status") == APPROVED:
                status, order = self._post(
                    f"/v2/checkout/orders/{order['id']}/capture", {}, f"{request.idempotency_key}-capture"
                )
                if status >= 400:
                    raise parse_error(status, order)
                replayed = status == 200
        except NoAnswer as exc:
            raise PaymentError(f"PayPal did not answer clearly: {exc}", in_doubt=True) from exc
        if order.get("status") != COMPLETED:
            raise PaymentDeclined(
                f"PayPal left the order {order.get('status', 'unknown')}: the payer must approve it. "
                "Give the gateway a saved PayPal account (vault_id).",
                code=order.get("status", ""),
            )
        capture_id, capture_status = captured(order) or ("", "")
        if capture_status in ("DECLINED", "FAILED"):
            raise PaymentDeclined(f"PayPal declined the capture ({capture_status}).", code=capture_status)
        return PaymentResult(
            remote_id=capture_id or order.get("id", ""), status=capture_status or COMPLETED, replayed=replayed
        )
