"""Canada Post stand-in (REST/XML: rating, contract shipments with their label artifact, void,
refund, tracking), after shared/carrier-facts-direct.md §3. Stateful: an account is a
SandboxStore of kind "canadapost" keyed by its API user name (password and customer number in
its credentials); each shipment is a SandboxOrder keyed by its shipment id.

Media types are checked as Canada Post does (`*/*` is refused with 406). Errors are the XML
`<messages>` envelope: 401 bad credentials (body (U)), 403 AA004 for another customer's path,
400 9111 over 30 kg (code (U)), 400 Server/cvc-pattern-valid for an undotted HS code, 400 9153
for an international parcel without customs (code (U)), void 400 8064 once transmitted and 404
with an empty `<messages/>` for an unknown or voided shipment, 429 over the budget (U). The label
is not in the create reply: it is fetched from the `rel="label"` link (this host), raw PDF or ZPL.

    POST /sandbox/canadapost/_sandbox/shipments/<pin>/status  {"event": "1496"} or {"transmitted": true}
"""

from __future__ import annotations

import base64
import json
import re
import time
from decimal import Decimal
from xml.sax.saxutils import escape

from defusedxml import ElementTree
from django.http import HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from sandbox import carrier_docs as docs
from sandbox import ratelimit
from sandbox.faults import fault_response, mangle, record, take_fault
from sandbox.models import SandboxOrder, SandboxStore

KIND = "canadapost"
RATE = "application/vnd.cpc.ship.rate-v4+xml"
SHIPMENT = "application/vnd.cpc.shipment-v8+xml"
TRACK = "application/vnd.cpc.track-v2+xml"
MAX_KG = Decimal("30")
HS_CODE = re.compile(r"^\d{4}(\.\d{2}(\.\d{2}(\.\d{2})?)?)?$")
SERVICES = {
    "domestic": [
        ("DOM.RP", "Regular Parcel", Decimal("9.59"), 4),
        ("DOM.EP", "Expedited Parcel", Decimal("11.40"), 2),
        ("DOM.XP", "Xpresspost", Decimal("16.10"), 1),
    ],
    "united-states": [
        ("USA.EP", "Expedited Parcel USA", Decimal("21.30"), 5),
        ("USA.XP", "Xpresspost USA", Decimal("32.75"), 3),
    ],
    "international": [
        ("INT.IP.AIR", "International Parcel Air", Decimal("41.90"), 8),
        ("INT.XP", "Xpresspost International", Decimal("62.20"), 5),
    ],
}
EVENTS = {
    "1496": "Item successfully delivered",
    "0174": "Item processed",
    "1401": "Item picked up by Canada Post",
    "1414": "Item held at post office",
}


def store_for_account(account, **settings) -> SandboxStore:
    creds = account.credentials or {}
    store, _ = SandboxStore.objects.get_or_create(kind=KIND, key=creds.get("username", ""))
    store.credentials = dict(creds)
    store.settings = {**store.settings, **settings}
    store.save(update_fields=["credentials", "settings"])
    return store


def _messages(status: int, *pairs: tuple[str, str]) -> HttpResponse:
    body = "".join(
        f"<message><code>{escape(c)}</code><description>{escape(d)}</description></message>" for c, d in pairs
    )
    return HttpResponse(
        f'<?xml version="1.0" encoding="UTF-8"?><messages xmlns="http://www.canadapost.ca/ws/messages">'
        f"{body}</messages>",
        status=status,
        content_type="application/vnd.cpc.messages+xml",
    )


def _xml(body: str, media: str, status: int = 200) -> HttpResponse:
    return HttpResponse('<?xml version="1.0" encoding="UTF-8"?>' + body, status=status, content_type=media)


def _guard(
    request, *, accept: str | None = None, content_type: str | None = None, customer: str | None = None
):
    try:
        user, secret = base64.b64decode(request.headers.get("Authorization", "")[6:]).decode().split(":", 1)
    except (ValueError, UnicodeDecodeError):
        user, secret = "", ""
    store = SandboxStore.objects.filter(kind=KIND, key=user).first() if user else None
    if store is None or store.credentials.get("password") != secret:
        return None, _messages(401, ("E002", "AAA Authentication Failure")), None
    if accept and request.headers.get("Accept") != accept:
        return store, _messages(406, ("AA001", f"Accept header must be {accept}")), None
    if content_type and (request.content_type or "") != content_type:
        return store, _messages(415, ("AA002", f"Content-Type must be {content_type}")), None
    if customer is not None and customer != store.credentials.get("customer_number"):
        return store, _messages(403, ("AA004", "You cannot mail on behalf of the requested customer.")), None
    if (store.settings or {}).get("limit"):
        decision = ratelimit.take(store, KIND, request=request)
        if not decision.allowed:
            response = _messages(429, ("Server", "Rate limit exceeded"))
            response["Retry-After"] = ratelimit.retry_after(decision.wait)
            return store, response, None
    fault = take_fault(store, request.path) if store.faults else None
    early = fault_response(fault)
    if early is not None:
        status = int(fault["status"])
        early = _messages(
            status, ("Server", "Rate limit exceeded" if status == 429 else "Internal server error")
        )
        record(store, request, parsed={"fault": status})
    return store, early, fault


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _find(element, route: str):
    """The first element at `route` ("a/b/c"), namespaces ignored."""
    for name in route.split("/"):
        element = (
            next((child for child in list(element) if _local(child.tag) == name), None)
            if element is not None
            else None
        )
    return element


def _text(element, route: str) -> str:
    found = _find(element, route)
    return (found.text or "").strip() if found is not None else ""


def _to_dict(element):
    children = list(element)
    if not children:
        return (element.text or "").strip()
    result: dict = {}
    for child in children:
        key, value = _local(child.tag), _to_dict(child)
        if key in result:
            result[key] = result[key] if isinstance(result[key], list) else [result[key]]
            result[key].append(value)
        else:
            result[key] = value
    return result


def _parse(request):
    try:
        return ElementTree.fromstring(request.body or b"<empty/>")
    except ElementTree.ParseError:
        return None


def _zone(destination) -> str:
    for zone in ("domestic", "united-states", "international"):
        if _find(destination, zone) is not None:
            return zone
    return ""


def _price(base: Decimal, kg: Decimal) -> Decimal:
    return (base + kg * Decimal("2.40")).quantize(Decimal("0.01"))


@csrf_exempt
def price(request):
    store, early, fault = _guard(request, accept=RATE, content_type=RATE)
    if early:
        return early
    root = _parse(request)
    if root is None:
        return _messages(
            400, ("Server", "cvc-elt.1: Cannot find the declaration of element 'mailing-scenario'.")
        )
    record(store, request, parsed={"mailing-scenario": _to_dict(root)})
    zone = _zone(_find(root, "destination"))
    try:
        kg = Decimal(_text(root, "parcel-characteristics/weight") or "0")
    except ArithmeticError:
        kg = Decimal("0")
    if not zone:
        return _messages(
            400, ("Server", "cvc-complex-type.2.4.b: The content of element 'destination' is not complete.")
        )
    if kg > MAX_KG:
        return _messages(400, ("9111", "The parcel weight exceeds the maximum of 30 kg."))
    quotes = "".join(
        f"<price-quote><service-code>{code}</service-code><service-name>{name}</service-name>"
        f"<price-details><base>{_price(base, kg)}</base><taxes><gst>0.00</gst><pst>0</pst><hst>0.00</hst></taxes>"
        f"<due>{_price(base, kg)}</due></price-details>"
        f"<service-standard><expected-transit-time>{days}</expected-transit-time></service-standard></price-quote>"
        for code, name, base, days in SERVICES[zone]
    )
    return mangle(
        _xml(f'<price-quotes xmlns="http://www.canadapost.ca/ws/ship/rate-v4">{quotes}</price-quotes>', RATE),
        fault,
    )


def _address_lines(party, name_route: str) -> list[str]:
    details = _find(party, "address-details")
    return [
        _text(party, name_route),
        _text(details, "address-line-1"),
        _text(details, "address-line-2"),
        f"{_text(details, 'postal-zip-code')} {_text(details, 'city')} {_text(details, 'prov-state')}".strip(),
        _text(details, "country-code"),
    ]


def _info(request, row: SandboxOrder) -> str:
    d = row.data
    base = request.build_absolute_uri(
        f"/sandbox/canadapost/rs/{d['customer']}/{d['customer']}/shipment/{row.external_id}"
    )
    media = "application/zpl" if d["encoding"] == "ZPL" else "application/pdf"
    label = request.build_absolute_uri(
        f"/sandbox/canadapost/ers/artifact/{d['artifact']}/{row.external_id}/0"
    )
    return (
        f'<shipment-info xmlns="http://www.canadapost.ca/ws/shipment-v8"><shipment-id>{row.external_id}</shipment-id>'
        f"<shipment-status>{row.status}</shipment-status><tracking-pin>{d['pin']}</tracking-pin>"
        f'<links><link rel="self" href="{base}" media-type="{SHIPMENT}"/>'
        f'<link rel="label" href="{label}" media-type="{media}" index="0"/></links></shipment-info>'
    )


@csrf_exempt
def shipments(request, customer, mobo):
    if request.method != "POST":
        return _messages(405, ("Server", "Method not allowed"))
    store, early, fault = _guard(request, accept=SHIPMENT, content_type=SHIPMENT, customer=customer)
    if early:
        return early
    root = _parse(request)
    if root is None or _local(root.tag) != "shipment":
        return _messages(400, ("Server", "cvc-elt.1: Cannot find the declaration of element 'shipment'."))
    record(store, request, parsed={"shipment": _to_dict(root)})
    spec = _find(root, "delivery-spec")
    destination = _find(spec, "destination/address-details")
    country = _text(destination, "country-code")
    if not country:
        return _messages(
            400,
            (
                "Server",
                "cvc-complex-type.2.4.a: Invalid content was found starting with element "
                "'address-details': 'country-code' is expected.",
            ),
        )
    try:
        kg = Decimal(_text(spec, "parcel-characteristics/weight") or "0")
    except ArithmeticError:
        kg = Decimal("0")
    if kg > MAX_KG:
        return _messages(400, ("9111", "The parcel weight exceeds the maximum of 30 kg."))
    items = [item for item in list(_find(spec, "customs/sku-list") or []) if _local(item.tag) == "item"]
    for item in items:
        code = _text(item, "hs-tariff-code")
        if code and not HS_CODE.match(code):
            return _messages(
                400,
                (
                    "Server",
                    f"cvc-pattern-valid: Value '{code}' is not facet-valid with respect to "
                    "pattern '\\d{4}(\\.\\d{2}(\\.\\d{2}(\\.\\d{2})?)?)?' for type 'HSTariffCodeType'.",
                ),
            )
    if country != "CA" and not items:
        return _messages(400, ("9153", "Customs information is required for shipments to this destination."))
    number = store.next_id()
    shipment_id = f"5450215848{number:08d}"
    pin = f"{123456780000 + number:012d}"
    encoding = (_text(spec, "print-preferences/encoding") or "PDF").upper()
    row = SandboxOrder.objects.create(
        store=store,
        external_id=shipment_id,
        status="created",
        data={
            "pin": pin,
            "customer": customer,
            "encoding": encoding,
            "artifact": f"{number:016x}",
            "service": _text(spec, "service-code"),
            "kg": str(kg),
            "sender": _address_lines(_find(spec, "sender"), "company"),
            "recipient": _address_lines(_find(spec, "destination"), "name"),
            "customs": [_to_dict(i) for i in items],
            "events": [],
            "transmitted": False,
        },
        created_ts=int(time.time()),
        updated_ts=int(time.time()),
    )
    return mangle(_xml(_info(request, row), SHIPMENT), fault)


def _row(store, customer, shipment_id) -> SandboxOrder | None:
    return SandboxOrder.objects.filter(store=store, external_id=shipment_id, data__customer=customer).first()


@csrf_exempt
def shipment(request, customer, mobo, shipment_id):
    store, early, fault = _guard(request, accept=SHIPMENT, customer=customer)
    if early:
        return early
    row = _row(store, customer, shipment_id)
    if row is None or row.status == "cancelled":
        return _messages(404)
    if request.method == "GET":
        return mangle(_xml(_info(request, row), SHIPMENT), fault)
    if request.method != "DELETE":
        return _messages(405, ("Server", "Method not allowed"))
    record(store, request, parsed={"void": shipment_id})
    if row.status == "transmitted":
        return _messages(
            400,
            (
                "8064",
                "A Shipment can only be void if it is in a PROCESSED or PRINTED state. If it "
                "has been transmitted, a Refund request should be submitted.",
            ),
        )
    row.status = "cancelled"
    row.save(update_fields=["status"])
    return HttpResponse(status=204)


@csrf_exempt
def refund(request, customer, mobo, shipment_id):
    store, early, fault = _guard(request, accept=SHIPMENT, content_type=SHIPMENT, customer=customer)
    if early:
        return early
    row = _row(store, customer, shipment_id)
    if row is None:
        return _messages(404)
    record(store, request, parsed={"refund": shipment_id})
    if row.data.get("refund"):
        return _messages(409, ("7292", "A refund has already been requested for this shipment."))
    row.data["refund"] = f"{row.pk:010d}"
    row.save(update_fields=["data"])
    return _xml(
        f'<shipment-refund-request-info xmlns="http://www.canadapost.ca/ws/shipment-v8">'
        f"<service-ticket-date>{time.strftime('%Y-%m-%d')}</service-ticket-date>"
        f"<service-ticket-id>{row.data['refund']}</service-ticket-id></shipment-refund-request-info>",
        SHIPMENT,
    )


def artifact(request, artifact_id, shipment_id, page):
    store, early, fault = _guard(request)
    if early:
        return early
    row = SandboxOrder.objects.filter(
        store=store, external_id=shipment_id, data__artifact=artifact_id
    ).first()
    if row is None:
        return _messages(404, ("9999", "Artifact not found"))
    d = row.data
    wanted = "application/zpl" if d["encoding"] == "ZPL" else "application/pdf"
    if request.headers.get("Accept") != wanted:
        return _messages(406, ("AA001", f"Accept header must be {wanted}"))
    if d["encoding"] == "ZPL":
        body = docs.label_zpl(tracking=d["pin"], recipient=d["recipient"], service=d["service"])
    else:
        body = docs.label_pdf(
            tracking=d["pin"],
            sender=d["sender"],
            recipient=d["recipient"],
            reference="",
            weight_g=int(Decimal(d["kg"]) * 1000),
            service=d["service"],
            carrier="Canada Post",
        )
        if d["customs"]:
            from shipping.labels import merge_pdfs

            lines = [
                f"{i.get('customs-description')}: {i.get('customs-number-of-units')} x "
                f"{i.get('customs-value-per-unit')} HS {i.get('hs-tariff-code') or '-'} "
                f"origin {i.get('country-of-origin') or '-'}"
                for i in d["customs"]
            ]
            body = merge_pdfs([body, docs.invoice_pdf(number=f"CN23 {d['pin']}", lines=lines)])
    return mangle(HttpResponse(body, content_type=wanted), fault)


def track(request, pin):
    store, early, fault = _guard(request, accept=TRACK)
    if early:
        return early
    row = SandboxOrder.objects.filter(store=store, data__pin=pin).first()
    if row is None:
        return _messages(404, ("004", "No Pin History"))
    occurrences = "".join(
        f"<occurrence><event-identifier>{e['code']}</event-identifier>"
        f"<event-date>{time.strftime('%Y-%m-%d', time.gmtime(e['at']))}</event-date>"
        f"<event-time>{time.strftime('%H:%M:%S', time.gmtime(e['at']))}</event-time><event-time-zone>UTC</event-time-zone>"
        f"<event-description>{escape(e['description'])}</event-description><event-site>OTTAWA</event-site>"
        f"<event-province>ON</event-province></occurrence>"
        for e in reversed(row.data["events"])
    )
    return mangle(
        _xml(
            f'<tracking-detail xmlns="http://www.canadapost.ca/ws/track-v2"><pin>{pin}</pin>'
            f"<active-exists>1</active-exists><archive-exists/><changed-expected-date/>"
            f"<destination-postal-id/><expected-delivery-date/><changed-expected-delivery-reason/>"
            f"<mailed-by-customer-number>{row.data['customer']}</mailed-by-customer-number>"
            f"<mailed-on-behalf-of-customer-number>{row.data['customer']}</mailed-on-behalf-of-customer-number>"
            f"<original-pin/><service-name>{row.data['service']}</service-name><service-name-2/>"
            f"<customer-ref-1/><customer-ref-2/><return-pin/><signature-image-exists>false</signature-image-exists>"
            f"<suppress-signature>false</suppress-signature><delivery-options/>"
            f"<significant-events>{occurrences}</significant-events></tracking-detail>",
            TRACK,
        ),
        fault,
    )


@csrf_exempt
def control_status(request, pin):
    row = SandboxOrder.objects.filter(store__kind=KIND, data__pin=pin).first()
    if row is None:
        return JsonResponse({"error": "unknown shipment"}, status=404)
    data = json.loads(request.body or b"{}")
    if data.get("transmitted"):
        row.status = "transmitted"
    if data.get("event"):
        row.data["events"].append(
            {
                "code": data["event"],
                "at": time.time(),
                "description": EVENTS.get(data["event"], data["event"]),
            }
        )
    row.save(update_fields=["status", "data"])
    return JsonResponse({"status": row.status})


urlpatterns = [
    path("rs/ship/price", price),
    path("rs/<str:customer>/<str:mobo>/shipment", shipments),
    path("rs/<str:customer>/<str:mobo>/shipment/<str:shipment_id>", shipment),
    path("rs/<str:customer>/<str:mobo>/shipment/<str:shipment_id>/refund", refund),
    path("ers/artifact/<str:artifact_id>/<str:shipment_id>/<str:page>", artifact),
    path("vis/track/pin/<str:pin>/detail", track),
    path("_sandbox/shipments/<str:pin>/status", control_status),
]
