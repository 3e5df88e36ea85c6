"""Stripe PaymentIntents stand-in (see shared/carrier-facts.md §2): form-encoded bodies, Bearer
(or Basic) secret key, test PaymentMethods (pm_card_visa succeeds, pm_card_chargeDeclined is a
402 card_error…), the error envelope, and Idempotency-Key replay: the first answer for a key
(status and body, declines included) comes back for every later request with the same key and
the same parameters; different parameters get 400 idempotency_error; a request while the
first is still running gets 409.

One SandboxStore(kind="stripe", key=<account>) per account, credentials {"secret_key": "sk_test_…"}.
PaymentIntents are SandboxOrders (external_id "pi_…"); idempotency records are SandboxOrders
with external_id "idempotency:<key>" (creation) or "idempotency:<digest of path and key>" (confirm, capture).
capture_method=manual holds the funds in requires_capture until POST …/capture, as Stripe does. Each POST is recorded with parsed =
{"params", "idempotency_key", "outcome"} where outcome is created | declined | replayed |
rejected | conflict | fault <status>."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time

from django.db import IntegrityError, transaction
from django.http import JsonResponse, QueryDict
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from sandbox.faults import fault_response, mangle, record, take_fault
from sandbox.models import SandboxOrder, SandboxStore

KIND = "stripe"
DECLINES = {
    "pm_card_chargeDeclined": ("card_declined", "generic_decline", "Your card was declined."),
    "pm_card_chargeDeclinedInsufficientFunds": (
        "card_declined",
        "insufficient_funds",
        "Your card has insufficient funds.",
    ),
    "pm_card_chargeDeclinedExpiredCard": ("expired_card", "expired_card", "Your card has expired."),
}
SUCCEEDS = {"pm_card_visa", "pm_card_mastercard", "pm_card_amex"}
NEEDS_ACTION = {"pm_card_authenticationRequired", "pm_card_threeDSecure2Required"}


def _error(status: int, type_: str, message: str, **extra) -> JsonResponse:
    return JsonResponse({"error": {"type": type_, "message": message, **extra}}, status=status)


def _secret(request) -> str:
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer "):
        return auth[7:]
    if auth.startswith("Basic "):
        try:
            return base64.b64decode(auth[6:]).decode().split(":", 1)[0]
        except ValueError:
            return ""
    return ""


def _store(request) -> tuple[SandboxStore | None, JsonResponse | None]:
    key = _secret(request)
    if not key:
        return None, _error(
            401,
            "invalid_request_error",
            "You did not provide an API key. You need to provide your API key in the Authorization "
            "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
        )
    store = SandboxStore.objects.filter(kind=KIND, credentials__secret_key=key).first()
    if store is None:
        return None, _error(401, "invalid_request_error", f"Invalid API Key provided: {key[:8]}********")
    return store, None


def _nest(form: QueryDict) -> dict:
    """amount=1250&metadata[batch]=x&payment_method_types[]=card -> {"amount": "1250", "metadata": {...}, ...}"""
    out: dict = {}
    for key in form:
        values = form.getlist(key)
        if key.endswith("[]"):
            out[key[:-2]] = values
        elif "[" in key and key.endswith("]"):
            outer, inner = key[:-1].split("[", 1)
            out.setdefault(outer, {})[inner] = values[-1]
        else:
            out[key] = values[-1]
    return out


def _intent(store: SandboxStore, params: dict) -> tuple[int, dict]:
    """Run the endpoint: validate, create the PaymentIntent, confirm it. Returns (status, body)."""
    try:
        amount = int(params.get("amount", ""))
    except ValueError:
        return 400, {
            "error": {
                "type": "invalid_request_error",
                "param": "amount",
                "message": "Invalid integer: " + str(params.get("amount", "")),
            }
        }
    currency = params.get("currency", "")
    if len(currency) != 3 or currency != currency.lower():
        return 400, {
            "error": {
                "type": "invalid_request_error",
                "param": "currency",
                "message": f"Invalid currency: {currency}. Stripe currencies are lowercase ISO codes.",
            }
        }
    if amount < 50:
        return 400, {
            "error": {
                "type": "invalid_request_error",
                "code": "amount_too_small",
                "param": "amount",
                "message": "Amount must be at least €0.50 eur",
            }
        }
    confirm = params.get("confirm") == "true"
    pm = params.get("payment_method", "")
    if confirm and not pm:
        return 400, {
            "error": {
                "type": "invalid_request_error",
                "param": "payment_method",
                "message": "You must provide a payment_method to confirm this PaymentIntent.",
            }
        }
    if (
        confirm
        and not params.get("payment_method_types")
        and not params.get("return_url")
        and (params.get("automatic_payment_methods") or {}).get("allow_redirects") != "never"
    ):
        return 400, {
            "error": {
                "type": "invalid_request_error",
                "param": "return_url",
                "message": "This PaymentIntent is configured to accept payment methods enabled in "
                "your Dashboard. Because some of these payment methods might redirect "
                "your customer off of your page, you must provide a `return_url`.",
            }
        }
    if pm and pm not in SUCCEEDS | NEEDS_ACTION | set(DECLINES):
        return 400, {
            "error": {
                "type": "invalid_request_error",
                "code": "resource_missing",
                "param": "payment_method",
                "message": f"No such PaymentMethod: '{pm}'",
            }
        }
    now = int(time.time())
    pi_id = f"pi_3{secrets.token_hex(12)}"
    intent = {
        "id": pi_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_received": 0,
        "currency": currency,
        "status": "requires_payment_method" if not pm else "requires_confirmation",
        "capture_method": params.get("capture_method", "automatic"),
        "client_secret": f"{pi_id}_secret_{secrets.token_hex(8)}",
        "amount_capturable": 0,
        "description": params.get("description"),
        "payment_method": pm or None,
        "latest_charge": None,
        "last_payment_error": None,
        "next_action": None,
        "metadata": params.get("metadata") or {},
        "livemode": False,
        "created": now,
    }
    status = _confirm(intent, pm) if confirm else 200
    SandboxOrder.objects.create(
        store=store, external_id=pi_id, data=intent, status=intent["status"], created_ts=now, updated_ts=now
    )
    return _answer(status, intent)


def _confirm(intent: dict, pm: str) -> int:
    """Charge (or, with capture_method=manual, authorise) the card; returns the HTTP status.
    A manual-capture intent holds the funds in requires_capture until it is captured."""
    intent["payment_method"] = pm
    if pm in DECLINES:
        code, decline_code, message = DECLINES[pm]
        charge = f"ch_3{secrets.token_hex(12)}"
        intent.update(
            status="requires_payment_method",
            latest_charge=charge,
            last_payment_error={
                "type": "card_error",
                "code": code,
                "decline_code": decline_code,
                "message": message,
                "charge": charge,
            },
        )
        return 402
    if pm in NEEDS_ACTION:
        intent.update(status="requires_action", next_action={"type": "use_stripe_sdk", "use_stripe_sdk": {}})
    elif intent["capture_method"] == "manual":
        intent.update(
            status="requires_capture",
            amount_capturable=intent["amount"],
            amount_received=0,
            latest_charge=f"ch_3{secrets.token_hex(12)}",
            last_payment_error=None,
        )
    else:
        intent.update(
            status="succeeded",
            amount_received=intent["amount"],
            amount_capturable=0,
            latest_charge=f"ch_3{secrets.token_hex(12)}",
            last_payment_error=None,
        )
    return 200


def _answer(status: int, intent: dict) -> tuple[int, dict]:
    if status == 402:
        error = intent["last_payment_error"]
        return 402, {
            "error": {
                **error,
                "doc_url": f"https://stripe.com/docs/error-codes/{error['code'].replace('_', '-')}",
                "payment_intent": intent,
                "request_log_url": "https://dashboard.stripe.com/test/logs",
            }
        }
    return status, intent


def _unexpected_state(intent: dict, action: str) -> tuple[int, dict]:
    return 400, {
        "error": {
            "type": "invalid_request_error",
            "code": "payment_intent_unexpected_state",
            "message": f"This PaymentIntent's {action} could not be performed because it has a "
            f"status of {intent['status']}.",
            "payment_intent": intent,
        }
    }


def _confirm_existing(store: SandboxStore, intent_id: str, params: dict) -> tuple[int, dict]:
    """POST /v1/payment_intents/{id}/confirm"""
    row = SandboxOrder.objects.select_for_update().filter(store=store, external_id=intent_id).first()
    if row is None:
        return _missing(intent_id)
    intent = row.data
    if intent["status"] not in ("requires_confirmation", "requires_payment_method", "requires_action"):
        return _unexpected_state(intent, "confirm")
    pm = params.get("payment_method") or intent.get("payment_method") or ""
    if not pm:
        return 400, {
            "error": {
                "type": "invalid_request_error",
                "param": "payment_method",
                "message": "You must provide a payment_method to confirm this PaymentIntent.",
            }
        }
    if pm not in SUCCEEDS | NEEDS_ACTION | set(DECLINES):
        return 400, {
            "error": {
                "type": "invalid_request_error",
                "code": "resource_missing",
                "param": "payment_method",
                "message": f"No such PaymentMethod: '{pm}'",
            }
        }
    status = _confirm(intent, pm)
    row.status, row.updated_ts = intent["status"], int(time.time())
    row.save(update_fields=["data", "status", "updated_ts"])
    return _answer(status, intent)


def _capture(store: SandboxStore, intent_id: str, params: dict) -> tuple[int, dict]:
    """POST /v1/payment_intents/{id}/capture: takes the held funds (all, or amount_to_capture)."""
    row = SandboxOrder.objects.select_for_update().filter(store=store, external_id=intent_id).first()
    if row is None:
        return _missing(intent_id)
    intent = row.data
    if intent["status"] != "requires_capture":
        return _unexpected_state(intent, "capture")
    try:
        amount = int(params.get("amount_to_capture") or intent["amount_capturable"])
    except ValueError:
        return 400, {
            "error": {
                "type": "invalid_request_error",
                "param": "amount_to_capture",
                "message": "Invalid integer: " + str(params.get("amount_to_capture")),
            }
        }
    if not 0 < amount <= intent["amount_capturable"]:
        return 400, {
            "error": {
                "type": "invalid_request_error",
                "code": "amount_too_large",
                "param": "amount_to_capture",
                "message": "The amount to capture must be greater than zero and no more than the "
                f"amount capturable ({intent['amount_capturable']}).",
            }
        }
    intent.update(status="succeeded", amount_received=amount, amount_capturable=0)
    row.status, row.updated_ts = intent["status"], int(time.time())
    row.save(update_fields=["data", "status", "updated_ts"])
    return 200, intent


def _missing(intent_id: str) -> tuple[int, dict]:
    return 404, {
        "error": {
            "type": "invalid_request_error",
            "code": "resource_missing",
            "param": "intent",
            "message": f"No such payment_intent: '{intent_id}'",
        }
    }


@csrf_exempt
def payment_intents(request):
    if request.method != "POST":
        return _error(405, "invalid_request_error", "Unrecognized request method; use POST to create.")
    return _post(request, _intent)


@csrf_exempt
def confirm_intent(request, intent_id):
    if request.method != "POST":
        return _error(405, "invalid_request_error", "Unrecognized request method; use POST.")
    return _post(request, lambda store, params: _confirm_existing(store, intent_id, params))


@csrf_exempt
def capture_intent(request, intent_id):
    if request.method != "POST":
        return _error(405, "invalid_request_error", "Unrecognized request method; use POST.")
    return _post(request, lambda store, params: _capture(store, intent_id, params))


def _post(request, run):
    """Any POST: auth, faults, and Idempotency-Key replay around `run(store, params) -> (status, body)`."""
    store, denied = _store(request)
    if denied:
        return denied
    params = _nest(QueryDict(request.body))
    key = request.headers.get("Idempotency-Key", "")
    fault = take_fault(store, request.path)
    if fault and fault.get("status") == 429 and "body" not in fault:
        fault = {
            **fault,
            "body": {
                "error": {
                    "type": "invalid_request_error",
                    "code": "rate_limit",
                    "message": "Too many requests hit the API too quickly. We recommend an "
                    "exponential backoff of your requests.",
                }
            },
        }
    early = fault_response(fault)
    if early:
        record(
            store,
            request,
            parsed={"params": params, "idempotency_key": key, "outcome": f"fault {early.status_code}"},
        )
        return early

    if not key:
        with transaction.atomic():
            status, body = run(store, params)
        record(store, request, parsed={"params": params, "idempotency_key": "", "outcome": _outcome(status)})
        return mangle(JsonResponse(body, status=status), fault)

    # Stripe scopes a key to its endpoint; the row's id has room for a digest, not the whole path.
    slot = (
        f"idempotency:{key}"
        if run is _intent
        else "idempotency:" + hashlib.sha256(f"{request.path}:{key}".encode()).hexdigest()[:40]
    )
    now = int(time.time())
    try:
        with transaction.atomic():
            SandboxOrder.objects.create(
                store=store,
                external_id=slot,
                status="running",
                created_ts=now,
                updated_ts=now,
                data={"params": params, "replays": 0},
            )
    except IntegrityError:
        saved = SandboxOrder.objects.get(store=store, external_id=slot)
        if saved.data["params"] != params:
            record(store, request, parsed={"params": params, "idempotency_key": key, "outcome": "rejected"})
            return _error(
                400,
                "idempotency_error",
                "Keys for idempotent requests can only be used with the same parameters they were first "
                f"used with. Try using a key other than '{key}' if you meant to execute a different request.",
            )
        if saved.status == "running":
            record(store, request, parsed={"params": params, "idempotency_key": key, "outcome": "conflict"})
            return _error(
                409,
                "idempotency_error",
                "There is currently another in-progress request using this "
                "Idempotency Key. Please try again later.",
            )
        saved.data["replays"] += 1
        saved.save(update_fields=["data"])
        record(store, request, parsed={"params": params, "idempotency_key": key, "outcome": "replayed"})
        response = JsonResponse(saved.data["body"], status=saved.data["status"])
        response["Idempotent-Replayed"] = "true"
        response["Original-Request"] = saved.data.get("request_id", "")
        return mangle(response, fault)

    try:
        with transaction.atomic():
            status, body = run(store, params)
    except Exception:
        SandboxOrder.objects.filter(store=store, external_id=slot).delete()
        raise
    request_id = f"req_{secrets.token_hex(7)}"
    if status in (400, 404):  # failed validation: nothing is saved, the key can be used again
        SandboxOrder.objects.filter(store=store, external_id=slot).delete()
    else:
        SandboxOrder.objects.filter(store=store, external_id=slot).update(
            status="done",
            data={"params": params, "replays": 0, "status": status, "body": body, "request_id": request_id},
        )
    record(store, request, parsed={"params": params, "idempotency_key": key, "outcome": _outcome(status)})
    response = JsonResponse(body, status=status)
    response["Request-Id"] = request_id
    return mangle(response, fault)


def _outcome(status: int) -> str:
    return {200: "created", 402: "declined"}.get(status, "rejected")


def payment_intent(request, intent_id):
    store, denied = _store(request)
    if denied:
        return denied
    intent = SandboxOrder.objects.filter(store=store, external_id=intent_id).first()
    if intent is None or not intent_id.startswith("pi_"):
        return _error(
            404,
            "invalid_request_error",
            f"No such payment_intent: '{intent_id}'",
            code="resource_missing",
            param="intent",
        )
    return JsonResponse(intent.data)


urlpatterns = [
    path("v1/payment_intents", payment_intents),
    path("v1/payment_intents/<str:intent_id>", payment_intent),
    path("v1/payment_intents/<str:intent_id>/confirm", confirm_intent),
    path("v1/payment_intents/<str:intent_id>/capture", capture_intent),
]
