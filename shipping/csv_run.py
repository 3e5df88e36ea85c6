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

from orders.models import Order
from orders.resources import neutralise
from shipping import bulk_record, rules
from shipping.booking import BookingError, book_shipment
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
        BulkJob.objects.filter(pk=job.pk).update(done=recorded + skipped, failed=failures.count)
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
    lines = list(stored_rows(job, (NEW, UPDATED)))  # a booking batch is small: each row is a carrier call
    accounts = CarrierAccount.objects.in_bulk({line["s"]["carrier_account_id"] for line in lines} - {None})
    packages = Package.objects.in_bulk({line["s"]["package_id"] for line in lines} - {None})
    ruleset = rules.RuleSet()  # loaded once for the batch; its carrier connections are reused row to row
    labels: list[bytes] = []
    booked = []
    try:
        for line in lines:
            stored = line["s"]
            order = (
                Order.objects.select_related("channel")
                .prefetch_related("lines")
                .filter(pk=stored["order_id"])
                .first()
            )
            if order is None:
                failures.add(line, "the order no longer exists")
            else:
                try:
                    shipment = book_shipment(
                        order=order,
                        carrier_account=accounts.get(stored["carrier_account_id"]),
                        service=stored["service"],
                        weight_g=stored["weight_g"],
                        package=_package(stored, packages),
                        note=stored.get("note") or None,
                        actor=job.created_by,
                        ruleset=ruleset,
                    )  # the default lines
                except BookingError as exc:
                    failures.add(line, str(exc))
                else:
                    booked.append(
                        {
                            "row": line["r"],
                            "order": line["o"],
                            "ok": True,
                            "shipment": shipment.pk,
                            "tracking": shipment.tracking_number,
                        }
                    )
                    if shipment.label_format != "zpl":  # ZPL cannot join the merged PDF
                        with shipment.label.open("rb") as f:
                            labels.append(f.read())
            BulkJob.objects.filter(pk=job.pk).update(done=len(booked), failed=failures.count)
    finally:
        ruleset.close()
    job.refresh_from_db()
    if labels:
        job.params = {**job.params, "phase": "merging"}
        job.status = BulkJob.Status.MERGING
        job.save(update_fields=["params", "status"])
        from shipping.labels import merge_pdfs

        job.output_file.save(f"labels-csv-{job.pk}.pdf", ContentFile(merge_pdfs(labels)), save=False)
    message = f"Booked {len(booked):,} label{'s' if len(booked) != 1 else ''}"
    if failures.count:
        message += f"; {failures.count:,} failed (see the report)"
    message += ". Download the labels as one PDF." if labels else "."
    job.results = (failures.results + booked)[:RESULTS_KEPT]
    _finish(job, "done", message, failed_file=failures.save(), booked=len(booked))
