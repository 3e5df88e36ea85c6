"""Fulfillments on the Shopify stand-in once they exist: an order's list
(`GET orders/{id}/fulfillments.json`), cancelling one (`POST fulfillments/{id}/cancel.json`: its
quantities open again on their lines and fulfillment orders) and replacing its tracking
(`POST fulfillments/{id}/update_tracking.json`). Answers and errors as Shopify's REST API gives
them; the exact wording of the 422 messages is the sandbox's own (unconfirmed)."""

from __future__ import annotations

import json
import time

from django.db import transaction
from django.views.decorators.csrf import csrf_exempt

from sandbox.faults import record
from sandbox.models import SandboxOrder, SandboxStore
from sandbox.shopify.fulfillment import FO_OFFSET, _settle_order_status
from sandbox.shopify.orders import _guarded_order, _order, iso, save
from sandbox.shopify.plumbing import _answer, _error, _guard, _int, _post


def cancel_fulfillment(store: SandboxStore, order: SandboxOrder, fulfillment: dict) -> dict:
    """Shopify cancels a fulfillment: its status becomes "cancelled" and the quantities it took
    are open again on their lines and fulfillment orders."""
    data = order.data
    now = int(time.time())
    by_id = {int(li["id"]): li for li in data.get("line_items") or []}
    for li in fulfillment.get("line_items") or []:
        line = by_id.get(int(li["id"]))
        if line is not None:
            line["fulfillable_quantity"] = int(line["fulfillable_quantity"]) + int(li["quantity"])
            line["fulfillment_status"] = (
                "partial" if line["fulfillable_quantity"] < int(line["quantity"]) else None
            )
    records = {r["n"]: r for r in data.get("_fulfillment_orders") or []}
    for n, line_item_id, quantity in (data.get("_fulfillment_takes") or {}).pop(str(fulfillment["id"]), []):
        for li in (records.get(n) or {}).get("lines", []):
            if li["line_item_id"] == line_item_id:
                li["fulfillable_quantity"] += quantity
    fulfillment["status"] = "cancelled"
    fulfillment["updated_at"] = iso(store, now)
    _settle_order_status(store, data, now)
    save(store, order)
    return fulfillment


def _fulfillment(store: SandboxStore, fid) -> tuple[SandboxOrder | None, dict | None]:
    """The order a fulfillment id belongs to (locked for update), and that fulfillment."""
    fid = _int(fid)
    if not fid or fid < FO_OFFSET:
        return None, None
    found = _order(store, fid % FO_OFFSET)
    if found is None:
        return None, None
    found = SandboxOrder.objects.select_for_update().get(pk=found.pk)
    return found, next(
        (f for f in found.data.get("fulfillments") or [] if int(f.get("id") or 0) == fid), None
    )


def order_fulfillments(request, version, order_id):
    """`GET orders/{id}/fulfillments.json`: every fulfillment of the order, cancelled ones too."""
    early, store, fault, call_limit, found = _guarded_order(request, order_id)
    if early:
        return early
    return _answer({"fulfillments": list(found.data.get("fulfillments") or [])}, fault, call_limit)


def _fulfillment_post(request, fid, resource: str | None):
    """The guard, the JSON body (recorded), and the fulfillment: (early answer, store, fault, call
    limit, order, fulfillment, the resource's fields)."""
    if request.method != "POST":
        return _error(406, "Not Acceptable"), None, None, "", None, None, None
    if resource:
        early, store, fault, call_limit, spec = _post(request, resource)
        if early:
            return early, store, fault, call_limit, None, None, None
    else:
        early, store, fault, call_limit = _guard(request)
        if early:
            return early, store, fault, call_limit, None, None, None
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            return _error(400, "Invalid JSON"), store, fault, call_limit, None, None, None
        record(store, request, parsed=body if isinstance(body, dict) else {})
        spec = body
    order, fulfillment = _fulfillment(store, fid)
    if fulfillment is None:
        return _error(404, "Not Found"), store, fault, call_limit, None, None, None
    return None, store, fault, call_limit, order, fulfillment, spec


@csrf_exempt
def fulfillment_cancel(request, version, fulfillment_id):
    """`POST fulfillments/{id}/cancel.json`: the fulfillment is cancelled and its quantities go
    back to their fulfillment orders, open again. Only a live one can be cancelled."""
    with transaction.atomic():
        early, store, fault, call_limit, order, fulfillment, _ = _fulfillment_post(
            request, fulfillment_id, None
        )
        if early:
            return early
        if fulfillment.get("status") not in ("success", "open", "pending"):
            return _error(
                422, {"base": [f"Cannot cancel a fulfillment with status {fulfillment.get('status')}."]}
            )
        if order.data.get("cancelled_at"):
            return _error(422, {"base": ["Cannot cancel a fulfillment of a cancelled order."]})
        cancel_fulfillment(store, order, fulfillment)
    return _answer({"fulfillment": fulfillment}, fault, call_limit)


@csrf_exempt
def fulfillment_update_tracking(request, version, fulfillment_id):
    """`POST fulfillments/{id}/update_tracking.json` with `{"fulfillment": {"tracking_info":
    {"number", "company", "url"}, "notify_customer"}}`: the fulfillment's tracking is replaced."""
    with transaction.atomic():
        early, store, fault, call_limit, order, fulfillment, spec = _fulfillment_post(
            request, fulfillment_id, "fulfillment"
        )
        if early:
            return early
        tracking = spec.get("tracking_info")
        if not isinstance(tracking, dict) or not tracking.get("number"):
            return _error(422, {"tracking_info": ["number must be present"]})
        if fulfillment.get("status") not in ("success", "open", "pending"):
            return _error(
                422,
                {
                    "base": [
                        f"Cannot update tracking of a fulfillment with status {fulfillment.get('status')}."
                    ]
                },
            )
        number, url = str(tracking["number"]), str(tracking.get("url") or "")
        company = str(tracking.get("company") or fulfillment.get("tracking_company") or "")
        fulfillment.update(
            {
                "tracking_company": company or None,
                "tracking_number": number,
                "tracking_numbers": [number],
                "tracking_url": url or None,
                "tracking_urls": [url] if url else [],
                "updated_at": iso(store, time.time()),
                "notify_customer": bool(spec.get("notify_customer", fulfillment.get("notify_customer"))),
            }
        )
        save(store, order)
    return _answer({"fulfillment": fulfillment}, fault, call_limit)
