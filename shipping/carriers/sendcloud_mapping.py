"""Sendcloud JSON <-> Shipdesk dataclasses, without HTTP (see shared/carrier-facts.md §1).

Kept apart from the client so each shape can be read (and tested) on its own: the parcel we
send, the parcel we get back, the error envelopes, the status ids and the webhook body."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

from shipping.carriers.base import BookingRequest, Party, Rate, ServiceOption, TrackingUpdate
from shipping.customs import EU_MEMBERS as EU  # one list of the EU members

# v2 parcel status ids -> what they mean for a Shipment (Shipment.Status values; "" = no change).
# 1000, 1002, 11 and 2000 are confirmed by the spec; the others come from a community list.
STATUS_BY_ID: dict[int, str] = {
    999: "booked",
    1000: "booked",
    1001: "booked",
    1: "booked",
    13: "booked",
    3: "in_transit",
    4: "in_transit",
    5: "in_transit",
    6: "in_transit",
    7: "in_transit",
    8: "in_transit",
    12: "in_transit",
    22: "in_transit",
    91: "in_transit",
    92: "in_transit",
    11: "delivered",
    93: "delivered",
    15: "exception",
    80: "exception",
    1002: "exception",
    1999: "cancel_requested",
    2001: "cancel_requested",
    2000: "cancelled",
    1998: "cancelled",
}
# Tracking history (`GET /tracking/{tn}`) names statuses by `parent_status` slug, not by id.
STATUS_BY_SLUG: dict[str, str] = {
    "ready-to-send": "booked",
    "announced": "booked",
    "announcing": "booked",
    "no-label": "booked",
    "announced-uncollected": "booked",
    "picked-up-by-driver": "in_transit",
    "to-sorting": "in_transit",
    "sorted": "in_transit",
    "being-sorted": "in_transit",
    "unsorted": "in_transit",
    "shipment-on-route": "in_transit",
    "driver-on-route": "in_transit",
    "delayed": "in_transit",
    "delivery-failed": "in_transit",
    "awaiting-customer-pickup": "in_transit",
    "delivered": "delivered",
    "collected-by-customer": "delivered",
    "collect-error": "exception",
    "undeliverable": "exception",
    "announcement-failed": "exception",
    "cancellation-requested": "cancel_requested",
    "submitting-cancellation": "cancel_requested",
    "cancelled": "cancelled",
    "cancelled-upstream": "cancelled",
}
# Sendcloud's carrier codes -> the tracking company names Shipdesk tells channels.
CARRIER_NAMES = {
    "postnl": "PostNL",
    "dpd": "DPD",
    "ups": "UPS",
    "fedex": "FedEx",
    "gls": "GLS",
    "colissimo": "Colissimo",
    "chronopost": "Chronopost",
    "dhl": "DHL",
    "dhl_express": "DHL Express",
    "dhl_de": "DHL",
    "bpost": "bpost",
    "royal_mail": "Royal Mail",
    "royalmailv2": "Royal Mail",
    "parcelforce": "Parcelforce",
    "hermes_uk": "Evri",
    "evri": "Evri",
    "deutsche_post": "Deutsche Post",
    "la_poste": "La Poste",
    "usps": "USPS",
    "canada_post": "Canada Post",
    "australia_post": "Australia Post",
}
# v2 `customs_shipment_type`: 0 gift, 1 documents, 2 commercial goods, 3 commercial sample,
# 4 returned goods.
CUSTOMS_SHIPMENT_TYPES = {"gift": 0, "documents": 1, "merchandise": 2, "sample": 3, "return_merchandise": 4}
_HOUSE_NUMBER_FIRST = re.compile(r"^\s*(\d+[a-zA-Z]?(?:[-/]\d+[a-zA-Z]?)?)[,\s]+(.+)$")
_HOUSE_NUMBER_LAST = re.compile(r"^(.+?)[,\s]+(\d+[a-zA-Z]?(?:[-/]\d+[a-zA-Z]?)?)\s*$")


def kg(grams: int | float) -> str:
    """Sendcloud weighs in kilograms, as a string with three decimals."""
    return str((Decimal(int(grams or 0)) / 1000).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP))


def grams(kg_string) -> int:
    try:
        return int(Decimal(str(kg_string or "0")) * 1000)
    except ArithmeticError:
        return 0


def split_street(line1: str) -> tuple[str, str]:
    """“12 Kerkstraat” or “Kerkstraat 12” -> ("Kerkstraat", "12"); Sendcloud wants them apart."""
    line1 = (line1 or "").strip()
    for pattern, street_group, number_group in ((_HOUSE_NUMBER_LAST, 1, 2), (_HOUSE_NUMBER_FIRST, 2, 1)):
        m = pattern.match(line1)
        if m:
            return m.group(street_group).strip(" ,"), m.group(number_group)
    return line1, ""


def parcel_body(request: BookingRequest, *, method_id: int, sender_address_id: int | None) -> dict:
    """`POST /parcels` body for one parcel, label requested at once."""
    to = request.recipient
    street, number = split_street(to.line1)
    parcel = {
        "name": to.name,
        "company_name": to.company,
        "address": street,
        "house_number": number,
        "address_2": to.line2,
        "city": to.city,
        "postal_code": to.postal_code,
        "country": to.country.upper(),
        "country_state": to.state,
        "email": to.email,
        "telephone": to.phone,
        "order_number": request.order_number,
        "external_reference": request.reference,
        "weight": kg(request.weight_g),
        "request_label": True,
        "shipment": {"id": method_id},
        "quantity": 1,
    }
    if request.value:
        parcel["total_order_value"] = str(Decimal(request.value).quantize(Decimal("0.01")))
        parcel["total_order_value_currency"] = request.currency
    if sender_address_id:
        parcel["sender_address"] = sender_address_id
    else:
        parcel.update(_from_fields(request.sender))
    for dimension in ("length", "width", "height"):
        value = getattr(request, f"{dimension}_cm")
        if value:
            parcel[dimension] = str(value)
    if request.item_lines and (
        request.customs is not None or needs_customs(request.sender.country, to.country)
    ):
        parcel["parcel_items"] = parcel_items(request)
    if request.customs is not None:
        parcel["customs_invoice_nr"] = request.customs.invoice_number
        parcel["customs_shipment_type"] = CUSTOMS_SHIPMENT_TYPES.get(request.customs.contents, 2)
        parcel["customs_information"] = {
            "invoice_number": request.customs.invoice_number,
            "export_type": "commercial_b2c",
            "currency": request.customs.currency,
        }
    return {"parcel": {k: v for k, v in parcel.items() if v not in ("", None)}}


def needs_customs(from_country: str, to_country: str) -> bool:
    """A parcel crossing a customs border: between two countries not both in the EU."""
    a, b = (from_country or "").upper(), (to_country or "").upper()
    return a != b and not (a in EU and b in EU)


def parcel_items(request: BookingRequest) -> list[dict]:
    """`parcel_items` (customs) for exactly the lines the parcel holds. A unit without its own
    weight gets its share of the parcel's."""
    count = sum(item.quantity for item in request.item_lines) or 1
    share = request.weight_g / count
    return [
        {
            "description": (item.title or item.sku)[:255],
            "quantity": item.quantity,
            "weight": kg(item.weight_g or share),
            "value": str(Decimal(item.unit_price).quantize(Decimal("0.01"))),
            "sku": item.sku[:100],
            **({"description": item.customs_description[:255]} if item.customs_description else {}),
            **({"hs_code": item.hs_code} if item.hs_code else {}),
            **({"origin_country": item.origin_country.upper()} if item.origin_country else {}),
        }
        for item in request.item_lines
    ]


def _from_fields(sender: Party) -> dict:
    street, number = split_street(sender.line1)
    return {
        "from_name": sender.name,
        "from_company_name": sender.company,
        "from_address_1": street,
        "from_house_number": number,
        "from_address_2": sender.line2,
        "from_city": sender.city,
        "from_postal_code": sender.postal_code,
        "from_country": sender.country.upper(),
        "from_email": sender.email,
        "from_telephone": sender.phone,
    }


def v3_address(party: Party) -> dict:
    street, number = split_street(party.line1)
    address = {
        "name": party.name,
        "company_name": party.company,
        "address_line_1": street,
        "house_number": number,
        "address_line_2": party.line2,
        "postal_code": party.postal_code,
        "city": party.city,
        "country_code": party.country.upper(),
        "state_province_code": party.state,
        "email": party.email,
        "phone_number": party.phone,
    }
    return {k: v for k, v in address.items() if v}


def return_body(request: BookingRequest, *, option_code: str, brand_id: int | None) -> dict:
    """`POST /api/v3/returns`: from the customer (request.sender) to the merchant (request.recipient)."""
    body = {
        "from_address": v3_address(request.sender),
        "to_address": v3_address(request.recipient),
        "ship_with": {"type": "shipping_option_code", "shipping_option_code": option_code},
        "weight": {"value": kg(request.weight_g), "unit": "kg"},
        "order_number": request.order_number,
        "send_tracking_emails": False,
    }
    if brand_id:
        body["brand_id"] = brand_id
    if request.sender.country.upper() not in EU and request.items:
        # Customs: mandatory from outside the EU. Value and weight are shared out over the items.
        count = sum(q for _, q in request.items) or 1
        each_value = (Decimal(request.value or 0) / count).quantize(Decimal("0.01"))
        each_weight = kg(request.weight_g / count)
        body["parcel_items"] = [
            {
                "description": name[:255],
                "quantity": qty,
                "weight": {"value": each_weight, "unit": "kg"},
                "value": {"value": str(each_value), "currency": request.currency or "EUR"},
                "sku": name[:100],
            }
            for name, qty in request.items
        ]
    for dimension in ("length", "width", "height"):
        value = getattr(request, f"{dimension}_cm")
        if value:
            body.setdefault("dimensions", {"unit": "cm"})[dimension] = str(value)
    return body


# v2 parcel document types (`GET /parcels/{id}/documents/{type}`). "qr" exists only for parcels
# booked with a shipping option that offers label-free drop-off; for the others it answers 404.
DOCUMENT_TYPES = ("air-waybill", "cn23", "cn23-default", "commercial-invoice", "cp71", "label", "qr")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def document_path(parcel_id: str | int, doc_type: str) -> str:
    if doc_type not in DOCUMENT_TYPES:
        raise ValueError(f"Sendcloud has no {doc_type!r} parcel document")
    return f"/parcels/{parcel_id}/documents/{doc_type}"


def parse_qr_document(status: int, content: bytes, data) -> tuple[bytes, str]:
    """The answer to `GET /parcels/{id}/documents/qr` with `Accept: image/png`, as (png, problem):
    a PNG -> (png, ""); 404 -> (b"", ""), this parcel's carrier offers no label-free drop-off;
    anything else -> (b"", what went wrong), the QR code exists maybe but could not be read."""
    if status == 200 and content.startswith(PNG_SIGNATURE):
        return content, ""
    if status == 404:
        return b"", ""
    if status == 200:
        return b"", "the QR code document is not a PNG image"
    return b"", error_message(data, status)


def error_message(data, status: int) -> str:
    """The carrier's own words from any of its error shapes (v2 envelope, cancel body, v3 list)."""
    if isinstance(data, dict):
        if isinstance(data.get("error"), dict):
            return str(data["error"].get("message") or data["error"])
        if isinstance(data.get("errors"), list) and data["errors"]:
            parts = []
            for e in data["errors"]:
                if isinstance(e, dict):
                    where = e.get("field") or (e.get("source") or {}).get("pointer") or ""
                    text = e.get("detail") or e.get("message") or e.get("code") or ""
                    parts.append(f"{where}: {text}" if where else str(text))
            return "; ".join(parts)
        if isinstance(data.get("errors"), dict) and data["errors"]:
            return "; ".join(f"{k}: {v}" for k, v in data["errors"].items())
        if data.get("message"):
            return str(data["message"])
    return f"HTTP {status}" + ("" if data else " (empty answer)")


ADDRESS_FIELDS = ("name", "address", "house_number", "city", "postal_code", "country", "country_state")


def error_field(message: str) -> str:
    """Which part of the booking a v2 validation message (`field: "words"`) concerns."""
    field = (message or "").split(":", 1)[0].strip().lower()
    if field.startswith(("parcel_items", "customs")):
        return "customs"
    if field == "weight":
        return "weight"
    if field in ("length", "width", "height"):
        return "dimensions"
    if field in ADDRESS_FIELDS or field.startswith("to_"):
        return "address"
    return ""


def carrier_name(code: str) -> str:
    code = (code or "").lower()
    if code in ("", "sendcloud"):
        return ""
    return CARRIER_NAMES.get(code, code.replace("_", " ").title())


def parse_methods(data: dict, to_country: str) -> list[ServiceOption]:
    options = []
    for m in data.get("shipping_methods") or []:
        price, transit_days = None, None
        for c in m.get("countries") or []:
            if (c.get("iso_2") or "").upper() == to_country.upper() and c.get("price") is not None:
                price = Decimal(str(c["price"])).quantize(Decimal("0.01"))
                if c.get("lead_time_hours") is not None:
                    transit_days = max(1, -(-int(c["lead_time_hours"]) // 24))  # hours, rounded up to days
        options.append(
            ServiceOption(
                code=str(m["id"]),
                name=m.get("name") or str(m["id"]),
                carrier=m.get("carrier") or "",
                min_weight_g=grams(m.get("min_weight")),
                max_weight_g=grams(m.get("max_weight")),
                price=price,
                transit_days=transit_days,
            )
        )
    return options


def rate_for(option: ServiceOption, *, account_id: int, weight_g: int, to_country: str) -> Rate:
    """One shipping method as a rate for a parcel of `weight_g`: unavailable, with why, when the
    parcel is outside the method's weight range."""
    rate = Rate(
        account_id=account_id,
        carrier=f"{carrier_name(option.carrier)} (Sendcloud)"
        if carrier_name(option.carrier)
        else "Sendcloud",
        service=option.code,
        service_name=option.name,
        price=option.price,
        currency="EUR" if option.price is not None else "",
        transit_days=option.transit_days,
    )
    if option.max_weight_g and weight_g > option.max_weight_g:
        rate.unavailable = f"the parcel weighs {weight_g} g; this service takes up to {option.max_weight_g} g"
    elif option.min_weight_g and weight_g < option.min_weight_g:
        rate.unavailable = f"the parcel weighs {weight_g} g; this service starts at {option.min_weight_g} g"
    elif option.price is None:
        rate.unavailable = f"Sendcloud quotes no price for this service to {to_country}"
    if rate.unavailable:
        rate.price, rate.currency = None, ""
    return rate


def pick_method(options: list[ServiceOption], service: str, weight_g: int) -> ServiceOption | None:
    """By id (“8”) or by name, case-insensitive; with no service, the first that takes the weight."""
    wanted = (service or "").strip().lower()

    def fits(o):
        return (not o.min_weight_g or weight_g >= o.min_weight_g) and (
            not o.max_weight_g or weight_g <= o.max_weight_g
        )

    if wanted:
        named = [o for o in options if o.code == wanted or o.name.lower() == wanted]
        return next((o for o in named if fits(o)), None)
    return next((o for o in options if fits(o)), None)


def parse_timestamp(value) -> datetime:
    """Webhook timestamps are unix epoch, in milliseconds in practice; v2 dates are DD-MM-YYYY."""
    if value in (None, ""):
        return datetime.now(tz=UTC)
    if isinstance(value, int | float) or str(value).isdigit():
        number = float(value)
        return datetime.fromtimestamp(number / 1000 if number > 1e11 else number, tz=UTC)
    text = str(value)
    for fmt in ("%d-%m-%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S%z", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S"):
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return datetime.now(tz=UTC)


def status_update(parcel: dict, *, occurred_at: datetime) -> TrackingUpdate:
    status = parcel.get("status") or {}
    code = int(status.get("id", -1)) if str(status.get("id", "")).lstrip("-").isdigit() else -1
    return TrackingUpdate(
        code=str(code),
        message=status.get("message") or "",
        occurred_at=occurred_at,
        status=STATUS_BY_ID.get(code, ""),
        external_id=str(parcel.get("id") or ""),
        tracking_number=parcel.get("tracking_number") or "",
        is_status=True,
    )


def parse_tracking(data: dict) -> list[TrackingUpdate]:
    updates = []
    for s in data.get("statuses") or []:
        slug = s.get("parent_status") or ""
        message = s.get("carrier_message") or slug.replace("-", " ").capitalize()
        updates.append(
            TrackingUpdate(
                code=slug or str(s.get("parcel_status_history_id") or ""),
                message=message,
                occurred_at=parse_timestamp(s.get("carrier_update_timestamp")),
                status=STATUS_BY_SLUG.get(slug, ""),
                external_id=str(data.get("parcel_id") or ""),
                location=s.get("location") or "",
            )
        )
    return sorted(updates, key=lambda u: u.occurred_at)


def parse_webhook_body(data: dict) -> list[TrackingUpdate]:
    if not isinstance(data, dict) or data.get("action") != "parcel_status_changed" or not data.get("parcel"):
        return []
    return [status_update(data["parcel"], occurred_at=parse_timestamp(data.get("timestamp")))]
