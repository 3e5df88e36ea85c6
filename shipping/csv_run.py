"""Importing the rows a CSV job checked and staff confirmed (the stored lines, not the file).

Record rows go to shipping.bulk_record a chunk at a time; book rows buy one label each through
shipping.booking.book_shipment, and the batch's labels come back as one merged PDF."""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal
from itertools import islice

from django.conf import settings
from django.core.files.base import ContentFile
from django.utils import timezone

from orders.resources import neutralise
from shipping import bulk_record
from shipping.csv_checks import centimetres
from shipping.csv_import import NEW, UPDATED, _error_report, _finish, stored_rows
from shipping.models import BulkJob, CarrierAccount, Package

log = logging.getLogger(__name__)

RESULTS_KEPT = 1000  # entries in BulkJob.results; the failure report holds every failed row


def run(job: BulkJob) -> None:
    failures = _Failures(job)
    if job.kind == BulkJob.Kind.CSV_BOOK:
        _book(job, failures)
    else:
        _record(job, failures)


class _Failures:
    """Rows that failed at import time, as a report in the upload's own columns plus `error`
    (the same shape as the error report of the check: fix the rows and upload it)."""

    def __init__(self, job: BulkJob):
        self.job, self.count, self.results = job, 0, []
        self.spool = self.writer = None

    def add(self, line: dict, message: str) -> None:
        self.count += 1
        if len(self.results) < RESULTS_KEPT:
            self.results.append({"row": line["r"], "order": line["o"], "ok": False, "message": message})
        if self.writer is None:
            self.spool, self.writer, self.keep = _error_report(
                self.job.params.get("headers", []), self.job.params.get("delimiter", ",")
            )
        cells = line.get("c", [])
        self.writer.writerow(
            [neutralise(cells[i]) if i < len(cells) else "" for i in self.keep]
            + [f"row {line['r']}: {message}"]
        )

    def save(self) -> str:
        if self.spool is None:
            return ""
        return self.spool.save(f"jobs/errors/{timezone.now():%Y/%m}/job-{self.job.pk}-failed.csv")


def _chunks(iterable, size: int):
    it = iter(iterable)
    while batch := list(islice(it, size)):
        yield batch


def _record(job: BulkJob, failures: _Failures) -> None:
    recorded = skipped = 0
    note = f"CSV import #{job.pk}"
    for lines in _chunks(stored_rows(job, (NEW, UPDATED)), settings.CSV_CHUNK_ROWS):
        by_row = {line["r"]: line for line in lines}
        rows = [
            bulk_record.RecordRow(
                order_id=s["order_id"],
                tracking_number=s["tracking_number"],
                carrier=s["carrier"],
                service=s["service"],
                tracking_url=s["tracking_url"],
                row=line["r"],
                shipped_at=datetime.fromisoformat(s["shipped_at"]) if s["shipped_at"] else None,
            )
            for line in lines
            for s in [line["s"]]
        ]
        result = bulk_record.record_shipments(rows, actor=job.created_by, note=note)
        recorded += len(result.recorded)
        skipped += len(result.skipped)
        for row, message in result.failed:
            failures.add(by_row[row], message)
        BulkJob.objects.filter(pk=job.pk).update(
            done=recorded + skipped, failed=failures.count, heartbeat_at=timezone.now()
        )
    job.refresh_from_db()
    message = f"Recorded {recorded:,} shipment{'s' if recorded != 1 else ''}"
    if skipped:
        message += f"; {skipped:,} already recorded (skipped)"
    if failures.count:
        message += f"; {failures.count:,} failed (see the report)"
    message += ". Their tracking numbers are being sent to the channels." if recorded else "."
    job.results = failures.results
    _finish(job, "done", message, failed_file=failures.save(), recorded=recorded, skipped_at_import=skipped)


def _package(stored: dict, packages: dict[int, Package]) -> Package | None:
    if stored.get("package_id"):
        return packages.get(stored["package_id"])
    if stored.get("dimensions"):
        length, width, height = (Decimal(x) for x in stored["dimensions"])
        found = (
            Package.objects.filter(length_cm=length, width_cm=width, height_cm=height).order_by("pk").first()
        )
        return (
            found
            or Package.objects.get_or_create(
                name=" × ".join(centimetres(x) for x in (length, width, height)) + " cm",
                defaults={"length_cm": length, "width_cm": width, "height_cm": height},
            )[0]
        )
    return None


def _book(job: BulkJob, failures: _Failures) -> None:
    """Each checked row becomes a BulkJobItem that the bulk workers book, crash-safe: a worker
    that dies mid-row leaves a row another worker takes over, and the row's booking reference
    keeps a second label from being bought (shipping.bulk). The job ends in finish_booking."""
    from shipping.bulk import start_csv_booking

    start_csv_booking(job, list(stored_rows(job, (NEW, UPDATED))))


def row_booking(options: dict) -> dict:
    """A CSV row's booking choices, as book_shipment takes them."""
    packages = Package.objects.in_bulk([options["package_id"]]) if options.get("package_id") else {}
    account_id = options.get("carrier_account_id")
    return {
        "carrier_account": CarrierAccount.objects.filter(pk=account_id).first() if account_id else None,
        "service": options.get("service") or "",
        "weight_g": options.get("weight_g"),
        "package": _package(options, packages),
        "note": options.get("note") or None,
    }


def finish_booking(job: BulkJob) -> None:
    """Every row is booked or failed: the labels as one PDF (with the packing slips) in the
    file's order, the failed rows as a report in the upload's own columns, and the summary."""
    from shipping.bulk import Item
    from shipping.labels import merge_labels

    failures = _Failures(job)
    booked = []
    documents = []
    items = list(job.items.select_related("shipment").order_by("position"))
    for item in items:
        row = {"r": item.options.get("row"), "o": item.order_label, "c": item.options.get("cells", [])}
        if item.state == Item.BOOKED and item.shipment is not None:
            booked.append(
                {
                    "row": row["r"],
                    "order": row["o"],
                    "ok": True,
                    "shipment": item.shipment_id,
                    "tracking": item.shipment.tracking_number,
                }
            )
            if item.shipment.label_format != "zpl":  # ZPL cannot join the merged PDF
                with item.shipment.label.open("rb") as f:
                    documents.append(f.read())
        else:
            failures.add(row, item.message or "not booked")
    if documents:
        job.params = {**job.params, "phase": "merging"}
        job.save(update_fields=["params"])
        job.output_file.save(f"labels-csv-{job.pk}.pdf", ContentFile(merge_labels(documents)), save=False)
    message = f"Booked {len(booked):,} label{'s' if len(booked) != 1 else ''}"
    if failures.count:
        message += f"; {failures.count:,} failed (see the report)"
    message += ". Download the labels as one PDF." if documents else "."
    job.results = (failures.results + booked)[:RESULTS_KEPT]
    job.done, job.failed = len(booked), failures.count
    _finish(job, "done", message, failed_file=failures.save(), booked=len(booked))
