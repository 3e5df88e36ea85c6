"""What the order page shows above and below its form (the UI layer of orders.admin.OrderAdmin):
the work first (where to send it, each line and where its units are, the booking panel that a
later app plugs in), the timeline last, one page of it at a time.

Everything here is read once per request and kept on the order instance the page renders, so
the page runs the same number of queries for an order of one line and for one of fifty lines
with two hundred events."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.translation import gettext_lazy as _

from orders import lines as order_lines
from orders.models import Order, OrderEvent

TIMELINE_PAGE = 50  # events on one page of the timeline, newest first
TIMELINE_PARAM = "timeline"  # ?timeline=2: the next fifty older events


def page_positions(order: Order) -> list[order_lines.LinePosition]:
    """Where each physical line's units are (orders.lines.line_positions), read once for the
    page: the lines panel, the booking panel and the fulfilments table share it."""
    cached = getattr(order, "_page_positions", None)
    if cached is None:
        cached = order._page_positions = order_lines.line_positions(order)
    return cached


@dataclass
class LineRow:
    line: object
    position: order_lines.LinePosition | None
    take: object = None  # the booking panel's "in this parcel" checkbox, when it offers one
    qty: object = None  # and its quantity


@dataclass
class Timeline:
    events: list[OrderEvent]
    page: int
    older_page: int | None
    newer_page: int | None
    first: int = field(init=False)
    last: int = field(init=False)

    def __post_init__(self):
        self.first = (self.page - 1) * TIMELINE_PAGE + 1
        self.last = self.first + len(self.events) - 1


def timeline(request, order: Order) -> Timeline:
    """One page of the order's events, newest first, each with the staff member who acted
    (one query: the actor is joined, and one event more than the page says whether older ones exist)."""
    try:
        page = max(1, int(request.GET.get(TIMELINE_PARAM, 1)))
    except (TypeError, ValueError):
        page = 1
    start = (page - 1) * TIMELINE_PAGE
    events = list(
        OrderEvent.objects.filter(order=order)
        .select_related("actor")
        .order_by("-created_at", "-id")[start : start + TIMELINE_PAGE + 1]
    )
    older = len(events) > TIMELINE_PAGE
    return Timeline(
        events=events[:TIMELINE_PAGE],
        page=page,
        older_page=page + 1 if older else None,
        newer_page=page - 1 if page > 1 else None,
    )


def work_context(request, order: Order, booking_panel=None) -> dict:
    """The top of the page: the address, the lines (image, options, quantities open / in
    parcels / with a supplier) and, when a later app offers one (shipping's admin sets
    OrderAdmin.booking_panel), the booking panel with a checkbox and a quantity per line."""
    positions = {p.line.pk: p for p in page_positions(order)}
    booking = booking_panel(request, order, list(positions.values())) if booking_panel else None
    fields = (booking or {}).get("line_fields", {})
    rows = []
    for line in order.lines.all():
        take, qty = fields.get(line.pk, (None, None))
        rows.append(LineRow(line=line, position=positions.get(line.pk), take=take, qty=qty))
    return {
        "order": order,
        "rows": rows,
        "booking": booking,
        "address": order.address_lines,
        "any_options": any(row.line.options for row in rows),
        "title": _("Lines"),
    }
