"""Webhooks from the channels that push them (Shopify, Ecwid): verify the signature in
constant time, remember the event id so a repeated delivery is done once, queue a sync of the
channel and answer at once. The sync reads the changed orders through the connector, as a
scheduled one does, so a webhook never writes an order itself.

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

from django.db import IntegrityError, transaction
from django.http import HttpResponseNotAllowed, JsonResponse
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


def signature(secret: str, message: bytes) -> str:
    """base64(HMAC-SHA256(message, secret)): the scheme both Shopify and Ecwid use."""
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def _same(expected: str, given: str) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), given.strip().encode())


def verify_shopify(channel: Channel, request) -> Delivery | None:
    """X-Shopify-Hmac-Sha256 signs the raw body with the app's secret."""
    secret = channel.credentials.get("webhook_secret") or channel.credentials.get("client_secret") or ""
    if not secret or not _same(
        signature(secret, request.body), request.headers.get("X-Shopify-Hmac-Sha256", "")
    ):
        return None
    # Retries of one event keep its event id; older deliveries only name the webhook.
    event_id = (
        request.headers.get("X-Shopify-Event-Id")
        or request.headers.get("X-Shopify-Webhook-Id")
        or hashlib.sha256(request.body).hexdigest()
    )
    topic = request.headers.get("X-Shopify-Topic", "")
    return Delivery(event_id=event_id, topic=topic, wants_sync=topic in SHOPIFY_ORDER_TOPICS)


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
    return Delivery(event_id=str(event["eventId"]), topic=topic, wants_sync=topic.startswith("order."))


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
    transaction.on_commit(lambda: async_task("orders.tasks.sync_channel", pk, task_name=f"sync-{pk}"))
    return JsonResponse({"status": "queued"})
