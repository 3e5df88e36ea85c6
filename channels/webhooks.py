"""Webhooks from the channels that push them (Shopify, Ecwid): verify the signature in
constant time, refuse a delivery older than WEBHOOK_MAX_AGE_SECONDS, remember what was signed
so a repeated delivery is done once, queue a sync of the channel and answer at once. The sync
reads the changed orders through the connector, as a scheduled one does, so a webhook never
writes an order itself.

Deduplication keys only what the signature covers: Shopify signs the body but not its headers,
so a captured body replayed with a new X-Shopify-Event-Id is the same delivery (the key is the
topic and a digest of the body); Ecwid signs "{eventCreated}.{eventId}", so the event id is
the key. A signed delivery that is too old, or a repeat, is answered 200 with what happened,
not an error: the channel would otherwise retry it, and Shopify removes a subscription whose
deliveries keep failing. Nothing is lost by ignoring one: scheduled syncs read every change.

URL: /webhooks/<channel id>/<kind>/ — register it with the channel's app settings. The secret
is in the channel's credentials: `webhook_secret` for Shopify (the app's client secret),
`client_secret` for Ecwid."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpResponseNotAllowed, JsonResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt
from django_q.tasks import async_task

from channels.models import Channel, WebhookEvent

log = logging.getLogger(__name__)

SHOPIFY_ORDER_TOPICS = {
    "orders/create",
    "orders/updated",
    "orders/cancelled",
    "orders/paid",
    "orders/fulfilled",
    "orders/partially_fulfilled",
    "orders/edited",
    "fulfillments/create",
    "fulfillments/update",
}


@dataclass
class Delivery:
    event_id: str
    topic: str
    wants_sync: bool
    sent_at: datetime | None = None  # when the channel says it made the delivery, if it says


def is_stale(delivery: Delivery, *, now: datetime | None = None) -> bool:
    """Older than the window (or dated too far ahead: a clock cannot be that wrong)."""
    if delivery.sent_at is None:
        return False
    window = timedelta(seconds=settings.WEBHOOK_MAX_AGE_SECONDS)
    age = (now or timezone.now()) - delivery.sent_at
    return age > window or age < -timedelta(minutes=5)


def signature(secret: str, message: bytes) -> str:
    """base64(HMAC-SHA256(message, secret)): the scheme both Shopify and Ecwid use."""
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def _same(expected: str, given: str) -> bool:
    # Bytes on both sides: a header with non-ASCII characters is simply a wrong signature
    # (compare_digest refuses a non-ASCII str with a TypeError).
    return bool(given) and hmac.compare_digest(expected.encode(), given.strip().encode("utf-8", "replace"))


def verify_shopify(channel: Channel, request) -> Delivery | None:
    """X-Shopify-Hmac-Sha256 signs the raw body with the app's secret."""
    secret = channel.credentials.get("webhook_secret") or channel.credentials.get("client_secret") or ""
    if not secret or not _same(
        signature(secret, request.body), request.headers.get("X-Shopify-Hmac-Sha256", "")
    ):
        return None
    topic = request.headers.get("X-Shopify-Topic", "")
    # The event id headers are not signed: the key is what is (the body), with the topic.
    event_id = "sha256:" + hashlib.sha256(topic.encode("utf-8", "replace") + b"\n" + request.body).hexdigest()
    return Delivery(
        event_id=event_id,
        topic=topic,
        wants_sync=topic in SHOPIFY_ORDER_TOPICS,
        sent_at=_header_time(request.headers.get("X-Shopify-Triggered-At", "")),
    )


def _header_time(value: str) -> datetime | None:
    """An ISO 8601 header (Shopify's X-Shopify-Triggered-At); None when absent or unreadable."""
    try:
        when = parse_datetime(value.strip())
    except ValueError:
        return None
    if when is not None and timezone.is_naive(when):
        when = timezone.make_aware(when, UTC)
    return when


def verify_ecwid(channel: Channel, request) -> Delivery | None:
    """X-Ecwid-Webhook-Signature signs "{eventCreated}.{eventId}" (not the body) with the app's
    client secret, so the store id in the body is checked against the channel as well."""
    secret = channel.credentials.get("client_secret") or channel.credentials.get("webhook_secret") or ""
    try:
        event = json.loads(request.body)
    except ValueError:
        return None
    if not secret or not isinstance(event, dict) or not event.get("eventId"):
        return None
    message = f"{event.get('eventCreated', '')}.{event['eventId']}".encode()
    if not _same(signature(secret, message), request.headers.get("X-Ecwid-Webhook-Signature", "")):
        return None
    if channel.shop_id and str(event.get("storeId", "")) != str(channel.shop_id):
        return None
    topic = str(event.get("eventType", ""))
    try:  # signed with the event id: a replay cannot make it look fresh
        created = datetime.fromtimestamp(int(event.get("eventCreated")), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None
    return Delivery(
        event_id=str(event["eventId"]), topic=topic, wants_sync=topic.startswith("order."), sent_at=created
    )


VERIFIERS = {Channel.Kind.SHOPIFY: verify_shopify, Channel.Kind.ECWID: verify_ecwid}


@csrf_exempt
def receive(request, channel_id: int, kind: str):
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    verify = VERIFIERS.get(kind)
    channel = Channel.objects.filter(pk=channel_id, kind=kind).first() if verify else None
    if channel is None:
        return JsonResponse({"error": "no such channel"}, status=404)
    delivery = verify(channel, request)
    if delivery is None:
        log.warning("webhook for %s refused: bad or missing signature", channel)
        return JsonResponse({"error": "invalid signature"}, status=401)
    if is_stale(delivery):
        log.warning(
            "webhook for %s ignored: sent at %s, older than %s s",
            channel,
            delivery.sent_at,
            settings.WEBHOOK_MAX_AGE_SECONDS,
        )
        return JsonResponse({"status": "stale", "max_age_seconds": settings.WEBHOOK_MAX_AGE_SECONDS})
    try:
        with transaction.atomic():
            WebhookEvent.objects.create(
                channel=channel, event_id=delivery.event_id[:200], topic=delivery.topic[:100]
            )
    except IntegrityError:
        return JsonResponse({"status": "duplicate"})
    if not (delivery.wants_sync and channel.is_active):
        return JsonResponse({"status": "ignored"})
    pk = channel.pk
    transaction.on_commit(
        lambda: async_task("orders.tasks.sync_channel", pk, task_name=channel.sync_task_name("webhook"))
    )
    return JsonResponse({"status": "queued"})
