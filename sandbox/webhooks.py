"""A customer's webhook receiver, as one would write it with the `standardwebhooks` package:

    POST /sandbox/webhooks/<name>/   verify webhook-id / webhook-timestamp / webhook-signature with
                                     the receiver's secret; 401 when they do not verify, 204 when
                                     they do (a webhook-id seen before is acknowledged again and
                                     marked `duplicate`: receivers dedupe on the id)
    GET  /sandbox/webhooks/<name>/   what it received, newest last (for tests and staff)

One SandboxStore(kind="webhooks", key=<name>) per receiver, credentials {"secret": "whsec_…"} (the
secret Shipdesk shows for the endpoint). Faults queue on the store as for every stand-in:
{"status": 500, "times": 3} answers 500 without looking, {"delay": 5} answers late (a timeout).
Every request is kept as a SandboxRequest whose `parsed` says what the receiver made of it."""

from __future__ import annotations

from django.http import HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from sandbox.faults import fault_response, take_fault
from sandbox.models import SandboxRequest, SandboxStore

KIND = "webhooks"
HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature", "content-type", "user-agent")


def receiver(name: str, secret: str) -> SandboxStore:
    """Create (or re-key) the receiver `name` with the endpoint's signing secret."""
    store, _ = SandboxStore.objects.update_or_create(
        kind=KIND, key=name, defaults={"credentials": {"secret": secret}}
    )
    return store


def received(store: SandboxStore, *, accepted_only: bool = True) -> list[dict]:
    """What the receiver kept, oldest first: the `parsed` record of each request."""
    rows = [r.parsed for r in SandboxRequest.objects.filter(store=store).order_by("id")]
    return [r for r in rows if r.get("accepted")] if accepted_only else rows


def _keep(store, request, **what) -> None:
    headers = {h: request.headers.get(h, "") for h in HEADERS}
    SandboxRequest.objects.create(
        store=store,
        method=request.method,
        path=request.path,
        content_type=request.content_type or "",
        body=request.body.decode("utf-8", "replace"),
        parsed={"headers": headers, **what},
    )


@csrf_exempt
def endpoint(request, name):
    store = SandboxStore.objects.filter(kind=KIND, key=name).first()
    if store is None:
        return JsonResponse({"error": f"no receiver named {name}"}, status=404)
    if request.method == "GET":
        return JsonResponse({"received": received(store, accepted_only=False)})
    if request.method != "POST":
        return JsonResponse({"error": "method not allowed"}, status=405)
    faulted = fault_response(take_fault(store, request.path))
    if faulted is not None:
        _keep(store, request, accepted=False, status=faulted.status_code, fault=True)
        return faulted
    try:
        payload = Webhook(store.credentials.get("secret", "")).verify(request.body, dict(request.headers))
    except (WebhookVerificationError, ValueError) as exc:
        _keep(store, request, accepted=False, status=401, error=str(exc))
        return JsonResponse({"error": f"signature check failed: {exc}"}, status=401)
    webhook_id = request.headers["webhook-id"]
    seen = any(
        p.get("webhook_id") == webhook_id and p.get("accepted")
        for p in SandboxRequest.objects.filter(store=store).values_list("parsed", flat=True)
    )
    _keep(
        store,
        request,
        accepted=True,
        status=204,
        verified=True,
        duplicate=seen,
        webhook_id=webhook_id,
        type=payload.get("type") if isinstance(payload, dict) else None,
        payload=payload,
    )
    return HttpResponse(status=204)


urlpatterns = [path("<slug:name>/", endpoint, name="sandbox_webhook_receiver")]
