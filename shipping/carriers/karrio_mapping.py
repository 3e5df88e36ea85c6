"""Shipdesk dataclasses <-> Karrio's unified models, without HTTP (see shared/carrier-facts-direct.md).

Kept apart from the calls in karrio.py so each shape can be read and tested on its own: the
shipment, rate and tracking requests we hand Karrio, what Karrio parses out of the carrier's
answer, and its error messages in words staff can act on. Karrio's own models are plain attrs
classes; we build them as dicts (Karrio accepts either) so nothing here needs the network."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

from shipping.carriers.base import Booking, BookingRequest, Party, Rate, TrackingUpdate

# Karrio's normalised tracking statuses -> Shipment.Status values ("" = no change of status).
STATUS = {
    "pending": "booked",
    "picked_up": "in_transit",
    "in_transit": "in_transit",
    "out_for_delivery": "in_transit",
    "ready_for_pickup": "in_transit",
    "delivery_delayed": "in_transit",
    "delivered": "delivered",
    "on_hold": "exception",
    "delivery_failed": "exception",
    "return_to_sender": "exception",
    "cancelled": "cancelled",
    "unknown": "",
}
# Shipdesk's customs contents -> Karrio's customs content types.
CONTENT_TYPES = {
    "merchandise": "merchandise",
    "gift": "gift",
    "documents": "documents",
    "sample": "sample",
    "return_merchandise": "return_merchandise",
}
# Carriers whose API wants the HS code dotted (Canada Post's XSD: 6912.00, never 691200).
DOTTED_HS_CODES = {"canadapost"}

# Extensions that declare customs whenever the two countries differ (MyDHL's isCustomsDeclarable
# = shipper country != recipient country), although inside the EU customs union no declaration
# is due: the built request is put right by drop_declaration.
DECLARES_BY_COUNTRY = {"mydhl"}


def drop_declaration(value) -> None:
    """Turn a built carrier request into an undeclared one (goods inside one customs territory):
    isCustomsDeclarable false, no export declaration, no declared value."""
    seen = set()

    def walk(obj):
        if obj is None or id(obj) in seen or isinstance(obj, (str, int, float, bool, Decimal)):
            return
        seen.add(id(obj))
        if isinstance(obj, (list, tuple)):
            for item in obj:
                walk(item)
            return
        if isinstance(obj, dict):
            items = obj
            if "isCustomsDeclarable" in items:
                items["isCustomsDeclarable"] = False
                items.pop("exportDeclaration", None)
            for item in list(items.values()):
                walk(item)
            return
        if hasattr(obj, "isCustomsDeclarable"):
            obj.isCustomsDeclarable = False
            for name in ("exportDeclaration", "declaredValue", "declaredValueCurrency"):
                if hasattr(obj, name):
                    setattr(obj, name, None)
        for item in list(getattr(obj, "__dict__", {}).values()):
            walk(item)

    walk(value)


def _kg(grams: int) -> float:
    return float((Decimal(max(grams, 1)) / 1000).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP))


def address(party: Party) -> dict:
    return {
        "person_name": party.name,
        "company_name": party.company or None,
        "address_line1": party.line1,
        "address_line2": party.line2 or None,
        "city": party.city,
        "postal_code": party.postal_code,
        "country_code": party.country.upper(),
        "state_code": party.state or None,
        "email": party.email or None,
        "phone_number": party.phone or None,
    }


def hs_code(code: str, carrier: str) -> str:
    """The product's HS code as this carrier's API accepts it."""
    digits = re.sub(r"\D", "", code or "")
    if not digits:
        return ""
    if carrier in DOTTED_HS_CODES:
        head, rest = digits[:4], digits[4:10]
        pairs = [rest[i : i + 2] for i in range(0, len(rest) - len(rest) % 2, 2)]
        return ".".join([head, *pairs])
    return digits


def commodities(request: BookingRequest, carrier: str) -> list[dict]:
    currency = (request.customs.currency if request.customs else "") or request.currency
    return [
        {
            "sku": line.sku or None,
            "title": line.title[:35],
            "description": (line.customs_description or line.title)[:45],
            "quantity": max(line.quantity, 1),
            "hs_code": hs_code(line.hs_code, carrier) or None,
            "origin_country": line.origin_country or None,
            "weight": _kg(line.weight_g) if line.weight_g else None,
            "weight_unit": "KG" if line.weight_g else None,
            "value_amount": float(line.unit_price),
            "value_currency": currency or None,
        }
        for line in request.item_lines
    ]


def customs(request: BookingRequest, carrier: str) -> dict | None:
    """Karrio's customs declaration, or None when the parcel crosses no customs border."""
    declared = request.customs
    if declared is None:
        return None
    return {
        "commodities": commodities(request, carrier),
        "content_type": CONTENT_TYPES.get(declared.contents, "other"),
        "content_description": ", ".join(ln.customs_description or ln.title for ln in request.item_lines)[
            :100
        ]
        or None,
        "incoterm": declared.incoterm or "DAP",
        "invoice": declared.invoice_number or request.order_number,
        "invoice_date": declared.invoice_date or None,
        "duty": {
            "paid_by": "sender" if declared.incoterm == "DDP" else "recipient",
            "currency": declared.currency,
            "declared_value": float(request.value) if request.value else None,
        },
        "commercial_invoice": True,
        "certify": True,
        "signer": request.sender.name or None,
    }


def parcel(request: BookingRequest) -> dict:
    dims = {}
    if request.length_cm and request.width_cm and request.height_cm:
        dims = {
            "length": float(request.length_cm),
            "width": float(request.width_cm),
            "height": float(request.height_cm),
            "dimension_unit": "CM",
        }
    return {
        "weight": _kg(request.weight_g),
        "weight_unit": "KG",
        "reference_number": request.order_number[:35],
        "description": ", ".join(f"{q} × {name}" for name, q in request.items)[:35] or None,
        **dims,
    }


def rate_request(request: BookingRequest, carrier: str) -> dict:
    body = {
        "shipper": address(request.sender),
        "recipient": address(request.recipient),
        "parcels": [parcel(request)],
        "reference": request.reference,
    }
    declared = customs(request, carrier)
    if declared:
        body["customs"] = declared
    return body


def shipment_request(request: BookingRequest, *, carrier: str, service: str, label_format: str) -> dict:
    body = {
        **rate_request(request, carrier),
        "service": service,
        "label_type": "ZPL" if label_format == "zpl" else "PDF",
        "reference": request.order_number,
        "order_id": request.order_number,
        "options": {"currency": request.currency} if request.currency else {},
    }
    return body


def message_text(messages) -> str:
    """Karrio's error messages in plain words, one sentence each (codes in brackets)."""
    parts = []
    for m in messages or []:
        text = str(getattr(m, "message", "") or "").strip()
        code = str(getattr(m, "code", "") or "").strip()
        if text and code and code not in text:
            text = f"{text} ({code})"
        if text and text not in parts:
            parts.append(text)
    return "; ".join(parts) or "the carrier gave no reason"


RETRYABLE_CODES = {"429", "500", "502", "503", "504", "999"}
RETRYABLE_WORDS = ("rate limit", "too many requests", "quota", "timed out", "temporar", "expecting value")


def is_retryable(messages) -> bool:
    """Whether the carrier said "later" (rate limit, server trouble) rather than "no"."""
    for m in messages or []:
        code = str(getattr(m, "code", "") or "")
        text = str(getattr(m, "message", "") or "").lower()
        if code in RETRYABLE_CODES or code.startswith("5") and len(code) == 3:
            return True
        if any(word in text for word in RETRYABLE_WORDS):
            return True
    return False


def service_name(code: str) -> str:
    """ "ups_express_saver" -> "UPS Express Saver"."""
    words = (code or "").replace("_", " ").split()
    known = {"ups": "UPS", "dhl": "DHL", "mydhl": "DHL", "usa": "USA", "int": "International"}
    return " ".join(known.get(w.lower(), w.capitalize()) for w in words)


def rates(details, *, account_id: int, carrier: str) -> list[Rate]:
    found = []
    for rate in details or []:
        meta = getattr(rate, "meta", None) or {}
        found.append(
            Rate(
                account_id=account_id,
                carrier=carrier,
                service=rate.service,
                service_name=(
                    meta.get("service_name")
                    if meta.get("service_name") not in (None, rate.service)
                    else service_name(rate.service)
                ),
                price=Decimal(str(rate.total_charge)).quantize(Decimal("0.01"))
                if rate.total_charge is not None
                else None,
                currency=rate.currency or "",
                transit_days=int(rate.transit_days) if str(rate.transit_days or "").isdigit() else None,
            )
        )
    return sorted(found, key=lambda r: (r.price is None, r.price or 0))


def label_bytes(details, label_format: str) -> tuple[bytes, str]:
    """The label as bytes and its format ("pdf" or "zpl") as Karrio handed it back."""
    docs = details.docs
    kind = (getattr(details, "label_type", "") or "PDF").upper()
    encoded = docs.label or ""
    if label_format == "zpl" and docs.zpl_label:
        encoded, kind = docs.zpl_label, "ZPL"
    data = base64.b64decode(encoded) if encoded else b""
    if data.startswith(b"%PDF"):
        kind = "PDF"
    return data, ("zpl" if kind == "ZPL" else "pdf")


def invoice_pdf(details) -> bytes:
    invoice = getattr(details.docs, "invoice", None)
    try:
        data = base64.b64decode(invoice) if invoice else b""
    except ValueError:
        return b""
    return data if data.startswith(b"%PDF") else b""


def booking(
    details, *, label_format: str, service: str, fee: Decimal | None, currency: str, carrier: str
) -> Booking:
    label, fmt = label_bytes(details, label_format)
    meta = getattr(details, "meta", None) or {}
    selected = getattr(details, "selected_rate", None)
    if fee is None and selected is not None and selected.total_charge is not None:
        fee, currency = Decimal(str(selected.total_charge)).quantize(Decimal("0.01")), selected.currency or ""
    return Booking(
        tracking_number=details.tracking_number,
        label_pdf=label,
        external_id=details.shipment_identifier or details.tracking_number,
        tracking_url=meta.get("carrier_tracking_link") or "",
        fee=fee or Decimal("0"),
        currency=currency if fee else "",
        service=service,
        carrier_name=carrier,
        label_format=fmt,
    )


def _when(event) -> datetime:
    stamp = getattr(event, "timestamp", None)
    if stamp:
        try:
            return datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(UTC)
        except ValueError:
            pass
    for fmt in ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            text = f"{event.date} {event.time}" if getattr(event, "time", None) else event.date
            return datetime.strptime(text.strip(), fmt).replace(tzinfo=UTC)
        except (TypeError, ValueError, AttributeError):
            continue
    return datetime.now(tz=UTC)


def tracking_updates(details) -> list[TrackingUpdate]:
    """The carrier's history, oldest first, then the parcel's current status (authoritative)."""
    events = sorted(details.events or [], key=_when)
    updates = [
        TrackingUpdate(
            code=e.code or "",
            message=(e.description or e.code or "")[:200],
            occurred_at=_when(e),
            status=STATUS.get(e.status or "", ""),
            tracking_number=details.tracking_number,
            location=e.location or "",
        )
        for e in events
    ]
    status = "delivered" if details.delivered else STATUS.get(details.status or "", "")
    if status:
        last = updates[-1] if updates else None
        updates.append(
            TrackingUpdate(
                code=details.status or "",
                message=(last.message if last else details.status or ""),
                occurred_at=last.occurred_at if last else datetime.now(tz=UTC),
                status=status,
                tracking_number=details.tracking_number,
                is_status=True,
            )
        )
    return updates
