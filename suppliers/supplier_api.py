"""The supplier order API: place an order, read it back with its tracking.

    POST {base}/orders            {"reference", "currency", "ship_to": {…}, "items": [{"sku", "quantity"}], "note"}
                                  201 new, 200 when the reference is known (placing twice is safe)
    GET  {base}/orders/{id}       {"id", "reference", "status": received|processing|shipped|cancelled,
                                   "shipment": {"tracking_number", "carrier", "tracking_url", "shipped_at"} | null}
    POST {base}/orders/{id}/cancel  {"reason"} → the order, cancelled (200 again when it already is);
                                  409 {"error"} once shipped

Auth: `Authorization: Bearer {api_key}`. Credentials: {"api_key": "…"}. Nothing outside this
module knows these field names."""

from __future__ import annotations

from dataclasses import dataclass, field

from suppliers.http import NoAnswer, json_body, send


class SupplierApiError(Exception):
    def __init__(self, message: str, *, retryable: bool = True):
        super().__init__(message)
        self.retryable = retryable


@dataclass
class PurchaseOrder:
    reference: str
    currency: str
    ship_to: dict[str, str]  # name, company, line1, line2, city, state, postal_code, country, phone, email
    items: list[tuple[str, int]]  # (supplier SKU, quantity)
    note: str = ""


@dataclass
class RemoteSupplierOrder:
    remote_id: str
    status: str  # received | processing | shipped | cancelled
    tracking_number: str = ""
    carrier: str = ""
    tracking_url: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def is_shipped(self) -> bool:
        return self.status == "shipped" and bool(self.tracking_number)

    @property
    def is_cancelled(self) -> bool:
        return self.status == "cancelled"


def parse_order(body: dict) -> RemoteSupplierOrder:
    shipment = body.get("shipment") or {}
    return RemoteSupplierOrder(
        remote_id=str(body.get("id", "")),
        status=str(body.get("status", "")),
        tracking_number=shipment.get("tracking_number") or "",
        carrier=shipment.get("carrier") or "",
        tracking_url=shipment.get("tracking_url") or "",
    )


class SupplierApi:
    def __init__(self, *, base_url: str, credentials: dict, session=None):
        self.base_url = (base_url or "").rstrip("/")
        self.credentials = dict(credentials or {})
        self.session = session

    def _call(self, method: str, path: str, **kwargs) -> tuple[int, dict]:
        if not self.base_url:
            raise SupplierApiError("the supplier has no API base URL", retryable=False)
        headers = {
            "Authorization": f"Bearer {self.credentials.get('api_key', '')}",
            "Accept": "application/json",
        }
        try:
            response = send(method, f"{self.base_url}{path}", session=self.session, headers=headers, **kwargs)
            body = json_body(response)
        except NoAnswer as exc:
            raise SupplierApiError(str(exc)) from exc
        if response.status_code >= 400:
            message = body.get("error") or body.get("message") or f"HTTP {response.status_code}"
            raise SupplierApiError(
                f"{method} {path}: {message} (HTTP {response.status_code})",
                retryable=response.status_code in (408, 409),
            )
        return response.status_code, body

    def place(self, purchase: PurchaseOrder) -> RemoteSupplierOrder:
        _, body = self._call(
            "POST",
            "/orders",
            json={
                "reference": purchase.reference,
                "currency": purchase.currency,
                "ship_to": purchase.ship_to,
                "items": [{"sku": sku, "quantity": qty} for sku, qty in purchase.items],
                "note": purchase.note,
            },
        )
        return parse_order(body)

    def cancel(self, remote_id: str, *, reason: str = "") -> RemoteSupplierOrder:
        """Cancel an order the supplier has not shipped; refused (SupplierApiError) once shipped."""
        _, body = self._call("POST", f"/orders/{remote_id}/cancel", json={"reason": reason})
        return parse_order(body)

    def fetch(self, remote_id: str) -> RemoteSupplierOrder:
        _, body = self._call("GET", f"/orders/{remote_id}")
        return parse_order(body)
