"""Orders that reach a "manual / API" channel from staff, a spreadsheet or Shipdesk's own API.

They go through the importer (orders.importing.import_page), as a page of a channel sync would:
the same rules decide whether an order can ship (and why not: the same skip reasons, listed
under Skipped orders), the same events are written and the ORDER_IMPORTED_HANDLERS (dropship
routing) run after commit. An order already there under the same external id is never changed
by adding it again: the caller is told whether its data matches (a retry) or not (a conflict)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from django.db import IntegrityError

from channels.connectors.base import Page, RemoteOrder
from channels.models import Channel
from orders.importing import SyncSummary, import_page, payload_hash
from orders.models import Order, SkippedOrder


class NotManual(ValueError):
    pass


@dataclass
class Added:
    """What became of one order handed in."""

    external_id: str
    outcome: str  # "created", "exists" (the same order again), "conflict", "skipped"
    order: Order | None = None
    reason: str = ""  # a SkippedOrder.Reason when skipped
    detail: str = ""


def _same(order: Order, remote: RemoteOrder) -> bool:
    # The caller may leave the order date to us (it is "now"): a retry is the same order whatever
    # its clock says, so the stored dates are compared as equal.
    again = replace(
        remote, created_at=order.ordered_at, updated_at=order.remote_updated_at or order.ordered_at
    )
    return payload_hash(again) == order.payload_hash


def add_orders(channel: Channel, remotes: list[RemoteOrder]) -> list[Added]:
    """Store `remotes` as new orders of the manual `channel`; one Added per remote, in order.
    A constant number of queries whatever the number of orders."""
    if channel.kind != Channel.Kind.MANUAL:
        raise NotManual(
            f"{channel.name} is a {channel.get_kind_display()} channel; orders come from its sync"
        )
    for attempt in (1, 2):
        try:
            return _add(channel, remotes)
        except IntegrityError:
            # The same external id was being added by a concurrent call that committed first:
            # the page was rolled back whole; once more, and that order now counts as there.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _add(channel: Channel, remotes: list[RemoteOrder]) -> list[Added]:
    ids = [r.external_id for r in remotes]
    existing = {
        o.external_id: o
        for o in Order.objects.select_related("channel").filter(channel=channel, external_id__in=ids)
    }
    fresh = [r for r in remotes if r.external_id not in existing]
    if fresh:
        import_page(channel, Page(orders=fresh, cursor=channel.cursor or {}), summary=SyncSummary())
    fresh_ids = [r.external_id for r in fresh]
    created = {
        o.external_id: o
        for o in Order.objects.select_related("channel").filter(channel=channel, external_id__in=fresh_ids)
    }
    skipped = {
        s.external_id: s
        for s in SkippedOrder.objects.filter(
            channel=channel, external_id__in=[i for i in fresh_ids if i not in created]
        )
    }
    results = []
    for remote in remotes:
        ext = remote.external_id
        if ext in existing:
            order = existing[ext]
            outcome = "exists" if _same(order, remote) else "conflict"
            results.append(Added(ext, outcome, order=order))
        elif ext in created:
            results.append(Added(ext, "created", order=created[ext]))
        else:
            row = skipped.get(ext)
            results.append(
                Added(ext, "skipped", reason=row.reason if row else "", detail=row.detail if row else "")
            )
    return results


def manual_channels():
    return Channel.objects.filter(kind=Channel.Kind.MANUAL, is_active=True)


DEFAULT_CHANNEL_NAME = "Manual / API"


def default_channel() -> Channel:
    """The manual channel orders go to when the caller names none (made on first use)."""
    channel, _ = Channel.objects.get_or_create(
        name=DEFAULT_CHANNEL_NAME,
        defaults={"kind": Channel.Kind.MANUAL, "sync_mode": Channel.SyncMode.MANUAL},
    )
    return channel
