"""Booking shipments with carriers, cancelling them, and booking again (relabel)."""

from __future__ import annotations

import logging
from contextlib import closing

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import prefetch_related_objects
from django.utils import timezone

from orders import services as order_services
from orders.models import Order, OrderEvent
from shipping import emails, rules
from shipping.carriers.base import BookingRequest, CarrierError, Party
from shipping.models import CarrierAccount, Package, Shipment

log = logging.getLogger(__name__)

DEFAULT_WEIGHT_G = rules.DEFAULT_WEIGHT_G
LIVE = (Shipment.Status.BOOKED, Shipment.Status.IN_TRANSIT, Shipment.Status.DELIVERED, Shipment.Status.EXCEPTION)


class BookingError(Exception):
    pass


def parcel_weight(order: Order) -> int:
    return rules.order_weight(order)


def booking_reference(order: Order) -> tuple[str, bool]:
    """Stable across retries: the n-th label of an order always has the same reference, so a
    booking retried after a timeout gets the carrier's first answer back. Returns (reference,
    whether a shipment already has it)."""
    keys = set(order.shipments.order_by().values_list("idempotency_key", flat=True))
    reference = f"shipdesk-{order.pk}-{len(keys) + 1}"
    return reference, reference in keys


def party(address) -> Party:
    return Party(name=address.name, company=address.company, line1=address.line1, line2=address.line2,
                 city=address.city, state=address.state, postal_code=address.postal_code, country=address.country,
                 email=address.email, phone=address.phone)


def recipient(order: Order) -> Party:
    return Party(name=order.ship_name, company=order.ship_company, line1=order.ship_line1, line2=order.ship_line2,
                 city=order.ship_city, state=order.ship_state, postal_code=order.ship_postal_code,
                 country=order.ship_country, email=order.email, phone=order.ship_phone or order.phone)


def book_shipment(
    *, order: Order, carrier_account: CarrierAccount | None = None, service: str = "", weight_g: int | None = None,
    actor=None, ruleset: rules.RuleSet | None = None, label_size: str = "a6", additional: bool = False,
    package: Package | None = None,
) -> Shipment:
    """Buy a label for `order` with the carrier the shipping rules and the channel's mapping
    choose (or staff's choice), store it, and queue the tracking for the channel. Idempotent:
    the same attempt never buys two labels, even when retried after a timeout. `additional`
    allows another parcel for an order already shipped (a relabel of one of several parcels).
    `package` is staff's choice of box over the rules' (its size goes to the carrier, its own
    weight is added to the parcel's)."""
    allowed = (Order.Status.AWAITING_SHIPMENT, Order.Status.SHIPPED) if additional else (Order.Status.AWAITING_SHIPMENT,)
    if order.status not in allowed:
        raise BookingError(f"{order} is {order.get_status_display().lower()}; only orders awaiting shipment are booked")
    if not order.ship_line1 or not order.ship_country:
        raise BookingError(f"{order} has no complete shipping address")
    prefetch_related_objects([order], "lines")  # the rules, the weight and the request all read them
    try:
        decision = rules.resolve(order, carrier_account=carrier_account, service=service, ruleset=ruleset)
    except rules.NoCarrier as exc:
        raise BookingError(str(exc)) from exc
    if package is not None:
        instead = f" (instead of {decision.package.name})" if decision.package not in (None, package) else ""
        decision.package = package
        decision.reasons.append(f"package {package.name}: chosen by staff{instead}")
    sender = decision.sender_address
    if sender is None:
        raise BookingError("No sender address: add a default brand with a sender address under Shipping › Brands.")
    reference, taken = booking_reference(order)
    if taken:
        return Shipment.objects.get(idempotency_key=reference)
    package = decision.package
    weight = (weight_g or parcel_weight(order)) + (package.tare_g if package else 0)
    request = BookingRequest(
        reference=reference,
        order_number=str(order),
        sender=party(sender),
        recipient=recipient(order),
        weight_g=weight,
        service=decision.service,
        brand_name=decision.brand.name if decision.brand else "",
        value=order.total,
        currency=order.currency,
        items=[(ln.sku or ln.title, ln.quantity) for ln in order.lines.all() if ln.is_physical],
        length_cm=package.length_cm if package else None,
        width_cm=package.width_cm if package else None,
        height_cm=package.height_cm if package else None,
        label_size=label_size,
    )
    account = decision.carrier_account
    try:
        if ruleset is not None:
            booking = ruleset.adapter(account).book(request)  # HTTP, outside any transaction
        else:
            with closing(account.adapter()) as adapter:
                booking = adapter.book(request)
    except CarrierError as exc:
        order_services.record_event(order, OrderEvent.Kind.ERROR, f"{account.name} refused the booking: {exc}",
                                    actor=actor)
        raise BookingError(f"{account.name}: {exc}") from exc
    tracking_company = decision.tracking_company or booking.carrier_name or account.name
    details = {**decision.as_dict(), "tracking_company": tracking_company}
    shipment = Shipment(
        order=order, carrier_account=account, brand=decision.brand, sender_address=sender,
        service=booking.service or decision.service, tracking_number=booking.tracking_number,
        tracking_url=booking.tracking_url, tracking_company=tracking_company, external_id=booking.external_id,
        idempotency_key=reference, fee=booking.fee, currency=booking.currency, weight_g=weight, decision=details,
        booked_by=actor, package=package, shipping_name=decision.shipping_name, label_size=label_size,
    )
    # The file first: the transaction below (which holds SQLite's write lock) only writes rows.
    shipment.label.save(f"{booking.tracking_number or reference}.pdf", ContentFile(booking.label_pdf), save=False)
    try:
        with transaction.atomic():
            order_services.record_event(
                order, OrderEvent.Kind.BOOKED,
                f"Label booked with {account.name} ({shipment.service or 'default service'}): "
                f"tracking {shipment.tracking_number}, {weight} g" + (f", fee {booking.fee} {booking.currency}"
                                                                      if booking.fee else ""),
                data=details, actor=actor,
            )
            tell_channel(shipment, actor=actor)  # saves the shipment with its fulfilment
            emails.queue(shipment, "shipped", templates=ruleset.email_templates if ruleset else None)
    except IntegrityError:
        # Another worker booked the same reference at the same moment: theirs stands.
        shipment.label.delete(save=False)
        return Shipment.objects.get(idempotency_key=reference)
    return shipment


def tell_channel(shipment: Shipment, *, actor=None) -> None:
    """Queue what the channel will be told: the tracking, the tracking company and the shipping
    name from the mapping (else the carrier's service)."""
    fulfilment = order_services.record_fulfilment(
        order=shipment.order, tracking_number=shipment.tracking_number, carrier_name=shipment.tracking_company,
        service=shipment.shipping_name or shipment.service, tracking_url=shipment.tracking_url, actor=actor,
    )
    shipment.fulfilment = fulfilment
    if shipment.pk:
        shipment.save(update_fields=["fulfilment"])
    else:
        shipment.save()


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
    """Void a label with the carrier, until pickup. Returns what happened, in words for staff.

    Cancelled or queued, the label is void for Shipdesk: a tracking number the channel was not
    sent yet is withdrawn, and an order left without a live shipment awaits shipment again."""
    refusal = shipment.cancel_refusal
    if refusal:
        raise BookingError(f"Shipment {shipment.tracking_number}: {refusal}")
    try:
        with closing(shipment.carrier_account.adapter()) as adapter:
            result = adapter.cancel(shipment.external_id, shipment.tracking_number)
    except CarrierError as exc:
        raise BookingError(f"{shipment.carrier_account.name} would not cancel {shipment.tracking_number}: {exc}") from exc
    if not result.cancelled and not result.queued:
        raise BookingError(f"{shipment.carrier_account.name} refused to cancel {shipment.tracking_number}: "
                           f"{result.message or 'no reason given'}")
    status = Shipment.Status.CANCELLED if result.cancelled else Shipment.Status.CANCEL_REQUESTED
    void_shipment(shipment, status=status, actor=actor,
                  message=f"Shipment {shipment.tracking_number} "
                          f"{'cancelled' if result.cancelled else 'cancellation queued by the carrier'}"
                          + (f": {result.message}" if result.message else ""))
    return result.message or ("Cancelled." if result.cancelled else "Cancellation queued by the carrier.")


def void_shipment(shipment: Shipment, *, status: str, message: str, actor=None) -> bool:
    """Record that a label is void (cancelled, or its cancellation queued). Returns False when
    another path (a webhook, a second click) got there first."""
    with transaction.atomic():
        locked = Shipment.objects.select_for_update().select_related("order__channel").get(pk=shipment.pk)
        if locked.status == status or locked.status == Shipment.Status.CANCELLED:
            shipment.refresh_from_db()
            return False
        locked.status = status
        locked.cancelled_at = timezone.now() if status == Shipment.Status.CANCELLED else None
        locked.save(update_fields=["status", "cancelled_at"])
        order = locked.order
        order_services.record_event(order, OrderEvent.Kind.SHIPMENT_CANCELLED, message, actor=actor)
        if locked.fulfilment_id:
            order_services.withdraw_fulfilment(locked.fulfilment, reason=f"label {locked.tracking_number} voided",
                                               actor=actor)
        if not order.shipments.filter(status__in=LIVE).exclude(pk=locked.pk).exists():
            order_services.back_to_awaiting_shipment(
                order, reason=f"its last label ({locked.tracking_number}) was voided", actor=actor)
    shipment.refresh_from_db()
    return True


def relabel_shipment(shipment: Shipment, *, carrier_account: CarrierAccount | None = None, service: str = "",
                     weight_g: int | None = None, actor=None) -> tuple[str, Shipment]:
    """Cancel a label and book a new one. The new tracking goes to the channel like any other;
    if the old one never left, the channel only ever hears of the new one."""
    message = cancel_shipment(shipment, actor=actor)
    order = Order.objects.select_related("channel").get(pk=shipment.order_id)
    new = book_shipment(order=order, carrier_account=carrier_account, service=service, weight_g=weight_g,
                        actor=actor, label_size=shipment.label_size, additional=True)
    order_services.record_event(order, OrderEvent.Kind.NOTE,
                                f"Relabelled: {shipment.tracking_number} replaced by {new.tracking_number}",
                                actor=actor)
    return message, new
