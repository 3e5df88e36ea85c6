"""`make bench NAME=webhooks`: from a shipment booked to its webhook received, with one worker.

An endpoint subscribed to `shipment.booked` points at the sandbox receiver (which verifies the
Standard Webhooks signature and stores what it got) served by this process. A real django-q2
cluster (`manage.py qcluster`, one worker, the ORM broker) runs the nudge each booking queues on
commit. Orders come from the Etsy sandbox, booked one at a time with the self-print carrier
(the channel push is queued on the same single worker, as in production). For each booking:
the shipment row's `created_at` (inside the booking's transaction, so a little before it commits)
to the receiver's row for that webhook. Median and p99; goal p99 < 2 s.

Baseline: the same signed POST sent straight to the receiver from this process (no queue, no
worker), median. The measuring happens in a child interpreter with production settings (a real
cluster, not the test settings' inline tasks)."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import database_url, report

ROOT = Path(__file__).resolve().parent.parent
BOOKINGS = int(os.environ.get("BENCH_WEBHOOKS_BOOKINGS", 100))
TIMEOUT = int(os.environ.get("BENCH_WEBHOOKS_TIMEOUT", 900))
GOAL_P99 = 2.0


def run() -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": "bench-webhooks",
        "DEBUG": "false",
        "HTTPS": "false",
        "SANDBOX_ENABLED": "true",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": database_url("webhooks"),
        "MEDIA_ROOT": str(tmp / "media"),
        "Q_WORKERS": "1",
        "Q_BROKER": "orm",
        "LOG_LEVEL": "WARNING",
        "EMAIL_URL": "consolemail://",
        "WEBHOOK_ALLOW_PRIVATE_URLS": "true",  # the receiver is on 127.0.0.1
        "PYTHONPATH": str(ROOT),
    }
    child = subprocess.run(
        [sys.executable, "-m", "bench.webhooks", "--child"],
        cwd=ROOT,
        env=env,
        text=True,
        capture_output=True,
        timeout=TIMEOUT,
    )
    lines = [ln for ln in child.stdout.splitlines() if ln.startswith("{")]
    if child.returncode != 0 or not lines:
        print(child.stdout[-3000:], child.stderr[-5000:], sep="\n")
        raise SystemExit(f"bench webhooks failed (exit {child.returncode})")
    r = json.loads(lines[-1])
    ratio = r["p99"] / r["direct_median"]
    sentence = (
        f"{r['bookings']} shipments booked one at a time: their shipment.booked webhook reached the sandbox "
        f"receiver (signature verified) through the task cluster (1 worker, ORM broker) after "
        f"{r['median']:.3f}s median, {r['p99']:.3f}s p99, {r['max']:.3f}s at worst (goal p99 < {GOAL_P99:.0f}s); "
        f"the same signed POST sent directly took {r['direct_median'] * 1000:.1f}ms median."
    )
    return report(
        "webhooks",
        value=r["p99"],
        unit="s (p99, booked to received)",
        baseline=r["direct_median"],
        ratio=ratio,
        goal=f"p99 < {GOAL_P99:.0f} s",
        peak_mb=r["peak_mb"],
        sentence=sentence,
        median_seconds=round(r["median"], 4),
        p99_seconds=round(r["p99"], 4),
        max_seconds=round(r["max"], 4),
        bookings=r["bookings"],
        workers=1,
        goal_met=bool(r["p99"] < GOAL_P99),
    )


# -- the child ---------------------------------------------------------------------------------


def _start_cluster(env: dict) -> subprocess.Popen:
    from django_q.tasks import async_task, fetch

    cluster = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env={**env, "CONN_MAX_AGE": "60"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    task_id = async_task("math.floor", 1.5)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if fetch(task_id) is not None:
            return cluster
        time.sleep(0.2)
    cluster.terminate()
    raise RuntimeError("the task cluster did not start within a minute")


def _setup(base: str):
    from api.models import WebhookEndpoint
    from channels.models import Channel
    from orders.importing import import_orders
    from orders.models import Order
    from sandbox.generators.etsy import generate
    from sandbox.stores import store_for_channel
    from sandbox.webhooks import receiver
    from shipping.models import Address, Brand, CarrierAccount

    leeds = Address.objects.create(
        label="Leeds warehouse",
        name="Northern Goods Ltd",
        line1="Unit 4, Canal Wharf",
        city="Leeds",
        postal_code="LS11 5PS",
        country="GB",
    )
    Brand.objects.create(name="Northern Goods", slug="northern-goods", sender_address=leeds, is_default=True)
    CarrierAccount.objects.create(
        name="Royal Mail (own account)",
        kind=CarrierAccount.Kind.SELFPRINT,
        default_service="Tracked 48",
        tracking_company="Royal Mail",
        is_default=True,
    )
    channel = Channel.objects.create(
        name="Etsy-Main",
        kind="etsy",
        api_base_url=f"{base}/sandbox/etsy/v3/application",
        shop_id="10001",
        credentials={"keystring": "bench-ks", "shared_secret": "bench-secret", "access_token": "bench-token"},
        sync_mode=Channel.SyncMode.MANUAL,
    )
    generate(store_for_channel(channel), BOOKINGS + 5, mix=False, seed=17)
    import_orders(channel)
    endpoint = WebhookEndpoint.objects.create(
        url=f"{base}/sandbox/webhooks/bench/", description="bench", event_types=["shipment.booked"]
    )
    store = receiver("bench", endpoint.secret)
    ids = list(Order.objects.awaiting_shipment().order_by("id").values_list("pk", flat=True))
    return endpoint, store, ids


def _direct(endpoint, n: int = 50) -> float:
    """The same signed POST straight to the receiver: what the network and receiver cost."""
    import requests
    from django.utils import timezone
    from standardwebhooks.webhooks import Webhook

    from api.models import new_webhook_id

    hook, times = Webhook(endpoint.secret), []
    body = json.dumps({"type": "shipment.booked", "data": {"direct": True}})
    for _ in range(n):
        msg_id, now = new_webhook_id(), timezone.now()
        headers = {
            "content-type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": hook.sign(msg_id, now, body.encode()),
        }
        t = time.perf_counter()
        response = requests.post(endpoint.url, data=body, headers=headers, timeout=10, allow_redirects=False)
        times.append(time.perf_counter() - t)
        assert response.status_code == 204, response.text
    return statistics.median(times)


def _child() -> None:
    os.environ["CONN_MAX_AGE"] = "0"  # the server's request threads close their connections
    from bench.common import rss_mb, serve_in_thread, setup_django

    setup_django(os.environ["DATABASE_URL"])
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django_q.models import Schedule

    from api.models import WebhookDelivery
    from orders.models import Order, OrderEvent
    from sandbox.models import SandboxRequest
    from shipping.booking import book_shipment

    # Only the webhook dispatcher stays (the nudge must do the work; the dispatcher is the net).
    Schedule.objects.exclude(name="dispatch_due_webhooks").delete()
    server, base = serve_in_thread()
    try:
        endpoint, store, ids = _setup(base)
        direct = _direct(endpoint)
        cluster = _start_cluster(dict(os.environ))
        latencies = []
        try:
            for pk in ids[:BOOKINGS]:
                shipment = book_shipment(order=Order.objects.select_related("channel").get(pk=pk))
                event = OrderEvent.objects.get(kind="booked", data__shipment_id=shipment.pk)
                webhook_id = WebhookDelivery.objects.get(event_id=event.pk).webhook_id
                deadline = time.monotonic() + 30
                got = None
                while got is None and time.monotonic() < deadline:
                    got = (
                        SandboxRequest.objects.filter(store=store, parsed__webhook_id=webhook_id)
                        .values_list("created_at", flat=True)
                        .first()
                    )
                    if got is None:
                        time.sleep(0.01)
                if got is None:
                    raise RuntimeError(f"webhook {webhook_id} not received within 30 s")
                latencies.append((got - shipment.created_at).total_seconds())
        finally:
            cluster.terminate()
            cluster.wait(timeout=60)
        verified = SandboxRequest.objects.filter(store=store, parsed__verified=True).count()
        assert verified >= len(latencies), (verified, len(latencies))
    finally:
        server.shutdown()
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
    print(
        json.dumps(
            {
                "bookings": len(latencies),
                "median": statistics.median(ordered),
                "p99": p99,
                "max": ordered[-1],
                "direct_median": direct,
                "peak_mb": rss_mb(),
            }
        )
    )


if __name__ == "__main__":
    if "--child" in sys.argv:
        _child()
