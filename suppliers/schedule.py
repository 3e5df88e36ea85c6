"""The suppliers' schedules, created after migrate like orders.schedule."""

from django.db import DEFAULT_DB_ALIAS


def ensure_schedules(sender=None, using=DEFAULT_DB_ALIAS, **kwargs):
    from django_q.models import Schedule

    for name, func, minutes in [
        ("poll_suppliers", "suppliers.tasks.poll_suppliers", 30),
        ("supplier_watchlist", "suppliers.tasks.check_watchlist", 60),
    ]:
        Schedule.objects.using(using).update_or_create(
            name=name,
            defaults={"func": func, "schedule_type": Schedule.MINUTES, "minutes": minutes, "repeats": -1},
        )
