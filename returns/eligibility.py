"""Which brand and return policy an order falls under, and what its customer may return today:
the policy's rules (portal on, window, non-returnable SKUs) and the quantities not yet being
returned.

Messages in Eligibility are shown to customers, so they are translated in the language active
when the function runs (the portal's)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

from orders.models import Fulfilment, Order, OrderLine
from returns.models import ReturnPolicy, quantities_being_returned
from shipping import rules
from shipping.models import Brand, Shipment

# ---------------------------------------------------------------- brands and policies

# Order statuses under which Shipdesk has not sent every physical line: "partly_shipped" is
# Order.Status.PARTLY_SHIPPED once line-level statuses land (named by its value until then).
PARTLY_SHIPPED = "partly_shipped"
NOT_ALL_SENT = (Order.Status.AWAITING_SHIPMENT, PARTLY_SHIPPED)
LIVE_FULFILMENT_STATES = (
    Fulfilment.State.PENDING,
    Fulfilment.State.SENT,
    Fulfilment.State.BLOCKED,
    Fulfilment.State.FAILED,
)


def default_brand() -> Brand | None:
    return Brand.objects.filter(is_default=True).order_by("pk").first()


def policy_for(brand: Brand) -> ReturnPolicy:
    """The brand's policy, or an unsaved one with the defaults."""
    try:
        return brand.return_policy
    except ReturnPolicy.DoesNotExist:
        return ReturnPolicy(brand=brand)


def _shipdesk_shipments(order: Order):
    return order.shipments.filter(carrier_account__isnull=False).exclude(status=Shipment.Status.CANCELLED)


_UNKNOWN = object()


def brand_id_of(order: Order, *, shipped_brand_id=_UNKNOWN) -> int | None:
    """The brand an order belongs to: the brand on its latest Shipdesk shipment, or else the
    one the shipping rules would choose for it. (find_order passes the shipment's brand in.)"""
    shipped = shipped_brand_id
    if shipped is _UNKNOWN:
        shipped = (
            _shipdesk_shipments(order).order_by("-created_at").values_list("brand_id", flat=True).first()
        )
    if shipped:
        return shipped
    try:
        decision = rules.resolve(order)
        return decision.brand.pk if decision.brand else None
    except rules.NoCarrier:
        brand = default_brand()
        return brand.pk if brand else None


# ---------------------------------------------------------------- eligibility


@dataclass
class LineEligibility:
    line: OrderLine
    being_returned: int
    returnable: int
    why_not: str = ""


def window_rule(days: int) -> str:
    """The policy's return window as one sentence: what eligibility() below computes, in the same
    words on the portal's first page and in the admin."""
    return ngettext(
        "You can return items within %(days)s day of delivery (of dispatch when we do not know the "
        "delivery date; of the order date for orders we did not send).",
        "You can return items within %(days)s days of delivery (of dispatch when we do not know the "
        "delivery date; of the order date for orders we did not send).",
        days,
    ) % {"days": days}


def _basis_words(basis: str) -> str:
    return {
        "delivery": pgettext("return window counted from", "delivery"),
        "dispatch": pgettext("return window counted from", "dispatch"),
        "order date": pgettext("return window counted from", "the order date"),
    }.get(basis, basis)


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
    def window_text(self) -> str:
        """This order's window, e.g. "30 days from delivery, until 5 January 2027": the same
        words on the portal's items page and the order's eligibility panel in the admin."""
        days = self.policy.window_days
        text = ngettext("%(days)s day from %(basis)s", "%(days)s days from %(basis)s", days) % {
            "days": days,
            "basis": _basis_words(self.window_basis),
        }
        if self.window_ends:
            text = _("%(window)s, until %(date)s") % {
                "window": text,
                "date": date_format(timezone.localtime(self.window_ends), "DATE_FORMAT"),
            }
        return text

    @property
    def window_rule(self) -> str:
        return window_rule(self.policy.window_days)

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

    # An order Shipdesk has not (wholly) shipped: what may come back is what left, by whatever route.
    not_all_sent = order.status in NOT_ALL_SENT
    without_outbound = not_all_sent and policy.allow_without_outbound_shipment
    if not policy.portal_enabled:
        result.reasons.append(_("%(brand)s does not take returns online.") % {"brand": brand.name})
    if order.status == Order.Status.CANCELLED:
        result.reasons.append(_("This order was cancelled."))
    elif without_outbound or (order.status == PARTLY_SHIPPED and shipments):
        pass  # the lines below say what left
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
    lines = list(order.lines.all())
    left = sent_quantities(order, lines) if not_all_sent else None
    for line in lines:
        being = taken.get(line.pk, 0)
        sent = line.quantity if left is None else min(left.get(line.pk, 0), line.quantity)
        item = LineEligibility(line=line, being_returned=being, returnable=max(sent - being, 0))
        if not line.is_physical:
            item.returnable, item.why_not = 0, _("Digital items cannot be returned.")
        elif line.sku and line.sku.upper() in blocked:
            item.returnable, item.why_not = 0, _("This item cannot be returned.")
        elif not sent:
            item.why_not = _("Not sent yet.")
        elif not item.returnable:
            item.why_not = _("Already being returned.")
        result.lines.append(item)
    if not result.reasons and not any(x.returnable for x in result.lines):
        if any(x.being_returned for x in result.lines):
            result.reasons.append(
                _("Everything on this order that can be returned is already being returned.")
            )
        else:
            result.reasons.append(_("Nothing on this order can be returned."))
    return result


def sent_quantities(order: Order, lines: list[OrderLine]) -> dict[int, int] | None:
    """{order line id: quantity in parcels that still stand} for an order not (wholly) shipped
    by Shipdesk: its own labels, tracking recorded from a spreadsheet, a supplier's tracking
    (every parcel has a fulfilment, whose `lines` say what it holds; an older one with no lines
    held the whole order). None when no parcel is recorded at all: the goods left by a route
    Shipdesk does not see (a 3PL, a shop counter), and every physical line may come back."""
    live = Fulfilment.objects.filter(
        order=order, state__in=LIVE_FULFILMENT_STATES, retract_requested_at__isnull=True
    ).values_list("lines", flat=True)
    parcels = list(live)
    if not parcels:
        return None
    by_external_id = {ln.external_id: ln for ln in lines}
    sent: dict[int, int] = {}
    for held in parcels:
        pairs = held or [[ln.external_id, ln.quantity] for ln in lines]
        for external_id, quantity in pairs:
            line = by_external_id.get(str(external_id))
            if line is not None:
                sent[line.pk] = sent.get(line.pk, 0) + int(quantity or 0)
    return sent


def eligibility_for_order(order: Order, *, now: datetime | None = None) -> Eligibility | None:
    """Eligibility in the order's own brand (what its customer sees), or None without brands."""
    brand_id = brand_id_of(order)
    brand = Brand.objects.filter(pk=brand_id).first() if brand_id else default_brand()
    return eligibility(order, brand=brand, now=now) if brand else None
