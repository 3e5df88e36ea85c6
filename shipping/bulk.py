"""Booking many orders at once as a background job: fanned out in chunks over the task
cluster, progress kept on the BulkJob row, then one merged label PDF (A6 per page, or four to
an A4 sheet) and a packing slip per order. Failures are listed per order with the carrier's
words, and can be retried as a new job."""

from __future__ import annotations

import logging
import math

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from orders.models import Order
from shipping import labels, rules
from shipping.booking import LIVE, BookingError, book_shipment
from shipping.models import BulkJob, CarrierAccount, Shipment

log = logging.getLogger(__name__)

LAYOUTS = {"a6": "A6 labels, one per page (label printer)", "a4": "A4 sheets, four labels each (office printer)"}


def chunk_size(total: int) -> int:
    """Small enough that every worker gets several chunks (progress moves, work spreads), big
    enough that loading the rules once per chunk stays cheap."""
    workers = int(settings.Q_CLUSTER.get("workers") or 2)
    return max(5, min(50, math.ceil(total / (workers * 4)) or 5))


def start_bulk_booking(*, order_ids: list[int], actor=None, layout: str = "a6",
                       carrier_account: CarrierAccount | None = None, retry_of: int | None = None) -> BulkJob:
    """Create the job; it starts once the transaction commits."""
    ids = list(dict.fromkeys(int(i) for i in order_ids))
    job = BulkJob.objects.create(
        kind=BulkJob.Kind.BOOK_ORDERS, created_by=actor, total=len(ids),
        params={"order_ids": ids, "layout": layout if layout in LAYOUTS else "a6",
                "carrier_account": carrier_account.pk if carrier_account else None, "retry_of": retry_of},
    )
    transaction.on_commit(lambda: _enqueue("shipping.tasks.run_bulk_job", job.pk))
    return job


def _enqueue(func: str, *args) -> None:
    from django_q.tasks import async_task

    async_task(func, *args, task_name=f"{func.rsplit('.', 1)[-1]}-{args[0]}")


def run(job_id: int) -> str:
    """Split the job into chunks, one task each. Runs once: the job is claimed first."""
    claimed = BulkJob.objects.filter(pk=job_id, status=BulkJob.Status.QUEUED).update(
        status=BulkJob.Status.RUNNING, started_at=timezone.now())
    if not claimed:
        return "already started"
    job = BulkJob.objects.get(pk=job_id)
    ids = job.params.get("order_ids") or []
    if not ids:
        finish(job_id)
        return "nothing to book"
    size = chunk_size(len(ids))
    for start in range(0, len(ids), size):
        _enqueue("shipping.tasks.book_chunk", job_id, ids[start:start + size])
    return f"{math.ceil(len(ids) / size)} chunks"


def book_chunk(job_id: int, order_ids: list[int]) -> dict:
    job = BulkJob.objects.select_related("created_by").get(pk=job_id)
    account_id = job.params.get("carrier_account")
    account = CarrierAccount.objects.filter(pk=account_id).first() if account_id else None
    ruleset = rules.RuleSet()
    orders = Order.objects.select_related("channel").prefetch_related("lines").in_bulk(order_ids)
    try:
        results = [_book_one(job, order_id, orders.get(order_id), account, ruleset) for order_id in order_ids]
    finally:
        ruleset.close()  # the chunk's carrier connections
    with transaction.atomic():
        job = BulkJob.objects.select_for_update().get(pk=job_id)
        counted = {r["order_id"] for r in job.results or []}
        results = [r for r in results if r["order_id"] not in counted]  # a redelivered chunk counts once
        job.results = [*(job.results or []), *results]
        job.done += sum(1 for r in results if r["ok"])
        job.failed += sum(1 for r in results if not r["ok"])
        complete = job.done + job.failed >= job.total and job.status == BulkJob.Status.RUNNING
        if complete:
            job.status = BulkJob.Status.MERGING
        job.save(update_fields=["results", "done", "failed", "status"])
    if complete:
        finish(job_id)
    return {"booked": sum(1 for r in results if r["ok"]), "failed": sum(1 for r in results if not r["ok"])}


def _book_one(job: BulkJob, order_id: int, order: Order | None, account, ruleset) -> dict:
    if order is None:
        return {"order_id": order_id, "order": f"#{order_id}", "ok": False, "message": "order not found"}
    try:
        shipment = book_shipment(order=order, carrier_account=account, actor=job.created_by, ruleset=ruleset,
                                 note=job.params.get("note"))  # the default lines; one note for the batch
    except BookingError as exc:
        # A chunk redelivered after its worker died finds its own earlier bookings: they count as booked.
        shipment = order.shipments.filter(created_at__gte=job.created_at, status__in=LIVE).first()
        if shipment is None:
            return {"order_id": order_id, "order": str(order), "ok": False, "message": str(exc)}
    except Exception as exc:  # noqa: BLE001 - one broken order must not sink the other 999
        log.exception("bulk booking of %s failed", order)
        return {"order_id": order_id, "order": str(order), "ok": False,
                "message": f"unexpected error: {exc.__class__.__name__}: {exc}"}
    return _booked(order, shipment)


def _booked(order: Order, shipment: Shipment) -> dict:
    return {"order_id": order.pk, "order": str(order), "ok": True, "shipment_id": shipment.pk,
            "tracking": shipment.tracking_number, "carrier": str(shipment.carrier_account), "message": ""}


def finish(job_id: int) -> None:
    """Merge the labels (one per page, or four to an A4 sheet) and print the packing slips, in
    the order staff selected the orders."""
    job = BulkJob.objects.get(pk=job_id)
    layout = job.params.get("layout", "a6")
    position = {oid: i for i, oid in enumerate(job.params.get("order_ids") or [])}
    booked = sorted((r for r in job.results or [] if r.get("ok")), key=lambda r: position.get(r["order_id"], 0))
    shipments = Shipment.objects.select_related("order__channel", "brand", "sender_address").prefetch_related(
        "order__lines").in_bulk([r["shipment_id"] for r in booked])
    ordered = [shipments[r["shipment_id"]] for r in booked if r["shipment_id"] in shipments]
    try:
        if ordered:
            documents = []
            for shipment in ordered:
                with shipment.label.open("rb") as f:
                    documents.append(f.read())
            job.output_file.save(f"labels-{job.pk}.pdf", ContentFile(labels.merge_labels(documents, layout=layout)),
                                 save=False)
            job.slips_file.save(f"packing-slips-{job.pk}.pdf",
                                ContentFile(labels.render_packing_slips([slip(s) for s in ordered], layout=layout)),
                                save=False)
        job.status = BulkJob.Status.DONE
        job.message = f"Booked {job.done} of {job.total}" + (f"; {job.failed} failed" if job.failed else "") + "."
    except Exception as exc:  # noqa: BLE001 - the labels are booked; say the print file failed
        log.exception("merging labels of job %s failed", job_id)
        job.status = BulkJob.Status.FAILED
        job.message = f"Booked {job.done} of {job.total}, but the print file could not be made: {exc}"
    job.finished_at = timezone.now()
    job.save(update_fields=["output_file", "slips_file", "status", "message", "finished_at"])


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
        order_number=str(order), channel=order.channel.name, ordered_at=order.ordered_at.strftime("%d %b %Y"),
        ship_to=order.address_lines,
        lines=[(ln.sku, ln.title, ln.options_display, qty, ln.image_url) for ln, qty in held],
        tracking_number=shipment.tracking_number, brand=shipment.brand.name if shipment.brand else "",
        sender_lines=shipment.sender_address.lines if shipment.sender_address else None,
        gift_message=order.gift_message if order.is_gift else "", customer_note=order.customer_note,
    )


def retry_failed(job: BulkJob, *, actor=None) -> BulkJob | None:
    """A new job for the orders that failed and still await shipment."""
    failed_ids = [r["order_id"] for r in job.failures]
    still = list(Order.objects.filter(pk__in=failed_ids, status=Order.Status.AWAITING_SHIPMENT)
                 .values_list("pk", flat=True))
    if not still:
        return None
    ordered = [i for i in failed_ids if i in set(still)]
    account = CarrierAccount.objects.filter(pk=job.params.get("carrier_account")).first()
    return start_bulk_booking(order_ids=ordered, actor=actor, layout=job.params.get("layout", "a6"),
                              carrier_account=account, retry_of=job.pk)

