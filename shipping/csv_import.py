"""Spreadsheet uploads as jobs: store the file, check every row once, let staff confirm, import.

    upload ─► validate (a task for big files) ─► preview ─► confirm ─► import (a task) ─► done
                    └─► rejected (the file itself is unreadable: nothing to confirm)

The uploaded file lives in media storage (BulkJob.source_file), so any web process or worker
can read it. Checking writes, beside it, one JSON line per row (what the row will do, with the
values the import needs) and the error report; confirming imports those stored lines and
never reads or checks the spreadsheet again. A file with errors imports nothing unless staff
choose, after seeing the errors, to import the valid rows only. The job's phase is kept in
`params["phase"]`; BulkJob.status follows it (queued, running, done, failed)."""

from __future__ import annotations

import csv
import io
import json
import logging
import tempfile
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from itertools import islice
from pathlib import PurePath

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.utils.text import get_valid_filename

from orders.resources import neutralise
from shipping import csv_reading
from shipping.csv_checks import CHECKERS, ERROR, NEW, SKIPPED, UPDATED, Row
from shipping.models import BulkJob
from shipping.resources import ROW_RESOURCES, header_key, is_blank

log = logging.getLogger(__name__)

KINDS = {"record": BulkJob.Kind.CSV_RECORD, "book": BulkJob.Kind.CSV_BOOK}
PHASES = {
    "validate": "Checking the file",
    "preview": "Checked: waiting for confirmation",
    "rejected": "Not imported: the file cannot be read",
    "import": "Importing",
    "merging": "Merging the labels",
    "done": "Done",
    "failed": "Failed",
    "discarded": "Discarded",
}
FINISHED = {"rejected", "done", "failed", "discarded"}
MESSAGE_LIMIT = 2000  # characters of a job message kept and shown


class UploadRefused(Exception):
    """The upload was refused before anything was stored."""


def mode_of(job: BulkJob) -> str:
    return "book" if job.kind == BulkJob.Kind.CSV_BOOK else "record"


def phase_of(job: BulkJob) -> str:
    return (job.params or {}).get("phase", "")


def start_import(*, mode: str, upload, actor) -> BulkJob:
    """Store the upload and check it: now for a small file, in a task for a big one."""
    limit = settings.CSV_MAX_UPLOAD_MB * 1024 * 1024
    if upload.size > limit:
        raise UploadRefused(
            f"“{upload.name}” is {upload.size / 1024 / 1024:,.1f} MB; the limit is "
            f"{settings.CSV_MAX_UPLOAD_MB} MB. Split it into several files."
        )
    job = BulkJob.objects.create(
        kind=KINDS[mode],
        created_by=actor,
        status=BulkJob.Status.QUEUED,
        params={"phase": "validate", "original_name": upload.name, "size": upload.size},
    )
    stem = get_valid_filename(PurePath(upload.name).name)[-80:] or "upload"
    job.source_file.save(f"job-{job.pk}-{stem}", upload, save=True)
    if upload.size <= settings.CSV_INLINE_MAX_BYTES:
        validate_job(job)
    else:
        from django_q.tasks import async_task

        transaction.on_commit(
            lambda: async_task("shipping.csv_tasks.validate_job", job.pk, task_name=f"csv-validate-{job.pk}")
        )
    return job


def _claim(job: BulkJob, phase: str) -> bool:
    """Take a queued job in `phase` for running; False if another worker has it or it moved on."""
    with transaction.atomic():
        locked = BulkJob.objects.select_for_update().get(pk=job.pk)
        if phase_of(locked) != phase or locked.status != BulkJob.Status.QUEUED:
            return False
        locked.status = BulkJob.Status.RUNNING
        locked.started_at = locked.started_at or timezone.now()
        locked.claimed_by, locked.heartbeat_at = _worker(), timezone.now()
        locked.save(update_fields=["status", "started_at", "claimed_by", "heartbeat_at"])
    job.refresh_from_db()
    return True


def _worker() -> str:
    from shipping.bulk import worker_name

    return worker_name()


TASKS = {"validate": "shipping.csv_tasks.validate_job", "import": "shipping.csv_tasks.run_job"}


def resume_stalled() -> int:
    """Every minute (with the bulk bookings): a file whose checking or recording worker died
    (its heartbeat, renewed every chunk, went stale) is queued again for any worker. Both are
    safe to run again: checking writes nothing outside the job, and recording skips the rows
    already recorded. (A booking file's rows are BulkJobItems: shipping.bulk resumes those.)"""
    stale = timezone.now() - timedelta(seconds=settings.BULK_HEARTBEAT_STALE_SECONDS)
    resumed = 0
    for job in BulkJob.objects.filter(
        kind__in=[BulkJob.Kind.CSV_RECORD, BulkJob.Kind.CSV_BOOK],
        status=BulkJob.Status.RUNNING,
        heartbeat_at__lt=stale,
        items__isnull=True,
    ):
        phase = phase_of(job)
        if phase not in TASKS:
            continue
        if BulkJob.objects.filter(
            pk=job.pk, status=BulkJob.Status.RUNNING, heartbeat_at=job.heartbeat_at
        ).update(
            status=BulkJob.Status.QUEUED,
            message=f"Resumed: the worker {job.claimed_by} stopped answering at {job.heartbeat_at:%H:%M:%S} UTC.",
        ):
            from django_q.tasks import async_task

            async_task(TASKS[phase], job.pk, task_name=f"csv-{phase}-{job.pk}-resumed")
            resumed += 1
    return resumed


def _finish(job: BulkJob, phase: str, message: str, **params) -> None:
    status = {"preview": BulkJob.Status.QUEUED, "done": BulkJob.Status.DONE}.get(phase, BulkJob.Status.FAILED)
    job.params = {**job.params, **params, "phase": phase}
    # Every stored message is short, whatever the file held: it is shown on every job page.
    job.status, job.message = (
        status,
        message if len(message) <= MESSAGE_LIMIT else message[: MESSAGE_LIMIT - 1] + "…",
    )
    if phase in FINISHED:
        job.finished_at = timezone.now()
    job.save()


# -- checking ---------------------------------------------------------------------------------


def validate_job(job: BulkJob) -> str:
    if not _claim(job, "validate"):
        return phase_of(job)
    try:
        _validate(job)
    except csv_reading.FileProblem as exc:
        _finish(job, "rejected", str(exc))
    except Exception:  # noqa: BLE001 - staff must see the job end, not spin forever
        log.exception("checking CSV job %s failed", job.pk)
        _finish(
            job,
            "failed",
            "The file could not be checked because of an unexpected error; nothing was imported. "
            "The error was logged.",
        )
    return phase_of(job)


class _Spool:
    """Lines written to a spooled temporary buffer, then saved to media storage in one go."""

    def __init__(self):
        self.buffer = tempfile.SpooledTemporaryFile(max_size=4 * 1024 * 1024)  # noqa: SIM115 - closed by save()
        self.count = 0

    def write(self, text: str) -> None:
        self.buffer.write(text.encode("utf-8"))

    def save(self, name: str) -> str:
        self.buffer.seek(0)
        stored = default_storage.save(name, File(self.buffer, name=PurePath(name).name))
        self.buffer.close()
        return stored


def _error_report(headers: list[str], delimiter: str) -> tuple[_Spool, csv.writer, list[int]]:
    """The report keeps the upload's own columns (an old `error` column is dropped) and adds
    `error`: staff fix those rows in it and upload it as it is."""
    spool = _Spool()
    spool.write("\ufeff")  # Excel opens UTF-8 with a BOM correctly, in every locale
    keep = [i for i, h in enumerate(headers) if header_key(h) != "error"]
    writer = csv.writer(spool, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow([neutralise(headers[i]) for i in keep] + ["error"])
    return spool, writer, keep


def _validate(job: BulkJob) -> None:
    mode = mode_of(job)
    name = job.source_file.name
    facts = csv_reading.inspect(name, job.params.get("original_name", name))
    earlier = list(
        BulkJob.objects.filter(kind=job.kind, params__sha256=facts.sha256)
        .exclude(pk=job.pk)
        .order_by("-pk")
        .values_list("pk", flat=True)[:5]
    )
    job.params.update(
        sha256=facts.sha256, format=facts.description, notes=facts.notes, same_file_jobs=earlier
    )
    table = csv_reading.open_table(name, facts)
    try:
        resource = ROW_RESOURCES[mode]()
        positions, missing, ignored, repeated = resource.match_headers(table.headers)
        if repeated:
            raise csv_reading.FileProblem(
                f"The column “{repeated[0]}” appears twice in the header; keep one."
            )
        if missing:
            raise csv_reading.FileProblem(
                f"The file has no column {', '.join('“' + m + '”' for m in missing)} (columns found: "
                f"{', '.join(h for h in table.headers if h) or 'none'}). Download the template to see the columns "
                "a file needs."
            )
        job.params.update(
            ignored_columns=ignored[:20],
            headers=table.headers,
            delimiter=facts.delimiter if facts.format == "csv" else ",",
        )
        checker = CHECKERS[mode]()
        rows_out, (errors_out, writer, keep) = _Spool(), _error_report(table.headers, job.params["delimiter"])
        counts: Counter = Counter()
        chunk: list[Row] = []
        seen = 0
        max_rows, chunk_rows = settings.CSV_MAX_ROWS, settings.CSV_CHUNK_ROWS
        for number, cells in table.rows:
            if _blank_row(cells):
                continue
            seen += 1
            if seen > max_rows:
                raise csv_reading.FileProblem(
                    f"The file has more than {max_rows:,} rows; split it into files of "
                    f"{max_rows:,} rows or fewer."
                )
            chunk.append(_read_row(resource, positions, len(table.headers), number, cells, facts.delimiter))
            if len(chunk) >= chunk_rows:
                _check_chunk(chunk, checker, rows_out, writer, keep, counts)
                chunk = []
                BulkJob.objects.filter(pk=job.pk).update(
                    done=seen, total=_estimate(table, seen), heartbeat_at=timezone.now()
                )
        _check_chunk(chunk, checker, rows_out, writer, keep, counts)
    finally:
        table.close()
    if not seen:
        raise csv_reading.FileProblem("The file has a header but no rows.")
    stamp = timezone.now().strftime("%Y/%m")
    job.params["rows_file"] = rows_out.save(f"jobs/rows/{stamp}/job-{job.pk}.jsonl")
    job.params["error_file"] = (
        errors_out.save(f"jobs/errors/{stamp}/job-{job.pk}-errors.csv") if counts[ERROR] else ""
    )
    job.total, job.done, job.failed = seen, seen - counts[ERROR], counts[ERROR]
    _finish(job, "preview", _preview_message(counts, seen), counts=dict(counts))


def _estimate(table: csv_reading.Table, seen: int) -> int:
    fraction = table.fraction()
    return max(seen, int(seen / fraction)) if fraction else seen


def _blank_row(cells: list) -> bool:
    try:
        return not "".join(cells).strip()  # a CSV row: strings only, checked in C
    except TypeError:  # an XLSX row: numbers, dates, None
        return all(is_blank(c) for c in cells)


def _read_row(
    resource, positions: dict[str, int], width: int, number: int, cells: list, delimiter: str
) -> Row:
    mapped = {name: cells[pos] if pos < len(cells) else None for name, pos in positions.items()}
    values, errors = resource.clean(mapped)
    raw = ["" if c is None else str(c) for c in cells[:width]]
    raw += [""] * (width - len(raw))
    row = Row(number=number, cells=raw, values=values, errors=errors)
    if len(cells) > width and any(not is_blank(c) for c in cells[width:]):
        row.fail(
            "cells",
            f"this row has {len(cells):,} cells but the header has {width} columns (a cell with an "
            f"unquoted “{delimiter}” inside, or a row pasted out of place)",
        )
    return row


def _check_chunk(
    chunk: list[Row], checker, rows_out: _Spool, writer, keep: list[int], counts: Counter
) -> None:
    if not chunk:
        return
    checker.check(chunk)
    for row in chunk:
        if row.errors:
            row.type = ERROR
        counts[row.type] += 1
        line = {
            "r": row.number,
            "t": row.type,
            "o": row.values.get("order_number") or "",
            "m": row.error_text if row.type == ERROR else row.message,
            "c": row.cells,
        }
        if row.type in (NEW, UPDATED):
            line["s"] = row.stored
        if row.type == ERROR:
            line["e"] = row.errors
            writer.writerow([neutralise(row.cells[i]) for i in keep] + [row.error_text])
        rows_out.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")


def _preview_message(counts: Counter, total: int) -> str:
    parts = [f"{counts[t]:,} {t}" for t in (NEW, UPDATED, SKIPPED, ERROR) if counts[t]]
    message = f"{total:,} rows checked: {', '.join(parts)}."
    if counts[ERROR]:
        message += (
            " Nothing has been imported. Fix the rows in error in your file and upload it again, or import "
            "the valid rows now and upload the corrected error report afterwards."
        )
    elif not counts[NEW] + counts[UPDATED]:
        message += " There is nothing to import."
    return message


# -- reading what was checked -----------------------------------------------------------------


def stored_rows(job: BulkJob, types: tuple[str, ...] | None = None) -> Iterator[dict]:
    name = job.params.get("rows_file")
    if not name:
        return
    with io.TextIOWrapper(default_storage.open(name, "rb"), encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            if types is None or row["t"] in types:
                yield row


def preview_page(
    job: BulkJob, *, only: str = "", page: int = 1, per_page: int = 100
) -> tuple[list[dict], bool]:
    types = (only,) if only in (NEW, UPDATED, SKIPPED, ERROR) else None
    start = (max(page, 1) - 1) * per_page
    rows = list(islice(stored_rows(job, types), start, start + per_page + 1))
    return rows[:per_page], len(rows) > per_page


# -- confirming and importing -----------------------------------------------------------------


def confirm_job(job: BulkJob, *, actor, valid_rows_only: bool = False) -> bool:
    """Staff confirm a checked file. Returns False when it is not (or no longer) waiting."""
    with transaction.atomic():
        locked = BulkJob.objects.select_for_update().get(pk=job.pk)
        counts = locked.params.get("counts", {})
        if phase_of(locked) != "preview" or locked.status != BulkJob.Status.QUEUED:
            return False
        if counts.get(ERROR) and not valid_rows_only:
            return False
        todo = counts.get(NEW, 0) + counts.get(UPDATED, 0)
        locked.params = {
            **locked.params,
            "phase": "import",
            "confirmed_by": getattr(actor, "pk", None),
            "valid_rows_only": valid_rows_only,
        }
        locked.total, locked.done, locked.failed = todo, 0, 0
        locked.message = f"Importing {todo:,} rows…"
        locked.save()
    job.refresh_from_db()
    if mode_of(job) == "record" and job.total <= settings.CSV_INLINE_MAX_ROWS:
        run_job(job)
    else:
        from django_q.tasks import async_task

        transaction.on_commit(
            lambda: async_task("shipping.csv_tasks.run_job", job.pk, task_name=f"csv-run-{job.pk}")
        )
    return True


def discard_job(job: BulkJob, *, actor) -> bool:
    if phase_of(job) != "preview":
        return False
    _finish(job, "discarded", f"Discarded by {actor} without importing anything.")
    return True


def run_job(job: BulkJob) -> str:
    if not _claim(job, "import"):
        return phase_of(job)
    from shipping import csv_run

    try:
        csv_run.run(job)
    except Exception:  # noqa: BLE001
        log.exception("CSV job %s failed", job.pk)
        job.refresh_from_db()
        _finish(
            job,
            "failed",
            f"The import stopped because of an unexpected error after {job.done:,} rows "
            "(those stay imported; uploading the file again skips them). The error was logged.",
        )
    return phase_of(job)
