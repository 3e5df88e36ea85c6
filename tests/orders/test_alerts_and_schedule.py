"""Staff alerts (at most one email per user per 15 minutes) and the every-minute dispatcher."""

from datetime import timedelta

from django.core import mail
from django.utils import timezone

from channels.models import Channel
from orders.alerts import alert_staff, send_due_alerts
from orders.models import AlertSubscription, Order
from orders.tasks import dispatch_due_syncs, run_sync
from sandbox.generators.etsy import generate
from tests.factories import ChannelFactory, UserFactory


def test_subscribers_get_one_email_per_15_minutes_listing_every_failure(db):
    etsy, shopify = ChannelFactory(name="Etsy-Main"), ChannelFactory(name="Shop-2")
    ann = UserFactory(username="ann", email="ann@example.com")
    bob = UserFactory(username="bob", email="bob@example.com")
    UserFactory(username="cy", email="cy@example.com")  # not subscribed
    AlertSubscription.objects.create(user=ann, channel=etsy)
    AlertSubscription.objects.create(user=bob, all_channels=True)

    alert_staff(etsy, "Sync of Etsy-Main failed", "HTTP 500")
    alert_staff(shopify, "Sync of Shop-2 failed", "token expired")
    send_due_alerts()

    assert sorted(m.to[0] for m in mail.outbox) == ["ann@example.com", "bob@example.com"]
    bobs = next(m for m in mail.outbox if m.to == ["bob@example.com"])
    assert "HTTP 500" in bobs.body and "token expired" in bobs.body

    alert_staff(etsy, "Fulfilment blocked for #1", "needs tracking")
    send_due_alerts()
    assert len(mail.outbox) == 2  # within 15 minutes: held back

    send_due_alerts(now=timezone.now() + timedelta(minutes=16))
    assert len(mail.outbox) == 4 and "needs tracking" in mail.outbox[-1].body


def test_a_failed_sync_alerts_subscribed_staff(etsy_sandbox):
    channel, store = etsy_sandbox
    AlertSubscription.objects.create(user=UserFactory(email="ops@example.com"), all_channels=True)
    store.faults = [{"status": 500, "times": 10}]
    store.save()

    run_sync(channel)
    send_due_alerts()

    assert mail.outbox and "Sync of Etsy-Main failed" in mail.outbox[0].body
    run_sync(channel)  # failing the same way: not emailed again
    send_due_alerts(now=timezone.now() + timedelta(hours=1))
    assert len(mail.outbox) == 1


def test_the_dispatcher_syncs_automatic_channels_that_are_due_and_never_manual_ones(etsy_sandbox):
    channel, store = etsy_sandbox
    generate(store, 2, mix=False)
    channel.sync_mode = Channel.SyncMode.MANUAL
    channel.save()

    assert dispatch_due_syncs() == 0
    assert not Order.objects.exists()

    channel.sync_mode = Channel.SyncMode.AUTO
    channel.save()
    assert dispatch_due_syncs() == 1
    assert Order.objects.count() == 2
    assert dispatch_due_syncs() == 0  # synced a moment ago: not due again before its interval


def test_the_schedule_exists_after_migrate(db):
    from django_q.models import Schedule

    schedule = Schedule.objects.get(name="dispatch_due_syncs")
    assert schedule.func == "orders.tasks.dispatch_due_syncs" and schedule.minutes == 1
