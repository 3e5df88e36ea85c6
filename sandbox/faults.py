"""Fault injection shared by every stand-in API."""

from __future__ import annotations

import json
import time

from django.db import transaction
from django.http import HttpResponse, JsonResponse

from sandbox.models import SandboxRequest, SandboxStore


def take_fault(store: SandboxStore, path: str = "") -> dict | None:
    """Pop the next queued fault that applies to `path` (a fault with a "path" key applies only
    to requests whose path contains it; each may repeat `times` times)."""
    with transaction.atomic():
        store = SandboxStore.objects.select_for_update().get(pk=store.pk)
        index = next((i for i, f in enumerate(store.faults) if f.get("path", "") in path), None)
        if index is None:
            return None
        fault = dict(store.faults[index])
        times = int(fault.get("times", 1)) - 1
        if times > 0:
            store.faults[index]["times"] = times
        else:
            store.faults.pop(index)
        store.save(update_fields=["faults"])
    return fault


def fault_response(fault: dict | None) -> HttpResponse | None:
    """A response that replaces the real one, or None (the view answers, maybe then mangled)."""
    if not fault:
        return None
    if fault.get("delay"):
        time.sleep(float(fault["delay"]))
    status = fault.get("status")
    if status:
        body = fault.get("body", {"error": f"sandbox fault {status}"})
        response = (
            JsonResponse(body, status=int(status), safe=False)
            if body != ""
            else HttpResponse(status=int(status))
        )
        if fault.get("retry_after") is not None:
            response["Retry-After"] = str(fault["retry_after"])
        if fault.get("location"):  # a redirect: {"status": 302, "location": "…"}
            response["Location"] = fault["location"]
        return response
    return None


def mangle(response: HttpResponse, fault: dict | None) -> HttpResponse:
    if not fault:
        return response
    if fault.get("truncate"):
        response.content = response.content[: max(1, len(response.content) // 2)]
    elif fault.get("malformed"):
        response.content = b"<html><body>Bad gateway</body></html>"
    return response


def record(store: SandboxStore | None, request, parsed=None) -> SandboxRequest:
    body = request.body.decode("utf-8", "replace")
    if parsed is None:
        try:
            parsed = json.loads(body) if body else {}
        except ValueError:
            parsed = {}
    return SandboxRequest.objects.create(
        store=store,
        method=request.method,
        path=request.path,
        content_type=request.content_type or "",
        body=body,
        parsed=parsed,
    )
