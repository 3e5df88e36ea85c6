"""Real task clusters for the crash tests: `manage.py qcluster` subprocesses on Redis against the
test database (PostgreSQL: the subprocesses connect to the database pytest-django created, so
they see what the test commits and the test sees what they do). Each cluster runs in its own
process group, so one can be killed whole with SIGKILL, as a crashed machine would be."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.shipping.conftest import selfprint  # noqa: F401 - fixture

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("CRASH_REDIS_URL", "redis://127.0.0.1:6379/0")


def redis_reachable() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping())
    except Exception:  # noqa: BLE001 - any failure means: no Redis here
        return False


def database_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def group_pids(pgid: int) -> set[int]:
    """Every live process of a process group (a cluster: sentinel, pusher, monitor, workers)."""
    pids = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getpgid(int(entry)) == pgid:
                    pids.add(int(entry))
            except ProcessLookupError:
                pass
    return pids


@dataclass
class Cluster:
    name: str
    proc: subprocess.Popen
    log: Path
    killed: bool = False
    pids: set[int] = field(default_factory=set)

    def refresh_pids(self) -> set[int]:
        if not self.killed:
            self.pids = group_pids(self.proc.pid)
        return self.pids

    def owns(self, claimed_by: str) -> bool:
        """Is this host:pid one of this cluster's processes?"""
        pid = claimed_by.rpartition(":")[2]
        return pid.isdigit() and int(pid) in self.refresh_pids()

    def kill(self) -> None:
        """SIGKILL the whole process group: no clean-up, no task handed back."""
        self.refresh_pids()
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self.killed = True

    def stop(self) -> None:
        if self.killed:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self.killed = True


class Clusters:
    """Start clusters and enqueue tasks to them, on a queue of this test's own."""

    def __init__(self, tmp_path: Path):
        from django_q.brokers.redis_broker import Redis as RedisBroker

        self.queue = f"crash-{uuid.uuid4().hex[:8]}"
        self.tmp_path = tmp_path
        self.started: list[Cluster] = []
        queue, url = self.queue, REDIS_URL

        class Broker(RedisBroker):  # the test process's settings run tasks inline; these go to Redis
            def __init__(self):
                super().__init__(list_key=queue)

            @staticmethod
            def get_connection(list_key=None):
                import redis

                return redis.Redis.from_url(url)

        self.broker = Broker()

    def start(self, n: int = 2, **env) -> list[Cluster]:
        base = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.crash.cluster_settings",
            "DATABASE_URL": database_url(),
            "REDIS_URL": REDIS_URL,
            "Q_CLUSTER_QUEUE": self.queue,
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "PYTHONUNBUFFERED": "1",
            **{k: str(v) for k, v in env.items()},
        }
        for i in range(n):
            log = self.tmp_path / f"cluster-{i}.log"
            proc = subprocess.Popen(
                [sys.executable, "manage.py", "qcluster"],
                cwd=ROOT,
                env=base,
                stdout=log.open("w"),
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            self.started.append(Cluster(name=f"cluster-{i}", proc=proc, log=log))
        deadline = time.monotonic() + 60
        for c in self.started[-n:]:  # running: its workers have forked
            while len(c.refresh_pids()) < 4 + int(
                base.get("Q_WORKERS", 2)
            ):  # main, sentinel, pusher, monitor
                assert c.proc.poll() is None, f"{c.name} exited:\n{c.log.read_text()[-3000:]}"
                assert time.monotonic() < deadline, f"{c.name} did not start:\n{c.log.read_text()[-3000:]}"
                time.sleep(0.2)
        return self.started[-n:]

    def enqueue(self, func: str, *args) -> None:
        from django_q.tasks import async_task

        async_task(func, *args, sync=False, broker=self.broker)

    def stop(self) -> None:
        for c in self.started:
            c.stop()
        self.broker.delete_queue()

    def logs(self) -> str:
        return "\n".join(f"== {c.name}\n{c.log.read_text()[-4000:]}" for c in self.started)


@pytest.fixture
def clusters(live_server, transactional_db, tmp_path, monkeypatch):
    """Start real clusters with clusters.start(n). What this process would queue (a bulk job's
    nudges, a booking's push) goes to them, as from a web process: the test settings would
    otherwise run it inline here."""
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs PostgreSQL (real clusters share the test database): runs in the PostgreSQL pass of .ci/run"
        )
    if not redis_reachable():
        pytest.skip(f"needs Redis at {REDIS_URL} (CRASH_REDIS_URL)")
    from orders.schedule import ensure_schedules as order_schedules
    from shipping.schedule import ensure_schedules as shipping_schedules

    order_schedules()
    shipping_schedules()
    from django_q.conf import Conf

    c = Clusters(tmp_path)
    monkeypatch.setattr(Conf, "PREFIX", c.queue)  # what this process enqueues is signed for those clusters
    from orders import services
    from shipping import bulk

    monkeypatch.setattr(
        bulk,
        "nudge",
        lambda job_id, count=1: [c.enqueue("shipping.tasks.run_bulk_job", job_id) for _ in range(count)],
    )
    monkeypatch.setattr(services, "_enqueue_push", lambda pk: c.enqueue("orders.tasks.push_fulfilment", pk))
    try:
        yield c
    finally:
        c.stop()


def describe() -> str:
    """What the database says, for a failure message."""
    from django_q.models import Schedule, Task

    from channels.models import Channel
    from orders.models import Fulfilment
    from shipping.models import BulkJob

    lines = [
        f"job #{j.pk} {j.status} {j.done}+{j.failed}/{j.total} {j.message}" for j in BulkJob.objects.all()
    ]
    lines += [
        f"channel {c.name}: {c.last_sync_state} claim={c.sync_claimed_by!r} beat={c.sync_heartbeat_at} "
        f"cursor={c.cursor} error={c.last_error!r}"
        for c in Channel.objects.all()
    ]
    lines += [f"fulfilments: {dict(Counter(Fulfilment.objects.values_list('state', flat=True)))}"]
    lines += [f"schedule {s.name}: next {s.next_run} last task {s.task}" for s in Schedule.objects.all()]
    lines += [f"tasks: {dict(Counter((t.func, str(t.result)[:60]) for t in Task.objects.all()))}"]
    return "\n".join(lines)


def wait_for(check, *, timeout: float, what: str, clusters: Clusters | None = None, every: float = 0.5):
    """Poll `check` until it returns something truthy; fail with the state and the clusters'
    logs after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout:.0f}s waiting for {what}\n{describe()}"
                + (f"\n{clusters.logs()}" if clusters else "")
            )
        time.sleep(every)
