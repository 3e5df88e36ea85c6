"""The task cluster's heartbeat: the every-minute dispatcher (orders.tasks.dispatch_due_syncs)
records each run; /healthz and the admin index say how long ago the last one was.

Kept in the database, not the cache: the web processes must see what the cluster wrote even when
each process has its own local-memory cache (the default)."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

DISPATCHER = "dispatcher"


def record_dispatcher_run() -> None:
    """Called by the dispatcher at the start of every run (one UPDATE)."""
    record(DISPATCHER)


def record(name: str) -> None:
    now, where = timezone.now(), f"{socket.gethostname()} pid {os.getpid()}"
    from config.models import Heartbeat

    if not Heartbeat.objects.filter(name=name).update(at=now, where=where):
        try:
            with transaction.atomic():
                Heartbeat.objects.create(name=name, at=now, where=where)
        except IntegrityError:  # another cluster created it first: it ran just now as well
            pass


@dataclass
class Beat:
    name: str
    at: datetime | None
    where: str
    age_seconds: float | None
    stale: bool

    def as_dict(self) -> dict:
        return {
            "last_run": self.at.isoformat() if self.at else None,
            "where": self.where,
            "age_seconds": None if self.age_seconds is None else round(self.age_seconds, 1),
            "stale_after_seconds": settings.CLUSTER_STALE_SECONDS,
            "stale": self.stale,
        }


def dispatcher_beat(now: datetime | None = None) -> Beat:
    """The last dispatcher run; stale when older than CLUSTER_STALE_SECONDS, or when it never ran."""
    from config.models import Heartbeat

    row = Heartbeat.objects.filter(name=DISPATCHER).first()
    if row is None:
        return Beat(DISPATCHER, None, "", None, True)
    age = max(0.0, ((now or timezone.now()) - row.at).total_seconds())
    return Beat(DISPATCHER, row.at, row.where, age, age > settings.CLUSTER_STALE_SECONDS)
