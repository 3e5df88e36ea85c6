"""The "manual / API" channel: orders staff add by hand, from a spreadsheet or through
Shipdesk's own API. There is no remote shop behind it, so there is nothing to read and nobody to
tell: every operation succeeds at once without a call, and the outbox records a fulfilment as
sent (or kept) exactly as it would for a marketplace."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from channels.connectors import register
from channels.connectors.base import Connector, NotSupported, Page, PushResult, RemoteFulfilment

NOBODY = "manual channel: nobody to tell"


@register
class ManualConnector(Connector):
    kind = "manual"

    def iter_pages(self, cursor: dict, *, now: datetime, window_days: int) -> Iterator[Page]:
        return iter(())  # orders arrive through the admin or the API, never from a sync

    def push_fulfilment(self, fulfilment: RemoteFulfilment) -> PushResult:
        return PushResult(request={"recorded": NOBODY, "tracking_number": fulfilment.tracking_number})

    def find_fulfilment(self, fulfilment: RemoteFulfilment) -> PushResult | None:
        return None  # never sent anywhere: sending again only records it

    def cancel_fulfilment(self, fulfilment: RemoteFulfilment) -> PushResult:
        return PushResult(request={"recorded": NOBODY})

    def update_fulfilment(self, old: RemoteFulfilment, new: RemoteFulfilment) -> PushResult:
        return PushResult(request={"recorded": NOBODY, "tracking_number": new.tracking_number})

    def fetch_order(self, order_external_id: str):
        raise NotSupported("a manual order has no copy elsewhere: the address in Shipdesk is the one")

    def mark_in_progress(self, order_external_id, lines=None, *, message: str = "") -> PushResult:
        raise NotSupported(NOBODY)

    def cancel_order(self, order_external_id: str, reason: str = "") -> None:
        return None
