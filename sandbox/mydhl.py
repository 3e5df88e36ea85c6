"""DHL Express MyDHL API stand-in (rates, shipments, tracking), after
shared/carrier-facts-direct.md §2. Stateful: an account is a SandboxStore of kind "mydhl" keyed
by its API key (Basic auth; the secret in credentials["password"]); each shipment is a
SandboxOrder keyed by its 10-digit waybill number, with its tracking events.

Pre-emptive Basic auth, no token. `x-version` is required by DHL's spec but Karrio does not send
it, so its absence is tolerated. Create answers **201** with base64 `documents[].content` (the
label, and a commercial invoice for a declarable shipment). Errors use DHL's envelope
`{"instance","detail","title","message","status"}` with `status` a string: 401 for bad
credentials (body (U)), 422 for a missing required key or a declarable shipment without an
export declaration, 400 over 70 kg, 429 over the budget. There is **no void route**: a DELETE
on a shipment answers 405 (DHL has no cancel-shipment endpoint).

    POST /sandbox/mydhl/_sandbox/shipments/<awb>/status  {"code": "PU"|"AF"|"WC"|"OK"|"OH"}
"""

from __future__ import annotations

import base64
import contextlib
import json
import time
from datetime import UTC, datetime
from decimal import Decimal

from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from sandbox import carrier_docs as docs
from sandbox import ratelimit
from sandbox.faults import fault_response, mangle, record, take_fault
from sandbox.models import SandboxOrder, SandboxStore
from shipping.customs import EU_MEMBERS as EU  # one list of the EU members

KIND = "mydhl"
MAX_KG = Decimal("70")
PRODUCTS = [
    ("P", "EXPRESS WORLDWIDE", Decimal("58.00"), 2),
    ("U", "EXPRESS WORLDWIDE ECONOMY", Decimal("39.00"), 4),
]
DOMESTIC = [("N", "EXPRESS DOMESTIC", Decimal("19.00"), 1)]
EVENTS = {
    "PU": "Shipment picked up",
    "AF": "Arrived at DHL Sort Facility",
    "WC": "With delivery courier",
    "OK": "Delivered",
    "OH": "Shipment on hold",
}


def store_for_account(account, **settings) -> SandboxStore:
    creds = account.credentials or {}
    store, _ = SandboxStore.objects.get_or_create(kind=KIND, key=creds.get("username", ""))
    store.credentials = dict(creds)
    store.settings = {**store.settings, **settings}
    store.save(update_fields=["credentials", "settings"])
    return store


def _error(request, status: int, title: str, detail: str, message: str = "") -> JsonResponse:
    return JsonResponse(
        {
            "instance": request.path.split("/mydhl", 1)[-1],
            "detail": detail,
            "title": title,
            "message": message or title,
            "status": str(status),
        },
        status=status,
    )


def _guard(request):
    try:
        user, secret = base64.b64decode(request.headers.get("Authorization", "")[6:]).decode().split(":", 1)
    except (ValueError, UnicodeDecodeError):
        user, secret = "", ""
    store = SandboxStore.objects.filter(kind=KIND, key=user).first() if user else None
    if store is None or store.credentials.get("password") != secret:
        return None, _error(request, 401, "Unauthorized", "Invalid Credentials"), None
    if (store.settings or {}).get("limit"):
        decision = ratelimit.take(store, KIND, request=request)
        if not decision.allowed:
            response = _error(request, 429, "Too Many Requests", "Too many requests, please retry later")
            response["Retry-After"] = ratelimit.retry_after(decision.wait)
            return store, response, None
    fault = take_fault(store, request.path) if store.faults else None
    if fault and fault.get("status") and "body" not in fault:
        status = int(fault["status"])
        fault = {
            **fault,
            "body": {
                "instance": request.path,
                "status": str(status),
                "title": "Too Many Requests" if status == 429 else "Internal Server Error",
                "detail": "Too many requests, please retry later"
                if status == 429
                else "999: Process failure occurred. Process ID associated for that transaction (1234567890)",
            },
        }
    early = fault_response(fault)
    if early is not None:
        record(store, request, parsed={"fault": fault.get("status")})
    return store, early, fault


def _json(request) -> dict:
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _products(origin: str, destination: str) -> list[tuple]:
    return DOMESTIC if origin == destination else PRODUCTS


def _price(base: Decimal, kg: Decimal) -> Decimal:
    return (base + kg * Decimal("3.10")).quantize(Decimal("0.01"))


def _currency(origin: str) -> str:
    return {"GB": "GBP", "US": "USD", "CA": "CAD", "CH": "CHF"}.get(origin, "EUR")


def _kg(content: dict) -> Decimal:
    total = Decimal("0")
    for package in content.get("packages") or []:
        with contextlib.suppress(ArithmeticError):
            total += Decimal(str(package.get("weight") or 0))
    return total


@csrf_exempt
def rates(request):
    store, early, fault = _guard(request)
    if early:
        return early
    body = _json(request)
    record(store, request)
    details = body.get("customerDetails") or {}
    origin = ((details.get("shipperDetails") or {}).get("countryCode") or "").upper()
    destination = ((details.get("receiverDetails") or {}).get("countryCode") or "").upper()
    if not origin or not destination:
        return _error(
            request,
            422,
            "Validation error",
            "#/customerDetails/receiverDetails: required key [countryCode] not found",
            "Unprocessable Entity",
        )
    kg = sum((Decimal(str(p.get("weight") or 0)) for p in body.get("packages") or []), Decimal("0"))
    if kg > MAX_KG:
        return _error(
            request, 400, "Bad request", "The shipment weight exceeds the maximum of 70 kg per piece."
        )
    products = [
        {
            "productName": name,
            "productCode": code,
            "localProductCode": code,
            "networkTypeCode": "TD",
            "totalPrice": [
                {
                    "currencyType": "BILLC",
                    "priceCurrency": _currency(origin),
                    "price": float(_price(base, kg)),
                }
            ],
            "deliveryCapabilities": {
                "estimatedDeliveryDateAndTime": "2026-03-07T23:59:00",
                "totalTransitDays": str(days),
            },
        }
        for code, name, base, days in _products(origin, destination)
    ]
    return mangle(JsonResponse({"products": products}), fault)


def _address_lines(details: dict) -> list[str]:
    address = details.get("postalAddress") or {}
    contact = details.get("contactInformation") or {}
    return [
        contact.get("fullName") or "",
        contact.get("companyName") or "",
        address.get("addressLine1") or "",
        address.get("addressLine2") or "",
        f"{address.get('postalCode') or ''} {address.get('cityName') or ''}",
        address.get("countryCode") or "",
    ]


def _declaration_needed(origin: str, destination: str) -> bool:
    return origin != destination and not (origin in EU and destination in EU)


@csrf_exempt
def shipments(request):
    if request.method != "POST":
        return _error(request, 405, "Method not allowed", "Only POST is allowed on /shipments")
    store, early, fault = _guard(request)
    if early:
        return early
    body = _json(request)
    record(store, request)
    details = body.get("customerDetails") or {}
    shipper, receiver = details.get("shipperDetails") or {}, details.get("receiverDetails") or {}
    for key, part in (("shipperDetails", shipper), ("receiverDetails", receiver)):
        if not (part.get("postalAddress") or {}).get("countryCode"):
            return _error(
                request,
                422,
                "Validation error",
                f"#/customerDetails/{key}/postalAddress: required key [countryCode] not found",
                "Unprocessable Entity",
            )
    receiver_address = receiver["postalAddress"]
    if not receiver_address.get("postalCode") and receiver_address["countryCode"] not in ("IE", "HK"):
        return _error(
            request,
            422,
            "Validation error",
            "#/customerDetails/receiverDetails/postalAddress: required key [postalCode] not found",
            "Unprocessable Entity",
        )
    content = body.get("content") or {}
    kg = _kg(content)
    if kg > MAX_KG:
        return _error(
            request, 400, "Bad request", "The shipment weight exceeds the maximum of 70 kg per piece."
        )
    origin = shipper["postalAddress"]["countryCode"].upper()
    destination = receiver_address["countryCode"].upper()
    items = ((content.get("exportDeclaration") or {}).get("lineItems")) or []
    if _declaration_needed(origin, destination) and not items:
        return _error(
            request,
            422,
            "Validation error",
            "#/content: required key [exportDeclaration] not found: a customs declarable shipment "
            "needs its line items (description, price, quantity, manufacturer country)",
            "Unprocessable Entity",
        )
    number = store.next_id()
    awb = f"{1103733900 + number:010d}"
    fmt = ((body.get("outputImageProperties") or {}).get("encodingFormat") or "pdf").lower()
    code = body.get("productCode") or "P"
    if fmt == "zpl":
        label, image = (
            docs.label_zpl(tracking=awb, recipient=_address_lines(receiver), service=f"DHL {code}"),
            "ZPL",
        )
    else:
        label = docs.label_pdf(
            tracking=awb,
            sender=_address_lines(shipper),
            recipient=_address_lines(receiver),
            reference=content.get("description") or "",
            weight_g=int(kg * 1000),
            service=f"DHL EXPRESS {code}",
            carrier="DHL Express",
        )
        image = "PDF"
    documents = [{"imageFormat": image, "content": docs.b64(label), "typeCode": "label"}]
    if items:
        lines = [
            f"{i.get('description')}: {(i.get('quantity') or {}).get('value')} x {i.get('price')} "
            f"{content.get('declaredValueCurrency') or ''} HS "
            f"{','.join(c.get('value', '') for c in i.get('commodityCodes') or []) or '-'} "
            f"origin {i.get('manufacturerCountry') or '-'}"
            for i in items
        ]
        invoice = ((content.get("exportDeclaration") or {}).get("invoice") or {}).get("number") or awb
        documents.append(
            {
                "imageFormat": "PDF",
                "typeCode": "invoice",
                "content": docs.b64(docs.invoice_pdf(number=invoice, lines=lines)),
            }
        )
    price = _price(
        next((b for c, _n, b, _d in _products(origin, destination) if c == code), Decimal("40")), kg
    )
    SandboxOrder.objects.create(
        store=store,
        external_id=awb,
        status="created",
        data={"awb": awb, "request": body, "events": []},
        created_ts=int(time.time()),
        updated_ts=int(time.time()),
    )
    return mangle(
        JsonResponse(
            {
                "shipmentTrackingNumber": awb,
                "packages": [{"referenceNumber": 1, "trackingNumber": f"JD01460000{number:010d}"}],
                "shipmentCharges": [
                    {"currencyType": "BILLC", "priceCurrency": _currency(origin), "price": float(price)}
                ],
                "documents": documents,
            },
            status=201,
        ),
        fault,
    )


def _event(event: dict) -> dict:
    at = datetime.fromtimestamp(event["at"], tz=UTC)
    return {
        "date": at.strftime("%Y-%m-%d"),
        "time": at.strftime("%H:%M:%S"),
        "GMTOffset": "+00:00",
        "typeCode": event["code"],
        "description": event["description"],
        "serviceArea": [{"code": "AMS", "description": "Amsterdam-NL"}],
    }


def tracking(request):
    store, early, fault = _guard(request)
    if early:
        return early
    numbers = request.GET.getlist("shipmentTrackingNumber")
    rows = {r.external_id: r for r in SandboxOrder.objects.filter(store=store, external_id__in=numbers)}
    if not rows:
        return _error(
            request,
            404,
            "Not data found",
            f"No Shipments Found for shipmentTrackingNumber | {','.join(numbers)}",
        )
    found = [
        {
            "shipmentTrackingNumber": awb,
            "status": "Success",
            "productCode": (row.data["request"].get("productCode") or "P"),
            # newest first, as DHL lists them (Karrio reads the first as the current status)
            "events": [_event(e) for e in reversed(row.data["events"])],
        }
        for awb, row in rows.items()
    ]
    return mangle(JsonResponse({"shipments": found}), fault)


@csrf_exempt
def control_status(request, awb):
    row = SandboxOrder.objects.filter(store__kind=KIND, external_id=awb).first()
    if row is None:
        return JsonResponse({"error": "unknown shipment"}, status=404)
    code = _json(request).get("code", "PU")
    row.status = code
    row.data["events"].append({"code": code, "at": time.time(), "description": EVENTS.get(code, code)})
    row.save(update_fields=["status", "data"])
    return JsonResponse({"status": code})


urlpatterns = [
    path("rates", rates),
    path("shipments", shipments),
    path("tracking", tracking),
    path("_sandbox/shipments/<str:awb>/status", control_status),
]
