"""The task cluster's schedule, created after migrate so a fresh install needs no setup."""

from django.db import DEFAULT_DB_ALIAS


def ensure_schedules(sender=None, using=DEFAULT_DB_ALIAS, **kwargs):
    from django_q.models import Schedule

    Schedule.objects.using(using).update_or_create(
        name="dispatch_due_syncs",
        defaults={
            "func": "orders.tasks.dispatch_due_syncs",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
        },
    )
