"""Booking shipments with carriers, cancelling them, and booking again (relabel)."""

from __future__ import annotations

import logging
from contextlib import closing
from decimal import Decimal

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import prefetch_related_objects
from django.utils import timezone

from orders import retracting
from orders import services as order_services
from orders.models import Fulfilment, Order, OrderEvent, OrderLine
from shipping import emails, rules
from shipping.carriers.base import BookingRequest, CarrierError, ItemLine, Party
from shipping.models import CarrierAccount, Package, Shipment, ShipmentLine

log = logging.getLogger(__name__)

DEFAULT_WEIGHT_G = rules.DEFAULT_WEIGHT_G
LIVE = (
    Shipment.Status.BOOKED,
    Shipment.Status.IN_TRANSIT,
    Shipment.Status.DELIVERED,
    Shipment.Status.EXCEPTION,
)


class BookingError(Exception):
    pass


def parcel_weight(order: Order, lines: list[tuple[OrderLine, int]] | None = None) -> int:
    """What the parcel holding `lines` weighs (all the order's physical lines when None)."""
    return rules.order_weight(order, lines)


def parcel_value(order: Order, lines: list[tuple[OrderLine, int]]) -> Decimal:
    """The customs value of the parcel: the order's total when it holds every physical unit,
    otherwise what its lines cost."""
    physical = [ln for ln in order.lines.all() if ln.is_physical]
    held = {ln.pk: qty for ln, qty in lines}
    if all(held.get(ln.pk, 0) >= ln.quantity for ln in physical):
        return order.total
    return sum((ln.unit_price * qty for ln, qty in lines), Decimal("0"))


def same_carrier(a: str, b: str) -> bool:
    """Whether two tracking company names mean the same carrier (“Royal Mail” and “royal-mail”,
    “DHL” and “DHL Express”)."""

    def norm(text):
        return "".join(ch for ch in (text or "").lower() if ch.isalnum())

    a, b = norm(a), norm(b)
    return bool(a and b) and (a == b or a.startswith(b) or b.startswith(a))


def booking_reference(order: Order) -> tuple[str, bool]:
    """Stable across retries: the n-th label of an order always has the same reference, so a
    booking retried after a timeout gets the carrier's first answer back. Returns (reference,
    whether a shipment already has it)."""
    keys = set(order.shipments.order_by().values_list("idempotency_key", flat=True))
    reference = f"shipdesk-{order.pk}-{len(keys) + 1}"
    return reference, reference in keys


def party(address) -> Party:
    return Party(
        name=address.name,
        company=address.company,
        line1=address.line1,
        line2=address.line2,
        city=address.city,
        state=address.state,
        postal_code=address.postal_code,
        country=address.country,
        email=address.email,
        phone=address.phone,
    )


def recipient(order: Order) -> Party:
    return Party(
        name=order.ship_name,
        company=order.ship_company,
        line1=order.ship_line1,
        line2=order.ship_line2,
        city=order.ship_city,
        state=order.ship_state,
        postal_code=order.ship_postal_code,
        country=order.ship_country,
        email=order.email,
        phone=order.ship_phone or order.phone,
    )


def book_shipment(
    *,
    order: Order,
    carrier_account: CarrierAccount | None = None,
    service: str = "",
    weight_g: int | None = None,
    actor=None,
    ruleset: rules.RuleSet | None = None,
    label_size: str = "a6",
    additional: bool = False,
    package: Package | None = None,
    lines: list[tuple[OrderLine | str, int]] | None = None,
    note: str | None = None,
    tracking_company: str = "",
    replaces: Fulfilment | None = None,
) -> Shipment:
    """Buy a label for a parcel of `order` with the carrier the shipping rules and the channel's
    mapping choose (or staff's choice), store it with the lines it holds, and queue the tracking
    for the channel. Idempotent: the same attempt never buys two labels, even when retried after
    a timeout.

    `lines`: the (OrderLine or external id, quantity) pairs the parcel holds; None is the
    default, what Shipdesk ships itself (orders.services.default_lines). Weight, customs value
    and the items the carrier is told come from these lines only. `note`: the note to the buyer
    (None: the channel's default note). `tracking_company`: staff's explicit choice of what the
    channel is told (otherwise the carrier that carries the parcel, see `_tracking_company`).
    `additional` allows another parcel for an order already shipped, and `replaces` names the
    fulfilment a relabel takes the place of (its lines count as open for this booking).
    `package` is staff's choice of box over the rules' (its size goes to the carrier, its own
    weight is added to the parcel's)."""
    allowed = (
        (*order_services.BOOKABLE, Order.Status.SHIPPED, Order.Status.DELIVERED)
        if additional
        else order_services.BOOKABLE
    )
    if order.status not in allowed:
        raise BookingError(
            f"{order} is {order.get_status_display().lower()}; only orders awaiting shipment "
            "or partly shipped are booked"
        )
    if not order.ship_line1 or not order.ship_country:
        raise BookingError(f"{order} has no complete shipping address")
    prefetch_related_objects([order], "lines")  # the rules, the weight and the request all read them
    # The reference before the lines: a booking racing this one either gets the same reference
    # (one label between them) or starts after this one committed and sees its lines taken.
    reference, taken = booking_reference(order)
    if taken:
        return Shipment.objects.get(idempotency_key=reference)
    picked = parcel_lines(order, lines, replaces=replaces)
    weight = weight_g or parcel_weight(order, picked)
    try:
        decision = rules.resolve(
            order, carrier_account=carrier_account, service=service, ruleset=ruleset, weight_g=weight
        )
    except rules.NoCarrier as exc:
        raise BookingError(str(exc)) from exc
    if package is not None:
        instead = f" (instead of {decision.package.name})" if decision.package not in (None, package) else ""
        decision.package = package
        decision.reasons.append(f"package {package.name}: chosen by staff{instead}")
    sender = decision.sender_address
    if sender is None:
        raise BookingError(
            "No sender address: add a default brand with a sender address under Shipping › Brands."
        )
    package = decision.package
    weight += package.tare_g if package else 0
    note = order.channel.default_note if note is None else note
    request = BookingRequest(
        reference=reference,
        order_number=str(order),
        sender=party(sender),
        recipient=recipient(order),
        weight_g=weight,
        service=decision.service,
        brand_name=decision.brand.name if decision.brand else "",
        value=parcel_value(order, picked),
        currency=order.currency,
        items=[(ln.sku or ln.title, qty) for ln, qty in picked],
        item_lines=[
            ItemLine(
                sku=ln.sku, title=ln.title, quantity=qty, unit_price=ln.unit_price, weight_g=ln.weight_g or 0
            )
            for ln, qty in picked
        ],
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
        order_services.record_event(
            order, OrderEvent.Kind.ERROR, f"{account.name} refused the booking: {exc}", actor=actor
        )
        raise BookingError(f"{account.name}: {exc}") from exc
    told, disagreement = _tracking_company(decision, booking, account, chosen=tracking_company)
    details = {**decision.as_dict(), "tracking_company": told}
    if disagreement:
        details["reasons"] = [*details["reasons"], disagreement]
    shipment = Shipment(
        order=order,
        carrier_account=account,
        brand=decision.brand,
        sender_address=sender,
        service=booking.service or decision.service,
        tracking_number=booking.tracking_number,
        tracking_url=booking.tracking_url,
        tracking_company=told,
        external_id=booking.external_id,
        idempotency_key=reference,
        fee=booking.fee,
        currency=booking.currency,
        weight_g=weight,
        decision=details,
        booked_by=actor,
        package=package,
        shipping_name=decision.shipping_name,
        label_size=label_size,
        label_format=booking.label_format or "pdf",
        note=(note or "")[:500],
    )
    # The file first: the transaction below (which holds SQLite's write lock) only writes rows.
    shipment.label.save(
        f"{booking.tracking_number or reference}.{'zpl' if booking.label_format == 'zpl' else 'pdf'}",
        ContentFile(booking.label_pdf),
        save=False,
    )
    held = ", ".join(f"{qty} × {ln.sku or ln.title}" for ln, qty in picked)
    try:
        with transaction.atomic():
            shipment.save()
            ShipmentLine.objects.bulk_create(
                [ShipmentLine(shipment=shipment, order_line=ln, quantity=qty) for ln, qty in picked]
            )
            # After the rows: the event names the shipment (outgoing webhooks send its data).
            order_services.record_event(
                order,
                OrderEvent.Kind.BOOKED,
                f"Label booked with {account.name} ({shipment.service or 'default service'}): "
                f"tracking {shipment.tracking_number}, {weight} g, holding {held}"
                + (f", fee {booking.fee} {booking.currency}" if booking.fee else ""),
                data={
                    **details,
                    "lines": [[ln.external_id, qty] for ln, qty in picked],
                    "shipment_id": shipment.pk,
                },
                actor=actor,
            )
            if disagreement:
                order_services.record_event(order, OrderEvent.Kind.NOTE, disagreement, actor=actor)
            tell_channel(shipment, actor=actor, replaces=replaces)
            emails.queue(shipment, "shipped", templates=ruleset.email_templates if ruleset else None)
    except IntegrityError:
        # Another worker booked the same reference at the same moment: theirs stands.
        shipment.label.delete(save=False)
        return Shipment.objects.get(idempotency_key=reference)
    return shipment


def parcel_lines(order: Order, lines, *, replaces: Fulfilment | None = None) -> list[tuple[OrderLine, int]]:
    """The (OrderLine, quantity) a parcel of `order` holds: `lines` checked against what is
    still open (not counting `replaces`), or the default when None. BookingError says why not."""
    if lines is None:
        if replaces is not None:
            return order_services.check_lines(order, [tuple(x) for x in replaces.lines])
        picked = order_services.default_lines(order)
        if not picked:
            raise BookingError(order_services.nothing_to_ship_reason(order))
        return picked
    try:
        picked = order_services.check_lines(order, list(lines), open_only=True, exclude=replaces)
    except order_services.InvalidLines as exc:
        raise BookingError(str(exc)) from exc
    routed = [
        f"{ln.sku or ln.title} is shipped by supplier {ln.dropshipped_by}"
        for ln, _ in picked
        if ln.dropshipped_by
    ]
    if routed:
        raise BookingError(
            f"{order}: " + "; ".join(routed) + " (cancel the supplier order to ship it yourself)"
        )
    return picked


def _tracking_company(
    decision: rules.Decision, booking, account: CarrierAccount, *, chosen: str = ""
) -> tuple[str, str]:
    """The tracking company the channel is told, and the timeline's words when the mapping
    disagreed with the carrier that carries the parcel. The booked parcel decides (a Sendcloud
    parcel's carrier code, the self-print account's carrier); the mapping's tracking company
    applies only when it names that same carrier, or when staff chose one explicitly."""
    if chosen:
        return chosen, ""
    booked = booking.carrier_name or account.tracking_company
    mapped = decision.tracking_company if decision.tracking_company_source == "mapping" else ""
    if not booked:
        return decision.tracking_company or account.name, ""
    if not mapped or same_carrier(mapped, booked):
        return (mapped or booked), ""
    return booked, (
        f"Tracking company: the parcel is carried by {booked}, not {mapped} as the shipping mapping "
        f"says; the channel is told {booked}"
    )


def tell_channel(shipment: Shipment, *, actor=None, replaces: Fulfilment | None = None) -> None:
    """Queue what the channel will be told: the tracking, the tracking company and the shipping
    name from the mapping (else the carrier's service), the lines the parcel holds, the note
    and the carrier's fee."""
    lines = [(sl.order_line, sl.quantity) for sl in shipment.lines.select_related("order_line")]
    if not lines:  # a parcel from before parcels carried lines
        lines = recorded_lines(shipment.order)
    fulfilment = order_services.record_fulfilment(
        order=shipment.order,
        lines=lines,
        tracking_number=shipment.tracking_number,
        carrier_name=shipment.tracking_company,
        service=shipment.shipping_name or shipment.service,
        tracking_url=shipment.tracking_url,
        note=shipment.note,
        fee=shipment.fee if shipment.fee else None,
        fee_currency=shipment.currency,
        replaces=replaces,
        actor=actor,
    )
    shipment.fulfilment = fulfilment
    shipment.save(update_fields=["fulfilment"])


def record_external_shipment(
    *,
    order: Order,
    tracking_number: str,
    carrier: str,
    service: str = "",
    tracking_url: str = "",
    shipped_at=None,
    reference: str = "",
    lines: list | None = None,
    note: str = "",
    supplier: str = "",
    note_to_buyer: str = "",
    actor=None,
) -> tuple[Shipment, bool]:
    """A parcel that left without a Shipdesk label (a CSV row, a dropshipping supplier): store it
    with the lines it holds and send its tracking to the channel like any other. `lines`: (line
    or external id, quantity); None is `recorded_lines` (what was open). `supplier`: who shipped
    it. `note` goes on the timeline, `note_to_buyer` to the channel. Idempotent on (order,
    tracking number), or on `reference` when given. Returns (shipment, created)."""
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
        picked = (
            order_services.check_lines(order, list(lines)) if lines is not None else recorded_lines(order)
        )
    except order_services.InvalidLines as exc:
        raise BookingError(str(exc)) from exc
    try:
        with transaction.atomic():
            shipment = Shipment.objects.create(
                order=order,
                carrier_account=None,
                service=service,
                tracking_number=tracking_number,
                tracking_url=tracking_url,
                tracking_company=carrier,
                idempotency_key=key,
                booked_by=actor,
                note=note_to_buyer[:500],
                decision={
                    "reasons": [
                        f"recorded: shipped outside Shipdesk with {carrier}"
                        + (f" by {supplier}" if supplier else "")
                    ]
                },
            )
            ShipmentLine.objects.bulk_create(
                [ShipmentLine(shipment=shipment, order_line=ln, quantity=qty) for ln, qty in picked]
            )
            if shipped_at:
                Shipment.objects.filter(pk=shipment.pk).update(created_at=shipped_at)
            order_services.record_event(
                order,
                OrderEvent.Kind.BOOKED,
                f"Shipment recorded: {carrier} {tracking_number or '(no tracking)'}"
                + (f" ({note})" if note else ""),
                actor=actor,
            )
            fulfilment = order_services.record_fulfilment(
                order=order,
                lines=picked,
                tracking_number=tracking_number,
                carrier_name=carrier,
                service=service,
                tracking_url=tracking_url,
                note=note_to_buyer,
                supplier=supplier,
                actor=actor,
            )
            shipment.fulfilment = fulfilment
            shipment.save(update_fields=["fulfilment"])
    except IntegrityError:
        return Shipment.objects.get(idempotency_key=key), False
    return shipment, True


def recorded_lines(order: Order) -> list[tuple[OrderLine, int]]:
    """What a parcel recorded from elsewhere holds when nobody says: what Shipdesk had still to
    ship; when nothing was, a further parcel of our own lines (a resend); an order whose every
    line a supplier ships, its lines."""
    picked = order_services.default_lines(order)
    if picked:
        return picked
    physical = [ln for ln in order.lines.all() if ln.is_physical]
    own = [(ln, ln.quantity) for ln in physical if not ln.dropshipped_by]
    return own or [(ln, ln.quantity) for ln in physical]


def cancel_shipment(shipment: Shipment, *, actor=None, retract: bool = True) -> str:
    """Void a label with the carrier, until pickup. Returns what happened, in words for staff.

    Cancelled or queued, the label is void for Shipdesk: its fulfilment is retracted
    (orders.retracting.retract_fulfilment: withdrawn if the channel never heard of it, else put
    right on the channel), its lines are open again and the order's status follows. A relabel
    passes `retract=False`: the new fulfilment replaces the old one on the channel instead."""
    refusal = shipment.cancel_refusal
    if refusal:
        raise BookingError(f"Shipment {shipment.tracking_number}: {refusal}")
    try:
        with closing(shipment.carrier_account.adapter()) as adapter:
            result = adapter.cancel(shipment.external_id, shipment.tracking_number)
    except CarrierError as exc:
        raise BookingError(
            f"{shipment.carrier_account.name} would not cancel {shipment.tracking_number}: {exc}"
        ) from exc
    if not result.cancelled and not result.queued:
        raise BookingError(
            f"{shipment.carrier_account.name} refused to cancel {shipment.tracking_number}: "
            f"{result.message or 'no reason given'}"
        )
    status = Shipment.Status.CANCELLED if result.cancelled else Shipment.Status.CANCEL_REQUESTED
    void_shipment(
        shipment,
        status=status,
        actor=actor,
        retract=retract,
        message=f"Shipment {shipment.tracking_number} "
        f"{'cancelled' if result.cancelled else 'cancellation queued by the carrier'}"
        + (f": {result.message}" if result.message else ""),
    )
    return result.message or ("Cancelled." if result.cancelled else "Cancellation queued by the carrier.")


def void_shipment(shipment: Shipment, *, status: str, message: str, actor=None, retract: bool = True) -> bool:
    """Record that a label is void (cancelled, or its cancellation queued): its fulfilment is
    retracted from the channel (unless `retract` is False: a relabel's new fulfilment replaces
    it) and the order's status follows its lines. Returns False when another path (a webhook,
    a second click) got there first."""
    with transaction.atomic():
        locked = Shipment.objects.select_for_update().select_related("order__channel").get(pk=shipment.pk)
        if locked.status == status or locked.status == Shipment.Status.CANCELLED:
            shipment.refresh_from_db()
            return False
        locked.status = status
        locked.cancelled_at = timezone.now() if status == Shipment.Status.CANCELLED else None
        locked.save(update_fields=["status", "cancelled_at"])
        order = locked.order
        if locked.fulfilment_id and retract:
            told = retracting.retract_fulfilment(
                locked.fulfilment, reason=f"label {locked.tracking_number} voided", actor=actor
            )
            message = f"{message}. {told[:1].upper()}{told[1:]}" if told else message
        order_services.record_event(
            order,
            OrderEvent.Kind.SHIPMENT_CANCELLED,
            message,
            data={"shipment_id": locked.pk, "status": status},
            actor=actor,
        )
        order_services.refresh_status(order, reason=f"label {locked.tracking_number} was voided", actor=actor)
    shipment.refresh_from_db()
    return True


def relabel_shipment(
    shipment: Shipment,
    *,
    carrier_account: CarrierAccount | None = None,
    service: str = "",
    weight_g: int | None = None,
    actor=None,
) -> tuple[str, Shipment]:
    """Cancel a label and book a new one for the same lines. If the old tracking never left, it
    is withdrawn and the channel only ever hears of the new one; if it did, the new fulfilment
    `replaces` it (the outbox updates the channel's shipment, or cancels it and sends the new)."""
    lines = [(sl.order_line, sl.quantity) for sl in shipment.lines.select_related("order_line")]
    old = shipment.fulfilment
    message = cancel_shipment(shipment, actor=actor, retract=False)
    replaces = None
    if old is not None:
        # Withdrawn at once if the channel never heard of it (the row goes); otherwise it stops
        # covering its lines and waits for the new fulfilment, which updates it on the channel.
        retracting.retract_fulfilment(
            old, reason=f"label {shipment.tracking_number} relabelled", actor=actor, relabel=True
        )
        replaces = Fulfilment.objects.filter(pk=old.pk).first()
    order = Order.objects.select_related("channel").get(pk=shipment.order_id)
    try:
        new = book_shipment(
            order=order,
            carrier_account=carrier_account,
            service=service,
            weight_g=weight_g,
            actor=actor,
            label_size=shipment.label_size,
            additional=True,
            lines=lines or None,
            note=shipment.note,
            replaces=replaces,
        )
    except BookingError:
        # The old label is void and no new one stands: the channel must not keep the old tracking.
        if replaces is not None:
            retracting.retract_fulfilment(
                replaces, reason=f"label {shipment.tracking_number} voided; relabel failed", actor=actor
            )
        order_services.refresh_status(
            order, reason=f"label {shipment.tracking_number} was voided", actor=actor
        )
        raise
    order_services.record_event(
        order,
        OrderEvent.Kind.NOTE,
        f"Relabelled: {shipment.tracking_number} replaced by {new.tracking_number}",
        actor=actor,
    )
    return message, new
