"""Pushing fulfilments: the outbox from Shipdesk to the channels.

A pending Fulfilment row is the unit of work. A worker claims it with a conditional UPDATE (two
workers never send the same one), sends it through the channel's connector, and records the
outcome on the order's timeline: sent; blocked (the channel requires tracking and there is none:
nothing is sent, staff are alerted); or failed, retried with exponential backoff and jitter until
PUSH_MAX_ATTEMPTS. The every-minute dispatcher re-enqueues whatever is due, so a lost task is
only late. State changes of the order itself stay in orders.services."""

from __future__ import annotations

import random
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from channels.connectors.base import ConnectorError, NotSupported, RemoteFulfilment
from orders.models import Fulfilment, OrderEvent
from orders.services import record_event


def remote_fulfilment(f: Fulfilment) -> RemoteFulfilment:
    order = f.order
    return RemoteFulfilment(
        order_external_id=order.external_id, tracking_number=f.tracking_number, carrier=f.carrier_name,
        service=f.service, tracking_url=f.tracking_url, note=f.note, notify_customer=f.notify_customer,
        shipped_at=f.created_at, lines=[tuple(x) for x in f.lines], country=order.ship_country,
        order_total=order.total,
    )


def preview_push(f: Fulfilment) -> dict:
    """Exactly what the channel would receive, without sending it."""
    connector = f.order.channel.connector()
    rf = remote_fulfilment(f)
    return {"carrier_for_channel": connector.carrier_name(rf.carrier) if rf.carrier else "",
            "requires_tracking": f.order.channel.requires_tracking or connector.requires_tracking(rf),
            "fulfilment": rf.__dict__}


def _claim(fulfilment_id: int) -> Fulfilment | None:
    """Take a pending fulfilment for sending; None if it is not due or another worker has it.
    The claim is a conditional UPDATE, so two workers never send the same fulfilment."""
    now = timezone.now()
    stale = now - timedelta(minutes=10)
    taken = Fulfilment.objects.filter(pk=fulfilment_id, state=Fulfilment.State.PENDING).filter(
        Q(claimed_at__isnull=True) | Q(claimed_at__lt=stale)
    ).filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)).update(claimed_at=now)
    if not taken:
        return None
    return Fulfilment.objects.select_related("order__channel").get(pk=fulfilment_id)


def push_fulfilment(fulfilment_id: int) -> str:
    """Send one fulfilment to its channel. Returns the new state (or 'skipped' if not due/claimed)."""
    f = _claim(fulfilment_id)
    if f is None:
        return "skipped"
    order, channel = f.order, f.order.channel
    rf = remote_fulfilment(f)
    try:
        connector = channel.connector()
        if not f.tracking_number and (channel.requires_tracking or connector.requires_tracking(rf)):
            with transaction.atomic():
                f.state, f.claimed_at = Fulfilment.State.BLOCKED, None
                f.last_error = f"{channel.name} requires a tracking number for this order; nothing was sent."
                f.save(update_fields=["state", "claimed_at", "last_error"])
                record_event(order, OrderEvent.Kind.PUSH_BLOCKED, f.last_error)
            from orders.alerts import alert_staff

            alert_staff(channel, f"Fulfilment blocked for {order}", f.last_error)
            return f.state
        result = connector.push_fulfilment(rf)
    except ConnectorError as exc:
        return _push_failed(f, exc)
    with transaction.atomic():
        f.state, f.claimed_at, f.sent_at = Fulfilment.State.SENT, None, timezone.now()
        f.remote_id, f.sent_payload, f.last_error = result.remote_id, result.request, ""
        f.attempts += 1
        f.save(update_fields=["state", "claimed_at", "sent_at", "remote_id", "sent_payload", "last_error", "attempts"])
        record_event(order, OrderEvent.Kind.PUSHED,
                     f"Sent to {channel.name}: tracking {f.tracking_number or '(none)'}"
                     + (f" via {f.carrier_name}" if f.carrier_name else ""),
                     data={"request": result.request, "remote_id": result.remote_id})
    return f.state


def _push_failed(f: Fulfilment, exc: ConnectorError) -> str:
    f.attempts += 1
    final = isinstance(exc, NotSupported) or not exc.retryable or f.attempts >= settings.PUSH_MAX_ATTEMPTS
    with transaction.atomic():
        f.claimed_at, f.last_error = None, str(exc)[:2000]
        if final:
            f.state = Fulfilment.State.FAILED
        else:
            # Exponential backoff with jitter: 1, 2, 4, 8… minutes.
            delay = 60 * (2 ** (f.attempts - 1)) * (0.5 + random.random())
            f.next_attempt_at = timezone.now() + timedelta(seconds=delay)
        f.save(update_fields=["attempts", "claimed_at", "last_error", "state", "next_attempt_at"])
        record_event(f.order, OrderEvent.Kind.PUSH_FAILED,
                     f"Could not send tracking {f.tracking_number or '(none)'} to {f.order.channel.name}: {exc}"
                     + ("" if final else f" (attempt {f.attempts}; will retry)"))
    if final:
        from orders.alerts import alert_staff

        alert_staff(f.order.channel, f"Fulfilment failed for {f.order}", str(exc))
    return f.state


def due_fulfilment_ids(channel=None) -> list[int]:
    qs = Fulfilment.objects.filter(state=Fulfilment.State.PENDING).filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=timezone.now())
    )
    if channel is not None:
        qs = qs.filter(order__channel=channel)
    return list(qs.order_by("created_at").values_list("pk", flat=True)[:500])


def push_due(channel=None) -> tuple[int, int]:
    """Push every due fulfilment (of one channel, or all). Returns (sent, not sent)."""
    sent = failed = 0
    for pk in due_fulfilment_ids(channel):
        state = push_fulfilment(pk)
        if state == Fulfilment.State.SENT:
            sent += 1
        elif state != "skipped":
            failed += 1
    return sent, failed


def retract_fulfilment(f: Fulfilment, *, reason: str, actor=None) -> str:  # placeholder: the chan1 branch replaces this
    """A label was cancelled: withdraw its fulfilment if the channel has not heard of it yet.
    Returns words for staff. (chan1's version also retracts a sent one through the outbox.)"""
    from orders.services import withdraw_fulfilment

    if withdraw_fulfilment(f, reason=reason, actor=actor):
        return f"tracking {f.tracking_number or '(none)'} withdrawn before it reached {f.order.channel.name}"
    return f"{f.order.channel.name} already has tracking {f.tracking_number or '(none)'}"
