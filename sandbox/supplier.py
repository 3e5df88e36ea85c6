"""A dropshipping supplier's order API (the shape suppliers.supplier_api speaks), stateful:

    POST {account}/v1/orders            place an order; the same `reference` again answers 200 with
                                        the order it made (201 the first time)
    GET  {account}/v1/orders/{id}       the order, with its shipment once shipped
    POST {account}/v1/orders/{id}/ship  sandbox only: the supplier ships it, body optional
                                        {"tracking_number", "carrier", "tracking_url"}
    POST {account}/v1/orders/{id}/cancel  the merchant (or, from the sandbox, the supplier) cancels it,
                                        body optional {"reason"}: 200 with the order, also when it
                                        already is cancelled; 409 once shipped

Auth `Authorization: Bearer <api_key>`; one SandboxStore(kind="supplier", key=<account>) with
credentials {"api_key"}. If the store has SandboxProducts, only their SKUs can be ordered.
Orders are SandboxOrders (external_id = the supplier's id, "ref:<reference>" holds the
reference's order); every write is recorded."""

from __future__ import annotations

import json
import secrets
import time

from django.db import IntegrityError, transaction
from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from sandbox.faults import fault_response, mangle, record, take_fault
from sandbox.models import SandboxOrder, SandboxProduct, SandboxStore

KIND = "supplier"
REQUIRED_ADDRESS = ("name", "line1", "city", "postal_code", "country")


def _store(request, account) -> tuple[SandboxStore | None, JsonResponse | None]:
    store = SandboxStore.objects.filter(kind=KIND, key=account).first()
    if store is None:
        return None, JsonResponse({"error": f"unknown account {account}"}, status=404)
    expected = store.credentials.get("api_key", "")
    if not expected or request.headers.get("Authorization", "") != f"Bearer {expected}":
        return None, JsonResponse({"error": "invalid or missing API key"}, status=401)
    return store, None


def _guard(request, account):
    store, denied = _store(request, account)
    if denied:
        return None, denied, None
    fault = take_fault(store, request.path)
    return store, fault_response(fault), fault


def _body(request) -> dict | None:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _stamp(ts: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def _problems(store: SandboxStore, body: dict) -> list[str]:
    problems = []
    if not str(body.get("reference", "")).strip():
        problems.append("reference is required")
    address = body.get("ship_to") or {}
    problems += [
        f"ship_to.{name} is required" for name in REQUIRED_ADDRESS if not str(address.get(name, "")).strip()
    ]
    if address.get("country") and len(str(address["country"])) != 2:
        problems.append("ship_to.country must be an ISO 3166-1 alpha-2 code")
    items = body.get("items")
    if not isinstance(items, list) or not items:
        problems.append("items must be a non-empty list")
        return problems
    catalogue = set(SandboxProduct.objects.filter(store=store).values_list("external_id", flat=True))
    for i, item in enumerate(items):
        quantity = item.get("quantity") if isinstance(item, dict) else None
        if not isinstance(quantity, int) or quantity < 1:
            problems.append(f"items[{i}].quantity must be a positive integer")
        sku = str(item.get("sku", "")) if isinstance(item, dict) else ""
        if not sku:
            problems.append(f"items[{i}].sku is required")
        elif catalogue and sku not in catalogue:
            problems.append(f"items[{i}].sku {sku} is not in our catalogue")
    return problems


@csrf_exempt
def orders(request, account):
    if request.method != "POST":
        return JsonResponse({"error": "method not allowed"}, status=405)
    store, early, fault = _guard(request, account)
    if early:
        return early
    body = _body(request)
    record(store, request, parsed=body or {})
    if body is None:
        return JsonResponse({"error": "the body must be a JSON object"}, status=400)
    problems = _problems(store, body)
    if problems:
        return JsonResponse({"error": "; ".join(problems)}, status=422)
    reference = str(body["reference"]).strip()
    now = int(time.time())
    remote_id = f"SUP-{100000 + store.next_id()}"
    try:
        with transaction.atomic():
            SandboxOrder.objects.create(
                store=store,
                external_id=f"ref:{reference}",
                data={"id": remote_id},
                status="reference",
                created_ts=now,
                updated_ts=now,
            )
    except IntegrityError:  # placed before: answer with that order
        earlier = SandboxOrder.objects.get(store=store, external_id=f"ref:{reference}").data["id"]
        order = SandboxOrder.objects.get(store=store, external_id=earlier)
        return mangle(JsonResponse(order.data, status=200), fault)
    data = {
        "id": remote_id,
        "reference": reference,
        "status": "received",
        "currency": body.get("currency", ""),
        "ship_to": body["ship_to"],
        "items": body["items"],
        "note": body.get("note", ""),
        "created_at": _stamp(now),
        "updated_at": _stamp(now),
        "shipment": None,
    }
    SandboxOrder.objects.create(
        store=store, external_id=remote_id, data=data, status="received", created_ts=now, updated_ts=now
    )
    return mangle(JsonResponse(data, status=201), fault)


def order(request, account, order_id):
    store, early, fault = _guard(request, account)
    if early:
        return early
    row = SandboxOrder.objects.filter(store=store, external_id=order_id).exclude(status="reference").first()
    if row is None:
        return JsonResponse({"error": f"order {order_id} not found"}, status=404)
    return mangle(JsonResponse(row.data), fault)


def _change(request, account, order_id, status: str):
    if request.method != "POST":
        return JsonResponse({"error": "method not allowed"}, status=405)
    store, denied = _store(request, account)
    if denied:
        return denied
    body = _body(request) or {}
    record(store, request, parsed=body)
    row = SandboxOrder.objects.filter(store=store, external_id=order_id).exclude(status="reference").first()
    if row is None:
        return JsonResponse({"error": f"order {order_id} not found"}, status=404)
    if row.status in ("shipped", "cancelled"):
        return JsonResponse({"error": f"order {order_id} is already {row.status}"}, status=409)
    now = int(time.time())
    row.data.update(status=status, updated_at=_stamp(now))
    if status == "shipped":
        number = body.get("tracking_number") or f"JD{secrets.randbelow(10**12):012d}GB"
        row.data["shipment"] = {
            "tracking_number": number,
            "carrier": body.get("carrier") or "DHL Express",
            "tracking_url": body.get("tracking_url") or f"https://www.dhl.com/track?tracking-id={number}",
            "shipped_at": _stamp(now),
        }
    row.status, row.updated_ts = status, now
    row.save(update_fields=["data", "status", "updated_ts"])
    return JsonResponse(row.data)


@csrf_exempt
def ship(request, account, order_id):
    return _change(request, account, order_id, "shipped")


@csrf_exempt
def cancel(request, account, order_id):
    """Part of the API: cancelling twice answers with the cancelled order (a retry is safe);
    a shipped order can no longer be cancelled."""
    if request.method != "POST":
        return JsonResponse({"error": "method not allowed"}, status=405)
    store, early, fault = _guard(request, account)
    if early:
        return early
    row = SandboxOrder.objects.filter(store=store, external_id=order_id).exclude(status="reference").first()
    if row is not None and row.status == "cancelled":
        record(store, request, parsed=_body(request) or {})
        return mangle(JsonResponse(row.data), fault)
    if row is not None and row.status == "shipped":
        record(store, request, parsed=_body(request) or {})
        return JsonResponse(
            {"error": f"order {order_id} has shipped and can no longer be cancelled"}, status=409
        )
    response = _change(request, account, order_id, "cancelled")
    if response.status_code == 200:
        row = SandboxOrder.objects.get(store=store, external_id=order_id)
        row.data["cancel_reason"] = str((_body(request) or {}).get("reason") or "")
        row.save(update_fields=["data"])
        response = JsonResponse(row.data)
    return mangle(response, fault)


urlpatterns = [
    path("<str:account>/v1/orders", orders),
    path("<str:account>/v1/orders/<str:order_id>", order),
    path("<str:account>/v1/orders/<str:order_id>/ship", ship),
    path("<str:account>/v1/orders/<str:order_id>/cancel", cancel),
]
