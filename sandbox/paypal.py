"""PayPal Orders v2 stand-in (see shared/carrier-facts.md §3): an OAuth client-credentials token
(Basic client_id:secret, form grant_type=client_credentials), then create and capture orders
with a Bearer token, JSON bodies, the PayPal error envelope, and `PayPal-Request-Id`: a repeated
id answers 200 with the latest state of what the first request made, and creates nothing.

An order whose payment source is a saved PayPal account (`payment_source.paypal.vault_id`) or a
card is APPROVED at once; otherwise it is CREATED and waits for the payer (capture answers 422
ORDER_NOT_APPROVED). Declines: the store setting {"capture_issue": "INSTRUMENT_DECLINED"} (the
sandbox's negative testing switch), or the real sandbox's `PayPal-Mock-Response` header
{"mock_application_codes": "INSTRUMENT_DECLINED"}.

One SandboxStore(kind="paypal", key=<account>) per REST app, credentials {"client_id",
"client_secret"}; the current token is in store.settings["access_token"]. Orders are SandboxOrders
("order:<id>"), request ids "request:<id>". Each POST is recorded with parsed = {"body",
"request_id", "outcome"}: created | captured | declined | replayed | rejected | fault <status>."""

from __future__ import annotations

import base64
import json
import re
import secrets
import time

from django.db import IntegrityError, transaction
from django.http import JsonResponse, QueryDict
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from sandbox.faults import fault_response, mangle, record, take_fault
from sandbox.models import SandboxOrder, SandboxStore

KIND = "paypal"
API = "https://api-m.sandbox.paypal.com"
ZERO_DECIMAL = {"HUF", "JPY", "TWD"}
DECLINE_TEXT = {
    "INSTRUMENT_DECLINED": "The instrument presented was either declined by the processor or bank, or it can't be "
    "used for this payment.",
    "PAYER_ACTION_REQUIRED": "Payer needs to perform the following action before proceeding with payment.",
    "TRANSACTION_REFUSED": "The request was refused.",
}
RATE_LIMITED = {"name": "RATE_LIMIT_REACHED", "message": "Too many requests. Blocked due to rate limiting."}


def _debug_id() -> str:
    return secrets.token_hex(7)


def _problem(status: int, name: str, message: str, issue: str = "", description: str = "", field: str = ""):
    body = {
        "name": name,
        "message": message,
        "debug_id": _debug_id(),
        "links": [
            {
                "href": "https://developer.paypal.com/docs/api/orders/v2/#error-" + (issue or name),
                "rel": "information_link",
                "method": "GET",
            }
        ],
    }
    if issue:
        detail = {"issue": issue, "description": description or issue}
        if field:
            detail.update(field=field, location="body")
        body["details"] = [detail]
    return JsonResponse(body, status=status)


def _unprocessable(issue: str, description: str = "") -> JsonResponse:
    return _problem(
        422,
        "UNPROCESSABLE_ENTITY",
        "The requested action could not be performed, semantically incorrect, or failed business validation.",
        issue,
        description or DECLINE_TEXT.get(issue, issue),
    )


def _guard(request, store: SandboxStore):
    fault = take_fault(store, request.path)
    if fault and fault.get("status") == 429 and "body" not in fault:
        fault = {**fault, "body": {**RATE_LIMITED, "debug_id": _debug_id()}}
    return fault_response(fault), fault


@csrf_exempt
def token(request):
    if request.method != "POST":
        return JsonResponse({"error": "invalid_request"}, status=405)
    auth = request.headers.get("Authorization", "")
    try:
        client_id, secret = (
            base64.b64decode(auth[6:]).decode().split(":", 1) if auth.startswith("Basic ") else ("", "")
        )
    except ValueError:
        client_id, secret = "", ""
    store = (
        SandboxStore.objects.filter(kind=KIND, credentials__client_id=client_id).first()
        if client_id
        else None
    )
    if store is None or store.credentials.get("client_secret") != secret:
        return JsonResponse(
            {"error": "invalid_client", "error_description": "Client Authentication failed"}, status=401
        )
    early, fault = _guard(request, store)
    if early:
        return early
    if QueryDict(request.body).get("grant_type") != "client_credentials":
        return JsonResponse(
            {"error": "unsupported_grant_type", "error_description": "Grant Type is NULL"}, status=400
        )
    with transaction.atomic():
        store = SandboxStore.objects.select_for_update().get(pk=store.pk)
        if not store.settings.get("access_token"):  # PayPal hands out the same token until it expires
            store.settings["access_token"] = "A21AA" + secrets.token_urlsafe(40)
            store.save(update_fields=["settings"])
    return mangle(
        JsonResponse(
            {
                "scope": "https://uri.paypal.com/services/payments/payment https://uri.paypal.com/services/checkout/one-click",
                "access_token": store.settings["access_token"],
                "token_type": "Bearer",
                "app_id": "APP-80W284485P519543T",
                "expires_in": 32400,
                "nonce": f"{time.strftime('%Y-%m-%dT%H:%M:%SZ')}{secrets.token_hex(8)}",
            }
        ),
        fault,
    )


def _bearer_store(request) -> SandboxStore | None:
    auth = request.headers.get("Authorization", "")
    if not auth.startswith("Bearer ") or len(auth) < 12:
        return None
    return SandboxStore.objects.filter(kind=KIND, settings__access_token=auth[7:]).first()


def _unauthorised():
    return _problem(
        401,
        "AUTHENTICATION_FAILURE",
        "Authentication failed due to invalid authentication credentials or a missing Authorization header.",
    )


def _links(order_id: str, status: str) -> list[dict]:
    self_link = {"href": f"{API}/v2/checkout/orders/{order_id}", "rel": "self", "method": "GET"}
    if status == "COMPLETED":
        return [self_link]
    return [
        self_link,
        {
            "href": f"https://www.sandbox.paypal.com/checkoutnow?token={order_id}",
            "rel": "approve",
            "method": "GET",
        },
        {"href": f"{API}/v2/checkout/orders/{order_id}", "rel": "update", "method": "PATCH"},
        {"href": f"{API}/v2/checkout/orders/{order_id}/capture", "rel": "capture", "method": "POST"},
    ]


def _present(order: dict, request) -> dict:
    if request.headers.get("Prefer", "return=minimal") == "return=representation":
        return order
    return {"id": order["id"], "status": order["status"], "links": order["links"]}


def _validate(body: dict) -> JsonResponse | None:
    if body.get("intent") not in ("CAPTURE", "AUTHORIZE"):
        return _problem(
            400,
            "INVALID_REQUEST",
            "Request is not well-formed, syntactically incorrect, or violates schema.",
            "INVALID_PARAMETER_VALUE",
            "The value of a field is invalid.",
            "/intent",
        )
    units = body.get("purchase_units")
    if not isinstance(units, list) or not 1 <= len(units) <= 10:
        return _problem(
            400,
            "INVALID_REQUEST",
            "Request is not well-formed, syntactically incorrect, or violates schema.",
            "MISSING_REQUIRED_PARAMETER",
            "A required field / parameter is missing.",
            "/purchase_units",
        )
    for unit in units:
        amount = unit.get("amount") or {}
        currency, value = amount.get("currency_code", ""), amount.get("value")
        places = 0 if currency in ZERO_DECIMAL else 2
        pattern = r"^\d{1,10}$" if places == 0 else r"^\d{1,10}(\.\d{1,2})?$"
        if (
            not isinstance(value, str)
            or not re.match(pattern, value)
            or currency != currency.upper()
            or len(currency) != 3
        ):
            return _problem(
                422,
                "UNPROCESSABLE_ENTITY",
                "The requested action could not be performed, "
                "semantically incorrect, or failed business validation.",
                "DECIMAL_PRECISION",
                "If the currency supports decimals, only two decimal place precision is supported.",
                f"/purchase_units/@reference_id=='{unit.get('reference_id', 'default')}'/amount/value",
            )
    return None


def _replay(store: SandboxStore, request_id: str, kind: str):
    """The order a request id made earlier, or None."""
    if not request_id:
        return None
    saved = SandboxOrder.objects.filter(store=store, external_id=f"request:{kind}:{request_id}").first()
    if saved is None:
        return None
    return SandboxOrder.objects.get(store=store, external_id=f"order:{saved.data['order_id']}")


def _remember(store: SandboxStore, request_id: str, kind: str, order_id: str) -> bool:
    if not request_id:
        return True
    now = int(time.time())
    try:
        with transaction.atomic():
            SandboxOrder.objects.create(
                store=store,
                external_id=f"request:{kind}:{request_id}",
                status=kind,
                data={"order_id": order_id},
                created_ts=now,
                updated_ts=now,
            )
    except IntegrityError:
        return False
    return True


@csrf_exempt
def orders(request):
    if request.method != "POST":
        return _problem(
            405, "METHOD_NOT_SUPPORTED", "The server does not implement the requested HTTP method."
        )
    store = _bearer_store(request)
    if store is None:
        return _unauthorised()
    early, fault = _guard(request, store)
    request_id = request.headers.get("PayPal-Request-Id", "")
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        body = None
    if early:
        record(
            store,
            request,
            parsed={"body": body, "request_id": request_id, "outcome": f"fault {early.status_code}"},
        )
        return early
    if not isinstance(body, dict):
        return _problem(
            400,
            "INVALID_REQUEST",
            "Request is not well-formed, syntactically incorrect, or violates schema.",
            "MALFORMED_REQUEST_JSON",
            "The request JSON is not well formed.",
        )
    replayed = _replay(store, request_id, "create")
    if replayed is not None:
        record(store, request, parsed={"body": body, "request_id": request_id, "outcome": "replayed"})
        return mangle(JsonResponse(_present(replayed.data, request), status=200), fault)
    invalid = _validate(body)
    if invalid:
        record(store, request, parsed={"body": body, "request_id": request_id, "outcome": "rejected"})
        return invalid
    order_id = secrets.token_hex(8).upper()[:17]
    source = body.get("payment_source") or {}
    approved = bool((source.get("paypal") or {}).get("vault_id") or source.get("card"))
    status = "APPROVED" if approved else "CREATED"
    now = int(time.time())
    order = {
        "id": order_id,
        "intent": body["intent"],
        "status": status,
        "purchase_units": [
            {
                **unit,
                "reference_id": unit.get("reference_id", "default"),
                "payee": {"email_address": "supplier@example.com", "merchant_id": "C7CYMKZDG8D6E"},
            }
            for unit in body["purchase_units"]
        ],
        "create_time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
        "links": _links(order_id, status),
    }
    if approved:
        order["payment_source"] = source
    if not _remember(store, request_id, "create", order_id):  # the same id at the same moment
        return _problem(
            422,
            "UNPROCESSABLE_ENTITY",
            "Request with this PayPal-Request-Id is in progress.",
            "DUPLICATE_REQUEST_ID",
            "The PayPal-Request-Id is already in use for another request.",
        )
    SandboxOrder.objects.create(
        store=store,
        external_id=f"order:{order_id}",
        data=order,
        status=status,
        created_ts=now,
        updated_ts=now,
    )
    record(store, request, parsed={"body": body, "request_id": request_id, "outcome": "created"})
    return mangle(JsonResponse(_present(order, request), status=201), fault)


def _mock_issue(request, store: SandboxStore) -> str:
    header = request.headers.get("PayPal-Mock-Response", "")
    if header:
        try:
            return json.loads(header).get("mock_application_codes", "")
        except (ValueError, AttributeError):
            return ""
    return store.settings.get("capture_issue", "")


@csrf_exempt
def capture(request, order_id):
    if request.method != "POST":
        return _problem(
            405, "METHOD_NOT_SUPPORTED", "The server does not implement the requested HTTP method."
        )
    store = _bearer_store(request)
    if store is None:
        return _unauthorised()
    early, fault = _guard(request, store)
    request_id = request.headers.get("PayPal-Request-Id", "")
    if early:
        record(
            store,
            request,
            parsed={"body": {}, "request_id": request_id, "outcome": f"fault {early.status_code}"},
        )
        return early
    replayed = _replay(store, request_id, "capture")
    if replayed is not None:
        record(store, request, parsed={"body": {}, "request_id": request_id, "outcome": "replayed"})
        return mangle(JsonResponse(_present(replayed.data, request), status=200), fault)
    row = SandboxOrder.objects.filter(store=store, external_id=f"order:{order_id}").first()
    if row is None:
        return _problem(
            404,
            "RESOURCE_NOT_FOUND",
            "The specified resource does not exist.",
            "INVALID_RESOURCE_ID",
            "Specified resource ID does not exist. Please check the resource ID and try again.",
        )
    order = row.data
    issue = ""
    if order["status"] == "COMPLETED":
        issue = "ORDER_ALREADY_CAPTURED"
    elif order["status"] != "APPROVED":
        issue = "ORDER_NOT_APPROVED"
    else:
        issue = _mock_issue(request, store)
    if issue:
        record(
            store,
            request,
            parsed={"body": {}, "request_id": request_id, "outcome": "declined", "issue": issue},
        )
        text = {
            "ORDER_NOT_APPROVED": "Payer has not yet approved the Order for payment.",
            "ORDER_ALREADY_CAPTURED": "Order already captured.If 'intent=CAPTURE' only one capture per order is "
            "allowed.",
        }.get(issue)
        return _unprocessable(issue, text or "")
    if not _remember(store, request_id, "capture", order["id"]):
        return _problem(
            422,
            "UNPROCESSABLE_ENTITY",
            "Request with this PayPal-Request-Id is in progress.",
            "DUPLICATE_REQUEST_ID",
            "The PayPal-Request-Id is already in use for another request.",
        )
    now = int(time.time())
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
    for unit in order["purchase_units"]:
        unit["payments"] = {
            "captures": [
                {
                    "id": secrets.token_hex(9).upper()[:17],
                    "status": "COMPLETED",
                    "amount": unit["amount"],
                    "final_capture": True,
                    "seller_protection": {"status": "ELIGIBLE"},
                    "create_time": stamp,
                    "update_time": stamp,
                    "custom_id": unit.get("custom_id", ""),
                }
            ]
        }
    order.update(
        status="COMPLETED",
        update_time=stamp,
        links=_links(order["id"], "COMPLETED"),
        payer={
            "name": {"given_name": "Sandbox", "surname": "Merchant"},
            "email_address": "merchant@example.com",
            "payer_id": "QYR5Z8XDVJNXQ",
        },
    )
    row.data, row.status, row.updated_ts = order, "COMPLETED", now
    row.save(update_fields=["data", "status", "updated_ts"])
    record(store, request, parsed={"body": {}, "request_id": request_id, "outcome": "captured"})
    return mangle(JsonResponse(_present(order, request), status=201), fault)


def order_detail(request, order_id):
    store = _bearer_store(request)
    if store is None:
        return _unauthorised()
    row = SandboxOrder.objects.filter(store=store, external_id=f"order:{order_id}").first()
    if row is None:
        return _problem(
            404,
            "RESOURCE_NOT_FOUND",
            "The specified resource does not exist.",
            "INVALID_RESOURCE_ID",
            "Specified resource ID does not exist. Please check the resource ID and try again.",
        )
    return JsonResponse(row.data)


urlpatterns = [
    path("v1/oauth2/token", token),
    path("v2/checkout/orders", orders),
    path("v2/checkout/orders/<str:order_id>", order_detail),
    path("v2/checkout/orders/<str:order_id>/capture", capture),
]
