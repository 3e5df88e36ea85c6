"""Email alerts to staff about errors. Each user gets at most one email per 15 minutes;
alerts in between are collected and go out together."""

from __future__ import annotations

import logging

from django.contrib.auth import get_user_model
from django.core.mail import send_mail

log = logging.getLogger(__name__)


def alert_staff(channel, subject: str, body: str) -> int:
    """Queue an alert for every staff member subscribed to errors of this channel (channel None:
    to those subscribed to all channels)."""
    from django.db.models import Q

    from orders.models import StaffAlert

    users = (
        get_user_model()
        .objects.filter(is_active=True, is_staff=True)
        # Not about one channel (a bulk job): those subscribed to all channels.
        .filter(
            Q(alert_subscriptions__all_channels=True)
            | (Q(alert_subscriptions__channel=channel) if channel is not None else Q(pk__in=[]))
        )
        .distinct()
    )
    alerts = [StaffAlert(user=u, channel=channel, subject=subject[:200], body=body) for u in users]
    StaffAlert.objects.bulk_create(alerts)
    return len(alerts)


def alert_staff_once(channel, subject: str, body: str, *, since=None) -> int:
    """alert_staff, unless the same alert (channel and subject) was already raised (since
    `since`, e.g. the start of the sync that stalled): a problem is emailed once, not every minute."""
    from orders.models import StaffAlert

    raised = StaffAlert.objects.filter(channel=channel, subject=subject[:200])
    if since is not None:
        raised = raised.filter(created_at__gte=since)
    if raised.exists():
        return 0
    return alert_staff(channel, subject, body)


def stuck_fulfilments(now=None):
    """Fulfilments still pending STUCK_ALERT_MINUTES after they were due: nothing is retrying
    them (a worker died holding the claim, or the task cluster is down)."""
    from datetime import timedelta

    from django.conf import settings
    from django.utils import timezone

    from orders.models import Fulfilment

    before = (now or timezone.now()) - timedelta(minutes=settings.STUCK_ALERT_MINUTES)
    return Fulfilment.objects.filter(state=Fulfilment.State.PENDING, created_at__lt=before).exclude(
        next_attempt_at__gt=before
    )


def alert_stuck_fulfilments(limit: int = 50) -> int:
    """Email subscribers once about each stuck fulfilment."""
    raised = 0
    for f in stuck_fulfilments().select_related("order__channel").order_by("created_at")[:limit]:
        raised += alert_staff_once(
            f.order.channel,
            f"Fulfilment stuck for {f.order}",
            f"Tracking {f.tracking_number or '(none)'} has waited to be sent to {f.order.channel.name} since "
            f"{(f.next_attempt_at or f.created_at):%Y-%m-%d %H:%M} UTC. Is the task cluster running?",
        )
    return raised


def send_due_alerts(now=None) -> int:
    """Email each user their unsent alerts, unless they had an email in the last 15 minutes."""
    from datetime import timedelta

    from django.utils import timezone

    from orders.models import StaffAlert

    now = now or timezone.now()
    sent = 0
    pending = (
        StaffAlert.objects.filter(sent_at__isnull=True)
        .select_related("user", "channel")
        .order_by("created_at")
    )
    by_user: dict = {}
    for alert in pending:
        by_user.setdefault(alert.user, []).append(alert)
    for user, alerts in by_user.items():
        recent = StaffAlert.objects.filter(user=user, sent_at__gte=now - timedelta(minutes=15)).exists()
        if recent or not user.email:
            continue
        lines = [f"- [{a.channel or 'all'}] {a.subject}: {a.body}" for a in alerts]
        send_mail(
            f"Shipdesk: {len(alerts)} problem(s) need attention",
            "These went wrong since the last email:\n\n" + "\n".join(lines),
            None,
            [user.email],
        )
        StaffAlert.objects.filter(pk__in=[a.pk for a in alerts]).update(sent_at=now)
        sent += 1
    return sent
