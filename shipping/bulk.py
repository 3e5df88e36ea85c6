"""Booking many orders at once as a background job, crash-safe: every order is a BulkJobItem
row that any worker can claim, and the rows are the truth. Tasks are only nudges ("work on
whatever is due in this job"): a worker claims one item at a time with a conditional UPDATE,
books it (idempotent through the item's booking reference) and records the outcome in its own
transaction at once. An item whose worker died (its heartbeat went stale) is claimed again;
the every-minute dispatcher (resume_jobs) nudges every unfinished job, so a job killed at any
moment finishes on the surviving workers. Counts are derived from the rows. When no item is
left, one worker claims the merge: one label PDF (A6 per page, or four to an A4 sheet) and a
packing slip per order, in the order staff selected them."""

from __future__ import annotations

import logging
import os
import socket
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Count, Exists, F, Max, OuterRef, Q
from django.utils import timezone

from orders.models import Order
from shipping import labels, rules
from shipping.booking import LIVE, BookingError, book_shipment, booking_reference
from shipping.models import BulkJob, BulkJobItem, CarrierAccount, Shipment

log = logging.getLogger(__name__)

LAYOUTS = {
    "a6": "A6 labels, one per page (label printer)",
    "a4": "A4 sheets, four labels each (office printer)",
}
Item = BulkJobItem.State
OPEN_JOB = (BulkJob.Status.QUEUED, BulkJob.Status.RUNNING, BulkJob.Status.MERGING)
# Jobs whose work is BulkJobItem rows: a selection of orders, and a confirmed CSV "book" file
# (one item per row, with the row's own carrier, service, weight and package).
ITEM_KINDS = (BulkJob.Kind.BOOK_ORDERS, BulkJob.Kind.CSV_BOOK)


def worker_name() -> str:
    """Who holds a claim, in words staff can match to a machine and a process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def nudges_per_job() -> int:
    """How many tasks to queue for a job: enough to keep every worker of one cluster busy. More
    join in on the next dispatch (a nudge finding nothing to claim ends at once)."""
    return max(1, int(settings.Q_CLUSTER.get("workers") or 2))


def _stale_before():
    return timezone.now() - timedelta(seconds=settings.BULK_HEARTBEAT_STALE_SECONDS)


def start_bulk_booking(
    *,
    order_ids: list[int],
    actor=None,
    layout: str = "a6",
    carrier_account: CarrierAccount | None = None,
    retry_of: int | None = None,
) -> BulkJob:
    """Create the job and one item per order; it starts once the transaction commits."""
    ids = list(dict.fromkeys(int(i) for i in order_ids))
    with transaction.atomic():
        job = BulkJob.objects.create(
            kind=BulkJob.Kind.BOOK_ORDERS,
            created_by=actor,
            total=len(ids),
            params={
                "order_ids": ids,
                "layout": layout if layout in LAYOUTS else "a6",
                "carrier_account": carrier_account.pk if carrier_account else None,
                "retry_of": retry_of,
            },
        )
        _create_items(job, ids)
    transaction.on_commit(lambda: nudge(job.pk, count=min(len(ids), nudges_per_job()) or 1))
    return job


def _create_items(job: BulkJob, ids: list[int]) -> None:
    labels_by_id = {o.pk: str(o) for o in Order.objects.select_related("channel").filter(pk__in=ids)}
    BulkJobItem.objects.bulk_create(
        [
            BulkJobItem(
                job=job,
                order_id=i if i in labels_by_id else None,
                order_label=labels_by_id.get(i, f"#{i}"),
                position=n,
            )
            for n, i in enumerate(ids)
        ],
        ignore_conflicts=True,  # a job from before items existed gets them once (see run)
    )


def start_csv_booking(job: BulkJob, rows: list[dict]) -> None:
    """A confirmed CSV "book" file becomes one item per checked row (its booking choices in
    `options`), booked by the same crash-safe workers as a selection of orders."""
    with transaction.atomic():
        BulkJobItem.objects.bulk_create(
            [
                BulkJobItem(
                    job=job,
                    order_id=row["s"].get("order_id"),
                    order_label=str(row.get("o", ""))[:100],
                    position=n,
                    options={**row["s"], "row": row["r"], "cells": row.get("c", [])},
                )
                for n, row in enumerate(rows)
            ],
            ignore_conflicts=True,  # the same file confirmed twice (a redelivered task) adds nothing
        )
        BulkJob.objects.filter(pk=job.pk).update(total=len(rows))
    transaction.on_commit(lambda: nudge(job.pk, count=min(len(rows), nudges_per_job()) or 1))


def nudge(job_id: int, *, count: int = 1) -> None:
    from django_q.tasks import async_task

    for n in range(count):
        async_task("shipping.tasks.run_bulk_job", job_id, task_name=f"run_bulk_job-{job_id}-{n}")


def run(job_id: int) -> str:
    """A nudge: claim and book this job's due items one at a time until none is left, then
    merge if nothing is pending. Delivered twice, or alongside other nudges, it does no harm."""
    job = BulkJob.objects.select_related("created_by").filter(pk=job_id).first()
    if job is None or job.kind not in ITEM_KINDS or job.is_finished:
        return "nothing to do"
    if job.kind == BulkJob.Kind.CSV_BOOK and not job.items.exists():
        return "nothing to do"  # a file still being checked or waiting for staff to confirm it
    if not job.items.exists() and job.params.get("order_ids"):
        _create_items(job, job.params["order_ids"])  # queued before this version: its orders become items
    me = worker_name()
    account_id = job.params.get("carrier_account")
    account = CarrierAccount.objects.filter(pk=account_id).first() if account_id else None
    ruleset = None
    booked = failed = 0
    try:
        while (item := claim_item(job_id, worker=me)) is not None:
            if ruleset is None:
                ruleset = rules.RuleSet()  # loaded once per nudge, and only if there is work
            if job.status == BulkJob.Status.QUEUED and job.kind == BulkJob.Kind.BOOK_ORDERS:
                BulkJob.objects.filter(pk=job_id, status=BulkJob.Status.QUEUED).update(
                    status=BulkJob.Status.RUNNING, started_at=timezone.now()
                )
                job.status = BulkJob.Status.RUNNING
            if process_item(job, item, account=account, ruleset=ruleset):
                booked += 1
            else:
                failed += 1
    finally:
        if ruleset is not None:
            ruleset.close()  # the nudge's carrier connections
    merged = finish_if_complete(job_id, worker=me)
    return f"{booked} booked, {failed} failed" + ("; merged" if merged else "")


def book_chunk(job_id: int, order_ids: list[int]) -> dict:
    """A chunk task queued before jobs were kept as items: now just a nudge of its job."""
    return {"result": run(job_id)}


def claim_item(job_id: int, *, worker: str) -> BulkJobItem | None:
    """Take the next item that is waiting, or whose worker stopped renewing its heartbeat. The
    conditional UPDATE is the claim: of two workers racing for one item, one gets it."""
    due = Q(state=Item.QUEUED) | Q(state=Item.RUNNING, heartbeat_at__lt=_stale_before())
    for _ in range(5):  # others may take the candidates first; look again
        candidates = list(
            BulkJobItem.objects.filter(due, job_id=job_id)
            .order_by("position")
            .values_list("pk", flat=True)[:10]
        )
        if not candidates:
            return None
        for pk in candidates:
            now = timezone.now()
            if BulkJobItem.objects.filter(due, pk=pk).update(
                state=Item.RUNNING,
                claimed_by=worker,
                claimed_at=now,
                heartbeat_at=now,
                attempts=F("attempts") + 1,
            ):
                return BulkJobItem.objects.get(pk=pk)
    return None


def process_item(job: BulkJob, item: BulkJobItem, *, account, ruleset) -> bool:
    """Book one claimed item and record what happened. Returns whether it is booked."""
    order = (
        Order.objects.select_related("channel").prefetch_related("lines").filter(pk=item.order_id).first()
        if item.order_id
        else None
    )
    earlier = Shipment.objects.filter(idempotency_key=item.reference).first() if item.reference else None
    if earlier is not None and earlier.status in LIVE:
        # An earlier attempt bought the label and its worker died before recording it.
        result = _booked(earlier.order, earlier)
    else:
        if order is not None:
            # Remembered before the carrier call: a re-run after a crash looks for this shipment.
            reference, _ = booking_reference(order)
            BulkJobItem.objects.filter(pk=item.pk).update(reference=reference, heartbeat_at=timezone.now())
        result = _book_one(job, item, order, account, ruleset)
    record_outcome(item, result)
    return result["ok"]


def record_outcome(item: BulkJobItem, result: dict) -> None:
    """Write one item's outcome in its own transaction. A booked item stays booked: a slower
    duplicate attempt (its claim had gone stale) cannot turn it into a failure."""
    with transaction.atomic():
        BulkJobItem.objects.filter(pk=item.pk).exclude(state=Item.BOOKED).update(
            state=Item.BOOKED if result["ok"] else Item.FAILED,
            shipment_id=result.get("shipment_id"),
            message=result.get("message", ""),
            finished_at=timezone.now(),
            heartbeat_at=timezone.now(),
        )
        refresh_counts(item.job_id)


def refresh_counts(job_id: int) -> tuple[int, int]:
    """done and failed, counted from the items (the job row keeps a copy for lists and the page)."""
    counts = dict(
        BulkJobItem.objects.filter(job_id=job_id)
        .values_list("state")
        .annotate(n=Count("pk"))
        .values_list("state", "n")
    )
    done, failed = counts.get(Item.BOOKED, 0), counts.get(Item.FAILED, 0)
    BulkJob.objects.filter(pk=job_id).update(done=done, failed=failed)
    return done, failed


def finish_if_complete(job_id: int, *, worker: str) -> bool:
    """Merge once, when no item is waiting or running. The merge is claimed like an item, so
    a merge whose worker died is taken over after its heartbeat goes stale."""
    if BulkJobItem.objects.filter(job_id=job_id, state__in=[Item.QUEUED, Item.RUNNING]).exists():
        return False
    claimable = Q(status__in=[BulkJob.Status.QUEUED, BulkJob.Status.RUNNING]) | Q(
        status=BulkJob.Status.MERGING, heartbeat_at__lt=_stale_before()
    )
    now = timezone.now()
    if not BulkJob.objects.filter(claimable, pk=job_id).update(
        status=BulkJob.Status.MERGING, claimed_by=worker, heartbeat_at=now
    ):
        return False
    BulkJob.objects.filter(pk=job_id, started_at__isnull=True).update(started_at=now)
    refresh_counts(job_id)
    finish(job_id)
    return True


def resume_jobs() -> int:
    """Every minute: nudge each unfinished bulk booking that has work due (waiting items, items
    whose worker died, or a merge nobody finished). Tasks may be lost with a cluster that died
    holding them; the rows are not. Returns how many jobs were nudged."""
    stale = _stale_before()
    nudged = 0
    has_items = Exists(
        BulkJobItem.objects.filter(job=OuterRef("pk"))
    )  # (a CSV file still being checked has none)
    for job in BulkJob.objects.filter(has_items, kind__in=ITEM_KINDS, status__in=OPEN_JOB).annotate(
        due=Count(
            "items",
            filter=Q(items__state=Item.QUEUED) | Q(items__state=Item.RUNNING, items__heartbeat_at__lt=stale),
        ),
        running=Count("items", filter=Q(items__state=Item.RUNNING)),
    ):
        merge_stalled = job.status == BulkJob.Status.MERGING and (
            job.heartbeat_at is None or job.heartbeat_at < stale
        )
        if job.due:
            nudge(job.pk, count=min(job.due, nudges_per_job()))
        elif (not job.running and job.status != BulkJob.Status.MERGING) or merge_stalled:
            nudge(job.pk)  # every item is done: the merge (or a merge that died) is left
        else:
            continue
        nudged += 1
    return nudged


# Jobs that can be stuck: every bulk booking; a CSV file only while a worker runs it (one waiting
# for staff to confirm it is queued, not stuck).
WATCHED = Q(kind=BulkJob.Kind.BOOK_ORDERS) | Q(
    kind__in=[BulkJob.Kind.CSV_BOOK, BulkJob.Kind.CSV_RECORD],
    status__in=[BulkJob.Status.RUNNING, BulkJob.Status.MERGING],
)


def stuck_jobs(now=None):
    """Unfinished bulk bookings with no sign of life (job or item heartbeat, an item finishing)
    for STUCK_ALERT_MINUTES: one query, the desk's "stuck jobs" queue and its list filter."""
    quiet_since = (now or timezone.now()) - timedelta(minutes=settings.STUCK_ALERT_MINUTES)
    return (
        BulkJob.objects.filter(WATCHED, status__in=OPEN_JOB, created_at__lt=quiet_since)
        .annotate(last_beat=Max("items__heartbeat_at"), last_done=Max("items__finished_at"))
        .filter(
            Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=quiet_since),
            Q(last_beat__isnull=True) | Q(last_beat__lt=quiet_since),
            Q(last_done__isnull=True) | Q(last_done__lt=quiet_since),
        )
    )


def problem_jobs() -> list[tuple[BulkJob, str]]:
    """Bulk bookings staff must look at: failed, or unfinished with no progress for
    STUCK_ALERT_MINUTES (no worker alive to resume it: is the task cluster running?)."""
    quiet_since = timezone.now() - timedelta(minutes=settings.STUCK_ALERT_MINUTES)
    problems = []
    for job in (
        BulkJob.objects.filter(WATCHED)
        .filter(
            Q(status=BulkJob.Status.FAILED, finished_at__gte=timezone.now() - timedelta(days=1))
            | Q(status__in=OPEN_JOB, created_at__lt=quiet_since)
        )
        .order_by("created_at")
    ):
        if job.status == BulkJob.Status.FAILED:
            problems.append((job, job.message or "failed"))
            continue
        beats = [t for t in job.items.aggregate(a=Max("heartbeat_at"), b=Max("finished_at")).values() if t]
        last = max([job.created_at, *beats, *([job.heartbeat_at] if job.heartbeat_at else [])])
        if last < quiet_since:
            left = job.items.filter(state__in=[Item.QUEUED, Item.RUNNING]).count()
            problems.append(
                (
                    job,
                    f"no progress since {last:%d %b %H:%M} UTC; {job.done + job.failed} of "
                    f"{job.total} orders done, {left} pending. Is the task cluster running?",
                )
            )
    return problems


def alert_problem_jobs() -> int:
    """Email subscribed staff once about each failed or stalled job."""
    from orders.alerts import alert_staff

    sent = 0
    for job, why in problem_jobs():
        if BulkJob.objects.filter(pk=job.pk, alerted_at__isnull=True).update(alerted_at=timezone.now()):
            verb = "failed" if job.status == BulkJob.Status.FAILED else "is stuck"
            alert_staff(None, f"{job} {verb}", why)
            sent += 1
    return sent


def pending_items(job: BulkJob) -> list[dict]:
    """The orders of an unfinished job not booked yet, and why, for the job page."""
    stale = _stale_before()
    rows = []
    for item in job.items.filter(state__in=[Item.QUEUED, Item.RUNNING]):
        if item.state == Item.QUEUED:
            why = "waiting for a worker" + (f" (attempt {item.attempts + 1})" if item.attempts else "")
        elif item.heartbeat_at and item.heartbeat_at < stale:
            why = (
                f"its worker {item.claimed_by} stopped answering at {item.heartbeat_at:%H:%M:%S}; "
                "another worker takes it over within a minute or so"
            )
        else:
            why = f"being booked by {item.claimed_by} (attempt {item.attempts})"
        rows.append(
            {
                "order_id": item.order_id,
                "order": item.order_label,
                "state": item.get_state_display(),
                "why": why,
            }
        )
    return rows


def _book_one(job: BulkJob, item: BulkJobItem, order: Order | None, account, ruleset) -> dict:
    order_id = item.order_id
    if order is None:
        return {
            "order_id": order_id,
            "order": item.order_label or f"#{order_id}",
            "ok": False,
            "message": "the order no longer exists" if item.options else "order not found",
        }
    if item.options:  # a CSV row: its own carrier account, service, weight, package and note
        from shipping.csv_run import row_booking

        choices = row_booking(item.options)
    else:
        choices = {"carrier_account": account, "note": job.params.get("note")}  # one note for the batch
    try:
        shipment = book_shipment(
            order=order, actor=job.created_by, ruleset=ruleset, **choices
        )  # default lines
    except BookingError as exc:
        # A chunk redelivered after its worker died finds its own earlier bookings: they count as booked.
        shipment = order.shipments.filter(created_at__gte=job.created_at, status__in=LIVE).first()
        if shipment is None:
            return {"order_id": order_id, "order": str(order), "ok": False, "message": str(exc)}
    except Exception as exc:  # noqa: BLE001 - one broken order must not sink the other 999
        log.exception("bulk booking of %s failed", order)
        return {
            "order_id": order_id,
            "order": str(order),
            "ok": False,
            "message": f"unexpected error: {exc.__class__.__name__}: {exc}",
        }
    return _booked(order, shipment)


def _booked(order: Order, shipment: Shipment) -> dict:
    return {
        "order_id": order.pk,
        "order": str(order),
        "ok": True,
        "shipment_id": shipment.pk,
        "tracking": shipment.tracking_number,
        "carrier": str(shipment.carrier_account),
        "message": "",
    }


def finish(job_id: int) -> None:
    """Merge the labels (one per page, or four to an A4 sheet) and print the packing slips, in
    the order staff selected the orders (a CSV file: in the file's order)."""
    job = BulkJob.objects.get(pk=job_id)
    if job.kind == BulkJob.Kind.CSV_BOOK:
        from shipping.csv_run import finish_booking

        finish_booking(job)
        return
    layout = job.params.get("layout", "a6")
    if job.items.exists():
        booked_ids = list(
            job.items.filter(state=Item.BOOKED, shipment__isnull=False)
            .order_by("position")
            .values_list("shipment_id", flat=True)
        )
    else:  # a job finished before its orders were kept as items
        position = {oid: i for i, oid in enumerate(job.params.get("order_ids") or [])}
        booked_ids = [
            r["shipment_id"]
            for r in sorted(
                (r for r in job.results or [] if r.get("ok")), key=lambda r: position.get(r["order_id"], 0)
            )
        ]
    shipments = (
        Shipment.objects.select_related("order__channel", "brand", "sender_address")
        .prefetch_related("order__lines")
        .in_bulk(booked_ids)
    )
    ordered = [shipments[pk] for pk in booked_ids if pk in shipments]
    # ZPL labels (thermal printers) cannot go into the merged PDF: they download as one .zpl file.
    zpl = sum(1 for shipment in ordered if shipment.label_format == "zpl")
    try:
        if ordered:
            documents = []
            for shipment in ordered:
                if shipment.label_format == "zpl":
                    continue
                with shipment.label.open("rb") as f:
                    documents.append(f.read())
            if documents:
                job.output_file.save(
                    f"labels-{job.pk}.pdf",
                    ContentFile(labels.merge_labels(documents, layout=layout)),
                    save=False,
                )
            BulkJob.objects.filter(pk=job_id).update(heartbeat_at=timezone.now())  # still merging
            job.slips_file.save(
                f"packing-slips-{job.pk}.pdf",
                ContentFile(labels.render_packing_slips([slip(s) for s in ordered], layout=layout)),
                save=False,
            )
        job.status = BulkJob.Status.DONE
        job.message = (
            f"Booked {job.done} of {job.total}" + (f"; {job.failed} failed" if job.failed else "") + "."
        ) + (
            f" {zpl} ZPL label(s) for thermal printers are not in the PDF: download them as one .zpl file."
            if zpl
            else ""
        )
    except Exception as exc:  # noqa: BLE001 - the labels are booked; say the print file failed
        log.exception("merging labels of job %s failed", job_id)
        job.status = BulkJob.Status.FAILED
        job.message = f"Booked {job.done} of {job.total}, but the print file could not be made: {exc}"
    job.finished_at = timezone.now()
    job.save(update_fields=["output_file", "slips_file", "status", "message", "finished_at"])


def zpl_labels(job: BulkJob) -> bytes:
    """The job's ZPL labels (booked for accounts that print on thermal printers) as one file, in
    the order staff selected the orders."""
    items = (
        job.items.filter(state=Item.BOOKED, shipment__label_format="zpl")
        .order_by("position")
        .select_related("shipment")
    )
    return labels.zpl_file(item.shipment for item in items)[0]


def slip(shipment: Shipment) -> labels.SlipContent:
    """The packing slip of one parcel: the lines it holds (a shipment booked before parcels
    recorded their lines holds the order's physical lines), each with its picture."""
    order = shipment.order
    # finish() may prefetch "lines__order_line" (one query for the whole print file)
    prefetched = "lines" in getattr(shipment, "_prefetched_objects_cache", {})
    rows = shipment.lines.all() if prefetched else shipment.lines.select_related("order_line")
    held = [(sl.order_line, sl.quantity) for sl in rows]
    if not held:
        held = [(ln, ln.quantity) for ln in order.lines.all() if ln.is_physical]
    return labels.SlipContent(
        order_number=str(order),
        channel=order.channel.name,
        ordered_at=order.ordered_at.strftime("%d %b %Y"),
        ship_to=order.address_lines,
        lines=[(ln.sku, ln.title, ln.options_display, qty, ln.image_url) for ln, qty in held],
        tracking_number=shipment.tracking_number,
        brand=shipment.brand.name if shipment.brand else "",
        sender_lines=shipment.sender_address.lines if shipment.sender_address else None,
        gift_message=order.gift_message if order.is_gift else "",
        customer_note=order.customer_note,
    )


def retry_failed(job: BulkJob, *, actor=None) -> BulkJob | None:
    """A new job for the orders that failed and still await shipment."""
    failed_ids = [r["order_id"] for r in job.failures]
    still = list(
        Order.objects.filter(pk__in=failed_ids, status=Order.Status.AWAITING_SHIPMENT).values_list(
            "pk", flat=True
        )
    )
    if not still:
        return None
    ordered = [i for i in failed_ids if i in set(still)]
    account = CarrierAccount.objects.filter(pk=job.params.get("carrier_account")).first()
    return start_bulk_booking(
        order_ids=ordered,
        actor=actor,
        layout=job.params.get("layout", "a6"),
        carrier_account=account,
        retry_of=job.pk,
    )
