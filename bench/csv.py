"""`make bench NAME=csv`: a 100,000-row "record shipments" file, ours against django-import-export's default.

Ours: the whole staff path after the upload (the file stored in media storage, checked once,
confirmed, imported: shipments, fulfilments, order events, orders marked shipped, pushes
queued for the cluster). The default: a plain `ModelResource` of Shipment with default settings
(row by row, `import_data`, one real pass: the admin would also run a dry-run pass first) over
rows of the same shape, plus the `id` and `idempotency_key` columns such a resource needs. The
default is measured on BENCH_CSV_DEFAULT_ROWS rows (10,000, on orders of their own, half just
before ours and half just after) and extrapolated linearly to the full file, which the sentence
says.

Each of our imports runs in a child interpreter of its own (`python -m bench.csv --ours`), which
sets Django up on the same database and does nothing but the import: the peak resident set
reported (`peak_mb`, VmHWM) is Shipdesk's import alone, not the migrations, the 210,000 orders
made for the run, or django-import-export's rows, which this process holds (its own peak is
reported beside, `bench_process_peak_mb`). The Python heap peak (tracemalloc) is taken in a
second child on another 100,000 orders: tracing slows Python and inflates the resident set, so
the timed, measured run is untraced.

Goal on both databases: default time / ours >= 10, and our peak < 150 MB.
It runs on a database of its own, SQLite or PostgreSQL (bench.common.database_url)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import database_url, report, rss_mb, setup_django, timed, traced_peak

ROWS = int(os.environ.get("BENCH_CSV_ROWS", 100_000))
DEFAULT_ROWS = min(ROWS, int(os.environ.get("BENCH_CSV_DEFAULT_ROWS", 10_000)))
HEADER = "order_number,channel,carrier,tracking_number,ship_date\n"


def _database() -> tuple[str, Path]:
    """Its own fresh database (bench.common) and a folder for the files and media."""
    return database_url("csv"), Path(tempfile.mkdtemp(prefix="bench-csv-files-"))


def _orders(channel_name: str, first: int, count: int = ROWS) -> None:
    from django.utils import timezone

    from channels.models import Channel
    from orders.models import Order

    channel = Channel.objects.create(
        name=channel_name, kind="etsy", api_base_url="http://127.0.0.1:9/none", shop_id=channel_name
    )
    now = timezone.now()
    for start in range(first, first + count, 5000):
        batch = [
            Order(
                channel=channel,
                external_id=str(n),
                order_number=str(n),
                ordered_at=now,
                currency="GBP",
                ship_line1="1 High Street",
                ship_city="Leeds",
                ship_postal_code="LS1 4AB",
                ship_country="GB",
            )
            for n in range(start, min(start + 5000, first + count))
        ]
        for o in batch:
            o.fill_normal_forms()
        Order.objects.bulk_create(batch)


def _write_file(path: Path, channel_name: str, first: int, count: int = ROWS) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write(HEADER)
        for n in range(first, first + count):
            f.write(f"{n},{channel_name},Royal Mail,RM{n:09d}GB,2025-11-20\n")


def _settings_for_the_run() -> None:
    """Checked and imported in this process (as the task would); the pushes to the channel are
    queued for the cluster, not sent here."""
    from django.conf import settings
    from django_q.conf import Conf

    settings.CSV_INLINE_MAX_BYTES = settings.CSV_INLINE_MAX_ROWS = 10**12
    settings.CSV_MAX_ROWS = max(settings.CSV_MAX_ROWS, ROWS)
    Conf.SYNC = False


def _ours_in_a_child(path: Path, *, traced: bool = False) -> dict:
    """Our import of `path` in an interpreter of its own on this run's database: its time, its
    whole-process peak resident set, and (traced) its Python heap peak."""
    from bench.common import _current

    child = subprocess.run(
        [sys.executable, "-m", "bench.csv", "--ours", str(path)] + (["--traced"] if traced else []),
        cwd=Path(__file__).resolve().parent.parent,
        env={**os.environ, "DATABASE_URL": _current["url"], "BENCH_KEEP_DB": "1"},
        capture_output=True,
        text=True,
    )
    lines = [ln for ln in child.stdout.splitlines() if ln.startswith("{")]
    if child.returncode or not lines:
        raise SystemExit(
            f"our import failed (exit {child.returncode}):\n{child.stdout[-2000:]}{child.stderr[-4000:]}"
        )
    return json.loads(lines[-1])


def child_main(path: Path, traced: bool) -> None:
    """`python -m bench.csv --ours FILE [--traced]`: one import, nothing else, then a JSON line."""
    setup_django(os.environ["DATABASE_URL"])
    from django.contrib.auth import get_user_model

    _settings_for_the_run()
    user = get_user_model().objects.get(username="bench")
    ready_mb = rss_mb()
    if traced:
        with traced_peak() as memory, timed() as t:
            _ours(path, user)
    else:
        memory = {"peak_mb": None}
        with timed() as t:
            _ours(path, user)
    print(
        json.dumps(
            {"seconds": t["seconds"], "peak_mb": rss_mb(), "ready_mb": ready_mb, "heap_mb": memory["peak_mb"]}
        )
    )


def _ours(path: Path, user) -> dict:
    """The staff path: store the upload, check it, confirm it, import it."""
    from django.core.files import File

    from shipping import csv_import

    with path.open("rb") as f:
        job = csv_import.start_import(mode="record", upload=File(f, name=path.name), actor=user)
    job.refresh_from_db()
    assert job.params["phase"] == "preview" and job.params["counts"] == {"new": ROWS}, (
        job.message,
        job.params,
    )
    csv_import.confirm_job(job, actor=user)
    job.refresh_from_db()
    assert job.params["phase"] == "done" and job.params["recorded"] == ROWS, job.message
    return {"job": job.pk}


def _default(path: Path, rows: range) -> float:
    """django-import-export's default: a ModelResource, row by row, on `rows` of the file."""
    import tablib
    from import_export import fields, resources
    from import_export.widgets import ForeignKeyWidget

    from orders.models import Order
    from shipping.models import Shipment

    class ShipmentResource(resources.ModelResource):
        # by the indexed normal form (plain digits here, the same as the number): a fair lookup
        order = fields.Field(
            attribute="order", column_name="order_number", widget=ForeignKeyWidget(Order, "order_number_norm")
        )
        tracking_company = fields.Field(attribute="tracking_company", column_name="carrier")

        class Meta:
            model = Shipment
            fields = ("id", "order", "tracking_number", "tracking_company", "idempotency_key")

    with path.open(encoding="utf-8") as f:
        lines = f.readlines()
    text = "id,idempotency_key," + lines[0] + "".join(f",default-{i}," + lines[1 + i] for i in rows)
    before = Shipment.objects.filter(idempotency_key__startswith="default-").count()
    with timed() as t:
        dataset = tablib.Dataset().load(text, format="csv")
        result = ShipmentResource().import_data(dataset, dry_run=False)
    assert not result.has_errors() and not result.has_validation_errors(), result.base_errors
    assert Shipment.objects.filter(idempotency_key__startswith="default-").count() == before + len(rows)
    return t["seconds"]


def run():
    url, tmp = _database()
    try:
        _run(url, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run(url: str, tmp: Path) -> None:
    os.environ["MEDIA_ROOT"] = str(tmp / "media")
    setup_django(url)
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from tests.factories import UserFactory

    call_command("migrate", verbosity=0)
    settings.MEDIA_ROOT = str(tmp / "media")
    _settings_for_the_run()
    UserFactory(username="bench")

    _orders("Bench-A", 10_000_000)
    _orders("Bench-B", 20_000_000)
    _orders("Bench-D", 30_000_000, DEFAULT_ROWS)
    file_a, file_b, file_d = tmp / "record-a.csv", tmp / "record-b.csv", tmp / "record-d.csv"
    _write_file(file_a, "Bench-A", 10_000_000)
    _write_file(file_b, "Bench-B", 20_000_000)
    _write_file(file_d, "Bench-D", 30_000_000, DEFAULT_ROWS)

    # The default's rows are timed half before and half after ours, on orders of their own, so
    # a machine busier at one moment than another weighs on both sides alike.
    half = DEFAULT_ROWS // 2
    default_seconds = _default(file_d, range(half))
    connection.close()  # the child's transactions see every row this process wrote
    ours = _ours_in_a_child(file_a)
    default_seconds += _default(file_d, range(half, DEFAULT_ROWS))
    connection.close()
    memory = _ours_in_a_child(file_b, traced=True)
    t_ours = {"seconds": ours["seconds"]}
    rss_growth = ours["peak_mb"] - ours["ready_mb"]

    default_full = default_seconds * ROWS / DEFAULT_ROWS
    ours_rate = ROWS / t_ours["seconds"]
    default_rate = DEFAULT_ROWS / default_seconds
    ratio = default_full / t_ours["seconds"]
    measured = (
        "measured"
        if DEFAULT_ROWS == ROWS
        else (f"measured on {DEFAULT_ROWS:,} rows and extrapolated linearly to {default_full:,.0f} s")
    )
    report(
        "csv",
        value=ours_rate,
        unit="rows/s",
        baseline=default_rate,
        ratio=ratio,
        goal="ratio (default time / ours) >= 10; peak RSS < 150 MB",
        peak_mb=ours["peak_mb"],
        heap_mb=round(memory["heap_mb"], 1),
        sentence=(
            f"Recorded {ROWS:,} shipments from one CSV file (checked, confirmed, imported, pushes queued) in "
            f"{t_ours['seconds']:.1f} s, {ours_rate:,.0f} rows/s, against {default_rate:,.0f} rows/s for "
            f"django-import-export's default row-by-row ModelResource ({measured}): {ratio:.1f}x faster "
            f"(goal >= 10x). The import's own process peaked at {ours['peak_mb']:.0f} MB resident (goal < 150 MB; "
            f"{ours['ready_mb']:.0f} MB of it Django set up before the import, {rss_growth:.0f} MB the import's "
            f"growth; Python heap {memory['heap_mb']:.0f} MB). "
            f"Database: {connection.vendor}."
        ),
        rows=ROWS,
        default_rows=DEFAULT_ROWS,
        ours_seconds=round(t_ours["seconds"], 2),
        default_seconds_measured=round(default_seconds, 2),
        default_seconds_full=round(default_full, 1),
        rss_growth_mb=round(rss_growth, 1),
        ready_mb=round(ours["ready_mb"], 1),
        bench_process_peak_mb=round(rss_mb(), 1),
        peak_process="the import alone, in a child interpreter",
        goal_met=bool(ratio >= 10 and ours["peak_mb"] < 150),
    )


if __name__ == "__main__":
    if "--ours" in sys.argv:
        child_main(Path(sys.argv[sys.argv.index("--ours") + 1]), "--traced" in sys.argv)
