"""The webhook sender's every-minute schedule, created after migrate (like orders.schedule)."""

from django.db import DEFAULT_DB_ALIAS


def ensure_schedules(sender=None, using=DEFAULT_DB_ALIAS, **kwargs):
    from django_q.models import Schedule

    Schedule.objects.using(using).update_or_create(
        name="dispatch_due_webhooks",
        defaults={
            "func": "api.tasks.dispatch_due_webhooks",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
        },
    )
