"""Sandbox controls (not part of Sendcloud): moving a parcel's status on as the carrier would,
firing the signed `parcel_status_changed` webhook, and changing the account's settings."""

from __future__ import annotations

import hashlib
import hmac
import json

import requests
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from sandbox.models import SandboxOrder, SandboxStore
from sandbox.sendcloud.parcels import _set_status
from sandbox.sendcloud.plumbing import _authenticate, _error, _get_parcel, _now, _public


@csrf_exempt
def control_status(request, parcel_id):
    """Move a parcel on (22 picked up, 91 en route, 11 delivered, 2000 cancelled, 1002 announcement
    failed…) and fire the webhook, as the carrier's world would."""
    store, denied = _authenticate(request)
    if denied:
        return denied
    if request.method != "POST":
        return _error(405, 'POST {"status": 22}', request)
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
    body = json.dumps(
        {
            "action": "parcel_status_changed",
            "timestamp": ts,
            "carrier_status_change_timestamp": ts,
            "parcel": {
                "id": d["id"],
                "tracking_number": d.get("tracking_number"),
                "order_number": d.get("order_number"),
                "status": d["status"],
                "shipment": d.get("shipment"),
                "country": d.get("country"),
                "external_reference": d.get("external_reference"),
            },
        }
    ).encode()
    key = store.credentials.get("webhook_secret") or store.credentials.get("secret_key", "")
    signature = hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
    try:
        response = requests.post(
            url,
            data=body,
            timeout=10,
            headers={"Content-Type": "application/json", "Sendcloud-Signature": signature},
        )
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
