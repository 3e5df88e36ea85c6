"""Run the django-q2 task cluster so that stopping it is quick and safe: `python -m config.cluster`.

Why not `manage.py qcluster` directly: django-q2's sentinel process resets SIGTERM to its default
action. A SIGTERM sent to the whole process group (what honcho, `kill -- -PGID` and systemd's
default `KillMode=control-group` do) kills the sentinel while the cluster's main process is
notifying it through a multiprocessing Event; the main process then waits for an acknowledgement
that never comes and the cluster hangs in "stopping" (over two minutes, measured). And even a clean
stop waits, without limit, for every running task to finish.

So this supervisor starts the cluster in a session of its own, where group signals do not reach
it. On SIGINT or SIGTERM it asks the cluster's main process alone to stop (idle workers leave in
about a second), waits up to `Q_STOP_SECONDS`, then kills whatever is left. A task killed that way
is not lost: its work lives as a row (a due channel, a pending fulfilment, a job's chunk) that the
every-minute dispatcher queues again. A second Ctrl-C kills at once. If the supervisor itself is
killed (SIGKILL), the cluster notices within a second and kills its own process group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def stop_seconds() -> float:
    from django.conf import settings

    return float(getattr(settings, "Q_STOP_SECONDS", 10))


def supervise() -> int:
    """Start the cluster in its own session and stop it within Q_STOP_SECONDS of a signal."""
    grace = stop_seconds()
    child = subprocess.Popen(
        [sys.executable, "-m", "config.cluster", "--serve", str(os.getpid())], start_new_session=True
    )
    stopping: list[float] = []
    interrupts: list[int] = []

    def on_signal(signum, frame):
        if signum == signal.SIGINT:
            interrupts.append(signum)
        if len(interrupts) > 1:  # Ctrl-C twice: no more waiting
            _kill_group(child.pid)
            return
        if stopping:  # a SIGTERM after the Ctrl-C (make run's script passes it on): still a clean stop
            return
        stopping.append(time.monotonic())
        print(f"Stopping the task cluster (up to {grace:g} s for running tasks)", file=sys.stderr, flush=True)
        with contextlib.suppress(ProcessLookupError):
            os.kill(child.pid, signal.SIGTERM)  # the cluster's main process only: a clean stop

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    while child.poll() is None:
        if len(stopping) == 1 and time.monotonic() - stopping[0] > grace:
            stopping.append(time.monotonic())
            print(
                f"Task cluster still busy after {grace:g} s: killed (its work is queued again "
                "by the dispatcher)",
                file=sys.stderr,
                flush=True,
            )
            _kill_group(child.pid)
        time.sleep(0.1)
    _kill_group(child.pid)  # a sentinel or worker left behind by an unclean exit
    return 0 if stopping else child.returncode


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def serve(supervisor_pid: int) -> None:
    """The cluster itself (django-q2's qcluster), in the session the supervisor made for it."""
    import django

    django.setup()

    def watch_supervisor():
        while True:
            if os.getppid() != supervisor_pid:  # the supervisor was killed: take the cluster down too
                os.killpg(0, signal.SIGKILL)
            time.sleep(1)

    threading.Thread(target=watch_supervisor, name="supervisor-watch", daemon=True).start()
    from django.core.management import call_command

    call_command("qcluster")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve(int(sys.argv[2]))
    else:
        sys.exit(supervise())
