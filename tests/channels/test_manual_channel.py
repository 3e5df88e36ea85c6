"""The manual / API channel: no connector to call, never synced, nobody to tell."""

from django.utils import timezone

from channels.connectors import connector_class
from channels.models import Channel
from orders import pushing
from orders.models import Fulfilment
from orders.tasks import dispatch_due_syncs, run_sync
from tests.factories import ChannelFactory, FulfilmentFactory, OrderFactory, OrderLineFactory


def manual_channel(**kw):
    return ChannelFactory(name="Counter", kind=Channel.Kind.MANUAL, api_base_url="", credentials={}, **kw)


def test_the_dispatcher_never_syncs_a_manual_channel(db, monkeypatch):
    queued = []
    monkeypatch.setattr("orders.tasks.async_task", lambda name, *args, **kw: queued.append((name, args)))
    manual = manual_channel(sync_mode=Channel.SyncMode.AUTO)
    etsy = ChannelFactory()
    dispatch_due_syncs()
    assert ("orders.tasks.sync_channel", (etsy.pk,)) in queued
    assert ("orders.tasks.sync_channel", (manual.pk,)) not in queued


def test_sync_now_on_a_manual_channel_reads_nothing_and_fails_nothing(db):
    channel = manual_channel()
    summary = run_sync(channel)
    channel.refresh_from_db()
    assert summary.errors == [] and summary.seen == 0
    assert channel.last_sync_state == Channel.SyncState.OK


def test_its_fulfilments_are_recorded_as_sent_without_a_call(db):
    assert connector_class("manual").kind == "manual"
    order = OrderFactory(channel=manual_channel(requires_tracking=False))
    OrderLineFactory(order=order, external_id="A")
    f = FulfilmentFactory(order=order, lines=[["A", 1]])
    assert pushing.push_fulfilment(f.pk) == Fulfilment.State.SENT
    f.refresh_from_db()
    assert f.sent_at <= timezone.now() and f.sent_payload["recorded"] == "manual channel: nobody to tell"
    assert f.order.events.filter(kind="pushed", message__startswith="Sent to Counter").exists()
