"""`make start` (scripts/start.sh: the Procfile through honcho) runs the demo as in production:
two gunicorn web processes and a task cluster. The sandbox answers the same on either web process,
the returns-portal rate limit is one shared budget (CACHE_URL), and Ctrl-C stops everything."""

import http.cookiejar
import json
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.ops.test_stopping import (
    ROOT,
    answers,
    environment,
    free_port,
    stop_and_time,
    tagged_processes,
    wait_for,
)

pytestmark = pytest.mark.slow


def etsy_receipts(port: int) -> list:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/sandbox/etsy/v3/application/shops/10001/receipts?limit=100",
        headers={"x-api-key": "demo-keystring:demo-secret", "Authorization": "Bearer demo-token"},
    )
    return json.load(urllib.request.urlopen(request, timeout=10))["results"]


def portal_attempt(port: int) -> int:
    """One wrong order number typed into the demo brand's returns portal: the answer's status."""
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), NoRedirect()
    )
    url = f"http://127.0.0.1:{port}/returns/northern-goods/"
    page = opener.open(url, timeout=10).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": token, "order_number": "NOPE-1", "postal_code": "ZZ1 1ZZ"}
    ).encode()
    try:
        return opener.open(
            urllib.request.Request(url, data=form, headers={"Referer": url}), timeout=10
        ).status
    except urllib.error.HTTPError as exc:
        return exc.code


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_make_start_serves_one_demo_from_two_web_processes_and_stops_on_ctrl_c(tmp_path, cleanup):
    port = free_port()
    env = environment(
        tmp_path,
        BIN=str(Path(sys.executable).parent),
        PORT=str(port),
        WEB="2",
        WORKERS="1",
        WEB_CONCURRENCY="1",
        DEMO_ARGS="--orders 3 --no-sync",
        RETURNS_LOOKUP_RATE_PER_IP="5/minute",
    )
    cleanup(env["SHIPDESK_TEST_TAG"])
    log = tmp_path / "start.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            ["bash", "scripts/start.sh"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    web1, web2 = port, port + 1  # honcho: web.1 on PORT, web.2 on PORT+1
    for web in (web1, web2):
        wait_for(
            lambda web=web: answers(f"http://127.0.0.1:{web}/healthz"), 60, f"port {web} did not answer", log
        )
    wait_for(lambda: " running." in log.read_text(), 30, "the task cluster did not start", log)

    # The demo's channels point at web.1; web.2 serves the same sandbox shop.
    first, second = etsy_receipts(web1), etsy_receipts(web2)
    assert first and [r["receipt_id"] for r in first] == [r["receipt_id"] for r in second]

    # Five lookups a minute per address, counted across both web processes (CACHE_URL is shared).
    statuses = [portal_attempt(web1 if i % 2 else web2) for i in range(6)]
    assert statuses == [303] * 5 + [429], statuses

    elapsed = stop_and_time(proc, env, signal.SIGINT, log)
    assert elapsed < 15, log.read_text()[-3000:]
    assert not tagged_processes(env["SHIPDESK_TEST_TAG"])
