"""Email alerts to staff about errors. Each user gets at most one email per 15 minutes;
alerts in between are collected and go out together."""

from __future__ import annotations

import logging

from django.contrib.auth import get_user_model
from django.core.mail import send_mail

log = logging.getLogger(__name__)


def alert_staff(channel, subject: str, body: str) -> int:
    """Queue an alert for every staff member subscribed to errors of this channel."""
    from django.db.models import Q

    from orders.models import StaffAlert

    users = (
        get_user_model()
        .objects.filter(is_active=True, is_staff=True)
        .filter(Q(alert_subscriptions__all_channels=True) | Q(alert_subscriptions__channel=channel))
        .distinct()
    )
    alerts = [StaffAlert(user=u, channel=channel, subject=subject[:200], body=body) for u in users]
    StaffAlert.objects.bulk_create(alerts)
    return len(alerts)


def send_due_alerts(now=None) -> int:
    """Email each user their unsent alerts, unless they had an email in the last 15 minutes."""
    from datetime import timedelta

    from django.utils import timezone

    from orders.models import StaffAlert

    now = now or timezone.now()
    sent = 0
    pending = StaffAlert.objects.filter(sent_at__isnull=True).select_related("user", "channel").order_by("created_at")
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
