"""Stopping is clean and quick: `make run` (scripts/run.sh) on Ctrl-C, and the task cluster's
supervisor (config/cluster.py) on a SIGTERM to its whole process group while a task runs, which
left a bare `manage.py qcluster` "stopping" for minutes. Real processes on a temporary SQLite file."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def environment(tmp_path, **extra) -> dict:
    """A clean environment for the processes, tagged so that every descendant can be found."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "PYTEST_", "DATABASE_", "CACHE_", "Q_"))
    }
    env.update(
        SECRET_KEY="x",
        DEBUG="true",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        MEDIA_ROOT=str(tmp_path / "media"),
        SHIPDESK_TEST_TAG=uuid.uuid4().hex,
        **extra,
    )
    return env


def tagged_processes(tag: str) -> list[int]:
    """Every live process (not a zombie) started with this tag in its environment."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            tagged = f"SHIPDESK_TEST_TAG={tag}".encode() in (proc / "environ").read_bytes().split(b"\0")
            if tagged and (proc / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


def wait_for(predicate, timeout: float, what: str, log: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    pytest.fail(f"{what} within {timeout} s; log:\n{log.read_text()[-3000:]}")


def answers(url: str) -> bool:
    try:
        return urllib.request.urlopen(url, timeout=2).status == 200
    except OSError:
        return False


def stop_and_time(proc, env, signum, log) -> float:
    started = time.monotonic()
    os.killpg(proc.pid, signum)
    wait_for(lambda: not tagged_processes(env["SHIPDESK_TEST_TAG"]), 20, "every process did not exit", log)
    elapsed = time.monotonic() - started
    print(f"every process stopped {elapsed:.1f} s after {signal.Signals(signum).name}")
    return elapsed


@pytest.fixture(scope="module")
def migrated(tmp_path_factory) -> Path:
    """A migrated SQLite file, made once: each test starts from a copy."""
    path = tmp_path_factory.mktemp("migrated") / "db.sqlite3"
    env = environment(path.parent)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    return path


def copy_db(migrated: Path, tmp_path: Path) -> None:
    shutil.copy(migrated, tmp_path / "db.sqlite3")


def test_ctrl_c_in_make_run_stops_web_and_cluster_within_15_seconds(tmp_path, migrated, cleanup):
    copy_db(migrated, tmp_path)
    port = free_port()
    env = environment(tmp_path, PY=sys.executable, PORT=str(port), DEMO_ARGS="--orders 5")
    cleanup(env["SHIPDESK_TEST_TAG"])
    log = tmp_path / "run.log"
    with log.open("w") as out:  # its own session, as a terminal's foreground job is its own group
        proc = subprocess.Popen(
            ["bash", "scripts/run.sh"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    wait_for(
        lambda: answers(f"http://127.0.0.1:{port}/admin/login/"), 60, "the web server did not answer", log
    )
    wait_for(lambda: " running." in log.read_text(), 30, "the task cluster did not start", log)
    assert len(tagged_processes(env["SHIPDESK_TEST_TAG"])) >= 7  # script, web, supervisor, cluster (4+)

    elapsed = stop_and_time(proc, env, signal.SIGINT, log)  # what Ctrl-C sends: SIGINT to the group

    assert elapsed < 15, log.read_text()[-3000:]
    assert proc.wait(5) == 130
    said = log.read_text()
    # The demo's syncs keep the workers busy: a clean stop, or the grace period ran out.
    assert "Stopping the task cluster (up to 10 s" in said
    assert "has stopped" in said or "still busy after 10 s: killed" in said
    assert not answers(f"http://127.0.0.1:{port}/admin/login/")


def test_a_group_sigterm_stops_a_busy_cluster_within_its_grace_period(tmp_path, migrated, cleanup):
    copy_db(migrated, tmp_path)
    env = environment(tmp_path, Q_STOP_SECONDS="3")
    cleanup(env["SHIPDESK_TEST_TAG"])
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from django_q.tasks import async_task; async_task('time.sleep', 120)",
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    log = tmp_path / "cluster.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "config.cluster"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    wait_for(lambda: "processing" in log.read_text(), 30, "the task did not start", log)

    # SIGTERM to every process of the group: honcho, `kill -- -PGID`, systemd's default KillMode.
    elapsed = stop_and_time(proc, env, signal.SIGTERM, log)

    assert 3 <= elapsed < 6, log.read_text()
    assert "still busy after 3 s: killed" in log.read_text()


def test_a_killed_supervisor_takes_its_cluster_down(tmp_path, migrated, cleanup):
    copy_db(migrated, tmp_path)
    env = environment(tmp_path)
    cleanup(env["SHIPDESK_TEST_TAG"])
    log = tmp_path / "cluster.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "config.cluster"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    wait_for(lambda: " running." in log.read_text(), 30, "the task cluster did not start", log)

    proc.kill()  # SIGKILL to the supervisor alone: honcho after 5 s, an OOM kill
    proc.wait()
    wait_for(
        lambda: not tagged_processes(env["SHIPDESK_TEST_TAG"]), 5, "the cluster outlived its supervisor", log
    )


@pytest.mark.parametrize("unit", ["shipdesk-web@.service", "shipdesk-worker@.service"])
def test_the_systemd_units_stop_the_main_process_first_and_wait_longer_than_the_cluster(unit):
    from configparser import ConfigParser

    from django.conf import settings

    parser = ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(ROOT / "deploy" / "systemd" / unit)
    service = parser["Service"]
    assert service["KillMode"] == "mixed"
    assert int(service["TimeoutStopSec"]) > settings.Q_STOP_SECONDS + 5
    assert service["Environment"] == "DJANGO_SETTINGS_MODULE=config.settings"
    if "worker" in unit:
        assert service["ExecStart"].endswith("python -m config.cluster")
