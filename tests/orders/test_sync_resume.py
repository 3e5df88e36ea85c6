"""A sync whose worker died is resumed from its saved cursor by the every-minute dispatcher;
a live one says since when and by whom it runs."""

import re
from datetime import timedelta

from django.core import mail
from django.urls import reverse
from django.utils import timezone

from channels.models import Channel
from orders.alerts import send_due_alerts
from orders.importing import SyncSummary, SyncTakenOver, import_page
from orders.models import AlertSubscription, Order, OrderEvent
from orders.tasks import dispatch_due_syncs, run_sync
from sandbox.generators.etsy import generate
from tests.factories import UserFactory


def die_after_one_page(channel: Channel, *, worker: str = "worker-a:111") -> int:
    """A worker claims the sync, stores its first page (cursor saved), and is killed."""
    assert channel.claim_sync(worker=worker)
    connector = channel.connector()
    page = next(
        iter(
            connector.iter_pages(
                channel.cursor or {}, now=timezone.now(), window_days=channel.import_window_days
            )
        )
    )
    import_page(channel, page, summary=SyncSummary())
    return len(page.orders)


def go_stale(channel: Channel, seconds: int = 600) -> None:
    Channel.objects.filter(pk=channel.pk).update(
        sync_heartbeat_at=timezone.now() - timedelta(seconds=seconds)
    )


def test_a_sync_whose_worker_died_is_resumed_from_its_cursor_by_the_dispatcher(etsy_sandbox, settings):
    settings.SYNC_HEARTBEAT_STALE_SECONDS = 120
    channel, store = etsy_sandbox
    generate(store, 250, mix=False, seed=3)
    first = die_after_one_page(channel)
    assert first == 100 and Channel.objects.get(pk=channel.pk).cursor["offset"] == 100

    Channel.objects.filter(pk=channel.pk).update(
        sync_mode=Channel.SyncMode.MANUAL
    )  # staff pressed "Sync now"
    assert dispatch_due_syncs() == 0  # its heartbeat is fresh: the worker may be alive
    go_stale(channel)
    assert dispatch_due_syncs() == 1  # stale: due at once, whatever the interval or the mode

    channel.refresh_from_db()
    assert (
        channel.last_sync_state == "ok" and channel.sync_started_at is None and channel.sync_claimed_by == ""
    )
    summary = channel.last_sync_summary
    assert (summary["seen"], summary["imported"]) == (150, 150)  # continued after page one, not from scratch
    assert Order.objects.filter(channel=channel).count() == 250
    assert OrderEvent.objects.filter(kind="imported").count() == 250  # nothing imported twice


def test_already_syncing_says_since_when_and_by_which_worker(etsy_sandbox):
    channel, store = etsy_sandbox
    generate(store, 2, mix=False)
    assert Channel.objects.get(pk=channel.pk).claim_sync(worker="web-1:4242")

    summary = run_sync(Channel.objects.get(pk=channel.pk))

    started = Channel.objects.get(pk=channel.pk).sync_started_at
    assert summary.errors == [
        f"Etsy-Main is already syncing (since {started:%Y-%m-%d %H:%M:%S} UTC by web-1:4242, "
        "last heartbeat 0 s ago); this run did nothing"
    ]
    assert not Order.objects.exists()


def test_the_heartbeat_is_renewed_with_every_page(etsy_sandbox):
    channel, store = etsy_sandbox
    generate(store, 120, mix=False)
    assert channel.claim_sync(worker="worker-a:111")
    go_stale(channel, seconds=60)
    connector = channel.connector()
    page = next(iter(connector.iter_pages({}, now=timezone.now(), window_days=30)))

    import_page(channel, page, summary=SyncSummary())

    channel.refresh_from_db()
    assert timezone.now() - channel.sync_heartbeat_at < timedelta(seconds=5)
    assert channel.sync_claimed_by == "worker-a:111"


def test_a_run_whose_claim_was_taken_over_stops_without_writing_or_releasing(etsy_sandbox, settings):
    settings.SYNC_HEARTBEAT_STALE_SECONDS = 120
    channel, store = etsy_sandbox
    generate(store, 120, mix=False)
    slow = Channel.objects.get(pk=channel.pk)
    assert slow.claim_sync(worker="worker-a:111")
    go_stale(channel)
    taker = Channel.objects.get(pk=channel.pk)
    assert taker.claim_sync(worker="worker-b:222")  # the stale claim is taken over
    page = next(iter(slow.connector().iter_pages({}, now=timezone.now(), window_days=30)))

    try:
        import_page(slow, page, summary=SyncSummary())
    except SyncTakenOver as exc:
        assert "taken over by another worker" in str(exc)
    else:
        raise AssertionError("the old run went on writing")
    assert not Order.objects.exists()  # its page was rolled back
    assert slow.release_sync(state="ok", summary={}) is False
    assert Channel.objects.get(pk=channel.pk).sync_claimed_by == "worker-b:222"


def test_a_stalled_sync_is_on_the_desk_and_emailed_once(etsy_sandbox, staff_client, settings):
    settings.SYNC_HEARTBEAT_STALE_SECONDS = 120
    channel, store = etsy_sandbox
    AlertSubscription.objects.create(
        user=UserFactory(username="ops", email="ops@example.com"), channel=channel
    )
    assert channel.claim_sync(worker="worker-a:111")
    go_stale(channel)

    desk = staff_client.get(reverse("admin:index")).content.decode()
    assert "Sync of Etsy-Main stalled" in desk and "by worker-a:111" in desk

    dispatch_due_syncs()  # resumes it (and says so once)
    assert Channel.objects.get(pk=channel.pk).last_sync_state == "ok"
    assert channel.claim_sync(worker="worker-a:111")
    go_stale(channel)
    send_due_alerts(now=timezone.now() + timedelta(hours=1))
    dispatch_due_syncs()  # a second death is a second alert, but one each
    dispatch_due_syncs()
    send_due_alerts(now=timezone.now() + timedelta(hours=2))

    stalled = [m for m in mail.outbox if "Sync of Etsy-Main stalled" in m.body]
    assert len(stalled) == 2 and "worker-a:111" in stalled[0].body
    assert "Sync of Etsy-Main stalled" not in staff_client.get(reverse("admin:index")).content.decode()


def test_the_channel_list_shows_a_failing_channels_error_and_who_runs_a_sync(
    etsy_sandbox, staff_client, settings
):
    settings.SYNC_HEARTBEAT_STALE_SECONDS = 120
    channel, store = etsy_sandbox
    store.faults = [{"status": 500, "times": 10}]
    store.save()
    run_sync(channel)
    page = staff_client.get(reverse("admin:channels_channel_changelist")).content.decode()
    assert re.search(r'<span class="help">[^<]*HTTP 500', page)  # the error itself, not only a tooltip

    assert Channel.objects.get(pk=channel.pk).claim_sync(worker="worker-a:111")
    page = staff_client.get(reverse("admin:channels_channel_changelist")).content.decode()
    assert "Running" in page and "by worker-a:111" in page
    go_stale(channel)
    page = staff_client.get(reverse("admin:channels_channel_changelist")).content.decode()
    assert "Stalled" in page and "resumed at the next dispatch" in page


def test_a_live_sync_keeps_its_claim_fresh_while_it_waits(transactional_db, settings):
    """A slow page or a long push phase is not a dead worker: a side thread renews the heartbeat."""
    import time

    from orders.tasks import keep_alive
    from tests.factories import ChannelFactory

    settings.SYNC_HEARTBEAT_STALE_SECONDS = 1
    channel = ChannelFactory()
    assert channel.claim_sync(worker="worker-a:111")
    go_stale(channel)

    with keep_alive(channel):
        time.sleep(0.8)
        assert not Channel.objects.stale_syncs().exists()
        assert Channel.objects.due_for_sync() == []

    go_stale(channel)
    assert list(Channel.objects.stale_syncs()) == [channel]  # it stops with the run


def test_a_sync_that_loses_a_race_says_nothing_was_lost_and_runs_again(etsy_sandbox, monkeypatch):
    """Two runs storing the same orders at once: the loser's page is rolled back whole (its cursor
    not advanced) and it says so in words, not as a raw IntegrityError, then runs once more."""
    from django.db import IntegrityError

    from orders import tasks
    from sandbox.generators.etsy import generate

    channel, store = etsy_sandbox
    generate(store, 5, mix=False)
    real = tasks.import_orders
    calls = []

    def first_run_loses(channel, summary):
        calls.append(1)
        if len(calls) == 1:
            raise IntegrityError('duplicate key value violates unique constraint "uniq_order_per_channel"')
        return real(channel, summary=summary)

    monkeypatch.setattr(tasks, "import_orders", first_run_loses)

    summary = tasks.run_sync(channel)

    assert summary.errors == ["another sync was importing the same orders; nothing was lost"]
    assert "IntegrityError" not in str(summary.errors)
    channel.refresh_from_db()
    assert len(calls) == 2 and channel.last_sync_state == "ok"  # it ran again (inline here) and imported
    assert channel.orders.count() == 5
