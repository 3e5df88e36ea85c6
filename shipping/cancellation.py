"""Cancelling an order in one go: void its labels, cancel it on the channel where the API
allows it, cancel it here, and say what happened at each step."""

from __future__ import annotations

from dataclasses import dataclass

from channels.connectors.base import ConnectorError, NotSupported
from orders import services as order_services
from orders.models import Order, OrderEvent
from shipping.booking import BookingError, cancel_shipment
from shipping.models import Shipment

S = Shipment.Status


@dataclass
class Step:
    what: str
    state: str  # done | skipped | failed
    message: str

    @property
    def ok(self) -> bool:
        return self.state != "failed"


def cancel_order(order: Order, *, reason: str = "cancelled by staff", actor=None) -> list[Step]:
    """Labels first (a parcel already picked up stops everything: the goods are gone), then the
    channel, then the order here. A channel that cannot cancel through its API is named, so staff
    know to do it there."""
    steps: list[Step] = []
    if order.status == Order.Status.CANCELLED:
        return [Step(str(order), "skipped", "already cancelled")]
    gone = list(order.shipments.filter(status__in=[S.IN_TRANSIT, S.DELIVERED]))
    if gone:
        for shipment in gone:
            steps.append(Step(f"label {shipment.tracking_number}", "failed", shipment.cancel_refusal))
        steps.append(Step(str(order), "failed", "not cancelled: a parcel is already with the carrier"))
        return steps
    for shipment in order.shipments.filter(status__in=[S.BOOKED, S.EXCEPTION]).select_related(
        "carrier_account"
    ):
        if shipment.is_external:
            steps.append(
                Step(
                    f"label {shipment.tracking_number}",
                    "skipped",
                    f"booked outside Shipdesk: void it with {shipment.tracking_company or 'the carrier'}",
                )
            )
            continue
        try:
            message = cancel_shipment(shipment, actor=actor)
        except BookingError as exc:
            steps.append(Step(f"label {shipment.tracking_number}", "failed", str(exc)))
            steps.append(Step(str(order), "failed", "not cancelled: a label could not be voided"))
            return steps
        steps.append(Step(f"label {shipment.tracking_number}", "done", message))
    for shipment in order.shipments.filter(status=S.CANCEL_REQUESTED):
        if not any(s.what == f"label {shipment.tracking_number}" for s in steps):
            steps.append(Step(f"label {shipment.tracking_number}", "skipped", "cancellation already queued"))

    channel = order.channel
    try:
        channel.connector().cancel_order(order.external_id, reason)
    except NotSupported:
        steps.append(
            Step(
                channel.name,
                "skipped",
                f"{channel.get_kind_display()}'s API cannot cancel orders: cancel it on "
                f"{channel.get_kind_display()} yourself",
            )
        )
    except ConnectorError as exc:
        steps.append(
            Step(
                channel.name,
                "failed",
                f"not cancelled there: {exc}. Cancel it on {channel.get_kind_display()} yourself",
            )
        )
    else:
        steps.append(Step(channel.name, "done", "cancelled on the channel"))

    order_services.cancel_order(order, reason=reason, actor=actor)
    steps.append(Step(str(order), "done", "cancelled in Shipdesk"))
    order_services.record_event(
        order,
        OrderEvent.Kind.NOTE,
        "Order cancellation: " + "; ".join(f"{s.what}: {s.message}" for s in steps),
        data={"steps": [s.__dict__ for s in steps]},
        actor=actor,
    )
    return steps
