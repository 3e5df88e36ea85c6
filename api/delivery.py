"""Sending webhook deliveries (Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature).

A WebhookDelivery row is the unit of work, claimed like the fulfilment outbox (orders.pushing):
a conditional UPDATE takes it (two workers never hold the same one) and counts the attempt
*before* the request leaves. A worker that dies holding a claim leaves it to go stale; the
every-minute dispatcher then sends it again, with the same webhook-id, so the receiver sees one
logical event (Standard Webhooks receivers dedupe on the id). A worker that was only slow and
answers after its claim was taken over writes nothing.

Each attempt is signed afresh (the timestamp is part of the signature; receivers refuse old
ones). Failures are retried with exponential backoff and jitter until WEBHOOK_RETRY_HOURS after
the delivery was written; an endpoint whose attempts keep failing is disabled with one alert."""

from __future__ import annotations

import ipaddress
import logging
import random
import socket
from datetime import timedelta
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from api.models import WebhookDelivery, WebhookEndpoint
from orders.pushing import worker_id

log = logging.getLogger(__name__)

S = WebhookDelivery.State
RESPONSE_KEEP = 2000  # characters of a receiver's answer kept for staff
USER_AGENT = "Shipdesk-Webhooks/1"


class UnsafeURL(Exception):
    pass


def claim_seconds() -> float:
    """A claim older than this belongs to a dead worker: one attempt cannot take longer."""
    return settings.WEBHOOK_TIMEOUT * 2 + 15


def _due_q(now) -> Q:
    stale = now - timedelta(seconds=claim_seconds())
    ready = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    return Q(state=S.PENDING, endpoint__is_active=True) & (
        (ready & Q(claimed_at__isnull=True)) | Q(claimed_at__lt=stale)
    )


def due_delivery_ids(limit: int = 500) -> list[int]:
    """Deliveries whose time has come, or whose worker died holding them."""
    qs = WebhookDelivery.objects.filter(_due_q(timezone.now())).order_by("next_attempt_at", "id")
    return list(qs.values_list("pk", flat=True)[:limit])


def check_url(url: str) -> None:
    """Refuse what a webhook must not reach: other schemes, and (unless WEBHOOK_ALLOW_PRIVATE_URLS)
    private, loopback, link-local or reserved addresses, so the admin is no way into the network."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeURL(f"only http(s) URLs can receive webhooks, not {url[:100]!r}")
    if settings.WEBHOOK_ALLOW_PRIVATE_URLS:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    except OSError as exc:
        raise UnsafeURL(f"{parts.hostname} does not resolve: {exc}") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global or address.is_multicast:
            raise UnsafeURL(
                f"{parts.hostname} resolves to {address}, a private address "
                "(set WEBHOOK_ALLOW_PRIVATE_URLS to allow it)"
            )


def _claim(delivery_id: int) -> tuple[WebhookDelivery, timezone.datetime] | None:
    now, me = timezone.now(), worker_id()
    taken = (
        WebhookDelivery.objects.filter(pk=delivery_id)
        .filter(_due_q(now))
        .update(claimed_at=now, claimed_by=me, attempts=F("attempts") + 1, last_attempt_at=now)
    )
    if not taken:
        return None
    return WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id), now


def send_delivery(delivery_id: int) -> str:
    """Attempt one delivery if it is due. Returns its state afterwards, or "skipped"."""
    taken = _claim(delivery_id)
    if taken is None:
        return "skipped"
    d, claimed_at = taken
    endpoint = d.endpoint
    stamp = timezone.now()
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": d.webhook_id,
        "webhook-timestamp": str(int(stamp.timestamp())),
        "webhook-signature": Webhook(endpoint.secret).sign(d.webhook_id, stamp, d.body.encode()),
    }
    status, answer, error = None, "", ""
    try:
        check_url(endpoint.url)
        response = requests.post(
            endpoint.url,
            data=d.body.encode(),
            headers=headers,
            timeout=settings.WEBHOOK_TIMEOUT,
            allow_redirects=False,  # a redirect is an answer, not a place to go
        )
        status, answer = response.status_code, response.text[:RESPONSE_KEEP]
        if not 200 <= status < 300:
            error = f"HTTP {status}" + (" (redirects are not followed)" if 300 <= status < 400 else "")
    except UnsafeURL as exc:
        error = str(exc)
    except requests.RequestException as exc:
        error = f"{exc.__class__.__name__}: {exc}"[:500]
    return _record(d, claimed_at, headers, status, answer, error)


def _record(d: WebhookDelivery, claimed_at, headers: dict, status, answer: str, error: str) -> str:
    now = timezone.now()
    changes = dict(
        request_headers=headers,
        response_status=status,
        response_body=answer,
        last_error=error,
        claimed_at=None,
        claimed_by="",
    )
    if not error:
        changes.update(state=S.SUCCEEDED, delivered_at=now, next_attempt_at=None)
    elif now - d.created_at >= timedelta(hours=settings.WEBHOOK_RETRY_HOURS):
        changes.update(state=S.FAILED, next_attempt_at=None)
    else:
        changes.update(next_attempt_at=now + backoff(d.attempts))
    with transaction.atomic():
        mine = WebhookDelivery.objects.filter(pk=d.pk, claimed_at=claimed_at, claimed_by=worker_id())
        if not mine.update(**changes):
            log.warning("webhook delivery %s: claim taken over while sending; result dropped", d.pk)
            return "skipped"
        if error:
            _endpoint_failed(d.endpoint_id, error, now)
        else:
            WebhookEndpoint.objects.filter(pk=d.endpoint_id).exclude(
                consecutive_failures=0, failing_since=None
            ).update(consecutive_failures=0, failing_since=None)
    return changes.get("state", S.PENDING)


def backoff(attempts: int) -> timedelta:
    """Exponential backoff with jitter: about 1×, 4×, 16×… WEBHOOK_BACKOFF_SECONDS, at most 6 h."""
    base = settings.WEBHOOK_BACKOFF_SECONDS * 4 ** max(attempts - 1, 0)
    return timedelta(seconds=min(base, 6 * 3600) * (0.5 + random.random()))


def _endpoint_failed(endpoint_id: int, error: str, now) -> None:
    """Count a failed attempt; an endpoint failing N times in a row, or for hours, is disabled."""
    from django.db.models.functions import Coalesce

    WebhookEndpoint.objects.filter(pk=endpoint_id).update(
        consecutive_failures=F("consecutive_failures") + 1, failing_since=Coalesce("failing_since", now)
    )
    endpoint = WebhookEndpoint.objects.get(pk=endpoint_id)
    too_many = endpoint.consecutive_failures >= settings.WEBHOOK_DISABLE_AFTER_FAILURES
    too_long = endpoint.failing_since <= now - timedelta(hours=settings.WEBHOOK_DISABLE_AFTER_HOURS)
    if endpoint.is_active and (too_many or too_long):
        disable_endpoint(
            endpoint, reason=f"{endpoint.consecutive_failures} failed attempts in a row; last: {error}"
        )


def disable_endpoint(endpoint: WebhookEndpoint, *, reason: str) -> bool:
    """Stop sending to an endpoint that keeps failing, and tell staff once. Its deliveries wait."""
    from orders.alerts import alert_staff_once

    now = timezone.now()
    with transaction.atomic():
        if not WebhookEndpoint.objects.filter(pk=endpoint.pk, is_active=True).update(
            is_active=False, disabled_at=now, disabled_reason=reason[:500]
        ):
            return False
        endpoint.refresh_from_db()
        from api.webhooks import forget_subscriptions

        forget_subscriptions()
        alert_staff_once(
            None,
            f"Webhook endpoint disabled: {endpoint.url}"[:200],
            f"Shipdesk stopped sending webhooks to {endpoint.url} ({endpoint}): {reason}. Its deliveries "
            "wait; re-enable the endpoint in the admin once the receiver works again.",
            since=now,
        )
    return True


def send_due() -> int:
    """Send every due delivery (the every-minute dispatcher's work). Returns how many were tried."""
    tried = 0
    for pk in due_delivery_ids():
        if send_delivery(pk) != "skipped":
            tried += 1
    return tried
