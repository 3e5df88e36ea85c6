"""Outgoing webhooks: which OrderEvent is which webhook event type, and the delivery rows.

orders calls `events_recorded` (settings.ORDER_EVENT_HANDLERS) inside the transaction that wrote
new OrderEvent rows. When no active endpoint subscribes to anything, that costs one cache read;
otherwise each event whose type an endpoint subscribes to becomes one WebhookDelivery row per
such endpoint, in the same transaction, and a nudge to the task cluster is queued on commit.
Sending is in api.delivery."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from django.conf import settings
from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from api.models import WebhookDelivery, WebhookEndpoint
from orders.models import Order, OrderEvent

#: Every event type an endpoint can subscribe to, with what it means for staff choosing them.
EVENT_TYPES: dict[str, str] = {
    "order.imported": _("An order was imported from a channel"),
    "order.updated": _("An order changed on its channel (address, lines, contact)"),
    "order.cancelled": _("An order was cancelled (by staff or on the channel)"),
    "shipment.booked": _("A label was booked"),
    "shipment.cancelled": _("A label was cancelled (or its cancellation queued)"),
    "shipment.delivered": _("The carrier delivered a parcel"),
    "fulfilment.sent": _("A channel was told a parcel's tracking"),
    "fulfilment.failed": _("A channel could not be told a parcel's tracking (blocked, or failed for good)"),
    "return.requested": _("A customer (or staff for them) requested a return"),
    "return.approved": _("A return was approved"),
    "return.rejected": _("A return was rejected"),
    "return.received": _("A returned parcel arrived"),
    "return.refunded": _("A return was refunded"),
    "supplier_order.placed": _("A dropshipping order was placed with a supplier"),
    "supplier_order.shipped": _("A supplier shipped a dropshipping order"),
    "supplier_order.cancelled": _("A dropshipping order was cancelled"),
}
#: Sent by "Send a test event" in the admin; not subscribable.
TEST_EVENT = "webhook.test"

K = OrderEvent.Kind
CACHE_KEY = "api:webhook-subscriptions:v1"


def event_type(event: OrderEvent) -> str | None:
    """The webhook event type of an OrderEvent, or None when it is none (a note, an email…).
    A service may name it outright in `data["topic"]` where its kind is too coarse."""
    data = event.data or {}
    if data.get("topic"):
        return data["topic"]
    kind, status = event.kind, data.get("status")
    if kind == K.IMPORTED:
        return "order.imported"
    if kind == K.UPDATED:
        return "order.updated"
    if kind == K.STATUS and status == Order.Status.CANCELLED:
        return "order.cancelled"
    if kind == K.BOOKED and data.get("shipment_id"):
        return "shipment.booked"
    if kind == K.SHIPMENT_CANCELLED and data.get("shipment_id"):
        return "shipment.cancelled"
    if kind == K.PUSHED:
        return "fulfilment.sent"
    if kind == K.PUSH_BLOCKED:
        return "fulfilment.failed"
    if (
        kind == K.RETURN
        and data.get("return_id")
        and status in ("approved", "rejected", "received", "refunded")
    ):
        return f"return.{status}"
    if kind == K.SUPPLIER and data.get("supplier_order") and status in ("placed", "shipped", "cancelled"):
        return f"supplier_order.{status}"
    return None


# -- who subscribes to what (cached: the import path is benchmarked)


def subscriptions() -> dict[str, list[int]]:
    """event type -> ids of the active endpoints subscribed to it; {} when nobody listens."""
    found = cache.get(CACHE_KEY)
    if found is None:
        found = {}
        for pk, types in WebhookEndpoint.objects.filter(is_active=True).values_list("id", "event_types"):
            for name in types or []:
                found.setdefault(name, []).append(pk)
        cache.set(CACHE_KEY, found, settings.WEBHOOK_SUBSCRIPTIONS_CACHE_SECONDS)
    return found


def forget_subscriptions() -> None:
    cache.delete(CACHE_KEY)


# -- the hook orders calls


def events_recorded(events: list[OrderEvent]) -> list[int]:
    """settings.ORDER_EVENT_HANDLERS: write the deliveries the new events call for, in the caller's
    transaction, and nudge the sender once it commits. Returns the new deliveries' ids."""
    subscribed = subscriptions()
    if not subscribed:
        return []
    wanted = [(e, t) for e in events if (t := event_type(e)) and subscribed.get(t)]
    if not wanted:
        return []
    # The cache may be stale in this process (an endpoint deleted or disabled in another): only
    # rows for endpoints that are still there and active. One query, and only when someone listens.
    listed = {pk for e, t in wanted for pk in subscribed[t]}
    live = set(WebhookEndpoint.objects.filter(pk__in=listed, is_active=True).values_list("pk", flat=True))
    wanted = [(e, t) for e, t in wanted if live & set(subscribed[t])]
    if not wanted:
        return []
    now = timezone.now()
    payloads = _payloads(wanted, now)
    rows = [
        WebhookDelivery(
            endpoint_id=endpoint_id,
            event_type=name,
            body=body,
            order_id=event.order_id,
            event_id=event.pk,
            next_attempt_at=now,
        )
        for (event, name), body in zip(wanted, payloads, strict=True)
        for endpoint_id in subscribed[name]
        if endpoint_id in live
    ]
    WebhookDelivery.objects.bulk_create(rows)
    ids = [r.pk for r in rows if r.pk] or list(
        WebhookDelivery.objects.filter(webhook_id__in=[r.webhook_id for r in rows]).values_list(
            "pk", flat=True
        )
    )
    transaction.on_commit(lambda: nudge(ids))
    return ids


def nudge(delivery_ids: list[int]) -> None:
    """Queue a send of these deliveries now (a lost nudge only delays them to the next minute)."""
    from django_q.tasks import async_task

    for i in range(0, len(delivery_ids), 100):
        batch = delivery_ids[i : i + 100]
        async_task("api.tasks.send_webhooks", batch, task_name=f"webhooks-{batch[0]}-{len(batch)}")


# -- what a receiver is sent


def _payloads(wanted: list[tuple[OrderEvent, str]], now: datetime) -> list[str]:
    """The JSON body of each event, Standard Webhooks' recommended shape: type, timestamp, data."""
    from orders.models import OrderLine

    order_ids = {e.order_id for e, _ in wanted}
    lines: dict[int, list[dict]] = {}
    for ln in OrderLine.objects.filter(order_id__in=order_ids).order_by("id"):
        lines.setdefault(ln.order_id, []).append(
            {
                "id": ln.pk,
                "external_id": ln.external_id,
                "sku": ln.sku,
                "title": ln.title,
                "quantity": ln.quantity,
                "unit_price": ln.unit_price,
                "is_physical": ln.is_physical,
                "dropshipped_by": ln.dropshipped_by,
            }
        )
    bodies = []
    for event, name in wanted:
        data = {
            "event": {
                "id": event.pk,
                "kind": event.kind,
                "message": event.message,
                "at": (event.created_at or now).astimezone(UTC),
            },
            "order": {**order_data(event.order), "lines": lines.get(event.order_id, [])},
        }
        data.update(_subject(event, name))
        bodies.append(dumps({"type": name, "timestamp": now.astimezone(UTC), "data": data}))
    return bodies


def dumps(payload: dict) -> str:
    return json.dumps(payload, cls=DjangoJSONEncoder, separators=(",", ":"), ensure_ascii=False)


def order_data(order: Order) -> dict:
    return {
        "id": order.pk,
        "channel": order.channel.name if order.channel_id else None,
        "external_id": order.external_id,
        "order_number": order.order_number,
        "status": order.status,
        "email": order.email,
        "currency": order.currency,
        "total": order.total,
        "ship_to": {
            "name": order.ship_name,
            "company": order.ship_company,
            "line1": order.ship_line1,
            "line2": order.ship_line2,
            "city": order.ship_city,
            "state": order.ship_state,
            "postal_code": order.ship_postal_code,
            "country": order.ship_country,
        },
    }


def _subject(event: OrderEvent, name: str) -> dict:
    """The shipment, fulfilment, return or supplier order the event is about."""
    data = event.data or {}
    family = name.split(".", 1)[0]
    if family == "shipment" and data.get("shipment_id"):
        from shipping.models import Shipment

        s = Shipment.objects.select_related("carrier_account").filter(pk=data["shipment_id"]).first()
        if s is not None:
            if name == "shipment.delivered":
                # tracking records the update's event just before it saves the new status
                s.status, s.delivered_at = s.Status.DELIVERED, data.get("at") or s.delivered_at
            return {
                "shipment": {
                    "id": s.pk,
                    "status": s.status,
                    "carrier": s.carrier_account.name if s.carrier_account_id else "",
                    "service": s.service,
                    "tracking_number": s.tracking_number,
                    "tracking_url": s.tracking_url,
                    "tracking_company": s.tracking_company,
                    "weight_g": s.weight_g,
                    "fee": s.fee,
                    "currency": s.currency,
                    "lines": [[ln.order_line_id, ln.quantity] for ln in s.lines.all()],
                    "delivered_at": s.delivered_at,
                }
            }
    if family == "fulfilment" and data.get("fulfilment_id"):
        from orders.models import Fulfilment

        f = Fulfilment.objects.filter(pk=data["fulfilment_id"]).first()
        if f is not None:
            return {
                "fulfilment": {
                    "id": f.pk,
                    "state": f.state,
                    "tracking_number": f.tracking_number,
                    "carrier": f.carrier_name,
                    "lines": f.lines,
                    "error": f.last_error,
                }
            }
    if family == "return" and data.get("return_id"):
        from returns.models import ReturnRequest

        r = ReturnRequest.objects.filter(pk=data["return_id"]).first()
        if r is not None:
            return {
                "return": {
                    "id": r.pk,
                    "number": r.number,
                    "status": r.status,
                    "tracking_number": r.tracking_number,
                    "lines": [
                        {"order_line": ln.order_line_id, "quantity": ln.quantity, "reason": ln.reason}
                        for ln in r.lines.all()
                    ],
                }
            }
    if family == "supplier_order" and data.get("supplier_order"):
        from suppliers.models import SupplierOrder

        so = SupplierOrder.objects.select_related("supplier").filter(pk=data["supplier_order"]).first()
        if so is not None:
            return {
                "supplier_order": {
                    "id": so.pk,
                    "supplier": so.supplier.name,
                    "reference": so.reference,
                    "status": so.status,
                }
            }
    return {}


# -- staff actions (the admin calls these)


def send_test_event(endpoint: WebhookEndpoint, *, actor=None) -> WebhookDelivery:
    """A `webhook.test` delivery to this endpoint, through the same queue as real events (a
    disabled endpoint's test waits until staff re-enable it)."""
    now = timezone.now()
    body = dumps(
        {
            "type": TEST_EVENT,
            "timestamp": now,
            "data": {
                "message": "A test event from Shipdesk",
                "endpoint": endpoint.pk,
                "by": str(actor or ""),
            },
        }
    )
    with transaction.atomic():
        delivery = WebhookDelivery.objects.create(
            endpoint=endpoint, event_type=TEST_EVENT, body=body, next_attempt_at=now
        )
        transaction.on_commit(lambda: nudge([delivery.pk]))
    return delivery


def resend(delivery: WebhookDelivery, *, actor=None) -> bool:
    """Send a delivery once more, with the same webhook-id (receivers dedupe on it). Returns False
    when a worker is sending it right now."""
    with transaction.atomic():
        updated = WebhookDelivery.objects.filter(pk=delivery.pk, claimed_at__isnull=True).update(
            state=WebhookDelivery.State.PENDING, next_attempt_at=timezone.now(), last_error=""
        )
        if updated:
            transaction.on_commit(lambda: nudge([delivery.pk]))
    return bool(updated)


def enable_endpoint(endpoint: WebhookEndpoint, *, actor=None) -> None:
    """Staff re-enable a disabled endpoint: its waiting deliveries are due again at once."""
    with transaction.atomic():
        endpoint.is_active, endpoint.disabled_at, endpoint.disabled_reason = True, None, ""
        endpoint.consecutive_failures, endpoint.failing_since = 0, None
        endpoint.save()
        waiting = list(
            endpoint.deliveries.filter(state=WebhookDelivery.State.PENDING).values_list("pk", flat=True)
        )
        WebhookDelivery.objects.filter(pk__in=waiting).update(next_attempt_at=timezone.now())
        if waiting:
            transaction.on_commit(lambda: nudge(waiting))
