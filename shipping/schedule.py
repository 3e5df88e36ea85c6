"""The shipping desk's schedule, created after migrate so a fresh install needs no setup."""

from django.db import DEFAULT_DB_ALIAS

POLL_MINUTES = 10


def ensure_schedules(sender=None, using=DEFAULT_DB_ALIAS, **kwargs):
    from django_q.models import Schedule

    # Carriers that send webhooks are polled too, less often per parcel (the adapter's
    # poll_interval), so a missed webhook delays an update instead of losing it.
    Schedule.objects.using(using).update_or_create(
        name="poll_tracking",
        defaults={
            "func": "shipping.tasks.poll_tracking",
            "schedule_type": Schedule.MINUTES,
            "minutes": POLL_MINUTES,
            "repeats": -1,
        },
    )
    # Bulk bookings are rows; this re-queues whatever a dead worker left (tasks are only nudges).
    Schedule.objects.using(using).update_or_create(
        name="resume_bulk_jobs",
        defaults={
            "func": "shipping.tasks.resume_bulk_jobs",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
        },
    )
