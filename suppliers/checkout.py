"""Paying suppliers: batches of one supplier's orders, the address check before paying, and the
payment itself.

A batch never pays twice. Each attempt has an idempotency key (batch uid + attempt number):
a double click or a retry after a lost answer reuses it, so the gateway replays its first
result; only a definitive "no" (a declined card) moves the batch to a fresh key. The HTTP call
happens outside any transaction, under a claim on the batch row, so two workers or two clicks
never send different requests at once."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from channels.connectors.base import ConnectorError, NotSupported
from orders.models import Order
from suppliers import services
from suppliers.models import PaymentBatch, PaymentGateway, SupplierOrder
from suppliers.payments import PaymentDeclined, PaymentError, PaymentRequest, PaymentResult

log = logging.getLogger(__name__)

CLAIM_STALE = timedelta(minutes=5)
ADDRESS_PARTS = [
    ("name", "ship_name"),
    ("company", "ship_company"),
    ("line1", "ship_line1"),
    ("line2", "ship_line2"),
    ("city", "ship_city"),
    ("state", "ship_state"),
    ("postal_code", "ship_postal_code"),
    ("country", "ship_country"),
]


class BatchError(Exception):
    """The batch cannot be made or paid as asked; the message says why, for staff."""


class MixedSuppliers(BatchError):
    pass


class BatchBusy(BatchError):
    pass


# -- making a batch


def create_batch(supplier_orders, *, actor=None) -> tuple[PaymentBatch, int]:
    """A batch for the selected supplier orders of ONE supplier. Returns (batch, how many of the
    selection were left out because they are not awaiting payment). Selecting exactly the
    orders of an open batch returns that batch, so pressing "Pay selected" twice makes one."""
    selected = list(supplier_orders.select_related("supplier", "batch"))
    suppliers: dict = {}
    for so in selected:
        suppliers.setdefault(so.supplier, []).append(so)
    if len(suppliers) > 1:
        names = ", ".join(
            f"{s.name} ({len(v)})" for s, v in sorted(suppliers.items(), key=lambda kv: kv[0].name)
        )
        raise MixedSuppliers(
            f"A payment goes to one supplier: the selection has orders of {len(suppliers)} "
            f"suppliers ({names}). Filter by supplier and select again."
        )
    payable = [so for so in selected if so.status == SupplierOrder.Status.AWAITING_PAYMENT]
    if not payable:
        raise BatchError("None of the selected supplier orders is awaiting payment.")
    supplier = payable[0].supplier
    if wrong := [so.reference for so in payable if so.currency != supplier.currency]:
        raise BatchError(
            f"{', '.join(wrong)} cost in another currency than {supplier.name}'s "
            f"{supplier.currency}; route them again or fix the supplier's currency."
        )
    left_out = len(selected) - len(payable)
    open_batches = {
        so.batch for so in payable if so.batch and so.batch.status == PaymentBatch.Status.AWAITING_PAYMENT
    }
    if len(open_batches) == 1:
        (batch,) = open_batches
        if set(batch.supplier_orders.values_list("pk", flat=True)) == {so.pk for so in payable}:
            return batch, left_out
    for batch in open_batches:
        if batch.in_doubt or _claimed(batch):
            raise BatchError(
                f"{batch} has a payment attempt without an answer yet; open it and pay it again "
                "(it cannot be charged twice) before making a new batch."
            )
    with transaction.atomic():
        batch = PaymentBatch.objects.create(
            supplier=supplier,
            currency=supplier.currency,
            created_by=actor,
            amount=sum((so.total_cost for so in payable), Decimal("0")),
        )
        SupplierOrder.objects.filter(pk__in=[so.pk for so in payable]).update(batch=batch)
        for old in open_batches:  # orders moved out of an earlier, unpaid batch
            _refresh_amount(old)
    return batch, left_out


def _refresh_amount(batch: PaymentBatch) -> None:
    remaining = list(batch.supplier_orders.filter(status=SupplierOrder.Status.AWAITING_PAYMENT))
    if not remaining:
        batch.status = PaymentBatch.Status.CANCELLED
        batch.last_error = "Its orders moved to another batch."
        batch.save(update_fields=["status", "last_error"])
    else:
        batch.amount = sum((so.total_cost for so in remaining), Decimal("0"))
        batch.save(update_fields=["amount"])


def _claimed(batch: PaymentBatch) -> bool:
    return bool(batch.claimed_at and batch.claimed_at > timezone.now() - CLAIM_STALE)


def allowed_gateways(batch: PaymentBatch):
    """The gateways the batch's supplier accepts (only the one already tried, while an attempt
    through it has no answer: another gateway could charge a second time)."""
    qs = batch.supplier.allowed_gateways.filter(is_active=True)
    if batch.in_doubt and batch.gateway_id:
        qs = qs.filter(pk=batch.gateway_id)
    return qs.order_by("name")


# -- the address check


@dataclass
class AddressCheck:
    order: Order
    ok: bool | None  # None: could not check
    message: str


def _norm(value: str) -> str:
    return " ".join((value or "").split()).casefold()


def check_addresses(orders: list[Order]) -> list[AddressCheck]:
    """Compare each order's shipping address with the channel's current one, so a buyer's late
    change is seen before the supplier gets the old address. One call per order."""
    connectors: dict[int, object] = {}
    checks = []
    for order in orders:
        channel = order.channel
        try:
            connector = connectors.get(channel.pk) or connectors.setdefault(channel.pk, channel.connector())
            fetch = getattr(connector, "fetch_order", None)
            if fetch is None:
                raise NotSupported(f"the {channel.get_kind_display()} connector cannot fetch one order")
            remote = fetch(order.external_id)
        except NotSupported as exc:
            checks.append(AddressCheck(order, None, f"Not checked: {exc}. Check it on {channel.name}."))
            continue
        except ConnectorError as exc:
            checks.append(AddressCheck(order, None, f"Not checked: {channel.name} did not answer ({exc})."))
            continue
        address = getattr(remote, "address", None)
        if address is None:
            checks.append(
                AddressCheck(order, False, f"{channel.name} has no shipping address for this order now.")
            )
            continue
        differs = [
            label
            for label, ours in ADDRESS_PARTS
            if _norm(getattr(address, label, "")) != _norm(getattr(order, ours))
        ]
        if differs:
            theirs = ", ".join(x for x in (getattr(address, p, "") for p, _ in ADDRESS_PARTS) if x)
            checks.append(
                AddressCheck(
                    order,
                    False,
                    f"Differs on {channel.name} ({', '.join(differs)}): {theirs}. "
                    "Sync the channel before paying.",
                )
            )
        else:
            checks.append(AddressCheck(order, True, f"Same as on {channel.name}."))
    return checks


# -- paying


def _payment_request(batch: PaymentBatch, orders: list[SupplierOrder]) -> PaymentRequest:
    refs = sorted(so.reference for so in orders)
    return PaymentRequest(
        amount=batch.amount,
        currency=batch.currency,
        reference=f"batch-{batch.pk}",
        description=f"{batch.supplier.name}: {len(refs)} order(s) {', '.join(refs)}"[:500],
        idempotency_key=batch.idempotency_key,
        metadata={"batch": str(batch.uid), "supplier": batch.supplier.name, "orders": ",".join(refs)[:500]},
    )


def pay_batch(batch: PaymentBatch, *, gateway: PaymentGateway, actor=None) -> PaymentBatch:
    """Pay the batch through `gateway`. Returns the paid batch; raises PaymentDeclined (the batch
    stays awaiting payment with the gateway's message), PaymentError or BatchError."""
    batch = PaymentBatch.objects.select_related("supplier").get(pk=batch.pk)
    if batch.status != PaymentBatch.Status.AWAITING_PAYMENT:
        raise BatchError(f"{batch} is {batch.get_status_display().lower()}; nothing was charged now.")
    if not allowed_gateways(batch).filter(pk=gateway.pk).exists():
        raise BatchError(f"{batch.supplier.name} does not accept {gateway.name} for this batch.")
    orders = list(
        batch.supplier_orders.filter(status=SupplierOrder.Status.AWAITING_PAYMENT).select_related("order")
    )
    if not orders:
        raise BatchError(f"{batch} has no orders awaiting payment.")
    amount = sum((so.total_cost for so in orders), Decimal("0"))
    if amount != batch.amount and batch.in_doubt:
        raise BatchError(f"{batch} changed since a payment attempt without an answer; contact support.")
    was_in_doubt = batch.in_doubt
    now = timezone.now()
    claimed = (
        PaymentBatch.objects.filter(pk=batch.pk, status=PaymentBatch.Status.AWAITING_PAYMENT)
        .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - CLAIM_STALE))
        .update(claimed_at=now, in_doubt=True, gateway=gateway, amount=amount)
    )
    if not claimed:
        raise BatchBusy(f"A payment of {batch} is in progress; wait a moment and reload the page.")
    batch.refresh_from_db()

    try:
        result = gateway.adapter().charge(_payment_request(batch, orders))  # HTTP, outside any transaction
    except PaymentDeclined as exc:
        _failed(
            batch,
            orders,
            f"{gateway.name} declined the payment: {exc}",
            next_key=True,
            in_doubt=False,
            actor=actor,
        )
        raise
    except PaymentError as exc:
        in_doubt = exc.in_doubt or was_in_doubt
        message = (
            f"No clear answer from {gateway.name} ({exc}). Pay again: the same payment key is sent, "
            "so it cannot be charged twice."
            if exc.in_doubt
            else f"{gateway.name}: {exc}"
        )
        _failed(batch, orders, message, next_key=False, in_doubt=in_doubt, actor=actor)
        raise
    except Exception as exc:  # noqa: BLE001 - an adapter bug: the request may have gone out
        log.exception("payment of %s failed", batch)
        _failed(
            batch,
            orders,
            f"{gateway.name}: unexpected error {exc!r}",
            next_key=False,
            in_doubt=True,
            actor=actor,
        )
        raise PaymentError(str(exc), in_doubt=True) from exc
    return _paid(batch, orders, gateway, result, actor=actor)


def _failed(batch, orders, message: str, *, next_key: bool, in_doubt: bool, actor) -> None:
    with transaction.atomic():
        batch.claimed_at, batch.in_doubt, batch.last_error = None, in_doubt, message
        if next_key:
            batch.attempt += 1
        batch.save(update_fields=["claimed_at", "in_doubt", "last_error", "attempt"])
        for so in orders:
            services.record(
                so,
                f"payment of batch #{batch.pk} failed: {message}",
                actor=actor,
                error=True,
                data={"batch": batch.pk},
            )


def _paid(batch, orders, gateway, result: PaymentResult, *, actor) -> PaymentBatch:
    with transaction.atomic():
        batch.status, batch.paid_at, batch.paid_by = PaymentBatch.Status.PAID, timezone.now(), actor
        batch.remote_id, batch.claimed_at, batch.in_doubt, batch.last_error = (
            result.remote_id,
            None,
            False,
            "",
        )
        batch.save(
            update_fields=[
                "status",
                "paid_at",
                "paid_by",
                "remote_id",
                "claimed_at",
                "in_doubt",
                "last_error",
            ]
        )
        for so in orders:
            services.set_status(
                so,
                SupplierOrder.Status.PAID,
                actor=actor,
                reason=f"paid in batch #{batch.pk} through {gateway.name} ({result.remote_id}, "
                f"{batch.amount} {batch.currency} for the batch)",
            )
        if batch.supplier.auto_order:
            from suppliers.placing import enqueue_placing

            ids = [so.pk for so in orders]
            transaction.on_commit(lambda: enqueue_placing(ids))
    return batch
