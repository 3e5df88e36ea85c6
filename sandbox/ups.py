"""UPS stand-in (OAuth 2 client credentials, Rating Shop, Shipping ship/void, Tracking), after
shared/carrier-facts-direct.md §1. Stateful: an account is a SandboxStore of kind "ups" keyed by
its client id (secret in credentials["client_secret"]); tokens it issued are kept in its
settings; each shipment is a SandboxOrder keyed by its 1Z number, with its tracking events.

Errors use UPS's one envelope `{"response":{"errors":[{"code","message"}]}}`: 401 250002 for a
bad or expired token, 429 "Rate Limit Exceeded" (body code and limits are not published: (U)),
400 120802 for a ShipTo address without a postal code, 400 111035 over 70 kg, 400 120545 for an
international shipment without InternationalForms products. A label is a PNG (what Karrio asks
for with "PDF") or ZPL, base64 in GraphicImage; a customs shipment also gets an invoice PDF.

    POST /sandbox/ups/_sandbox/shipments/<1Z…>/status  {"code": "DP"|"OT"|"D"|"X", "description": "…"}
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from decimal import Decimal

from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from sandbox import carrier_docs as docs
from sandbox import ratelimit
from sandbox.faults import fault_response, mangle, record, take_fault
from sandbox.models import SandboxOrder, SandboxStore
from shipping.customs import EU_MEMBERS as EU  # one list of the EU members

KIND = "ups"
TOKEN_SECONDS = 14399
MAX_KG = Decimal("70")
DOMESTIC = [
    ("03", "Ground", Decimal("9.80"), 3),
    ("02", "2nd Day Air", Decimal("19.40"), 2),
    ("01", "Next Day Air", Decimal("34.10"), 1),
]
INTERNATIONAL = [
    ("11", "Standard", Decimal("18.60"), 5),
    ("65", "Worldwide Saver", Decimal("41.20"), 2),
    ("07", "Worldwide Express", Decimal("52.90"), 1),
]
STATUS_TYPES = {
    "M": ("003", "Shipment Ready for UPS"),
    "DP": ("005", "On the Way"),
    "OT": ("006", "Out for Delivery"),
    "D": ("011", "Delivered"),
    "X": ("013", "Exception"),
    "PU": ("038", "Picked Up"),
}
TYPE_OF = {"M": "M", "PU": "P", "DP": "I", "OT": "I", "D": "D", "X": "X"}


def store_for_account(account, **settings) -> SandboxStore:
    """The sandbox UPS account behind a Shipdesk carrier account (keys from its credentials)."""
    creds = account.credentials or {}
    store, _ = SandboxStore.objects.get_or_create(kind=KIND, key=creds.get("client_id", ""))
    store.credentials = dict(creds)
    store.settings = {**store.settings, **settings}
    store.save(update_fields=["credentials", "settings"])
    return store


def _errors(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"response": {"errors": [{"code": code, "message": message}]}}, status=status)


def _limited(store: SandboxStore, request):
    if (store.settings or {}).get("rate_limits") is None and not (store.settings or {}).get("limit"):
        return None
    decision = ratelimit.take(store, KIND, request=request)
    if decision.allowed:
        return None
    response = _errors(429, "429", "Rate Limit Exceeded")
    response["Retry-After"] = ratelimit.retry_after(decision.wait)
    return response


def _fault(store: SandboxStore, request):
    fault = take_fault(store, request.path) if store.faults else None
    if fault and fault.get("status") and "body" not in fault:
        status = int(fault["status"])
        message = "Rate Limit Exceeded" if status == 429 else "Internal Server Error"
        fault = {**fault, "body": {"response": {"errors": [{"code": str(status), "message": message}]}}}
    return fault, fault_response(fault)


def _bearer(request):
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else ""
    if token:
        for store in SandboxStore.objects.filter(kind=KIND):
            issued = (store.settings or {}).get("tokens", {}).get(token)
            if issued and issued > time.time():
                limited = _limited(store, request)
                if limited:
                    return None, limited, None
                fault, early = _fault(store, request)
                if early is not None:  # kept like any other call: tests see what reached UPS
                    record(store, request, parsed={"fault": fault.get("status")})
                return store, early, fault
    return None, _errors(401, "250002", "Invalid Authentication Information."), None


@csrf_exempt
def token(request):
    if request.method != "POST":
        return _errors(405, "10002", "Method not allowed")
    try:
        client_id, secret = (
            base64.b64decode(request.headers.get("Authorization", "")[6:]).decode().split(":", 1)
        )
    except (ValueError, UnicodeDecodeError):
        return _errors(401, "10401", "ClientId is Invalid")
    store = SandboxStore.objects.filter(kind=KIND, key=client_id).first()
    if store is None or store.credentials.get("client_secret") != secret:
        return _errors(401, "10401", "ClientId is Invalid")
    if request.POST.get("grant_type") != "client_credentials":
        return _errors(400, "10400", "Invalid/Missing grant_type")
    fault, early = _fault(store, request)
    if early:
        return early
    record(store, request, parsed={"grant_type": "client_credentials"})
    issued = secrets.token_urlsafe(24)
    tokens = {k: v for k, v in (store.settings or {}).get("tokens", {}).items() if v > time.time()}
    tokens[issued] = time.time() + TOKEN_SECONDS
    store.settings = {**store.settings, "tokens": tokens}
    store.save(update_fields=["settings"])
    now_ms = str(int(time.time() * 1000))
    return mangle(
        JsonResponse(
            {
                "token_type": "Bearer",
                "issued_at": now_ms,
                "client_id": client_id,
                "access_token": issued,
                "expires_in": str(TOKEN_SECONDS),
                "refresh_count": "0",
                "status": "approved",
            }
        ),
        fault,
    )


def _json(request) -> dict:
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _country(party: dict) -> str:
    return ((party or {}).get("Address") or {}).get("CountryCode", "").upper()


def _kg(package: dict) -> Decimal:
    weight = (package or {}).get("PackageWeight") or {}
    unit = ((weight.get("UnitOfMeasurement") or {}).get("Code") or "KGS").upper()
    try:
        value = Decimal(str(weight.get("Weight") or "0"))
    except ArithmeticError:
        value = Decimal("0")
    return value * Decimal("0.45359237") if unit == "LBS" else value


def _packages(shipment: dict) -> list[dict]:
    packages = shipment.get("Package") or []
    return packages if isinstance(packages, list) else [packages]


def _services(origin: str, destination: str) -> list[tuple]:
    return DOMESTIC if origin == destination else INTERNATIONAL


def _price(base: Decimal, kg: Decimal) -> Decimal:
    return (base + kg * Decimal("1.90")).quantize(Decimal("0.01"))


@csrf_exempt
def rating(request, version, operation):
    store, early, fault = _bearer(request)
    if early:
        return early
    shipment = (_json(request).get("RateRequest") or {}).get("Shipment") or {}
    record(store, request)
    origin, destination = _country(shipment.get("Shipper")), _country(shipment.get("ShipTo"))
    kg = sum((_kg(p) for p in _packages(shipment)), Decimal("0"))
    if not destination:
        return _errors(400, "111210", "The requested service is unavailable between the selected locations.")
    if any(_kg(p) > MAX_KG for p in _packages(shipment)):
        return _errors(
            400,
            "111035",
            "The maximum per package weight for the selected service from the selected country is 70.00 kg.",
        )
    currency = "USD" if origin == "US" else "GBP" if origin == "GB" else "EUR"
    rated = [
        {
            "Service": {"Code": code, "Description": ""},
            "BillingWeight": {"UnitOfMeasurement": {"Code": "KGS"}, "Weight": f"{kg:.1f}"},
            "TransportationCharges": {"CurrencyCode": currency, "MonetaryValue": str(_price(base, kg))},
            "BaseServiceCharge": {"CurrencyCode": currency, "MonetaryValue": str(_price(base, kg))},
            "ServiceOptionsCharges": {"CurrencyCode": currency, "MonetaryValue": "0.00"},
            "ItemizedCharges": [],
            "TotalCharges": {"CurrencyCode": currency, "MonetaryValue": str(_price(base, kg))},
            "GuaranteedDelivery": {"BusinessDaysInTransit": str(days)},
            "TimeInTransit": {"ServiceSummary": {"EstimatedArrival": {"BusinessDaysInTransit": str(days)}}},
        }
        for code, _name, base, days in _services(origin, destination)
        if operation in ("Shop", "Shoptimeintransit") or code == ((shipment.get("Service") or {}).get("Code"))
    ]
    return mangle(
        JsonResponse(
            {
                "RateResponse": {
                    "Response": {"ResponseStatus": {"Code": "1", "Description": "Success"}},
                    "RatedShipment": rated,
                }
            }
        ),
        fault,
    )


def _lines(party: dict) -> list[str]:
    a = (party or {}).get("Address") or {}
    lines = a.get("AddressLine") or []
    lines = lines if isinstance(lines, list) else [lines]
    return [
        party.get("Name") or "",
        party.get("AttentionName") or "",
        *lines,
        f"{a.get('PostalCode') or ''} {a.get('City') or ''}".strip(),
        a.get("CountryCode") or "",
    ]


def _needs_customs(origin: str, destination: str) -> bool:
    return origin != destination and not (origin in EU and destination in EU)


@csrf_exempt
def ship(request, version):
    store, early, fault = _bearer(request)
    if early:
        return early
    body = _json(request).get("ShipmentRequest") or {}
    shipment = body.get("Shipment") or {}
    record(store, request)
    ship_to = shipment.get("ShipTo") or {}
    origin, destination = _country(shipment.get("Shipper")), _country(ship_to)
    if not (ship_to.get("Address") or {}).get("PostalCode") and destination not in ("IE", "HK"):
        return _errors(400, "120802", "Address Validation Error on ShipTo address")
    packages = _packages(shipment)
    if not packages or any(_kg(p) > MAX_KG for p in packages):
        return _errors(
            400,
            "111035",
            "The maximum per package weight for the selected service from the selected country is 70.00 kg.",
        )
    forms = (shipment.get("ShipmentServiceOptions") or {}).get("InternationalForms") or {}
    products = forms.get("Product") or []
    products = products if isinstance(products, list) else [products]
    if _needs_customs(origin, destination) and not products:
        return _errors(
            400,
            "120545",
            "International forms are required for this shipment: "
            "the product description, value and origin are missing.",
        )
    number = store.next_id()
    shipper_number = (shipment.get("Shipper") or {}).get("ShipperNumber") or store.key[:6]
    tracking = f"1Z{shipper_number.upper()[:6]:0<6}04{number:08d}"
    service = (shipment.get("Service") or {}).get("Code") or "11"
    kg = sum((_kg(p) for p in packages), Decimal("0"))
    label_spec = body.get("LabelSpecification") or {}
    image = ((label_spec.get("LabelImageFormat") or {}).get("Code") or "GIF").upper()
    pdf = docs.label_pdf(
        tracking=tracking,
        sender=_lines(shipment.get("Shipper")),
        recipient=_lines(ship_to),
        reference=shipment.get("Description") or "",
        weight_g=int(kg * 1000),
        service=f"UPS {service}",
        carrier="UPS",
    )
    if image == "ZPL":
        label = docs.label_zpl(tracking=tracking, recipient=_lines(ship_to), service=f"UPS {service}")
    else:  # GIF/PNG: an image on its side, as UPS sends thermal-sized image labels
        label, image = docs.label_png(pdf), "PNG" if image == "PNG" else "GIF"
    currency = "USD" if origin == "US" else "GBP" if origin == "GB" else "EUR"
    base = next((b for c, _n, b, _d in _services(origin, destination) if c == service), Decimal("20"))
    results = {
        "ShipmentCharges": {
            "TotalCharges": {"CurrencyCode": currency, "MonetaryValue": str(_price(base, kg))}
        },
        "ShipmentIdentificationNumber": tracking,
        "PackageResults": [
            {
                "TrackingNumber": tracking,
                "ShippingLabel": {"ImageFormat": {"Code": image}, "GraphicImage": docs.b64(label)},
            }
        ],
    }
    if products:
        lines = [
            f"{p.get('Description')}: {(p.get('Unit') or {}).get('Number')} x "
            f"{(p.get('Unit') or {}).get('Value')} {forms.get('CurrencyCode') or ''} "
            f"HS {p.get('CommodityCode') or '-'} origin {p.get('OriginCountryCode') or '-'}"
            for p in products
        ]
        results["Form"] = {
            "Code": "01",
            "Description": "Invoice",
            "Image": {
                "ImageFormat": {"Code": "PDF"},
                "GraphicImage": docs.b64(
                    docs.invoice_pdf(number=forms.get("InvoiceNumber") or tracking, lines=lines)
                ),
            },
        }
    SandboxOrder.objects.create(
        store=store,
        external_id=tracking,
        status="M",
        data={
            "tracking": tracking,
            "service": service,
            "request": body,
            "events": [{"code": "M", "at": time.time(), "description": STATUS_TYPES["M"][1]}],
        },
        created_ts=int(time.time()),
        updated_ts=int(time.time()),
    )
    return mangle(
        JsonResponse(
            {
                "ShipmentResponse": {
                    "Response": {"ResponseStatus": {"Code": "1", "Description": "Success"}},
                    "ShipmentResults": results,
                }
            }
        ),
        fault,
    )


@csrf_exempt
def void(request, version, shipment_id):
    if request.method != "DELETE":
        return _errors(405, "10002", "Method not allowed")
    store, early, fault = _bearer(request)
    if early:
        return early
    record(store, request)
    row = SandboxOrder.objects.filter(store=store, external_id=shipment_id).first()
    if row is None:
        return _errors(400, "190102", "No shipment found within the allowed void period")
    if row.status == "voided":
        return _errors(400, "190101", "The shipment has already been voided")
    if row.status != "M":
        return _errors(400, "190117", "The shipment has been picked up and can no longer be voided")
    row.status = "voided"
    row.data["events"].append({"code": "MV", "at": time.time(), "description": "Voided"})
    row.save(update_fields=["status", "data"])
    return mangle(
        JsonResponse(
            {
                "VoidShipmentResponse": {
                    "Response": {"ResponseStatus": {"Code": "1", "Description": "Success"}},
                    "SummaryResult": {"Status": {"Code": "1", "Description": "Success"}},
                }
            }
        ),
        fault,
    )


def _activity(event: dict) -> dict:
    stamp = time.gmtime(event["at"])
    kind = TYPE_OF.get(event["code"], "I")
    return {
        "date": time.strftime("%Y%m%d", stamp),
        "time": time.strftime("%H%M%S", stamp),
        "location": {
            "address": {"city": event.get("city", "Koeln"), "countryCode": event.get("country", "DE")}
        },
        "status": {
            "type": kind,
            "code": event["code"],
            "description": event["description"],
            "statusCode": STATUS_TYPES.get(event["code"], ("005", ""))[0],
        },
    }


def track(request, inquiry_number):
    store, early, fault = _bearer(request)
    if early:
        return early
    if not request.headers.get("transId") or not request.headers.get("transactionSrc"):
        return _errors(400, "TV1001", "Missing transId or transactionSrc header")
    row = SandboxOrder.objects.filter(store=store, external_id=inquiry_number).first()
    if row is None:
        return mangle(
            JsonResponse(
                {
                    "trackResponse": {
                        "shipment": [
                            {
                                "inquiryNumber": inquiry_number,
                                "warnings": [{"code": "TW0001", "message": "Tracking Information Not Found"}],
                            }
                        ]
                    }
                }
            ),
            fault,
        )
    events = row.data["events"]
    package = {
        "trackingNumber": inquiry_number,
        "currentStatus": _activity(events[-1])["status"],
        "activity": [_activity(e) for e in reversed(events)],
    }
    return mangle(
        JsonResponse(
            {"trackResponse": {"shipment": [{"inquiryNumber": inquiry_number, "package": [package]}]}}
        ),
        fault,
    )


@csrf_exempt
def control_status(request, tracking):
    """Sandbox only: the parcel moves on (picked up, in transit, delivered, exception)."""
    row = SandboxOrder.objects.filter(store__kind=KIND, external_id=tracking).first()
    if row is None:
        return JsonResponse({"error": "unknown shipment"}, status=404)
    data = _json(request)
    code = data.get("code", "DP")
    row.status = code
    row.data["events"].append(
        {
            "code": code,
            "at": time.time(),
            "description": data.get("description") or STATUS_TYPES.get(code, ("", code))[1],
        }
    )
    row.save(update_fields=["status", "data"])
    return JsonResponse({"status": code})


urlpatterns = [
    path("security/v1/oauth/token", token),
    path("api/rating/<str:version>/<str:operation>", rating),
    path("api/shipments/<str:version>/ship", ship),
    path("api/shipments/<str:version>/void/cancel/<str:shipment_id>", void),
    path("api/track/v1/details/<str:inquiry_number>", track),
    path("_sandbox/shipments/<str:tracking>/status", control_status),
]
