"""Booking shipments with carriers, and cancelling them."""

from __future__ import annotations

import logging

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from orders import services as order_services
from orders.models import Order, OrderEvent
from shipping import rules
from shipping.carriers.base import BookingRequest, CarrierError, Party
from shipping.models import CarrierAccount, Shipment

log = logging.getLogger(__name__)

DEFAULT_WEIGHT_G = 500


class BookingError(Exception):
    pass


def parcel_weight(order: Order) -> int:
    if order.total_weight_g:
        return order.total_weight_g
    weights = [ln.weight_g * ln.quantity for ln in order.lines.all() if ln.is_physical and ln.weight_g]
    return sum(weights) or DEFAULT_WEIGHT_G


def booking_reference(order: Order) -> str:
    """Stable across retries: the n-th label of an order always has the same reference,
    so a booking retried after a timeout gets the carrier's first answer back."""
    return f"shipdesk-{order.pk}-{order.shipments.count() + 1}"


def book_shipment(
    *, order: Order, carrier_account: CarrierAccount | None = None, service: str = "", weight_g: int | None = None,
    actor=None,
) -> Shipment:
    """Buy a label for `order`, store it, and queue the tracking for the channel."""
    if order.status not in (Order.Status.AWAITING_SHIPMENT,):
        raise BookingError(f"{order} is {order.get_status_display().lower()}; only orders awaiting shipment are booked")
    if not order.ship_line1 or not order.ship_country:
        raise BookingError(f"{order} has no complete shipping address")
    try:
        decision = rules.resolve(order, carrier_account=carrier_account, service=service)
    except rules.NoCarrier as exc:
        raise BookingError(str(exc)) from exc
    sender = decision.sender_address
    if sender is None:
        raise BookingError("No sender address: add a default brand with a sender address under Shipping › Brands.")
    reference = booking_reference(order)
    existing = Shipment.objects.filter(idempotency_key=reference).first()
    if existing:
        return existing
    weight = weight_g or parcel_weight(order)
    request = BookingRequest(
        reference=reference,
        order_number=str(order),
        sender=Party(name=sender.name, company=sender.company, line1=sender.line1, line2=sender.line2,
                     city=sender.city, state=sender.state, postal_code=sender.postal_code, country=sender.country,
                     email=sender.email, phone=sender.phone),
        recipient=Party(name=order.ship_name, company=order.ship_company, line1=order.ship_line1,
                        line2=order.ship_line2, city=order.ship_city, state=order.ship_state,
                        postal_code=order.ship_postal_code, country=order.ship_country, email=order.email,
                        phone=order.ship_phone or order.phone),
        weight_g=weight,
        service=decision.service,
        brand_name=decision.brand.name if decision.brand else "",
        value=order.total,
        currency=order.currency,
        items=[(ln.sku or ln.title, ln.quantity) for ln in order.lines.all() if ln.is_physical],
    )
    account = decision.carrier_account
    try:
        booking = account.adapter().book(request)  # HTTP, outside any transaction
    except CarrierError as exc:
        order_services.record_event(order, OrderEvent.Kind.ERROR, f"{account.name} refused the booking: {exc}",
                                    actor=actor)
        raise BookingError(f"{account.name}: {exc}") from exc
    try:
        with transaction.atomic():
            shipment = Shipment(
                order=order, carrier_account=account, brand=decision.brand, sender_address=sender,
                service=booking.service or decision.service, tracking_number=booking.tracking_number,
                tracking_url=booking.tracking_url, tracking_company=decision.tracking_company,
                external_id=booking.external_id, idempotency_key=reference, fee=booking.fee,
                currency=booking.currency, weight_g=weight, decision=decision.as_dict(), booked_by=actor,
            )
            shipment.label.save(f"{booking.tracking_number or reference}.pdf", ContentFile(booking.label_pdf),
                                save=False)
            shipment.save()
            order_services.record_event(
                order, OrderEvent.Kind.BOOKED,
                f"Label booked with {account.name} ({shipment.service or 'default service'}): "
                f"tracking {shipment.tracking_number}, {weight} g" + (f", fee {booking.fee} {booking.currency}"
                                                                      if booking.fee else ""),
                data=decision.as_dict(), actor=actor,
            )
            fulfilment = order_services.record_fulfilment(
                order=order, tracking_number=shipment.tracking_number, carrier_name=shipment.tracking_company,
                service=shipment.service, tracking_url=shipment.tracking_url, actor=actor,
            )
            shipment.fulfilment = fulfilment
            shipment.save(update_fields=["fulfilment"])
    except IntegrityError:
        # Another worker booked the same reference at the same moment: theirs stands.
        return Shipment.objects.get(idempotency_key=reference)
    return shipment


def record_external_shipment(
    *, order: Order, tracking_number: str, carrier: str, service: str = "", tracking_url: str = "",
    shipped_at=None, reference: str = "", lines: list | None = None, note: str = "", actor=None,
) -> tuple[Shipment, bool]:
    """A parcel that left without a Shipdesk label (a CSV row, a dropshipping supplier): store it
    and send its tracking to the channel like any other. Idempotent on (order, tracking number),
    or on `reference` when given. Returns (shipment, created)."""
    tracking_number = (tracking_number or "").strip()
    key = reference or f"external-{order.pk}-{tracking_number}"
    existing = Shipment.objects.filter(idempotency_key=key).first()
    if existing is None and tracking_number:
        existing = Shipment.objects.filter(order=order, tracking_number=tracking_number).first()
    if existing:
        return existing, False
    if order.status == Order.Status.CANCELLED:
        raise BookingError(f"{order} is cancelled")
    try:
        with transaction.atomic():
            shipment = Shipment.objects.create(
                order=order, carrier_account=None, service=service, tracking_number=tracking_number,
                tracking_url=tracking_url, tracking_company=carrier, idempotency_key=key, booked_by=actor,
                decision={"reasons": [f"recorded: shipped outside Shipdesk with {carrier}"]},
            )
            if shipped_at:
                Shipment.objects.filter(pk=shipment.pk).update(created_at=shipped_at)
            order_services.record_event(
                order, OrderEvent.Kind.BOOKED,
                f"Shipment recorded: {carrier} {tracking_number or '(no tracking)'}" + (f" ({note})" if note else ""),
                actor=actor,
            )
            fulfilment = order_services.record_fulfilment(
                order=order, tracking_number=tracking_number, carrier_name=carrier, service=service,
                tracking_url=tracking_url, lines=lines, actor=actor,
            )
            shipment.fulfilment = fulfilment
            shipment.save(update_fields=["fulfilment"])
    except IntegrityError:
        return Shipment.objects.get(idempotency_key=key), False
    return shipment, True


def cancel_shipment(shipment: Shipment, *, actor=None) -> str:
    """Void a label with the carrier. Returns what happened, in words for staff."""
    if not shipment.is_open:
        raise BookingError(f"Shipment {shipment.tracking_number} is {shipment.get_status_display().lower()}")
    if shipment.is_external:
        raise BookingError(f"Shipment {shipment.tracking_number} was booked outside Shipdesk; cancel it with "
                           f"{shipment.tracking_company or 'the carrier'}")
    try:
        result = shipment.carrier_account.adapter().cancel(shipment.external_id, shipment.tracking_number)
    except CarrierError as exc:
        raise BookingError(f"{shipment.carrier_account.name} would not cancel {shipment.tracking_number}: {exc}") from exc
    if not result.cancelled and not result.queued:
        raise BookingError(result.message or "The carrier refused the cancellation.")
    with transaction.atomic():
        shipment.status = Shipment.Status.CANCELLED if result.cancelled else Shipment.Status.CANCEL_REQUESTED
        shipment.cancelled_at = timezone.now() if result.cancelled else None
        shipment.save(update_fields=["status", "cancelled_at"])
        order_services.record_event(
            shipment.order, OrderEvent.Kind.SHIPMENT_CANCELLED,
            f"Shipment {shipment.tracking_number} {'cancelled' if result.cancelled else 'cancellation queued'}"
            + (f": {result.message}" if result.message else ""), actor=actor,
        )
    return result.message or ("Cancelled." if result.cancelled else "Cancellation queued by the carrier.")
