"""Routing: lines whose SKU belongs to a supplier become one supplier order per supplier.

Runs right after an import through settings.ORDER_IMPORTED_HANDLERS (orders never imports
suppliers), and from the order admin's "Route supplier lines" action. Idempotent: a store line
goes to one supplier order at most, and a store order has one supplier order per supplier."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import IntegrityError, transaction

from channels.connectors.base import ConnectorError, NotSupported
from orders import services as order_services
from orders.models import Fulfilment, Order, OrderEvent, OrderLine
from suppliers.models import Supplier, SupplierOrder, SupplierOrderLine, SupplierProduct
from suppliers.services import record

log = logging.getLogger(__name__)

ROUTABLE = (Order.Status.AWAITING_SHIPMENT, Order.Status.ON_HOLD, Order.Status.PARTLY_SHIPPED)


@dataclass
class RoutingResult:
    created: list[int] = field(default_factory=list)  # SupplierOrder ids
    orders: set[int] = field(default_factory=set)  # store orders that got a new supplier order


def route_imported_orders(order_ids: list[int]) -> RoutingResult:
    """The ORDER_IMPORTED_HANDLERS hook: route the newly imported orders, then tell each
    channel that someone else is fulfilling those orders, where the channel can be told."""
    result = route_orders(Order.objects.filter(pk__in=order_ids))
    for order in Order.objects.filter(pk__in=result.orders).select_related("channel"):
        request_fulfilment(order)
    return result


def route_orders(orders) -> RoutingResult:
    """Create the supplier orders `orders` need. One query when no line has a supplier, five for
    the whole set when some do, plus the writes."""
    result = RoutingResult()
    orders = orders.filter(status__in=ROUTABLE)
    # One query first: does any unrouted line of these orders have a supplier at all? After most
    # imports none does, and the orders and lines are not read (an import's fixed cost a page).
    if not SupplierProduct.objects.filter(
        is_active=True,
        supplier__is_active=True,
        sku__in=OrderLine.objects.filter(order__in=orders, is_physical=True, supplier_line__isnull=True)
        .exclude(sku="")
        .values("sku"),
    ).exists():
        return result
    orders = list(orders.select_related("channel"))
    lines = list(
        OrderLine.objects.filter(order__in=orders, is_physical=True, supplier_line__isnull=True).exclude(
            sku=""
        )
    )
    # A line already in a parcel of ours (or fulfilled on the channel) is not routed: it ships once.
    with_parcels = set(Fulfilment.objects.filter(order__in=orders).live().values_list("order_id", flat=True))
    covered = {
        p.line.pk
        for o in orders
        if o.pk in with_parcels
        for p in order_services.line_positions(o)
        if p.covered
    }
    lines = [ln for ln in lines if ln.pk not in covered]
    products = {
        p.sku: p
        for p in SupplierProduct.objects.filter(
            sku__in={ln.sku for ln in lines}, is_active=True, supplier__is_active=True
        ).select_related("supplier")
    }
    if not products:
        return result
    wanted: dict[int, dict[Supplier, list[tuple[OrderLine, SupplierProduct]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for line in lines:
        product = products.get(line.sku)
        if product is not None:
            wanted[line.order_id][product.supplier].append((line, product))
    by_id = {o.pk: o for o in orders}
    for order_id, per_supplier in wanted.items():
        for supplier, picks in per_supplier.items():
            supplier_order = _create(by_id[order_id], supplier, picks)
            if supplier_order is not None:
                result.created.append(supplier_order.pk)
                result.orders.add(order_id)
    return result


def _create(
    order: Order, supplier: Supplier, picks: list[tuple[OrderLine, SupplierProduct]]
) -> SupplierOrder | None:
    if SupplierOrder.objects.filter(order=order, supplier=supplier).exists():
        # Lines added to the order after its supplier order was made stay with the shipping desk.
        return None
    try:
        with transaction.atomic():
            total = sum((p.cost_price * ln.quantity for ln, p in picks), Decimal("0"))
            supplier_order = SupplierOrder.objects.create(
                order=order, supplier=supplier, currency=supplier.currency, total_cost=total
            )
            SupplierOrderLine.objects.bulk_create(
                [
                    SupplierOrderLine(
                        supplier_order=supplier_order,
                        order_line=ln,
                        sku=ln.sku,
                        supplier_sku=p.supplier_sku or ln.sku,
                        title=(p.title or ln.title)[:300],
                        quantity=ln.quantity,
                        unit_cost=p.cost_price,
                    )
                    for ln, p in picks
                ]
            )
            # Shipdesk never puts these lines in a parcel of its own, whatever this order's state.
            order_services.route_lines_to_supplier(order, [ln for ln, _ in picks], supplier=supplier.name)
            skus = ", ".join(f"{ln.quantity} × {ln.sku}" for ln, _ in picks)
            record(
                supplier_order,
                f"supplier order created for {skus}; cost {total} {supplier.currency}, awaiting payment",
                data={"lines": [ln.pk for ln, _ in picks]},
            )
    except IntegrityError:
        # Another routing run (a replayed import, the admin action) made it at the same moment.
        log.info("supplier order for %s / %s already exists", order.pk, supplier.pk)
        return None
    return supplier_order


def request_fulfilment(order: Order) -> tuple[bool, str]:
    """Tell the channel that suppliers fulfil the order's supplier lines, where the channel can
    be told (Shopify: a fulfillment request to the fulfillment service holding those lines, which
    shows the order "In progress"); record on the timeline what happened either way. Never raises:
    returns (whether it went through or the channel cannot be told, what the timeline says)."""
    channel = order.channel
    lines = list(
        SupplierOrderLine.objects.filter(supplier_order__order=order)
        .exclude(supplier_order__status=SupplierOrder.Status.CANCELLED)
        .select_related("order_line", "supplier_order__supplier")
        .order_by("id")
    )
    what = ", ".join(f"{ln.quantity} × {ln.sku}" for ln in lines)
    suppliers = sorted({ln.supplier_order.supplier.name for ln in lines})
    note = (
        f"Dropshipped by {', '.join(suppliers)} (Shipdesk purchase orders "
        + ", ".join(sorted({ln.supplier_order.reference for ln in lines}))
        + ")"
    )
    try:
        result = channel.connector().mark_in_progress(
            order.external_id, [(ln.order_line.external_id, ln.quantity) for ln in lines], message=note
        )
    except NotSupported as exc:
        message, kind = (
            f"{channel.name} was not told the order is in progress: {exc}",
            OrderEvent.Kind.SUPPLIER,
        )
    except ConnectorError as exc:
        message, kind = (
            f"Could not mark the order in progress on {channel.name}: {exc}",
            OrderEvent.Kind.ERROR,
        )
    except Exception as exc:  # noqa: BLE001 - a connector bug must not undo the routing
        log.exception("mark_in_progress failed for order %s", order.pk)
        message, kind = (
            f"Could not mark the order in progress on {channel.name}: {exc!r}",
            OrderEvent.Kind.ERROR,
        )
    else:
        message, kind = _told(channel.name, what, result.request if result else {}), OrderEvent.Kind.SUPPLIER
    order_services.record_event(order, kind, message)
    return kind != OrderEvent.Kind.ERROR, message


def _told(channel_name: str, what: str, request: dict) -> str:
    done = request.get("requested") or []
    parts = []
    if done:
        where = ", ".join(sorted({r["location"] for r in done}))
        accepted = all(r.get("request_status") == "accepted" for r in done)
        parts.append(
            f"Fulfilment of {what} requested on {channel_name} from {where}: "
            + (
                "shown in progress there"
                if accepted
                else "shown in progress there once the fulfillment service accepts"
            )
        )
    if request.get("already"):
        parts.append(
            f"already requested on {channel_name} from "
            + ", ".join(sorted({r["location"] for r in request["already"]}))
        )
    if request.get("not_requested"):
        parts.append(
            "not requested for the lines at "
            + ", ".join(sorted({r["location"] for r in request["not_requested"]}))
            + " (the merchant's own location)"
        )
    return "; ".join(parts) or f"Marked in progress on {channel_name} (a supplier fulfils part of it)"
