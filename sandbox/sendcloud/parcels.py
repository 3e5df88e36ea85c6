"""Parcels on the Sendcloud stand-in: their statuses, creating (and announcing) them one or many at
a time, the label request on an unannounced parcel, listing, and cancelling."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from sandbox.faults import mangle, record
from sandbox.models import SandboxOrder, SandboxProduct
from sandbox.sendcloud.directory import _method, _senders
from sandbox.sendcloud.plumbing import _base, _error, _get_parcel, _guard, _now, _public, _v2_date

MESSAGES = {
    1: "Announced",
    3: "En route to sorting center",
    4: "Delivery delayed",
    5: "Sorted",
    6: "Not sorted",
    7: "Being sorted",
    8: "Delivery attempt failed",
    11: "Delivered",
    12: "Awaiting customer pickup",
    13: "Announced: not collected",
    15: "Error collecting",
    22: "Shipment picked up by driver",
    80: "Unable to deliver",
    91: "Parcel en route",
    92: "Driver en route",
    93: "Shipment collected by customer",
    999: "No label",
    1000: "Ready to send",
    1001: "Being announced",
    1002: "Announcement failed",
    1337: "Unknown status",
    1998: "Cancelled upstream",
    1999: "Cancellation requested",
    2000: "Cancelled",
    2001: "Submitting cancellation request",
}
SLUGS = {
    1: "announced",
    3: "to-sorting",
    4: "delayed",
    5: "sorted",
    6: "unsorted",
    7: "being-sorted",
    8: "delivery-failed",
    11: "delivered",
    12: "awaiting-customer-pickup",
    13: "announced-uncollected",
    15: "collect-error",
    22: "picked-up-by-driver",
    80: "undeliverable",
    91: "shipment-on-route",
    92: "driver-on-route",
    93: "collected-by-customer",
    999: "no-label",
    1000: "ready-to-send",
    1002: "announcement-failed",
    1999: "cancellation-requested",
    2000: "cancelled",
    2001: "submitting-cancellation",
}
# Carriers in INSTANT cancel at once (200), the others queue the cancellation (202) and cancel
# after 14 days if the parcel never moved.
INSTANT = {"sendcloud", "dpd", "ups"}
QUEUE_DAYS, CANCEL_WINDOW_DAYS = 14, 42


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


def _validate(item: dict, store=None) -> tuple[dict, tuple | None, Decimal]:
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
        if not errors and method is not None:
            customs = _customs_errors(item, _sender_country(store, item))
            if customs:
                errors["parcel_items"] = customs
    reference = item.get("external_reference")
    if reference is not None and len(str(reference)) > 255:
        errors["external_reference"] = "Ensure this field has no more than 255 characters."
    return errors, method, weight


CUSTOMS_UNION = {
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT",
    "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK", "MC",
}  # fmt: skip
ITEM_REQUIRED = ("description", "quantity", "weight", "value", "hs_code", "origin_country")


def _sender_country(store, item) -> str:
    if item.get("from_country"):
        return str(item["from_country"]).upper()
    senders = _senders(store) if store is not None else []
    sender = next((a for a in senders if str(a["id"]) == str(item.get("sender_address"))), None)
    return str((sender or {}).get("country") or "NL").upper()


def _customs_errors(item: dict, sender: str) -> str:
    """Sendcloud wants `parcel_items` with an HS code and origin for a parcel leaving the EU
    customs union (or entering it from outside): the first thing missing, in its words."""
    to = str(item.get("country") or "").upper()
    if sender == to or (sender in CUSTOMS_UNION and to in CUSTOMS_UNION):
        return ""
    items = item.get("parcel_items") or []
    if not items:
        return "This field is required for shipments outside the EU."
    for i, entry in enumerate(items):
        for key in ITEM_REQUIRED:
            if not str((entry or {}).get(key) or "").strip():
                return f"Item {i + 1} ({(entry or {}).get('sku') or '?'}): {key} is required."
    return ""


def _create(request, store, item: dict) -> tuple[dict | None, dict | None]:
    errors, method, weight = _validate(item, store)
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
                    return (_public(parcel) if parcel else None), (
                        None if parcel else {"external_reference": "Reference in use."}
                    )
            parcel = _new_parcel(request, store, item, method, weight)
            if reference:
                SandboxProduct.objects.filter(store=store, external_id=f"ref:{reference}").update(
                    data={"parcel_id": parcel.external_id}
                )
    except IntegrityError:
        return None, {"external_reference": "A parcel with this external reference is being created."}
    return _public(parcel), None


def _new_parcel(request, store, item, method, weight) -> SandboxOrder:
    parcel_id = 900_000 + store.next_id()
    now = _now()
    country = str(item.get("country")).upper()
    data = {
        "id": parcel_id,
        "name": item.get("name"),
        "company_name": item.get("company_name") or "",
        "address": item.get("address"),
        "house_number": item.get("house_number") or "",
        "address_divided": {"street": item.get("address"), "house_number": item.get("house_number") or ""},
        "address_2": item.get("address_2") or "",
        "city": item.get("city"),
        "postal_code": item.get("postal_code"),
        "country": {"iso_2": country, "iso_3": "", "name": country},
        "email": item.get("email") or "",
        "telephone": item.get("telephone") or "",
        "order_number": item.get("order_number") or "",
        "external_reference": item.get("external_reference"),
        "weight": f"{weight:.3f}",
        "status": {"id": 999, "message": MESSAGES[999]},
        "tracking_number": "",
        "tracking_url": "",
        "shipment": None,
        "carrier": {"code": "sendcloud"},
        "sender_address": item.get("sender_address"),
        "total_order_value": item.get("total_order_value"),
        "total_order_value_currency": item.get("total_order_value_currency"),
        "parcel_items": [dict(i) for i in item.get("parcel_items") or [] if isinstance(i, dict)],
        "date_created": _v2_date(now),
        "date_updated": _v2_date(now),
        "date_announced": None,
        "is_return": bool(item.get("is_return")),
        "errors": {},
        "documents": [],
        "label": {},
        "_history": [],
        "_sender": _sender_lines(store, item),
        "_announced_at": None,
        "to_state": item.get("country_state") or None,
        "_brand_id": _sender_brand(store, item),
    }
    for dimension in ("length", "width", "height"):
        if item.get(dimension):
            data[dimension] = str(item[dimension])
    parcel = SandboxOrder(
        store=store,
        external_id=str(parcel_id),
        data=data,
        status="999",
        created_ts=int(now),
        updated_ts=int(now),
    )
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
    d.update(
        {
            "tracking_number": tracking,
            "shipment": {"id": method[0], "name": method[1]},
            "carrier": {"code": carrier},
            "tracking_url": f"https://tracking.sendcloud.sc/forward?carrier={carrier}&code={tracking}"
            f"&destination={country}&lang=en&verification={d.get('postal_code', '')}",
            "status": {"id": 1000, "message": MESSAGES[1000]},
            "date_announced": _v2_date(now),
            "_announced_at": now,
            "label": {
                "normal_printer": [f"{labels}/normal_printer/{parcel_id}?start_from={i}" for i in range(4)],
                "label_printer": f"{labels}/label_printer/{parcel_id}",
            },
            "documents": [
                {"type": "label", "size": "a6", "link": f"{base}/api/v2/parcels/{parcel_id}/documents/label"}
            ],
        }
    )
    d["_history"].append({"ts": now, "id": 1000})
    parcel.status = "1000"


def _sender_brand(store, item) -> int | None:
    """The brand the parcel goes out under (its labels, tracking emails and pages): the one its
    sender address carries."""
    sender = next((a for a in _senders(store) if str(a["id"]) == str(item.get("sender_address"))), None)
    return (sender or {}).get("brand_id")


def _sender_lines(store, item) -> list[str]:
    sender = next((a for a in _senders(store) if str(a["id"]) == str(item.get("sender_address"))), None)
    if sender:
        return [
            x
            for x in (
                sender.get("company_name"),
                f"{sender.get('street')} {sender.get('house_number')}",
                f"{sender.get('postal_code')} {sender.get('city')}",
                sender.get("country"),
            )
            if x
        ]
    return [
        x
        for x in (
            item.get("from_name"),
            item.get("from_company_name"),
            f"{item.get('from_address_1', '')} {item.get('from_house_number', '')}".strip(),
            f"{item.get('from_postal_code', '')} {item.get('from_city', '')}".strip(),
            item.get("from_country"),
        )
        if x
    ]


def _update_parcel(request, store, item: dict) -> JsonResponse:
    """`PUT /parcels`: request a label for a parcel created without one (before announcement only)."""
    parcel = _get_parcel(store, item.get("id"))
    if parcel is None:
        return _error(404, "No Parcel matches the given query.", request)
    if parcel.data["status"]["id"] != 999:
        return _error(400, "This parcel is already announced and cannot be changed.", request)
    if item.get("request_label"):
        merged = {**parcel.data, **item, "country": parcel.data["country"]["iso_2"]}
        errors, method, _ = _validate(merged, store)
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
    page = rows[start : start + 100]
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
        return JsonResponse(
            {"status": "failed", "message": "This shipment is already being cancelled."}, status=400
        )
    if status in (11, 93):
        return JsonResponse(
            {"status": "failed", "message": "This shipment has already been delivered."}, status=400
        )
    if status not in (1000, 1, 13):
        return JsonResponse(
            {"status": "failed", "message": "This shipment is in transit and can no longer be cancelled."},
            status=400,
        )
    if _now() - announced_at > CANCEL_WINDOW_DAYS * 86400:
        return JsonResponse(
            {
                "status": "failed",
                "message": "This shipment can no longer be cancelled: it was "
                f"announced more than {CANCEL_WINDOW_DAYS} days ago.",
            },
            status=400,
        )
    if parcel.data["carrier"]["code"] in INSTANT:
        _set_status(parcel, 2000)
        return mangle(JsonResponse({"status": "cancelled", "message": "Parcel has been cancelled"}), fault)
    _set_status(parcel, 1999)
    parcel.data["_queued_at"] = _now()
    _save(parcel)
    return mangle(
        JsonResponse({"status": "queued", "message": "Parcel cancellation has been queued"}, status=202),
        fault,
    )


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
