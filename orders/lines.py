"""Where an order's physical lines are: open, routed to a supplier, in a live fulfilment (our
parcel, a supplier's, or fulfilled on the channel), and whether that parcel left. Read-only:
the status that follows from it is written by orders.services.refresh_status."""

from __future__ import annotations

from dataclasses import dataclass

from orders.models import Fulfilment, Order, OrderLine


class InvalidLines(ValueError):
    """Lines given for a parcel or a fulfilment that cannot be: nothing was changed."""


@dataclass
class LinePosition:
    """Where the units of one physical line are."""

    line: OrderLine
    in_parcels: int = 0  # in live fulfilments of our own parcels (or fulfilled on the channel)
    with_supplier: int = 0  # in live fulfilments of a supplier's parcels
    shipped: int = 0  # in pending or sent fulfilments (the parcel left; blocked/failed ones do not count)

    @property
    def covered(self) -> int:
        return self.in_parcels + self.with_supplier

    @property
    def open(self) -> int:
        return max(0, self.line.quantity - self.covered)

    @property
    def to_ship(self) -> int:
        """What Shipdesk itself still has to put in a parcel (a supplier's lines are not ours)."""
        return 0 if self.line.dropshipped_by else self.open


# Fulfilment states whose parcel counts as shipped for the order's status: sent, or on its way
# to the channel through the outbox. Blocked and failed ones are in a parcel but never look shipped.
SHIPPED_STATES = (Fulfilment.State.PENDING, Fulfilment.State.SENT)


def _positions(lines: list[OrderLine], fulfilments: list[tuple[list, str, str]]) -> list[LinePosition]:
    positions = {ln.external_id: LinePosition(line=ln) for ln in lines if ln.is_physical}
    for covered, supplier, state in fulfilments:
        for external_id, quantity in covered or []:
            p = positions.get(str(external_id))
            if p is None:
                continue
            if supplier:
                p.with_supplier += int(quantity)
            else:
                p.in_parcels += int(quantity)
            if state in SHIPPED_STATES:
                p.shipped += int(quantity)
    return list(positions.values())


def line_positions(order: Order, *, exclude: Fulfilment | None = None) -> list[LinePosition]:
    """Each physical line of the order and where its units are (live fulfilments only: a
    withdrawn or retracted one covers nothing). `exclude`: leave that fulfilment out (the one a
    relabel replaces)."""
    live = Fulfilment.objects.filter(order=order).live()
    if exclude is not None:
        live = live.exclude(pk=exclude.pk)
    return _positions(list(order.lines.all()), list(live.values_list("lines", "supplier", "state")))


def default_lines(order: Order) -> list[tuple[OrderLine, int]]:
    """What Shipdesk ships itself by default: open physical lines, minus lines a supplier ships
    (whatever its order's state), minus quantities already in live fulfilments."""
    return [(p.line, p.to_ship) for p in line_positions(order) if p.to_ship]


def positions_of(order_ids) -> dict[int, list[LinePosition]]:
    """line_positions for many orders at once (two queries): order id -> its physical lines."""
    ids = list(order_ids)
    lines: dict[int, list[OrderLine]] = {pk: [] for pk in ids}
    for ln in OrderLine.objects.filter(order_id__in=ids, is_physical=True).order_by("id"):
        lines[ln.order_id].append(ln)
    fulfilments: dict[int, list] = {}
    for order_id, covered, supplier, state in (
        Fulfilment.objects.filter(order_id__in=ids)
        .live()
        .values_list("order_id", "lines", "supplier", "state")
    ):
        fulfilments.setdefault(order_id, []).append((covered, supplier, state))
    return {pk: _positions(lines[pk], fulfilments.get(pk, [])) for pk in ids}


def nothing_to_ship_reason(order: Order | str, positions: list[LinePosition] | None = None) -> str:
    """Why `default_lines` is empty, in words for staff (the bulk job, the CSV report)."""
    positions = line_positions(order) if positions is None else positions
    if not positions:
        return f"{order} has no physical lines: nothing ships in a parcel"
    suppliers = sorted({p.line.dropshipped_by for p in positions if p.open and p.line.dropshipped_by})
    if suppliers:
        who = ", ".join(suppliers)
        return (
            f"{order}: all remaining lines are shipped by supplier{'s' if len(suppliers) > 1 else ''} {who}"
        )
    return f"{order}: every line is already in a parcel"


def as_json(picked: list[tuple[OrderLine, int]]) -> list[list]:
    return [[line.external_id, int(quantity)] for line, quantity in picked]


def check_lines(
    order: Order, lines, *, open_only: bool = False, exclude: Fulfilment | None = None
) -> list[tuple[OrderLine, int]]:
    """(OrderLine, quantity) for `lines` given as (OrderLine or external id, quantity), checked:
    not empty, each a physical line of this order named once, a whole quantity of at least one
    and at most the line's (`open_only`: at most what no live fulfilment covers yet, not counting
    `exclude`). Raises InvalidLines with every problem in words staff understand."""
    if not lines:
        raise InvalidLines(f"{order}: a parcel must hold at least one line")
    by_id = {ln.external_id: ln for ln in order.lines.all()}
    open_qty = (
        {p.line.external_id: p.open for p in line_positions(order, exclude=exclude)} if open_only else {}
    )
    picked: list[tuple[OrderLine, int]] = []
    problems: list[str] = []
    seen: set[str] = set()
    for item, quantity in lines:
        if isinstance(item, OrderLine):
            line = by_id.get(item.external_id) if item.order_id == order.pk else None
            name = item.sku or item.title
            if line is None:
                problems.append(f"{name} is a line of order {item.order}, not of {order}")
                continue
        else:
            line = by_id.get(str(item))
            name = str(item)
            if line is None:
                problems.append(f"{order} has no line {item}")
                continue
            name = line.sku or line.title
        if line.external_id in seen:
            problems.append(f"{name} is named twice")
            continue
        seen.add(line.external_id)
        if not line.is_physical:
            problems.append(f"{name} is not a physical item: it ships in no parcel")
            continue
        try:
            quantity = int(quantity)
        except (TypeError, ValueError):
            problems.append(f"{name}: “{quantity}” is not a quantity")
            continue
        if quantity < 1:
            problems.append(f"{name}: the quantity must be at least 1")
            continue
        limit = open_qty.get(line.external_id, 0) if open_only else line.quantity
        if quantity > limit:
            problems.append(
                f"{name}: {quantity} is more than the {limit} still open"
                if open_only
                else f"{name}: {quantity} is more than the {line.quantity} ordered"
            )
            continue
        picked.append((line, quantity))
    if problems:
        raise InvalidLines(f"{order}: " + "; ".join(problems))
    return picked


def unshipped_lines(order: Order) -> list[tuple]:
    """(OrderLine, quantity) for physical lines no live fulfilment covers yet (whoever ships them)."""
    return [(p.line, p.open) for p in line_positions(order) if p.open]


def completes_order(fulfilment: Fulfilment) -> bool:
    """Whether every physical line of the order is in a sent or sending fulfilment once this one
    is (RemoteFulfilment.completes_order: a channel that can only mark the whole order waits for
    the fulfilment that completes it)."""
    positions = line_positions(fulfilment.order)
    return all(p.shipped >= p.line.quantity for p in positions)
