"""Every state change of a return: creating it, booking its label, and what staff do with it
(approve, reject, receive, refund). Each change runs in a transaction and records an OrderEvent
on the order's timeline; views, admin actions and tasks only call these. Finding the order is
in `returns.lookup`, what may be returned in `returns.eligibility`.

Messages in ReturnError are shown to customers, so they are translated in the language active
when the function runs (the portal's)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from orders.models import Order, OrderEvent
from orders.services import record_event
from returns.eligibility import eligibility, policy_for
from returns.models import ReturnLine, ReturnPolicy, ReturnRequest
from shipping.carriers.base import BookingRequest, CarrierError, Party
from shipping.models import Address, Brand, CarrierAccount

log = logging.getLogger(__name__)

RS = ReturnRequest.Status
# Which status may follow which: data, not ifs. approve/reject/receive/refund are the only writers.
TRANSITIONS: dict[str, set[str]] = {
    RS.AWAITING_APPROVAL: {RS.APPROVED, RS.REJECTED},
    RS.APPROVED: {RS.LABEL_ISSUED, RS.RECEIVED, RS.REJECTED},
    RS.LABEL_ISSUED: {RS.RECEIVED, RS.REJECTED},
    RS.RECEIVED: {RS.REFUNDED, RS.REJECTED},
    RS.REJECTED: set(),
    RS.REFUNDED: set(),
}
LABEL_CLAIM_STALE = timedelta(minutes=5)
DEFAULT_WEIGHT_G = 500


class ReturnError(Exception):
    """A return cannot be made or changed; the message can be shown as it is."""


# ---------------------------------------------------------------- the return


@dataclass
class Choice:
    line_id: int
    quantity: int
    reason: str


def create_return(
    *,
    order: Order,
    brand: Brand,
    choices: list[Choice],
    note: str = "",
    language: str = "en",
    idempotency_key: str = "",
    actor=None,
) -> ReturnRequest:
    """Start a return of `choices` (order line, quantity, reason). The same idempotency key
    always gives back the first return made with it, so a form sent twice makes one return."""
    if idempotency_key:
        existing = ReturnRequest.objects.filter(idempotency_key=idempotency_key, order=order).first()
        if existing:
            return existing
    try:
        with transaction.atomic():
            # One return at a time per order: the quantities read below cannot change under us.
            Order.objects.select_for_update().filter(pk=order.pk).first()
            if idempotency_key:
                existing = ReturnRequest.objects.filter(idempotency_key=idempotency_key, order=order).first()
                if existing:
                    return existing
            ret = _create(
                order=order,
                brand=brand,
                choices=choices,
                note=note,
                language=language,
                idempotency_key=idempotency_key,
                actor=actor,
            )
    except IntegrityError:
        existing = ReturnRequest.objects.filter(idempotency_key=idempotency_key, order=order).first()
        if existing is None:
            raise
        return existing
    return ret


def _create(*, order, brand, choices, note, language, idempotency_key, actor) -> ReturnRequest:
    elig = eligibility(order, brand=brand)
    if not elig.eligible:
        raise ReturnError(elig.reasons[0])
    by_line = {x.line.pk: x for x in elig.lines}
    reasons = set(elig.policy.reasons or [])
    wanted: dict[int, Choice] = {}
    for choice in choices:
        if choice.quantity <= 0:
            continue
        item = by_line.get(choice.line_id)
        if item is None or choice.line_id in wanted:
            raise ReturnError(_("That item is not part of this order."))
        if choice.quantity > item.returnable:
            raise ReturnError(
                _("You can return at most %(count)s of “%(item)s”.")
                % {"count": item.returnable, "item": item.line.title}
            )
        if choice.reason not in reasons:
            raise ReturnError(_("Choose a reason for “%(item)s”.") % {"item": item.line.title})
        wanted[choice.line_id] = choice
    if not wanted:
        raise ReturnError(_("Choose at least one item to return."))

    policy = elig.policy
    ret = ReturnRequest.objects.create(
        order=order,
        brand=brand,
        status=RS.AWAITING_APPROVAL if policy.requires_approval else RS.APPROVED,
        source=ReturnRequest.Source.STAFF if actor else ReturnRequest.Source.PORTAL,
        **({"idempotency_key": idempotency_key} if idempotency_key else {}),
        language=(language or "en")[:10],
        customer_email=order.email,
        customer_note=(note or "")[:2000],
        label_fee=policy.label_fee,
        currency=policy.label_fee_currency or order.currency,
        created_by=actor,
    )
    ReturnLine.objects.bulk_create(
        ReturnLine(return_request=ret, order_line_id=c.line_id, quantity=c.quantity, reason=c.reason)
        for c in wanted.values()
    )
    items = ", ".join(
        f"{c.quantity} × {by_line[c.line_id].line.sku or by_line[c.line_id].line.title} ({c.reason})"
        for c in wanted.values()
    )
    record_event(
        order,
        OrderEvent.Kind.RETURN,
        f"Return {ret.number} requested {'by staff for the customer' if actor else 'in the portal'}: "
        f"{items}" + ("; awaiting approval" if ret.status == RS.AWAITING_APPROVAL else ""),
        data={"return_id": ret.pk, "status": ret.status, "topic": "return.requested"},
        actor=actor,
    )
    if ret.status == RS.AWAITING_APPROVAL:
        _email_on_commit(ret, "requested")
    return ret


def _party_from_order(order: Order) -> Party:
    return Party(
        name=order.ship_name or order.customer_name,
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


def _party_from_address(a: Address) -> Party:
    return Party(
        name=a.name,
        company=a.company,
        line1=a.line1,
        line2=a.line2,
        city=a.city,
        state=a.state,
        postal_code=a.postal_code,
        country=a.country,
        email=a.email,
        phone=a.phone,
    )


def return_carrier(policy: ReturnPolicy) -> CarrierAccount | None:
    if policy.return_carrier_id and policy.return_carrier.is_active:
        return policy.return_carrier
    return CarrierAccount.objects.filter(is_active=True).order_by("-is_default", "name").first()


def return_address(brand: Brand) -> Address:
    return brand.return_address or brand.sender_address


def book_return_label(ret: ReturnRequest, *, actor=None) -> ReturnRequest:
    """Book the return label (customer -> brand's return address) through the brand's return
    carrier, once: a return that has a label, or whose booking another worker has claimed,
    is given back as it is. On a carrier error the return stays approved, with the error."""
    if ret.status != RS.APPROVED or ret.label:
        return ret
    now = timezone.now()
    claimed = (
        ReturnRequest.objects.filter(pk=ret.pk, status=RS.APPROVED, label="")
        .filter(Q(label_claimed_at__isnull=True) | Q(label_claimed_at__lt=now - LABEL_CLAIM_STALE))
        .update(label_claimed_at=now)
    )
    if not claimed:
        ret.refresh_from_db()
        return ret
    ret = ReturnRequest.objects.select_related("order", "brand__return_address", "brand__sender_address").get(
        pk=ret.pk
    )
    order, brand = ret.order, ret.brand
    account = return_carrier(policy_for(brand))
    lines = list(ret.lines.select_related("order_line"))
    weight = sum((ln.order_line.weight_g or 0) * ln.quantity for ln in lines) or DEFAULT_WEIGHT_G
    request = BookingRequest(
        reference=f"shipdesk-return-{ret.pk}",
        order_number=str(order),
        sender=_party_from_order(order),
        recipient=_party_from_address(return_address(brand)),
        weight_g=weight,
        # The account's return service; empty lets the adapter choose (never the outbound service).
        service=getattr(account, "return_service", "") or "",
        brand_name=brand.name,
        value=sum((ln.quantity * ln.order_line.unit_price for ln in lines), Decimal("0")),
        currency=order.currency,
        items=[(ln.order_line.sku or ln.order_line.title, ln.quantity) for ln in lines],
    )
    try:
        if account is None:
            raise CarrierError("no active carrier account to book return labels with")
        booking = account.adapter().book_return(request)  # HTTP, outside any transaction
    except CarrierError as exc:
        ReturnRequest.objects.filter(pk=ret.pk).update(label_claimed_at=None, label_error=str(exc)[:2000])
        record_event(
            order,
            OrderEvent.Kind.ERROR,
            f"Return {ret.number}: the return label could not be booked"
            f"{' with ' + account.name if account else ''}: {exc}",
            data={"return_id": ret.pk},
            actor=actor,
        )
        ret.refresh_from_db()
        return ret
    with transaction.atomic():
        ret = _locked(ret)
        ret.carrier_account, ret.tracking_number = account, booking.tracking_number
        ret.tracking_url, ret.external_id = booking.tracking_url, booking.external_id
        ret.service, ret.carrier_fee = booking.service or request.service, booking.fee
        ret.label_error, ret.label_booked_at, ret.label_claimed_at = "", timezone.now(), None
        ret.label.save(
            f"return-{ret.pk}-{booking.tracking_number or 'label'}.pdf",
            ContentFile(booking.label_pdf),
            save=False,
        )
        if booking.qr_code:  # carriers with label-free drop-off give a PNG
            ret.qr_code.save(f"return-{ret.pk}-qr.png", ContentFile(booking.qr_code), save=False)
        ret.save()
        message = (
            f"Return {ret.number}: label booked with {account.name}, tracking {ret.tracking_number}"
            + (f", fee {booking.fee} {booking.currency}" if booking.fee else "")
            + (", with a QR code for label-free drop-off" if booking.qr_code else "")
        )
        if ret.status == RS.APPROVED:
            _transition(ret, RS.LABEL_ISSUED, actor=actor, message=message)
            _email_on_commit(ret, "label")
        else:  # staff rejected it while the carrier answered: keep the label on file, tell nobody
            record_event(
                order,
                OrderEvent.Kind.RETURN,
                f"{message} (the return is {ret.status} now)",
                data={"return_id": ret.pk},
                actor=actor,
            )
        if booking.qr_error:
            # Not an error for staff to act on: the label is bought and usable, only the label-free
            # drop-off code is missing, and the customer prints the label instead.
            record_event(
                order,
                OrderEvent.Kind.RETURN,
                f"Return {ret.number}: no QR code for label-free drop-off, the label still works "
                f"({booking.qr_error})",
                data={"return_id": ret.pk},
                actor=actor,
            )
    return ret


# ---------------------------------------------------------------- staff


def _transition(ret: ReturnRequest, status: str, *, message: str, actor=None, fields: tuple = ()) -> None:
    if status not in TRANSITIONS[ret.status]:
        with translation.override("en"):  # for staff, whatever language the request ran in
            raise ReturnError(
                f"Return {ret.number} is {ret.get_status_display().lower()}; "
                f"it cannot become {RS(status).label.lower()}."
            )
    with transaction.atomic():
        ret.status, ret.status_changed_at = status, timezone.now()
        ret.save(update_fields=["status", "status_changed_at", *fields])
        record_event(
            ret.order,
            OrderEvent.Kind.RETURN,
            message,
            data={"return_id": ret.pk, "status": status},
            actor=actor,
        )


def _locked(ret: ReturnRequest) -> ReturnRequest:
    return ReturnRequest.objects.select_for_update().select_related("order").get(pk=ret.pk)


def approve(ret: ReturnRequest, *, actor=None) -> ReturnRequest:
    """Approve a return awaiting approval; its label is booked and emailed in the background."""
    with transaction.atomic():
        ret = _locked(ret)
        _transition(ret, RS.APPROVED, actor=actor, message=f"Return {ret.number} approved")
        transaction.on_commit(lambda pk=ret.pk: _enqueue("returns.tasks.book_label", pk))
    return ret


def reject(ret: ReturnRequest, *, reason: str, actor=None) -> ReturnRequest:
    """Reject a return; the customer is emailed the reason. A label already issued is voided
    with the carrier where it allows it."""
    reason = (reason or "").strip()
    if not reason:
        raise ReturnError("Give the customer a reason for the rejection.")
    with transaction.atomic():
        ret = _locked(ret)
        ret.rejection_reason = reason
        _transition(
            ret,
            RS.REJECTED,
            actor=actor,
            fields=("rejection_reason",),
            message=f"Return {ret.number} rejected: {reason}",
        )
        _email_on_commit(ret, "rejected")
    if ret.label and ret.carrier_account_id:
        try:
            result = ret.carrier_account.adapter().cancel(ret.external_id, ret.tracking_number)
            note = result.message or ("voided" if result.cancelled else "void requested")
        except CarrierError as exc:
            note = f"could not be voided: {exc}"
        record_event(
            ret.order,
            OrderEvent.Kind.RETURN,
            f"Return {ret.number}: label {ret.tracking_number} {note}",
            data={"return_id": ret.pk},
            actor=actor,
        )
    return ret


def receive(ret: ReturnRequest, *, actor=None) -> ReturnRequest:
    with transaction.atomic():
        ret = _locked(ret)
        ret.received_at = timezone.now()
        _transition(
            ret,
            RS.RECEIVED,
            actor=actor,
            fields=("received_at",),
            message=f"Return {ret.number} received at the warehouse",
        )
    return ret


def default_refund_amount(ret: ReturnRequest) -> Decimal:
    """What staff are offered to refund: the returned lines' value less the label fee."""
    return max(ret.items_value - ret.label_fee, Decimal("0"))


def max_refund_amount(ret: ReturnRequest) -> Decimal:
    """The most a return may refund: what the order cost (items, shipping and tax), or the returned
    lines' value when the channel gave no total."""
    return max(ret.order.total or Decimal("0"), ret.items_value)


def refund(ret: ReturnRequest, *, amount: Decimal | None = None, actor=None) -> ReturnRequest:
    """Record that the customer was refunded (the money moves on the channel or with the payment
    provider). The default amount is the items' value less the label fee; staff may refund less, or
    more up to what the order cost (shipping too), never a negative amount."""
    with transaction.atomic():
        ret = _locked(ret)
        if amount is None:
            amount = default_refund_amount(ret)
        most = max_refund_amount(ret)
        if amount < 0:
            raise ReturnError(f"Return {ret.number}: a refund cannot be negative ({amount}).")
        if amount > most:
            raise ReturnError(
                f"Return {ret.number}: {amount} {ret.currency} is more than the order cost "
                f"({most} {ret.currency})."
            )
        ret.refund_amount, ret.refunded_at = amount, timezone.now()
        _transition(
            ret,
            RS.REFUNDED,
            actor=actor,
            fields=("refund_amount", "refunded_at"),
            message=f"Return {ret.number} refunded: {amount} {ret.currency}",
        )
    return ret


def _enqueue(task: str, *args) -> None:
    from django_q.tasks import async_task

    async_task(task, *args, task_name=f"{task.rsplit('.', 1)[-1]}-{'-'.join(map(str, args))}")


def _email_on_commit(ret: ReturnRequest, kind: str) -> None:
    transaction.on_commit(lambda pk=ret.pk: _enqueue("returns.tasks.send_email", pk, kind))
