"""Tracking: what carriers say about parcels (webhooks, or polling within their limits) turned
into tracking events, shipment statuses, order timeline entries, delivered orders and the
delivery email."""

from __future__ import annotations

import logging
from contextlib import closing
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from orders import services as order_services
from orders.models import OrderEvent
from shipping import emails
from shipping.carriers.base import CarrierError, NotSupported, TrackingUpdate
from shipping.models import CarrierAccount, Shipment, TrackingEvent

log = logging.getLogger(__name__)

S = Shipment.Status
STOP_POLLING_AFTER = timedelta(days=60)  # a parcel silent this long is not coming back to life


def apply_updates(shipment: Shipment, updates: list[TrackingUpdate], *, source: str) -> int:
    """Store what is new in `updates` and act on it. Deliveries can come twice and out of order:
    an update older than the status we hold is kept as history but changes nothing.
    Returns the number of new tracking events."""
    from shipping.booking import LIVE, tell_channel, void_shipment

    new_events = 0
    for update in sorted(updates, key=lambda u: u.occurred_at):
        with transaction.atomic():
            current = (
                Shipment.objects.select_for_update().select_related("order__channel").get(pk=shipment.pk)
            )
            if update.is_status and update.code == current.carrier_status:
                continue  # the same status again (a webhook and a poll, or a retried delivery)
            stale = bool(
                update.is_status
                and current.carrier_status_at
                and update.occurred_at < current.carrier_status_at
            )
            try:
                with transaction.atomic():
                    TrackingEvent.objects.create(
                        shipment=current,
                        code=update.code[:50],
                        status=update.status,
                        message=update.message[:300],
                        location=update.location[:200],
                        occurred_at=update.occurred_at,
                        source=source,
                    )
            except IntegrityError:
                continue  # already stored
            new_events += 1
            order = current.order
            carrier = current.tracking_company or current.carrier_account or "Carrier"
            order_services.record_event(
                order,
                OrderEvent.Kind.TRACKING,
                f"{carrier}: {update.message or update.code} ({current.tracking_number})"
                + (" — arrived late, status unchanged" if stale else ""),
                data={
                    "code": update.code,
                    "status": update.status,
                    "source": source,
                    "at": update.occurred_at.isoformat(),
                    "shipment_id": current.pk,
                    # outgoing webhooks: the update that makes the parcel delivered (once)
                    **(
                        {"topic": "shipment.delivered"}
                        if update.is_status
                        and not stale
                        and update.status == S.DELIVERED
                        and current.status != S.DELIVERED
                        else {}
                    ),
                },
            )
            if not update.is_status or stale:
                continue
            current.carrier_status, current.carrier_status_at = update.code[:50], update.occurred_at
            current.carrier_status_message = update.message[:200]
            current.save(update_fields=["carrier_status", "carrier_status_at", "carrier_status_message"])
            if update.status == S.IN_TRANSIT and current.status in (
                S.BOOKED,
                S.EXCEPTION,
                S.CANCEL_REQUESTED,
            ):
                was_cancelling = current.status == S.CANCEL_REQUESTED
                current.status = S.IN_TRANSIT
                current.picked_up_at = current.picked_up_at or update.occurred_at
                current.save(update_fields=["status", "picked_up_at"])
                if was_cancelling:
                    order_services.record_event(
                        order,
                        OrderEvent.Kind.ERROR,
                        f"The queued cancellation of {current.tracking_number} failed: the parcel was picked up.",
                    )
                    # It ships after all: the channel keeps (or gets again) its tracking.
                    from orders import retracting

                    if current.fulfilment_id is None or not retracting.keep_fulfilment(
                        current.fulfilment, reason="the parcel was picked up before the cancellation"
                    ):
                        tell_channel(current)
            elif update.status == S.DELIVERED and current.status != S.DELIVERED:
                current.status, current.delivered_at = S.DELIVERED, update.occurred_at
                current.picked_up_at = current.picked_up_at or update.occurred_at
                current.save(update_fields=["status", "delivered_at", "picked_up_at"])
                undelivered = order.shipments.filter(status__in=LIVE).exclude(status=S.DELIVERED)
                if not undelivered.exists():
                    order_services.mark_delivered(
                        order, reason=f"{carrier} delivered {current.tracking_number}", at=update.occurred_at
                    )
                emails.queue(current, "delivered")
            elif update.status == S.EXCEPTION and current.status in (S.BOOKED, S.IN_TRANSIT):
                current.status = S.EXCEPTION
                current.save(update_fields=["status"])
                from orders.alerts import alert_staff

                alert_staff(
                    order.channel,
                    f"Parcel problem for {order}",
                    f"{carrier}: {update.message} ({current.tracking_number})",
                )
            elif update.status == S.CANCELLED and current.status != S.CANCELLED:
                void_shipment(
                    current,
                    status=S.CANCELLED,
                    message=f"{carrier} confirmed the cancellation of {current.tracking_number}",
                )
            elif update.status == S.CANCEL_REQUESTED and current.status == S.BOOKED:
                void_shipment(
                    current,
                    status=S.CANCEL_REQUESTED,
                    message=f"{carrier}: cancellation of {current.tracking_number} requested at the carrier",
                )
    Shipment.objects.filter(pk=shipment.pk).update(last_tracked_at=timezone.now())
    shipment.refresh_from_db()
    return new_events


def handle_webhook(account: CarrierAccount, body: bytes, headers) -> int:
    """A carrier's webhook delivery for `account`. Raises BadSignature (the view answers 403).
    Returns how many shipments it concerned."""
    updates = account.adapter().parse_webhook(body, headers)
    seen = 0
    for update in updates:
        q = Q(external_id=update.external_id) if update.external_id else Q(pk__in=[])
        if update.tracking_number:
            q |= Q(tracking_number=update.tracking_number)
        shipment = Shipment.objects.filter(carrier_account=account).filter(q).first()
        if shipment is None:
            log.info("webhook for an unknown parcel %s/%s", update.external_id, update.tracking_number)
            continue
        apply_updates(shipment, [update], source="webhook")
        seen += 1
    return seen


def due_for_polling(account: CarrierAccount, interval: timedelta, *, now=None):
    now = now or timezone.now()
    return (
        Shipment.objects.trackable()
        .filter(carrier_account=account, created_at__gte=now - STOP_POLLING_AFTER)
        .filter(Q(last_tracked_at__isnull=True) | Q(last_tracked_at__lt=now - interval))
        .order_by(F("last_tracked_at").asc(nulls_first=True), "pk")
    )


def poll(*, now=None) -> dict:
    """Ask each carrier about its open parcels, each parcel no more often than the carrier's
    interval and no more parcels per run than its budget. Returns counts per account."""
    report = {}
    for account in CarrierAccount.objects.filter(is_active=True):
        adapter = account.adapter()
        if adapter.poll_interval is None:
            continue
        with closing(adapter):
            report[account.name] = _poll_account(account, adapter, now=now)
    return report


def _poll_account(account: CarrierAccount, adapter, *, now=None) -> dict:
    polled = events = errors = 0
    for shipment in due_for_polling(account, adapter.poll_interval, now=now)[: adapter.poll_budget]:
        try:
            updates = adapter.track(shipment.external_id, shipment.tracking_number)
        except NotSupported:
            break
        except CarrierError as exc:
            errors += 1
            Shipment.objects.filter(pk=shipment.pk).update(last_tracked_at=timezone.now())
            log.warning("tracking %s with %s failed: %s", shipment.tracking_number, account, exc)
            if exc.retryable:
                break  # rate limited or down: the rest waits for the next run
            continue
        events += apply_updates(shipment, updates, source="poll")
        polled += 1
    return {"polled": polled, "events": events, "errors": errors}
