"""django-q2 entry points: thin wrappers that look up ids and call services."""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django_q.tasks import async_task

from channels.connectors.base import ConnectorError
from channels.models import Channel, WebhookEvent
from orders import alerts, pushing
from orders.importing import SyncSummary, SyncTakenOver, import_orders

log = logging.getLogger(__name__)


def dispatch_due_syncs() -> int:
    """Every minute: enqueue a sync for each automatic channel that is due (or whose sync died:
    it resumes from its saved cursor), and any fulfilment whose retry time has come (the rows
    are the truth; the queue may lose a task). Staff hear once of a sync or push that is stuck."""
    from config import heartbeat

    heartbeat.record_dispatcher_run()  # /healthz and the admin index's banner read it
    channels = Channel.objects.due_for_sync()
    for channel in channels:
        if channel.sync_started_at is not None:
            alerts.alert_staff_once(
                channel,
                f"Sync of {channel.name} stalled",
                f"The sync running {channel.syncing_since} stopped (its worker died or hangs). "
                "It is resumed from the last saved page.",
                since=channel.sync_started_at,
            )
        enqueue_sync(channel, why="resumed" if channel.sync_started_at is not None else "")
    for pk in pushing.due_fulfilment_ids():
        async_task("orders.tasks.push_fulfilment", pk, task_name=f"push-fulfilment-{pk}")
    from orders import exporting

    for pk in exporting.due_export_ids():
        exporting.enqueue(pk)
    alerts.alert_stuck_fulfilments()
    alerts.send_due_alerts()
    return len(channels)


def enqueue_sync(channel: Channel, *, why: str = "") -> None:
    """Queue a sync of `channel`, named after it in the task queue ("sync Etsy UK shop"). Only a
    nudge: the run itself takes the channel's claim, so two queued runs never sync at once."""
    async_task("orders.tasks.sync_channel", channel.pk, task_name=channel.sync_task_name(why))


def request_sync(channel: Channel) -> str:
    """ "Sync now" from the channel page or list: queue a sync unless a live run holds the claim
    (the one the dispatcher's runs take). Returns what happened, for staff to read."""
    channel.refresh_from_db(fields=["sync_started_at", "sync_heartbeat_at", "sync_claimed_by"])
    if channel.is_syncing():
        return f"{channel.name} is already syncing ({channel.syncing_since}); nothing was queued."
    enqueue_sync(channel, why="sync now")
    return f"Sync of {channel.name} queued; the result appears under “Last sync”."


def sync_channel(channel_id: int) -> dict:
    """Import, pull back and push for one channel. A channel never syncs twice at once."""
    channel = Channel.objects.get(pk=channel_id)
    return run_sync(channel).as_dict()


@contextmanager
def keep_alive(channel: Channel):
    """Renew the sync's heartbeat from a side thread while the run works (a slow page, a long
    push phase), so a live sync is never taken for dead; a killed one stops renewing at once."""
    stop = threading.Event()
    every = max(0.2, settings.SYNC_HEARTBEAT_STALE_SECONDS / 4)

    def beat():
        try:
            while not stop.wait(every) and channel.renew_sync_heartbeat():
                pass
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=beat, name=f"sync-heartbeat-{channel.pk}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def run_sync(channel: Channel) -> SyncSummary:
    summary = SyncSummary()
    failing_with = channel.last_error if channel.last_sync_state == Channel.SyncState.ERROR else None
    if not channel.claim_sync():
        channel.refresh_from_db(fields=["sync_started_at", "sync_heartbeat_at", "sync_claimed_by"])
        summary.errors.append(
            f"{channel.name} is already syncing ({channel.syncing_since or 'just finished'}); "
            "this run did nothing"
        )
        return summary
    with keep_alive(channel):
        return _run_claimed_sync(channel, summary, failing_with=failing_with)


def _run_claimed_sync(channel: Channel, summary: SyncSummary, *, failing_with: str | None) -> SyncSummary:
    error, retry = "", False
    started = channel.sync_started_at
    try:
        import_orders(channel, summary=summary)
    except SyncTakenOver as exc:
        # Our heartbeat went stale and another worker resumed the sync: it reports, not us.
        summary.errors.append(str(exc))
        return summary
    except ConnectorError as exc:
        error = str(exc)
        summary.errors.append(error)
        if exc.auth:
            Channel.objects.filter(pk=channel.pk).update(needs_reconnect=True)
    except IntegrityError:
        # Another run stored the same orders first (their page committed between our read and our
        # write): the page was rolled back whole and its cursor not advanced. Run again at once
        # (once: if the next run meets the same, the dispatcher's next pass tries again).
        error = "another sync was importing the same orders; nothing was lost"
        summary.errors.append(error)
        retry = failing_with != error
    except Exception as exc:  # noqa: BLE001 - a bug must still release the channel and be shown
        log.exception("sync of %s failed", channel)
        error = f"{exc.__class__.__name__}: {exc}"
        summary.errors.append(error)
    else:
        if channel.needs_reconnect:
            Channel.objects.filter(pk=channel.pk).update(needs_reconnect=False)
    # Push even after a failed import: the two are independent.
    if not channel.renew_sync_heartbeat():
        summary.errors.append(
            f"the sync of {channel.name} was taken over by another worker; this run stopped"
        )
        return summary
    sent, failed = pushing.push_due(channel)
    summary.pushed, summary.push_errors = sent, failed
    if not channel.release_sync(
        state=Channel.SyncState.ERROR if error else Channel.SyncState.OK,
        summary=summary.as_dict(),
        error=error,
    ):
        return summary  # taken over while pushing: the run holding the claim now reports
    if retry:
        enqueue_sync(channel, why="again")
    elif error and error != failing_with:  # a channel that keeps failing the same way is emailed once
        transaction.on_commit(lambda: alerts.alert_staff(channel, f"Sync of {channel.name} failed", error))
    elif WebhookEvent.objects.filter(channel=channel, received_at__gte=started).exists():
        # A webhook came in while this sync ran; the sync it queued found the channel busy.
        # Run once more so a change this pass had already read past is not left for the schedule.
        enqueue_sync(channel, why="webhook")
    return summary


def run_export(job_id: int) -> str:
    from orders.exporting import run_export_job

    return run_export_job(job_id)


def push_fulfilment(fulfilment_id: int) -> str:
    return pushing.push_fulfilment(fulfilment_id)


def send_due_alerts() -> int:
    return alerts.send_due_alerts()
