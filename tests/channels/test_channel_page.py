"""The channel page: "Sync now" (queued once, through the sync's claim), the last sync as
sentences, the cursor as a date, and task names that carry the channel's name."""

import html
from datetime import UTC, datetime, timedelta

from django.urls import reverse
from django.utils import timezone
from django_q.models import Task

from channels.models import Channel
from orders.models import Order
from sandbox.generators.etsy import generate
from tests.factories import ChannelFactory


def page(client, channel) -> str:
    response = client.get(reverse("admin:channels_channel_change", args=[channel.pk]))
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def press_sync_now(client, channel):
    return client.post(reverse("admin:channels_channel_sync", args=[channel.pk]), follow=True)


def test_sync_now_on_the_page_runs_one_sync_named_after_the_channel(etsy_sandbox, staff_client):
    channel, store = etsy_sandbox
    generate(store, 6, mix=False, seed=1)
    assert 'id="sync-now"' in page(staff_client, channel)

    response = press_sync_now(staff_client, channel)

    assert "Sync of Etsy-Main queued" in html.unescape(response.content.decode())
    assert list(Task.objects.values_list("name", flat=True)) == ["sync Etsy-Main (sync now)"]
    assert Order.objects.filter(channel=channel).count() == 6
    channel.refresh_from_db()
    assert channel.last_sync_state == Channel.SyncState.OK and channel.sync_started_at is None


def test_sync_now_while_a_sync_runs_queues_nothing_and_says_since_when(staff_client):
    started = timezone.now() - timedelta(seconds=5)
    channel = ChannelFactory(name="Etsy UK shop")
    Channel.objects.filter(pk=channel.pk).update(
        sync_started_at=started, sync_heartbeat_at=started, sync_claimed_by="web-1:4242"
    )

    response = press_sync_now(staff_client, channel)

    text = html.unescape(response.content.decode())
    assert "Etsy UK shop is already syncing (since" in text and "by web-1:4242" in text
    assert "nothing was queued" in text
    assert not Task.objects.exists()


def test_a_dead_sync_does_not_block_sync_now(staff_client):
    long_ago = timezone.now() - timedelta(hours=1)
    channel = ChannelFactory(name="Etsy UK shop")  # points at a closed port: the sync fails fast
    Channel.objects.filter(pk=channel.pk).update(
        sync_started_at=long_ago, sync_heartbeat_at=long_ago, sync_claimed_by="dead:1"
    )

    press_sync_now(staff_client, channel)

    assert list(Task.objects.values_list("name", flat=True)) == ["sync Etsy UK shop (sync now)"]
    channel.refresh_from_db()
    assert channel.sync_started_at is None  # the dead claim was taken over and released


def test_the_list_action_says_which_channel_is_busy(staff_client):
    busy, idle = ChannelFactory(name="Busy shop"), ChannelFactory(name="Idle shop")
    now = timezone.now()
    Channel.objects.filter(pk=busy.pk).update(sync_started_at=now, sync_heartbeat_at=now)

    response = staff_client.post(
        reverse("admin:channels_channel_changelist"),
        {"action": "sync_now", "_selected_action": [busy.pk, idle.pk]},
        follow=True,
    )

    text = html.unescape(response.content.decode())
    assert "Busy shop is already syncing" in text and "Sync of Idle shop queued" in text
    assert list(Task.objects.values_list("name", flat=True)) == ["sync Idle shop (sync now)"]


def test_the_last_sync_reads_as_sentences_and_the_cursor_as_a_date(staff_client):
    channel = ChannelFactory(
        last_sync_state=Channel.SyncState.ERROR,
        cursor={"since": int(datetime(2026, 12, 3, 14, 2, tzinfo=UTC).timestamp())},
        last_sync_summary={
            "seen": 40,
            "imported": 12,
            "updated": 3,
            "unchanged": 10,
            "shipped_on_channel": 0,
            "cancelled_on_channel": 0,
            "skipped": {"unpaid": 4, "digital_only": 9, "cancelled": 0},
            "pages": 2,
            "pushed": 5,
            "push_errors": 1,
            "errors": ["Etsy answered 503 on page 3"],
        },
    )

    text = page(staff_client, channel)

    assert "Imported 12 new order(s) and updated 3, of 40 read in 2 page(s)." in text
    assert "Skipped 13 order(s): 9 digital items only, 4 not paid." in text
    assert "Sent 5 shipment(s) to the channel; 1 could not be sent." in text
    assert "1 error(s): Etsy answered 503 on page 3" in text
    assert "Orders changed since 03 Dec 2026 14:02 UTC" in text
    assert '"digital_only"' not in text and "1764770520" not in text  # no raw JSON


def test_a_cursor_part_way_through_a_pass_says_it_resumes(staff_client):
    channel = ChannelFactory(
        cursor={
            "since": "2026-12-01T08:30:00+00:00",
            "page_info": "abc",
            "started": "2026-12-04T09:00:00+00:00",
        }
    )

    text = page(staff_client, channel)

    assert "Orders changed since 01 Dec 2026 08:30 UTC" in text
    assert "a pass begun 04 Dec 2026 09:00 UTC stopped part-way" in text


def test_a_channel_never_synced_says_so(staff_client):
    text = page(staff_client, ChannelFactory())
    assert "No sync has finished yet." in text
    assert "Nothing read yet: the first sync reads the import window." in text
