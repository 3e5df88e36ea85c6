"""django-q2 entry points: thin wrappers that look up ids and call services."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django_q.tasks import async_task

from channels.connectors.base import ConnectorError
from channels.models import Channel, WebhookEvent
from orders import alerts, pushing
from orders.importing import SyncSummary, import_orders

log = logging.getLogger(__name__)


def dispatch_due_syncs() -> int:
    """Every minute: enqueue a sync for each automatic channel that is due, and any
    fulfilment whose retry time has come (the rows are the truth; the queue may lose a task)."""
    __import__("config.heartbeat").heartbeat.record_dispatcher_run()  # /healthz, admin index banner
    channels = Channel.objects.due_for_sync()
    for channel in channels:
        async_task("orders.tasks.sync_channel", channel.pk, task_name=f"sync-{channel.pk}")
    for pk in pushing.due_fulfilment_ids():
        async_task("orders.tasks.push_fulfilment", pk, task_name=f"push-fulfilment-{pk}")
    alerts.send_due_alerts()
    return len(channels)


def sync_channel(channel_id: int) -> dict:
    """Import, pull back and push for one channel. A channel never syncs twice at once."""
    channel = Channel.objects.get(pk=channel_id)
    return run_sync(channel).as_dict()


def run_sync(channel: Channel) -> SyncSummary:
    summary = SyncSummary()
    if not channel.claim_sync(stale_after_minutes=settings.SYNC_STALE_MINUTES):
        summary.errors.append(f"{channel.name} is already syncing; this run did nothing")
        return summary
    error = ""
    started = channel.sync_started_at
    try:
        import_orders(channel, summary=summary)
    except ConnectorError as exc:
        error = str(exc)
        summary.errors.append(error)
        if exc.auth:
            Channel.objects.filter(pk=channel.pk).update(needs_reconnect=True)
    except Exception as exc:  # noqa: BLE001 - a bug must still release the channel and be shown
        log.exception("sync of %s failed", channel)
        error = f"{exc.__class__.__name__}: {exc}"
        summary.errors.append(error)
    else:
        if channel.needs_reconnect:
            Channel.objects.filter(pk=channel.pk).update(needs_reconnect=False)
    # Push even after a failed import: the two are independent.
    sent, failed = pushing.push_due(channel)
    summary.pushed, summary.push_errors = sent, failed
    channel.release_sync(
        state=Channel.SyncState.ERROR if error else Channel.SyncState.OK, summary=summary.as_dict(), error=error
    )
    if error:
        transaction.on_commit(lambda: alerts.alert_staff(channel, f"Sync of {channel.name} failed", error))
    elif WebhookEvent.objects.filter(channel=channel, received_at__gte=started).exists():
        # A webhook came in while this sync ran; the sync it queued found the channel busy.
        # Run once more so a change this pass had already read past is not left for the schedule.
        async_task("orders.tasks.sync_channel", channel.pk, task_name=f"sync-{channel.pk}-webhook")
    return summary


def push_fulfilment(fulfilment_id: int) -> str:
    return pushing.push_fulfilment(fulfilment_id)


def send_due_alerts() -> int:
    return alerts.send_due_alerts()
