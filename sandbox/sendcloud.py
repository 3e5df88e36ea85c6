"""Sendcloud stand-in (API v2 parcels, labels, tracking, sender addresses, brands; v3 returns),
after shared/carrier-facts.md §1. Stateful: parcels live as SandboxOrder rows of the store whose
key is the public API key; statuses move on through a sandbox-only endpoint, which also fires
the signed `parcel_status_changed` webhook at the URL in the store's settings.

Store settings: {"webhook_url": "…", "post_per_minute": 100, "burst_per_second": 15,
"get_per_minute": 1000} (0 turns a limit off), plus optional "sender_addresses" and "brands".

    POST /sandbox/sendcloud/_sandbox/parcels/<id>/status  {"status": 22}   pickup (fires the webhook)
    POST /sandbox/sendcloud/_sandbox/settings             {"webhook_url": "http://…/webhooks/…"}

Label-free returns: a return booked with a shipping option in QR_RETURN_OPTIONS has a `qr` parcel
document (`GET /api/v2/parcels/<id>/documents/qr`, a PNG or PDF by `Accept`) that encodes its
tracking number, kept in the parcel as `_qr_payload` for tests; the other parcels answer 404.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import threading
import time
from collections import deque
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

import requests
import segno
from django.db import IntegrityError, transaction
from django.http import HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from sandbox.faults import fault_response, mangle, record, take_fault
from sandbox.models import SandboxOrder, SandboxProduct, SandboxStore
from shipping.labels import LabelContent, render_label, render_label_sheet

KIND = "sendcloud"
A6 = (297.64, 419.53)
MESSAGES = {
    1: "Announced", 3: "En route to sorting center", 4: "Delivery delayed", 5: "Sorted", 6: "Not sorted",
    7: "Being sorted", 8: "Delivery attempt failed", 11: "Delivered", 12: "Awaiting customer pickup",
    13: "Announced: not collected", 15: "Error collecting", 22: "Shipment picked up by driver",
    80: "Unable to deliver", 91: "Parcel en route", 92: "Driver en route", 93: "Shipment collected by customer",
    999: "No label", 1000: "Ready to send", 1001: "Being announced", 1002: "Announcement failed",
    1337: "Unknown status", 1998: "Cancelled upstream", 1999: "Cancellation requested", 2000: "Cancelled",
    2001: "Submitting cancellation request",
}
SLUGS = {
    1: "announced", 3: "to-sorting", 4: "delayed", 5: "sorted", 6: "unsorted", 7: "being-sorted",
    8: "delivery-failed", 11: "delivered", 12: "awaiting-customer-pickup", 13: "announced-uncollected",
    15: "collect-error", 22: "picked-up-by-driver", 80: "undeliverable", 91: "shipment-on-route",
    92: "driver-on-route", 93: "collected-by-customer", 999: "no-label", 1000: "ready-to-send",
    1002: "announcement-failed", 1999: "cancellation-requested", 2000: "cancelled", 2001: "submitting-cancellation",
}
EUROPE = ["NL", "BE", "DE", "FR", "GB", "IE", "ES", "IT", "AT", "DK", "SE", "PL", "LU", "PT"]
WORLD = EUROPE + ["US", "CA", "AU", "JP", "CH", "NO", "IN"]
# id, name, carrier, min kg, max kg, countries, price, return?; carriers in INSTANT cancel at once (200),
# the others queue the cancellation (202) and cancel after 14 days if the parcel never moved.
METHODS = [
    (8, "Unstamped letter", "sendcloud", "0.001", "2.001", WORLD, 0.0, False),
    (1001, "PostNL Standard 0-23kg", "postnl", "0.001", "23.001", EUROPE, 6.95, False),
    (1002, "DPD Home 0-31.5kg", "dpd", "0.001", "31.501", EUROPE, 7.40, False),
    (1003, "Royal Mail Tracked 48", "royal_mail", "0.001", "20.001", ["GB"], 3.85, False),
    (1004, "UPS Standard 0-70kg", "ups", "0.001", "70.001", WORLD, 12.90, False),
    (2001, "PostNL Return 0-23kg", "postnl", "0.001", "23.001", EUROPE, 5.95, True),
    (2002, "PostNL Return label-free (QR) 0-23kg", "postnl", "0.001", "23.001", ["NL", "BE"], 6.10, True),
    (2003, "Royal Mail Tracked Returns 48 label-free (QR)", "royal_mail", "0.001", "20.001", ["GB"], 3.45, True),
]
INSTANT = {"sendcloud", "dpd", "ups"}
# v3 return shipping option code -> the v2 method its parcel gets.
RETURN_OPTIONS = {"postnl:return": 2001, "dpd:return/return": 1002, "ups:standard/return": 1004,
                  "postnl:return/qr": 2002, "royal_mail:tracked/return-qr": 2003}
# Options whose carrier takes the parcel on a QR code shown on a phone and prints the label at the
# counter (PostNL printerless returns, Royal Mail label-free returns); the others need a printed label.
QR_RETURN_OPTIONS = {"postnl:return/qr", "royal_mail:tracked/return-qr"}
DEFAULT_SENDERS = [{
    "id": 4411, "company_name": "Shop BV", "contact_name": "Ops", "email": "ops@shop.example", "telephone": "+31 20 000",
    "street": "Dock", "house_number": "3", "postal_box": "", "postal_code": "1011 AA", "city": "Amsterdam",
    "country": "NL", "country_state": None, "vat_number": None, "eori_number": None, "label": "Main", "brand_id": 7,
    "signature_full_name": "", "signature_initials": "",
}]
DEFAULT_BRANDS = [{"id": 7, "name": "Shop", "domain": "shop", "color": "#112857", "secondary_color": "#112855",
                   "website": "https://shop.example", "hide_powered_by": False}]
QUEUE_DAYS, CANCEL_WINDOW_DAYS = 14, 42


def store_for_account(account, **settings) -> SandboxStore:
    """The sandbox Sendcloud account behind a Shipdesk carrier account (keys from its credentials)."""
    creds = account.credentials or {}
    store, _ = SandboxStore.objects.get_or_create(kind=KIND, key=creds.get("public_key", ""))
    store.credentials = dict(creds)
    store.settings = {**store.settings, **settings}
    store.save(update_fields=["credentials", "settings"])
    return store


# -- plumbing ----------------------------------------------------------------------------------
def _error(status: int, message: str, request) -> JsonResponse:
    """The v2 error envelope."""
    return JsonResponse({"error": {"code": status, "request": request.path.split("/sendcloud/", 1)[-1].lstrip("/"),
                                   "message": message}}, status=status)


def _authenticate(request) -> tuple[SandboxStore | None, HttpResponse | None]:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Basic "):
        return None, _error(401, "Invalid username/password.", request)
    try:
        public, secret = base64.b64decode(header[6:]).decode().split(":", 1)
    except (ValueError, UnicodeDecodeError):
        return None, _error(401, "Invalid username/password.", request)
    store = SandboxStore.objects.filter(kind=KIND, key=public).first()
    if store is None or store.credentials.get("secret_key") != secret:
        return None, _error(401, "Invalid username/password.", request)
    return store, None


class _Limiter:
    """Sendcloud's budget per account: POST/PUT/PATCH/DELETE 100/min with bursts of 15/s, GET
    1000/min. Over it: 429 with an empty body. Kept in memory: the sandbox is one process."""

    def __init__(self):
        self.lock = threading.Lock()
        self.hits: dict[tuple, deque] = {}

    def allow(self, store: SandboxStore, method: str) -> bool:
        s = store.settings or {}
        if method == "GET":
            limits = [(60, s.get("get_per_minute", 1000))]
        else:
            limits = [(60, s.get("post_per_minute", 100)), (1, s.get("burst_per_second", 15))]
        now = time.monotonic()
        with self.lock:
            for window, limit in limits:
                if not limit:
                    continue
                hits = self.hits.setdefault((store.pk, store.key, method == "GET", window), deque())
                while hits and hits[0] <= now - window:
                    hits.popleft()
                if len(hits) >= int(limit):
                    return False
            for window, limit in limits:
                if limit:
                    self.hits[(store.pk, store.key, method == "GET", window)].append(now)
        return True


LIMITER = _Limiter()


def _guard(request):
    """Auth, rate limit, then any queued fault. Returns (store, early response, fault)."""
    store, denied = _authenticate(request)
    if denied:
        return None, denied, None
    if not LIMITER.allow(store, request.method):
        return store, HttpResponse(status=429), None  # Sendcloud answers 429 with an empty body
    fault = take_fault(store, request.path) if store.faults else None  # no lock when none is queued
    return store, fault_response(fault), fault


def _base(request) -> str:
    return request.build_absolute_uri(request.path.split("/api/v", 1)[0])


def _now() -> float:
    return time.time()


def _v2_date(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%d-%m-%Y %H:%M:%S")


def _method(method_id) -> tuple | None:
    return next((m for m in METHODS if str(m[0]) == str(method_id)), None)


def _senders(store) -> list[dict]:
    return (store.settings or {}).get("sender_addresses") or DEFAULT_SENDERS


def _public(parcel: SandboxOrder) -> dict:
    return {k: v for k, v in parcel.data.items() if not k.startswith("_")}


def _get_parcel(store, parcel_id) -> SandboxOrder | None:
    return SandboxOrder.objects.filter(store=store, external_id=str(parcel_id)).first()


# -- parcels -----------------------------------------------------------------------------------
@csrf_exempt
def parcels(request):
    store, early, fault = _guard(request)
    if early:
        return early
    if request.method == "GET":
        return mangle(_list_parcels(request, store), fault)
    if request.method not in ("POST", "PUT"):
        return _error(405, f'Method "{request.method}" not allowed.', request)
    record(store, request)
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return _error(400, "JSON parse error - Expecting value", request)
    if request.method == "PUT":
        return mangle(_update_parcel(request, store, body.get("parcel") or {}), fault)
    if "parcels" in body:
        created, failed = [], []
        for item in body["parcels"] or []:
            parcel, errors = _create(request, store, item)
            if errors:
                failed.append({"parcel": item, "errors": errors})
            else:
                created.append(parcel)
        return mangle(JsonResponse({"parcels": created, "failed_parcels": failed}), fault)
    parcel, errors = _create(request, store, body.get("parcel") or {})
    if errors:
        field, message = next(iter(errors.items()))
        return _error(400, f'{field}: "{message}"', request)
    return mangle(JsonResponse({"parcel": parcel}), fault)


def _validate(item: dict) -> tuple[dict, tuple | None, Decimal]:
    errors = {}
    for required in ("name", "address", "city", "postal_code", "country"):
        if not str(item.get(required) or "").strip():
            errors[required] = "This field is required."
    try:
        weight = Decimal(str(item.get("weight") or "1.000"))
    except InvalidOperation:
        errors["weight"] = "A valid number is required."
        weight = Decimal("0")
    method = None
    if item.get("request_label"):
        method = _method((item.get("shipment") or {}).get("id"))
        if method is None:
            errors["shipment"] = "Please choose a valid shipping method."
        elif str(item.get("country", "")).upper() not in method[5]:
            errors["shipment"] = f"Shipping method {method[0]} does not ship to {item.get('country')}."
        elif not Decimal(method[3]) <= weight <= Decimal(method[4]):
            errors["weight"] = f"Ensure the weight is between {method[3]} and {method[4]} kg for this method."
    reference = item.get("external_reference")
    if reference is not None and len(str(reference)) > 255:
        errors["external_reference"] = "Ensure this field has no more than 255 characters."
    return errors, method, weight


def _create(request, store, item: dict) -> tuple[dict | None, dict | None]:
    errors, method, weight = _validate(item)
    if errors:
        return None, errors
    reference = item.get("external_reference")
    try:
        with transaction.atomic():
            if reference:
                # external_reference is unique across parcels: the same reference is the same parcel.
                try:
                    with transaction.atomic():
                        SandboxProduct.objects.create(store=store, external_id=f"ref:{reference}", data={})
                except IntegrityError:
                    existing = SandboxProduct.objects.get(store=store, external_id=f"ref:{reference}")
                    parcel = _get_parcel(store, existing.data.get("parcel_id"))
                    return (_public(parcel) if parcel else None), (None if parcel else {"external_reference":
                                                                                         "Reference in use."})
            parcel = _new_parcel(request, store, item, method, weight)
            if reference:
                SandboxProduct.objects.filter(store=store, external_id=f"ref:{reference}").update(
                    data={"parcel_id": parcel.external_id})
    except IntegrityError:
        return None, {"external_reference": "A parcel with this external reference is being created."}
    return _public(parcel), None


def _new_parcel(request, store, item, method, weight) -> SandboxOrder:
    parcel_id = 900_000 + store.next_id()
    now = _now()
    country = str(item.get("country")).upper()
    data = {
        "id": parcel_id, "name": item.get("name"), "company_name": item.get("company_name") or "",
        "address": item.get("address"), "house_number": item.get("house_number") or "",
        "address_divided": {"street": item.get("address"), "house_number": item.get("house_number") or ""},
        "address_2": item.get("address_2") or "", "city": item.get("city"), "postal_code": item.get("postal_code"),
        "country": {"iso_2": country, "iso_3": "", "name": country}, "email": item.get("email") or "",
        "telephone": item.get("telephone") or "", "order_number": item.get("order_number") or "",
        "external_reference": item.get("external_reference"), "weight": f"{weight:.3f}",
        "status": {"id": 999, "message": MESSAGES[999]}, "tracking_number": "", "tracking_url": "",
        "shipment": None, "carrier": {"code": "sendcloud"}, "sender_address": item.get("sender_address"),
        "total_order_value": item.get("total_order_value"),
        "total_order_value_currency": item.get("total_order_value_currency"),
        "date_created": _v2_date(now), "date_updated": _v2_date(now), "date_announced": None,
        "is_return": bool(item.get("is_return")), "errors": {}, "documents": [], "label": {},
        "_history": [], "_sender": _sender_lines(store, item), "_announced_at": None,
    }
    for dimension in ("length", "width", "height"):
        if item.get(dimension):
            data[dimension] = str(item[dimension])
    parcel = SandboxOrder(store=store, external_id=str(parcel_id), data=data, status="999", created_ts=int(now),
                          updated_ts=int(now))
    if item.get("request_label") and method:
        _announce(request, parcel, method)
    parcel.save()
    return parcel


def _announce(request, parcel: SandboxOrder, method: tuple) -> None:
    """Buy the label: tracking number, label URLs, status 1000 Ready to send."""
    d, now, base = parcel.data, _now(), _base(request)
    carrier, parcel_id, country = method[2], d["id"], d["country"]["iso_2"]
    tracking = f"3S{carrier[:4].upper()}{parcel_id:010d}"
    labels = f"{base}/api/v2/labels"
    d.update({
        "tracking_number": tracking, "shipment": {"id": method[0], "name": method[1]}, "carrier": {"code": carrier},
        "tracking_url": f"https://tracking.sendcloud.sc/forward?carrier={carrier}&code={tracking}"
                        f"&destination={country}&lang=en&verification={d.get('postal_code', '')}",
        "status": {"id": 1000, "message": MESSAGES[1000]}, "date_announced": _v2_date(now), "_announced_at": now,
        "label": {"normal_printer": [f"{labels}/normal_printer/{parcel_id}?start_from={i}" for i in range(4)],
                  "label_printer": f"{labels}/label_printer/{parcel_id}"},
        "documents": [{"type": "label", "size": "a6", "link": f"{base}/api/v2/parcels/{parcel_id}/documents/label"}],
    })
    d["_history"].append({"ts": now, "id": 1000})
    parcel.status = "1000"


def _sender_lines(store, item) -> list[str]:
    sender = next((a for a in _senders(store) if str(a["id"]) == str(item.get("sender_address"))), None)
    if sender:
        return [x for x in (sender.get("company_name"), f"{sender.get('street')} {sender.get('house_number')}",
                            f"{sender.get('postal_code')} {sender.get('city')}", sender.get("country")) if x]
    return [x for x in (item.get("from_name"), item.get("from_company_name"),
                        f"{item.get('from_address_1', '')} {item.get('from_house_number', '')}".strip(),
                        f"{item.get('from_postal_code', '')} {item.get('from_city', '')}".strip(),
                        item.get("from_country")) if x]


def _update_parcel(request, store, item: dict) -> JsonResponse:
    """`PUT /parcels`: request a label for a parcel created without one (before announcement only)."""
    parcel = _get_parcel(store, item.get("id"))
    if parcel is None:
        return _error(404, "No Parcel matches the given query.", request)
    if parcel.data["status"]["id"] != 999:
        return _error(400, "This parcel is already announced and cannot be changed.", request)
    if item.get("request_label"):
        merged = {**parcel.data, **item, "country": parcel.data["country"]["iso_2"]}
        errors, method, _ = _validate(merged)
        if errors:
            field, message = next(iter(errors.items()))
            return _error(400, f'{field}: "{message}"', request)
        _announce(request, parcel, method)
        _save(parcel)
    return JsonResponse({"parcel": _public(parcel)})


def _list_parcels(request, store) -> JsonResponse:
    qs = SandboxOrder.objects.filter(store=store).order_by("id")
    q = request.GET
    if q.get("parcel_status"):
        qs = qs.filter(status=q["parcel_status"])
    for param in ("external_reference", "order_number", "tracking_number"):
        if q.get(param):
            qs = qs.filter(**{f"data__{param}": q[param]})
    rows = list(qs)
    start = int(q.get("cursor") or 0)
    page = rows[start:start + 100]
    next_url = None
    if start + 100 < len(rows):
        params = q.copy()
        params["cursor"] = str(start + 100)
        next_url = request.build_absolute_uri(f"{request.path}?{params.urlencode()}")
    return JsonResponse({"next": next_url, "previous": None, "parcels": [_public(p) for p in page]})


def parcel_detail(request, parcel_id):
    store, early, fault = _guard(request)
    if early:
        return early
    parcel = _get_parcel(store, parcel_id)
    if parcel is None:
        return _error(404, "No Parcel matches the given query.", request)
    return mangle(JsonResponse({"parcel": _public(parcel)}), fault)


def statuses(request):
    store, early, fault = _guard(request)
    if early:
        return early
    return mangle(JsonResponse([{"id": k, "message": v} for k, v in MESSAGES.items()], safe=False), fault)


@csrf_exempt
def cancel(request, parcel_id):
    store, early, fault = _guard(request)
    if early:
        return early
    if request.method != "POST":
        return _error(405, f'Method "{request.method}" not allowed.', request)
    record(store, request)
    parcel = _get_parcel(store, parcel_id)
    if parcel is None:
        return _error(404, "No Parcel matches the given query.", request)
    status = parcel.data["status"]["id"]
    announced_at = parcel.data.get("_announced_at") or 0
    if status in (1002, 999):
        parcel.delete()  # an announcement that failed (or never happened) is deleted; its id is gone
        return JsonResponse({"status": "deleted", "message": "Parcel has been deleted"}, status=410)
    if status in (2000, 1998, 1999, 2001):
        return JsonResponse({"status": "failed", "message": "This shipment is already being cancelled."}, status=400)
    if status in (11, 93):
        return JsonResponse({"status": "failed", "message": "This shipment has already been delivered."}, status=400)
    if status not in (1000, 1, 13):
        return JsonResponse({"status": "failed", "message": "This shipment is in transit and can no longer be "
                                                            "cancelled."}, status=400)
    if _now() - announced_at > CANCEL_WINDOW_DAYS * 86400:
        return JsonResponse({"status": "failed", "message": "This shipment can no longer be cancelled: it was "
                                                            f"announced more than {CANCEL_WINDOW_DAYS} days ago."},
                            status=400)
    if parcel.data["carrier"]["code"] in INSTANT:
        _set_status(parcel, 2000)
        return mangle(JsonResponse({"status": "cancelled", "message": "Parcel has been cancelled"}), fault)
    _set_status(parcel, 1999)
    parcel.data["_queued_at"] = _now()
    _save(parcel)
    return mangle(JsonResponse({"status": "queued", "message": "Parcel cancellation has been queued"}, status=202),
                  fault)


def _set_status(parcel: SandboxOrder, status: int, *, message: str = "", at: float | None = None) -> None:
    at = at or _now()
    parcel.data["status"] = {"id": status, "message": message or MESSAGES.get(status, "Unknown status")}
    parcel.data["date_updated"] = _v2_date(at)
    parcel.data.setdefault("_history", []).append({"ts": at, "id": status, "message": message})
    _save(parcel)


def _save(parcel: SandboxOrder) -> None:
    parcel.status = str(parcel.data["status"]["id"])
    parcel.updated_ts = int(_now())
    parcel.save(update_fields=["data", "status", "updated_ts"])


# -- labels ------------------------------------------------------------------------------------
def _label_pdf(parcel: SandboxOrder, *, quadrant: int | None = None) -> bytes:
    d = parcel.data
    content = LabelContent(
        tracking_number=d["tracking_number"], sender_lines=d.get("_sender") or [],
        recipient_lines=[x for x in (d.get("name"), d.get("company_name"),
                                     f"{d.get('address')} {d.get('house_number')}".strip(), d.get("address_2"),
                                     f"{d.get('postal_code')} {d.get('city')}", d["country"]["iso_2"]) if x],
        order_number=d.get("order_number") or str(d["id"]), weight_g=int(Decimal(d.get("weight") or "0") * 1000),
        service=(d.get("shipment") or {}).get("name", ""), carrier=d["carrier"]["code"].replace("_", " ").title(),
    )
    if quadrant is None:
        return render_label(content, size=A6)
    return render_label_sheet(content, quadrant=quadrant)


def _pdf(data: bytes, name: str) -> HttpResponse:
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{name}"'
    return response


def _labelled(request, parcel_id):
    store, early, fault = _guard(request)
    if early:
        return None, early, None
    parcel = _get_parcel(store, parcel_id)
    if parcel is None:
        return None, _error(404, "No Parcel matches the given query.", request), None
    if not parcel.data.get("tracking_number") or parcel.data["status"]["id"] in (999, 1002):
        return None, _error(404, "This parcel has no label.", request), None
    return parcel, None, fault


def label_urls(request, parcel_id):
    parcel, early, fault = _labelled(request, parcel_id)
    if early:
        return early
    return mangle(JsonResponse({"label": parcel.data["label"]}), fault)


def label_printer(request, parcel_id):
    parcel, early, fault = _labelled(request, parcel_id)
    if early:
        return early
    return mangle(_pdf(_label_pdf(parcel), f"label-{parcel_id}.pdf"), fault)


def normal_printer(request, parcel_id):
    parcel, early, fault = _labelled(request, parcel_id)
    if early:
        return early
    try:
        start = int(request.GET.get("start_from", 0))
    except ValueError:
        start = 0
    if not 0 <= start <= 3:
        return _error(400, "start_from must be 0, 1, 2 or 3.", request)
    return mangle(_pdf(_label_pdf(parcel, quadrant=start), f"label-{parcel_id}-a4.pdf"), fault)


def document(request, parcel_id, doc_type):
    if doc_type == "qr":
        return qr_document(request, parcel_id)
    if doc_type != "label":
        return _error(404, f"No {doc_type} document for this parcel.", request)
    return label_printer(request, parcel_id)


def qr_png(payload: str) -> bytes:
    """The QR code as carriers print it on their drop-off slips: error correction M, a quiet zone
    of four modules, eight pixels a module (about 260 px: sharp on any phone screen)."""
    buffer = io.BytesIO()
    segno.make(payload, error="m", micro=False).save(buffer, kind="png", scale=8, border=4)
    return buffer.getvalue()


def qr_document(request, parcel_id):
    """The label-free drop-off code: only parcels of a QR return option have one (404 for the
    others, as for any document a parcel does not have). PNG or PDF by Accept."""
    parcel, early, fault = _labelled(request, parcel_id)
    if early:
        return early
    payload = parcel.data.get("_qr_payload")
    if not payload:
        return _error(404, "No qr document for this parcel.", request)
    accept = request.headers.get("Accept", "") or "*/*"
    if "image/png" in accept:
        return mangle(HttpResponse(qr_png(payload), content_type="image/png"), fault)
    if "application/pdf" in accept or "*/*" in accept:
        buffer = io.BytesIO()
        segno.make(payload, error="m", micro=False).save(buffer, kind="pdf", scale=8, border=4)
        return mangle(_pdf(buffer.getvalue(), f"qr-{parcel_id}.pdf"), fault)
    return _error(406, f"The qr document is available as image/png or application/pdf, not {accept}.", request)


# -- directory ---------------------------------------------------------------------------------
def shipping_methods(request):
    store, early, fault = _guard(request)
    if early:
        return early
    q = request.GET
    sender = q.get("sender_address", "all")
    if sender not in ("all", "") and not any(str(a["id"]) == sender for a in _senders(store)):
        return _error(404, "Sender address not found.", request)
    to_country = (q.get("to_country") or "").upper()
    is_return = (q.get("is_return") or "").lower() == "true"
    methods = []
    for mid, name, carrier, lo, hi, countries, price, returning in METHODS:
        if returning != is_return or (to_country and to_country not in countries):
            continue
        methods.append({"id": mid, "name": name, "carrier": carrier, "min_weight": lo, "max_weight": hi,
                        "service_point_input": "none", "price": 0,
                        "countries": [{"id": i + 1, "name": c, "iso_2": c, "iso_3": "", "price": price,
                                       "lead_time_hours": 24} for i, c in enumerate(countries)
                                      if not to_country or c == to_country]})
    return mangle(JsonResponse({"shipping_methods": methods}), fault)


def sender_addresses(request):
    store, early, fault = _guard(request)
    if early:
        return early
    return mangle(JsonResponse({"sender_addresses": _senders(store)}), fault)


def brands(request):
    store, early, fault = _guard(request)
    if early:
        return early
    items = (store.settings or {}).get("brands") or DEFAULT_BRANDS
    return mangle(JsonResponse({"next": None, "previous": None, "brands": items}), fault)


# -- tracking ----------------------------------------------------------------------------------
def tracking(request, tracking_number):
    store, early, fault = _guard(request)
    if early:
        return early
    parcel = SandboxOrder.objects.filter(store=store, data__tracking_number=tracking_number).first()
    if parcel is None:
        # The real API answers an unknown number with S3's XML, not JSON.
        return HttpResponse(f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code><Message>The "
                            f"specified key does not exist.</Message><Key>{tracking_number}</Key></Error>",
                            status=404, content_type="application/xml")
    d = parcel.data
    history = [
        {"carrier_update_timestamp": datetime.fromtimestamp(h["ts"], tz=UTC).strftime("%Y-%m-%d %H:%M:%S+00:00"),
         "parcel_status_history_id": str(i + 1), "parent_status": SLUGS.get(h["id"], "unknown"),
         "carrier_code": d["carrier"]["code"], "carrier_message": h.get("message") or MESSAGES.get(h["id"], "")}
        for i, h in enumerate(d.get("_history") or [])
    ]
    created = datetime.fromtimestamp(parcel.created_ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%S+00:00")
    return mangle(JsonResponse({
        "parcel_id": str(d["id"]), "carrier_code": d["carrier"]["code"], "created_at": created,
        "carrier_tracking_url": d.get("tracking_url"), "sendcloud_tracking_url": d.get("tracking_url"),
        "is_return": d.get("is_return", False), "is_to_service_point": False, "is_mail_box": False,
        "expected_delivery_date": None, "statuses": history,
    }), fault)


# -- v3 returns --------------------------------------------------------------------------------
def _v3_errors(errors: list[dict], status: int = 400) -> JsonResponse:
    return JsonResponse({"errors": errors}, status=status)


@csrf_exempt
def returns(request):
    store, early, fault = _guard(request)
    if early:
        return early
    if request.method != "POST":
        return _v3_errors([{"field": "", "message": "Method not allowed.", "code": "method_not_allowed"}], 405)
    record(store, request)
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return _v3_errors([{"field": "", "message": "Invalid JSON.", "code": "parse_error"}])
    errors = []
    for side in ("from_address", "to_address"):
        address = body.get(side) or {}
        for required in ("name", "address_line_1", "postal_code", "city", "country_code"):
            if not address.get(required):
                errors.append({"field": f"{side}.{required}", "message": "This field is required.",
                               "code": "required"})
    ship_with = body.get("ship_with") or {}
    option = ship_with.get("shipping_option_code") or (ship_with.get("properties") or {}).get("shipping_option_code")
    option = option if isinstance(option, str) else ""
    if ship_with.get("type") != "shipping_option_code" or option not in RETURN_OPTIONS:
        errors.append({"field": "ship_with.shipping_option_code", "message": f"Unknown shipping option “{option}”.",
                       "code": "invalid"})
    weight = body.get("weight") or {}
    if not weight.get("value"):
        errors.append({"field": "weight.value", "message": "This field is required.", "code": "required"})
    from_country = (body.get("from_address") or {}).get("country_code", "").upper()
    if from_country and from_country not in {"NL", "BE", "DE", "FR", "IE", "ES", "IT", "AT", "DK", "SE", "PL", "LU",
                                             "PT"} and not body.get("parcel_items"):
        errors.append({"field": "parcel_items", "message": "Parcel items are required for returns from outside the "
                                                           "EU.", "code": "required"})
    for i, item in enumerate(body.get("parcel_items") or []):
        for required in ("description", "quantity", "weight", "value"):
            if not item.get(required):
                errors.append({"field": f"parcel_items[{i}].{required}", "message": "This field is required.",
                               "code": "required"})
    if errors:
        return _v3_errors(errors)
    src, dst = body["from_address"], body["to_address"]
    method = _method(RETURN_OPTIONS[option])
    item = {"name": src["name"], "address": src["address_line_1"], "house_number": src.get("house_number", ""),
            "city": src["city"], "postal_code": src["postal_code"], "country": src["country_code"],
            "email": src.get("email", ""), "order_number": body.get("order_number", ""), "request_label": True,
            "is_return": True, "from_name": dst["name"], "from_address_1": dst["address_line_1"],
            "from_postal_code": dst["postal_code"], "from_city": dst["city"], "from_country": dst["country_code"]}
    parcel = _new_parcel(request, store, item, method, Decimal(str(weight["value"])))
    # The label goes to the merchant's address: show the customer as sender, the merchant as recipient.
    parcel.data.update({"name": dst["name"], "address": dst["address_line_1"],
                        "house_number": dst.get("house_number", ""), "city": dst["city"],
                        "postal_code": dst["postal_code"], "country": {"iso_2": dst["country_code"], "iso_3": "",
                                                                       "name": dst["country_code"]},
                        "_sender": [x for x in (src["name"], src["address_line_1"],
                                                f"{src['postal_code']} {src['city']}", src["country_code"]) if x],
                        "_return_id": parcel.data["id"] + 100_000})
    if option in QR_RETURN_OPTIONS:
        # What the drop-off point scans: the parcel's own tracking number, so the counter finds the
        # announced parcel and prints its label.
        parcel.data["_qr_payload"] = parcel.data["tracking_number"]
    _save(parcel)
    return mangle(JsonResponse({"return_id": parcel.data["_return_id"], "parcel_id": parcel.data["id"],
                                "multi_collo_ids": []}, status=201), fault)


def v3_label(request, parcel_id):
    return label_printer(request, parcel_id)


# -- sandbox controls (not part of Sendcloud) ----------------------------------------------------
@csrf_exempt
def control_status(request, parcel_id):
    """Move a parcel on (22 picked up, 91 en route, 11 delivered, 2000 cancelled, 1002 announcement
    failed…) and fire the webhook, as the carrier's world would."""
    store, denied = _authenticate(request)
    if denied:
        return denied
    if request.method != "POST":
        return _error(405, "POST {\"status\": 22}", request)
    parcel = _get_parcel(store, parcel_id)
    if parcel is None:
        return _error(404, "No Parcel matches the given query.", request)
    body = json.loads(request.body or b"{}")
    status = int(body.get("status", 22))
    at = float(body["at"]) if body.get("at") else None
    _set_status(parcel, status, message=body.get("message", ""), at=at)
    delivered = fire_webhook(store, parcel, at=at) if body.get("webhook", True) else None
    return JsonResponse({"parcel": _public(parcel), "webhook": delivered})


def fire_webhook(store: SandboxStore, parcel: SandboxOrder, *, at: float | None = None) -> dict | None:
    url = (store.settings or {}).get("webhook_url")
    if not url:
        return None
    d = parcel.data
    ts = int((at or _now()) * 1000)
    body = json.dumps({
        "action": "parcel_status_changed", "timestamp": ts, "carrier_status_change_timestamp": ts,
        "parcel": {"id": d["id"], "tracking_number": d.get("tracking_number"), "order_number": d.get("order_number"),
                   "status": d["status"], "shipment": d.get("shipment"), "country": d.get("country"),
                   "external_reference": d.get("external_reference")},
    }).encode()
    key = store.credentials.get("webhook_secret") or store.credentials.get("secret_key", "")
    signature = hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
    try:
        response = requests.post(url, data=body, timeout=10, headers={"Content-Type": "application/json",
                                                                      "Sendcloud-Signature": signature})
    except requests.RequestException as exc:
        return {"url": url, "error": exc.__class__.__name__}
    return {"url": url, "status": response.status_code}


@csrf_exempt
def control_settings(request):
    store, denied = _authenticate(request)
    if denied:
        return denied
    if request.method == "POST":
        store.settings = {**(store.settings or {}), **json.loads(request.body or b"{}")}
        store.save(update_fields=["settings"])
    return JsonResponse(store.settings or {})


v2 = "api/v2/"
urlpatterns = [
    path(v2 + "parcels", parcels),
    path(v2 + "parcels/statuses", statuses),
    path(v2 + "parcels/<int:parcel_id>", parcel_detail),
    path(v2 + "parcels/<int:parcel_id>/cancel", cancel),
    path(v2 + "parcels/<int:parcel_id>/documents/<str:doc_type>", document),
    path(v2 + "labels/<int:parcel_id>", label_urls),
    path(v2 + "labels/label_printer/<int:parcel_id>", label_printer),
    path(v2 + "labels/normal_printer/<int:parcel_id>", normal_printer),
    path(v2 + "shipping_methods", shipping_methods),
    path(v2 + "tracking/<str:tracking_number>", tracking),
    path(v2 + "user/addresses/sender", sender_addresses),
    path(v2 + "brands", brands),
    path("api/v3/returns", returns),
    path("api/v3/parcels/<int:parcel_id>/documents/label", v3_label),
    path("_sandbox/parcels/<int:parcel_id>/status", control_status),
    path("_sandbox/settings", control_settings),
]
