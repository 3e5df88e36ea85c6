"""`make bench NAME=booking`: booking 1,000 orders with the Sendcloud sandbox, end to end
through the task cluster, against the carrier sandbox alone answering the same requests.

Setup (not timed): a throwaway SQLite database and media folder, a live server thread serving
the Sendcloud sandbox, the Etsy sandbox served by its own process (in life the marketplace is
not the carrier's server), 1,000 Etsy sandbox receipts imported as orders, a Sendcloud account.
Timed: the "Book shipments" job (what the admin action starts) run by a real django-q2 cluster
(`manage.py qcluster`, BENCH_BOOKING_WORKERS workers): rules, one POST /parcels with
request_label and one label download per order, shipments, events, fulfilments, then the merged
label PDF and the packing slips. The channel pushes the bookings queue run on the same cluster
meanwhile; the time until Etsy has all 1,000 is reported for information.
Baseline: the same 1,000 parcel requests (and label downloads) sent to a fresh account of the
same carrier server by a client in its own process with as many threads as the cluster has
workers, once before and once after the booking run (the mean: a shared machine's load moves).
Goal: total / carrier-alone < 2, and the merged PDF of 1,000 labels built in under a tenth of
the total.

What the ratio isolates: Shipdesk's own cost. The stand-in hands out stock labels (one PDF
rendered once per size, sandbox/sendcloud/documents.py) on both runs: a real carrier draws its
labels on its own machines, and drawing 1,000 of them here would take the two cores Shipdesk is
measured on, more so while the cluster's workers want them than when the client alone waits.
Shipdesk still downloads, stores and merges a real PDF per parcel. The stand-in enforces
Sendcloud's documented rate limits (POST 100/min with bursts of 15/s, GET 1000/min, an empty 429
over them; tests/shipping/test_sendcloud.py); they are off for both runs here, as at the real
100 POST/min both runs would last ten minutes whatever Shipdesk does and the ratio would say 1.

The measuring happens in a child interpreter: it needs its own settings (a real cluster, not the
test settings' inline tasks) whatever other benchmark ran before in this process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.common import database_url, report, serve_in_thread

ROOT = Path(__file__).resolve().parent.parent
ORDERS = int(os.environ.get("BENCH_BOOKING_ORDERS", 1000))
WORKERS = int(os.environ.get("BENCH_BOOKING_WORKERS", 4))
TIMEOUT = int(os.environ.get("BENCH_BOOKING_TIMEOUT", 1200))


def run() -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="bench-booking-"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": "bench-booking",
        "DEBUG": "false",
        "HTTPS": "false",
        "SANDBOX_ENABLED": "true",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": database_url("booking"),
        "MEDIA_ROOT": str(tmp / "media"),
        "Q_WORKERS": str(WORKERS),
        "Q_BROKER": "orm",
        "LOG_LEVEL": "WARNING",
        "EMAIL_URL": "consolemail://",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    child = subprocess.run(
        [sys.executable, "-m", "bench.booking", "--child"],
        cwd=ROOT,
        env=env,
        text=True,
        capture_output=True,
        timeout=TIMEOUT,
    )
    lines = [ln for ln in child.stdout.splitlines() if ln.startswith("{")]
    if child.returncode != 0 or not lines:
        print(child.stdout[-3000:], child.stderr[-5000:], sep="\n")
        raise SystemExit(f"bench booking failed (exit {child.returncode})")
    r = json.loads(lines[-1])
    ratio = r["total_seconds"] / r["carrier_seconds"]
    merge_share = r["merge_seconds"] / r["total_seconds"]
    sentence = (
        f"Booked {r['booked']} of {r['orders']} orders with the Sendcloud sandbox through the task cluster "
        f"({r['workers']} workers) in {r['total_seconds']:.1f}s ({r['booked'] / r['total_seconds']:.1f} orders/s), "
        f"merged PDF and packing slips included; the carrier sandbox alone answered the same requests in "
        f"{r['carrier_seconds']:.1f}s (mean of {r['carrier_before']:.1f}s before and {r['carrier_after']:.1f}s "
        f"after): ratio {ratio:.2f} (goal < 2). The merged PDF of {r['labels']} labels took "
        f"{r['merge_seconds']:.2f}s, {merge_share:.1%} of the total (goal < 10%); four to an A4 sheet "
        f"{r['merge_a4_seconds']:.2f}s. Etsy had every tracking number {r['pushed_seconds']:.1f}s after the start."
    )
    return report(
        "booking",
        value=r["booked"] / r["total_seconds"],
        unit="orders/s",
        baseline=r["orders"] / r["carrier_seconds"],
        ratio=ratio,
        goal="total / carrier-alone < 2; merge < 10% of total",
        peak_mb=r["peak_mb"],
        sentence=sentence,
        total_seconds=round(r["total_seconds"], 2),
        carrier_seconds=round(r["carrier_seconds"], 2),
        carrier_before=round(r["carrier_before"], 2),
        carrier_after=round(r["carrier_after"], 2),
        merge_seconds=round(r["merge_seconds"], 3),
        merge_share=round(merge_share, 4),
        merge_a4_seconds=round(r["merge_a4_seconds"], 3),
        pushed_seconds=round(r["pushed_seconds"], 2),
        booked_seconds=round(r["booked_seconds"], 2),
        failed=r["failed"],
        workers=r["workers"],
        goal_met=bool(ratio < 2 and merge_share < 0.1),
    )


# -- the child ---------------------------------------------------------------------------------
def _serve_elsewhere(env: dict) -> tuple[subprocess.Popen, str]:
    """The marketplace's sandbox in its own process, as Etsy is not the carrier's server: the
    channel pushes must not queue behind the carrier's requests in one interpreter."""
    import socket

    import requests

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env={**env, "CONN_MAX_AGE": "0"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            requests.get(f"{base}/sandbox/etsy/v3/application/shipping-carriers", timeout=2)
            return process, base
        except requests.ConnectionError:
            time.sleep(0.2)
    process.terminate()
    raise RuntimeError("the marketplace sandbox did not start within a minute")


def _setup(carrier_base: str, etsy_base: str):
    from channels.models import Channel
    from orders.importing import import_orders
    from orders.models import Order
    from sandbox.generators.etsy import generate
    from sandbox.sendcloud import store_for_account
    from sandbox.stores import store_for_channel
    from shipping.models import Address, Brand, CarrierAccount

    leeds = Address.objects.create(
        label="Leeds warehouse",
        name="Northern Goods Ltd",
        line1="Unit 4, Canal Wharf",
        city="Leeds",
        postal_code="LS11 5PS",
        country="GB",
        email="ship@example.com",
    )
    Brand.objects.create(name="Northern Goods", slug="northern-goods", sender_address=leeds, is_default=True)
    account = CarrierAccount.objects.create(
        name="Sendcloud",
        kind="sendcloud",
        api_base_url=f"{carrier_base}/sandbox/sendcloud/api/v2",
        is_default=True,
        credentials={"public_key": "bench-public", "secret_key": "bench-secret"},
        default_service="UPS Standard 0-70kg",
    )  # ships to every country the Etsy sandbox sells to
    store_for_account(account, post_per_minute=0, burst_per_second=0, get_per_minute=0, stock_labels=True)
    channel = Channel.objects.create(
        name="Etsy-Main",
        kind="etsy",
        api_base_url=f"{etsy_base}/sandbox/etsy/v3/application",
        shop_id="10001",
        credentials={"keystring": "bench-ks", "shared_secret": "bench-secret", "access_token": "bench-token"},
        sync_mode=Channel.SyncMode.MANUAL,
        notify_customer=True,
    )
    generate(store_for_channel(channel), ORDERS, mix=False, seed=11)
    import_orders(channel)
    ids = list(Order.objects.awaiting_shipment().order_by("id").values_list("pk", flat=True))
    return account, ids


def _parcel_bodies(account, ids: list[int]) -> list[dict]:
    """The parcel requests the adapter sends for these orders (the same rules, address split,
    weight and reference), built without booking anything."""
    from orders.models import Order
    from shipping import rules
    from shipping.booking import booking_reference, party, recipient
    from shipping.carriers import sendcloud_mapping as m
    from shipping.carriers.base import BookingRequest

    ruleset = rules.RuleSet()
    adapter = account.adapter()
    bodies = []
    for order in (
        Order.objects.select_related("channel").prefetch_related("lines").filter(pk__in=ids).order_by("pk")
    ):
        decision = rules.resolve(order, ruleset=ruleset)
        request = BookingRequest(
            reference=booking_reference(order)[0],
            order_number=str(order),
            sender=party(decision.sender_address),
            recipient=recipient(order),
            weight_g=rules.order_weight(order),
            service=decision.service,
            value=order.total,
            currency=order.currency,
        )
        options = adapter.shipping_methods(sender_address_id=None, to_country=order.ship_country)
        method = m.pick_method(options, request.service, request.weight_g)
        bodies.append(m.parcel_body(request, method_id=int(method.code), sender_address_id=None))
    return bodies


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


def _wait(check, *, timeout: float, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(step)
    raise TimeoutError("waited too long")


def _carrier_alone(base: str, bodies: list[dict], key: str) -> float:
    """The carrier alone: the same parcel requests and label downloads against a fresh sandbox
    account, from a client in its own process (not sharing the server's interpreter), as many at
    a time as the cluster has workers."""
    from sandbox.models import SandboxStore

    SandboxStore.objects.create(
        kind="sendcloud",
        key=key,
        credentials={"secret_key": f"{key}-secret"},
        settings={"post_per_minute": 0, "burst_per_second": 0, "get_per_minute": 0, "stock_labels": True},
    )
    path = Path(tempfile.mkstemp(suffix=".json")[1])
    path.write_text(
        json.dumps(
            {
                "url": f"{base}/sandbox/sendcloud/api/v2/parcels",
                "auth": [key, f"{key}-secret"],
                "bodies": bodies,
                "workers": WORKERS,
            }
        )
    )
    out = subprocess.run(
        [sys.executable, "-m", "bench.booking", "--replay", str(path)],
        cwd=ROOT,
        text=True,
        capture_output=True,
        check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def replay_main(path: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    import requests

    spec = json.loads(Path(path).read_text())
    local = threading.local()

    def one(body):
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        answer = session.post(spec["url"], json=body, auth=tuple(spec["auth"]), timeout=60)
        answer.raise_for_status()
        label = session.get(
            answer.json()["parcel"]["label"]["label_printer"], auth=tuple(spec["auth"]), timeout=60
        )
        assert label.content.startswith(b"%PDF")

    start = time.perf_counter()
    with ThreadPoolExecutor(spec["workers"]) as pool:
        list(pool.map(one, spec["bodies"]))
    print(time.perf_counter() - start)


def child_main() -> None:
    env = dict(os.environ)
    os.environ["CONN_MAX_AGE"] = "0"  # the server's request threads close their connections
    from bench.common import rss_mb, setup_django

    setup_django(os.environ["DATABASE_URL"])
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.db import transaction
    from django_q.models import Schedule

    from orders.models import Fulfilment
    from shipping import bulk, labels
    from shipping.models import BulkJob, Shipment

    Schedule.objects.all().delete()  # no syncs or polling in the middle of the measurement
    server, base = serve_in_thread()
    etsy, etsy_base = _serve_elsewhere(env)
    try:
        account, ids = _setup(base, etsy_base)
        bodies = _parcel_bodies(account, ids)
        carrier_before = _carrier_alone(base, bodies, "alone-before")
        cluster = _start_cluster(env)
        try:
            start = time.perf_counter()
            with transaction.atomic():
                job = bulk.start_bulk_booking(order_ids=ids, layout="a6")
            _wait(
                lambda: BulkJob.objects.filter(pk=job.pk, status__in=["merging", "done", "failed"]).exists(),
                timeout=900,
                step=0.05,
            )
            booked_at = time.perf_counter() - start  # every chunk done; the print files are being joined
            job = _wait(
                lambda: BulkJob.objects.filter(pk=job.pk, status__in=["done", "failed"]).first(),
                timeout=900,
                step=0.05,
            )
            total = time.perf_counter() - start
            _wait(lambda: not Fulfilment.objects.filter(state="pending").exists(), timeout=900, step=0.25)
            pushed = time.perf_counter() - start
        finally:
            cluster.terminate()
            cluster.wait(timeout=60)
        carrier_after = _carrier_alone(base, bodies, "alone-after")
    finally:
        etsy.terminate()
        etsy.wait(timeout=30)
        server.shutdown()

    documents = []
    for shipment in Shipment.objects.order_by("id"):
        with shipment.label.open("rb") as f:
            documents.append(f.read())
    t = time.perf_counter()
    merged = labels.merge_labels(documents, layout="a6")
    merge_seconds = time.perf_counter() - t
    t = time.perf_counter()
    labels.merge_labels(documents, layout="a4")
    merge_a4 = time.perf_counter() - t
    assert merged.startswith(b"%PDF")
    print(
        json.dumps(
            {
                "orders": len(ids),
                "booked": job.done,
                "failed": job.failed,
                "labels": len(documents),
                "total_seconds": total,
                "booked_seconds": booked_at,
                "pushed_seconds": pushed,
                "carrier_seconds": (carrier_before + carrier_after) / 2,
                "carrier_before": carrier_before,
                "carrier_after": carrier_after,
                "merge_seconds": merge_seconds,
                "merge_a4_seconds": merge_a4,
                "workers": WORKERS,
                "peak_mb": rss_mb(),
                "job_message": job.message,
                "sent": Fulfilment.objects.filter(state="sent").count(),
            }
        )
    )


if __name__ == "__main__":
    if "--child" in sys.argv:
        child_main()
    elif "--replay" in sys.argv:
        replay_main(sys.argv[sys.argv.index("--replay") + 1])
    else:
        run()
