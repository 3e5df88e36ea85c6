"""Every rule and state change of a return: finding the order, what may be returned, the
return itself, its label, and what staff do with it. Each change runs in a transaction and
records an OrderEvent on the order's timeline; views, admin actions and tasks only call these.

Messages in ReturnError and Eligibility are shown to customers, so they are translated in the
language active when the function runs (the portal's)."""

from __future__ import annotations

import functools
import hmac
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from orders import normalise
from orders.models import Order, OrderEvent, OrderLine
from orders.services import record_event
from returns import ratelimit
from returns.models import ReturnLine, ReturnPolicy, ReturnRequest, quantities_being_returned
from shipping import rules
from shipping.carriers.base import BookingRequest, CarrierError, Party
from shipping.models import Address, Brand, CarrierAccount, Shipment

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


# ---------------------------------------------------------------- brands and policies

def default_brand() -> Brand | None:
    return Brand.objects.filter(is_default=True).order_by("pk").first()


def policy_for(brand: Brand) -> ReturnPolicy:
    """The brand's policy, or an unsaved one with the defaults."""
    try:
        return brand.return_policy
    except ReturnPolicy.DoesNotExist:
        return ReturnPolicy(brand=brand)


def return_carrier(policy: ReturnPolicy) -> CarrierAccount | None:
    if policy.return_carrier_id and policy.return_carrier.is_active:
        return policy.return_carrier
    return CarrierAccount.objects.filter(is_active=True).order_by("-is_default", "name").first()


def _shipdesk_shipments(order: Order):
    return order.shipments.filter(carrier_account__isnull=False).exclude(status=Shipment.Status.CANCELLED)


_UNKNOWN = object()


def brand_id_of(order: Order, *, shipped_brand_id=_UNKNOWN) -> int | None:
    """The brand an order belongs to: the brand on its latest Shipdesk shipment, or else the
    one the shipping rules would choose for it. (find_order passes the shipment's brand in.)"""
    shipped = shipped_brand_id
    if shipped is _UNKNOWN:
        shipped = _shipdesk_shipments(order).order_by("-created_at").values_list("brand_id", flat=True).first()
    if shipped:
        return shipped
    try:
        decision = rules.resolve(order)
        return decision.brand.pk if decision.brand else None
    except rules.NoCarrier:
        brand = default_brand()
        return brand.pk if brand else None


# ---------------------------------------------------------------- lookup

@dataclass
class LookupResult:
    order_id: int | None
    limited: bool = False
    retry_after: int = 0


@functools.cache
def _lookup_sql() -> str:
    """find_order's query, written out once: it runs on every portal lookup, and building it
    through the ORM each time cost more CPU than running it. Plain SQL for SQLite and PostgreSQL."""
    order, shipment = Order._meta, Shipment._meta
    return (
        f"SELECT o.id, o.order_number_norm, o.postal_code_norm, "
        f"(SELECT s.brand_id FROM {shipment.db_table} s WHERE s.order_id = o.id "
        f"AND s.carrier_account_id IS NOT NULL AND s.status <> %s ORDER BY s.created_at DESC LIMIT 1) "
        f"FROM {order.db_table} o WHERE o.order_number_norm = %s AND o.postal_code_norm = %s "
        f"ORDER BY o.ordered_at DESC, o.id DESC LIMIT 5"
    )


def find_order(*, brand: Brand, order_number: str, postal_code: str) -> int | None:
    """The id of the order of `brand` whose normalised number AND postal code are exactly these.

    The database compares the pair in one indexed query (`order_lookup`, or the number's own
    index: the planner chooses; either reads at most the rows of that one number), so an unknown
    number and a known number with the wrong postal code answer the same.
    The candidates are checked again with constant-time comparisons, without early exit, in
    case a database collation matched loosely. Only the few columns this needs are read."""
    number, postal = normalise.order_number(order_number), normalise.postal_code(postal_code)
    if not number or not postal:
        return None
    with connection.cursor() as cursor:
        cursor.execute(_lookup_sql(), [Shipment.Status.CANCELLED, number, postal])
        candidates = cursor.fetchall()
    found = None
    for pk, order_number_norm, postal_code_norm, shipped_brand_id in candidates:
        same = hmac.compare_digest(order_number_norm.encode(), number.encode())
        same &= hmac.compare_digest(postal_code_norm.encode(), postal.encode())
        if same and found is None:
            # Unbranded (never shipped with Shipdesk): the rules decide, on the full order.
            order = Order(pk=pk) if shipped_brand_id else Order.objects.get(pk=pk)
            owner = brand_id_of(order, shipped_brand_id=shipped_brand_id)
            if owner == brand.pk or (owner is None and brand.is_default):
                found = pk
    return found


def lookup(*, brand: Brand, order_number: str, postal_code: str, client: str) -> LookupResult:
    """find_order behind two rate limits: per client address (every attempt counts) and per
    order number (failed attempts count, whether or not such an order exists, so the limit
    itself says nothing about the number). When either is reached nothing is looked up."""
    per_client = ratelimit.Rate.parse(settings.RETURNS_LOOKUP_RATE_PER_IP)
    per_order = ratelimit.Rate.parse(settings.RETURNS_LOOKUP_RATE_PER_ORDER)
    number = normalise.order_number(order_number)
    if ratelimit.hit("client", client, per_client) > per_client.limit:
        return LookupResult(None, limited=True, retry_after=ratelimit.retry_after(per_client))
    if ratelimit.count("order", number, per_order) >= per_order.limit:
        return LookupResult(None, limited=True, retry_after=ratelimit.retry_after(per_order))
    order_id = find_order(brand=brand, order_number=order_number, postal_code=postal_code)
    if order_id is None:
        ratelimit.hit("order", number, per_order)
    return LookupResult(order_id)


# ---------------------------------------------------------------- eligibility

@dataclass
class LineEligibility:
    line: OrderLine
    being_returned: int
    returnable: int
    why_not: str = ""


@dataclass
class Eligibility:
    order: Order
    brand: Brand
    policy: ReturnPolicy
    shipped_with_shipdesk: bool
    window_basis: str = ""  # "delivery", "dispatch" or "order date"
    window_ends: datetime | None = None
    reasons: list[str] = field(default_factory=list)  # why the order cannot be returned
    lines: list[LineEligibility] = field(default_factory=list)

    @property
    def eligible(self) -> bool:
        return not self.reasons

    @property
    def returnable_lines(self) -> list[LineEligibility]:
        return [x for x in self.lines if x.returnable] if self.eligible else []


def eligibility(order: Order, *, brand: Brand, now: datetime | None = None) -> Eligibility:
    """Whether and what the customer may return today, with the reasons, in the words the
    portal shows them (and staff see in the order's eligibility panel)."""
    now = now or timezone.now()
    policy = policy_for(brand)
    shipments = list(_shipdesk_shipments(order).order_by("created_at"))
    result = Eligibility(order=order, brand=brand, policy=policy, shipped_with_shipdesk=bool(shipments))

    if not policy.portal_enabled:
        result.reasons.append(_("%(brand)s does not take returns online.") % {"brand": brand.name})
    if order.status == Order.Status.CANCELLED:
        result.reasons.append(_("This order was cancelled."))
    elif not shipments and order.status in (Order.Status.AWAITING_SHIPMENT, Order.Status.ON_HOLD):
        result.reasons.append(_("This order has not been sent yet, so there is nothing to return."))
    elif not shipments and not policy.allow_not_shipped_with_shipdesk:
        result.reasons.append(_("This order cannot be returned online. Please contact us."))

    if shipments:
        if order.delivered_at:
            start, result.window_basis = order.delivered_at, "delivery"
        else:  # no delivery date recorded: count from dispatch, which never gives more days than promised
            start, result.window_basis = order.shipped_at or shipments[0].created_at, "dispatch"
    else:
        start, result.window_basis = order.ordered_at, "order date"
    result.window_ends = start + timedelta(days=policy.window_days)
    if now > result.window_ends and order.status != Order.Status.CANCELLED:
        result.reasons.append(
            _("The %(days)s-day return period ended on %(date)s.")
            % {"days": policy.window_days, "date": date_format(result.window_ends, "DATE_FORMAT")}
        )

    taken = quantities_being_returned(order)
    blocked = policy.non_returnable_sku_set
    for line in order.lines.all():
        being = taken.get(line.pk, 0)
        item = LineEligibility(line=line, being_returned=being, returnable=max(line.quantity - being, 0))
        if not line.is_physical:
            item.returnable, item.why_not = 0, _("Digital items cannot be returned.")
        elif line.sku and line.sku.upper() in blocked:
            item.returnable, item.why_not = 0, _("This item cannot be returned.")
        elif not item.returnable:
            item.why_not = _("Already being returned.")
        result.lines.append(item)
    if not result.reasons and not any(x.returnable for x in result.lines):
        if any(x.being_returned for x in result.lines):
            result.reasons.append(_("Everything on this order that can be returned is already being returned."))
        else:
            result.reasons.append(_("Nothing on this order can be returned."))
    return result


def eligibility_for_order(order: Order, *, now: datetime | None = None) -> Eligibility | None:
    """Eligibility in the order's own brand (what its customer sees), or None without brands."""
    brand_id = brand_id_of(order)
    brand = Brand.objects.filter(pk=brand_id).first() if brand_id else default_brand()
    return eligibility(order, brand=brand, now=now) if brand else None


# ---------------------------------------------------------------- the return

@dataclass
class Choice:
    line_id: int
    quantity: int
    reason: str


def create_return(
    *, order: Order, brand: Brand, choices: list[Choice], note: str = "", language: str = "en",
    idempotency_key: str = "", actor=None,
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
            ret = _create(order=order, brand=brand, choices=choices, note=note, language=language,
                          idempotency_key=idempotency_key, actor=actor)
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
                _("You can return at most %(count)s of “%(item)s”.") % {"count": item.returnable,
                                                                       "item": item.line.title}
            )
        if choice.reason not in reasons:
            raise ReturnError(_("Choose a reason for “%(item)s”.") % {"item": item.line.title})
        wanted[choice.line_id] = choice
    if not wanted:
        raise ReturnError(_("Choose at least one item to return."))

    policy = elig.policy
    ret = ReturnRequest.objects.create(
        order=order, brand=brand, status=RS.AWAITING_APPROVAL if policy.requires_approval else RS.APPROVED,
        source=ReturnRequest.Source.STAFF if actor else ReturnRequest.Source.PORTAL,
        **({"idempotency_key": idempotency_key} if idempotency_key else {}),
        language=(language or "en")[:10], customer_email=order.email, customer_note=(note or "")[:2000],
        label_fee=policy.label_fee, currency=policy.label_fee_currency or order.currency, created_by=actor,
    )
    ReturnLine.objects.bulk_create(
        ReturnLine(return_request=ret, order_line_id=c.line_id, quantity=c.quantity, reason=c.reason)
        for c in wanted.values()
    )
    items = ", ".join(f"{c.quantity} × {by_line[c.line_id].line.sku or by_line[c.line_id].line.title} ({c.reason})"
                      for c in wanted.values())
    record_event(order, OrderEvent.Kind.RETURN,
                 f"Return {ret.number} requested {'by staff for the customer' if actor else 'in the portal'}: "
                 f"{items}" + ("; awaiting approval" if ret.status == RS.AWAITING_APPROVAL else ""),
                 data={"return_id": ret.pk, "status": ret.status}, actor=actor)
    if ret.status == RS.AWAITING_APPROVAL:
        _email_on_commit(ret, "requested")
    return ret


def _party_from_order(order: Order) -> Party:
    return Party(name=order.ship_name or order.customer_name, company=order.ship_company, line1=order.ship_line1,
                 line2=order.ship_line2, city=order.ship_city, state=order.ship_state,
                 postal_code=order.ship_postal_code, country=order.ship_country, email=order.email,
                 phone=order.ship_phone or order.phone)


def _party_from_address(a: Address) -> Party:
    return Party(name=a.name, company=a.company, line1=a.line1, line2=a.line2, city=a.city, state=a.state,
                 postal_code=a.postal_code, country=a.country, email=a.email, phone=a.phone)


def return_address(brand: Brand) -> Address:
    return brand.return_address or brand.sender_address


def book_return_label(ret: ReturnRequest, *, actor=None) -> ReturnRequest:
    """Book the return label (customer -> brand's return address) through the brand's return
    carrier, once: a return that has a label, or whose booking another worker has claimed,
    is given back as it is. On a carrier error the return stays approved, with the error."""
    if ret.status != RS.APPROVED or ret.label:
        return ret
    now = timezone.now()
    claimed = ReturnRequest.objects.filter(pk=ret.pk, status=RS.APPROVED, label="").filter(
        Q(label_claimed_at__isnull=True) | Q(label_claimed_at__lt=now - LABEL_CLAIM_STALE)
    ).update(label_claimed_at=now)
    if not claimed:
        ret.refresh_from_db()
        return ret
    ret = ReturnRequest.objects.select_related("order", "brand__return_address", "brand__sender_address").get(
        pk=ret.pk)
    order, brand = ret.order, ret.brand
    account = return_carrier(policy_for(brand))
    lines = list(ret.lines.select_related("order_line"))
    weight = sum((ln.order_line.weight_g or 0) * ln.quantity for ln in lines) or DEFAULT_WEIGHT_G
    request = BookingRequest(
        reference=f"shipdesk-return-{ret.pk}", order_number=str(order), sender=_party_from_order(order),
        recipient=_party_from_address(return_address(brand)), weight_g=weight,
        # The account's return service; empty lets the adapter choose (never the outbound service).
        service=getattr(account, "return_service", "") or "", brand_name=brand.name,
        value=sum((ln.quantity * ln.order_line.unit_price for ln in lines), Decimal("0")), currency=order.currency,
        items=[(ln.order_line.sku or ln.order_line.title, ln.quantity) for ln in lines],
    )
    try:
        if account is None:
            raise CarrierError("no active carrier account to book return labels with")
        booking = account.adapter().book_return(request)  # HTTP, outside any transaction
    except CarrierError as exc:
        ReturnRequest.objects.filter(pk=ret.pk).update(label_claimed_at=None, label_error=str(exc)[:2000])
        record_event(order, OrderEvent.Kind.ERROR, f"Return {ret.number}: the return label could not be booked"
                     f"{' with ' + account.name if account else ''}: {exc}", data={"return_id": ret.pk}, actor=actor)
        ret.refresh_from_db()
        return ret
    with transaction.atomic():
        ret = _locked(ret)
        ret.carrier_account, ret.tracking_number = account, booking.tracking_number
        ret.tracking_url, ret.external_id = booking.tracking_url, booking.external_id
        ret.service, ret.carrier_fee = booking.service or request.service, booking.fee
        ret.label_error, ret.label_booked_at, ret.label_claimed_at = "", timezone.now(), None
        ret.label.save(f"return-{ret.pk}-{booking.tracking_number or 'label'}.pdf", ContentFile(booking.label_pdf),
                       save=False)
        if booking.qr_code:  # carriers with label-free drop-off give a PNG
            ret.qr_code.save(f"return-{ret.pk}-qr.png", ContentFile(booking.qr_code), save=False)
        ret.save()
        message = (f"Return {ret.number}: label booked with {account.name}, tracking {ret.tracking_number}"
                   + (f", fee {booking.fee} {booking.currency}" if booking.fee else "")
                   + (", with a QR code for label-free drop-off" if booking.qr_code else ""))
        if ret.status == RS.APPROVED:
            _transition(ret, RS.LABEL_ISSUED, actor=actor, message=message)
            _email_on_commit(ret, "label")
        else:  # staff rejected it while the carrier answered: keep the label on file, tell nobody
            record_event(order, OrderEvent.Kind.RETURN, f"{message} (the return is {ret.status} now)",
                         data={"return_id": ret.pk}, actor=actor)
        if booking.qr_error:
            # Not an error for staff to act on: the label is bought and usable, only the label-free
            # drop-off code is missing, and the customer prints the label instead.
            record_event(order, OrderEvent.Kind.RETURN,
                         f"Return {ret.number}: no QR code for label-free drop-off, the label still works "
                         f"({booking.qr_error})", data={"return_id": ret.pk}, actor=actor)
    return ret


# ---------------------------------------------------------------- staff

def _transition(ret: ReturnRequest, status: str, *, message: str, actor=None, fields: tuple = ()) -> None:
    if status not in TRANSITIONS[ret.status]:
        with translation.override("en"):  # for staff, whatever language the request ran in
            raise ReturnError(f"Return {ret.number} is {ret.get_status_display().lower()}; "
                              f"it cannot become {RS(status).label.lower()}.")
    with transaction.atomic():
        ret.status, ret.status_changed_at = status, timezone.now()
        ret.save(update_fields=["status", "status_changed_at", *fields])
        record_event(ret.order, OrderEvent.Kind.RETURN, message, data={"return_id": ret.pk, "status": status},
                     actor=actor)


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
        _transition(ret, RS.REJECTED, actor=actor, fields=("rejection_reason",),
                    message=f"Return {ret.number} rejected: {reason}")
        _email_on_commit(ret, "rejected")
    if ret.label and ret.carrier_account_id:
        try:
            result = ret.carrier_account.adapter().cancel(ret.external_id, ret.tracking_number)
            note = result.message or ("voided" if result.cancelled else "void requested")
        except CarrierError as exc:
            note = f"could not be voided: {exc}"
        record_event(ret.order, OrderEvent.Kind.RETURN, f"Return {ret.number}: label {ret.tracking_number} {note}",
                     data={"return_id": ret.pk}, actor=actor)
    return ret


def receive(ret: ReturnRequest, *, actor=None) -> ReturnRequest:
    with transaction.atomic():
        ret = _locked(ret)
        ret.received_at = timezone.now()
        _transition(ret, RS.RECEIVED, actor=actor, fields=("received_at",),
                    message=f"Return {ret.number} received at the warehouse")
    return ret


def refund(ret: ReturnRequest, *, amount: Decimal | None = None, actor=None) -> ReturnRequest:
    """Record that the customer was refunded (the money moves on the channel or with the payment
    provider). The default amount is the items' value less the label fee."""
    with transaction.atomic():
        ret = _locked(ret)
        if amount is None:
            amount = max(ret.items_value - ret.label_fee, Decimal("0"))
        ret.refund_amount, ret.refunded_at = amount, timezone.now()
        _transition(ret, RS.REFUNDED, actor=actor, fields=("refund_amount", "refunded_at"),
                    message=f"Return {ret.number} refunded: {amount} {ret.currency}")
    return ret


def _enqueue(task: str, *args) -> None:
    from django_q.tasks import async_task

    async_task(task, *args, task_name=f"{task.rsplit('.', 1)[-1]}-{'-'.join(map(str, args))}")


def _email_on_commit(ret: ReturnRequest, kind: str) -> None:
    transaction.on_commit(lambda pk=ret.pk: _enqueue("returns.tasks.send_email", pk, kind))
