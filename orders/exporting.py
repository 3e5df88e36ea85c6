"""Big exports: a CSV streams to the browser as its rows are read (the first bytes leave at once,
memory stays flat whatever the row count), and an XLSX of more than EXPORT_INLINE_MAX_ROWS rows
is written by the task cluster (an `ExportJob` row with a claim, a heartbeat and its progress)
to a file staff download from the job's page. Every cell goes through the resource, so formula
neutralisation (orders.resources.FormulaSafeExport) holds in both."""

from __future__ import annotations

import codecs
import csv
import logging
import pickle
import tempfile
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from functools import partial

from django.apps import apps
from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string
from django_q.tasks import async_task

from channels.models import worker_name
from orders import resources
from orders.models import ExportJob
from orders.resources import write_xlsx

log = logging.getLogger(__name__)
STREAM_ROWS = 500  # CSV rows per chunk sent to the browser


class _Line:
    """csv.writer's file: hands back what it is given, so each row becomes one string."""

    def write(self, value: str) -> str:
        return value


def row_function(resource, *, selected_fields, native: bool) -> Callable[[object], list]:
    """How one object becomes one row: what `resource.export_resource` does, with its per-row
    lookups (the export fields, each field's name and dehydrate method) made once instead of
    for every cell, which is most of its cost at 100,000 rows. Cells are neutralised as
    FormulaSafeExport.export_field neutralises them; another resource keeps its own path."""
    if not isinstance(resource, resources.FormulaSafeExport):
        return lambda obj: resource.export_resource(
            obj, selected_fields=selected_fields, force_native_type=native
        )
    getters = []
    for export_field in resource.get_export_fields(selected_fields):
        dehydrate = export_field.get_dehydrate_method(resource.get_field_name(export_field))
        method = dehydrate if callable(dehydrate) else getattr(resource, dehydrate, None)
        getters.append(method or partial(export_field.export, force_native_type=native))
    neutralise = resources.neutralise
    return lambda obj: [neutralise(get(obj)) for get in getters]


def export_rows(resource, queryset, *, selected_fields, native: bool) -> Iterator[list]:
    """The rows of `queryset` through `resource`, read EXPORT_CHUNK_ROWS at a time (a server-side
    cursor on PostgreSQL): one query, whatever the row count."""
    prepare = getattr(resource, "prepare_export_queryset", None)
    if prepare is not None:
        queryset = prepare(queryset)
    row = row_function(resource, selected_fields=selected_fields, native=native)
    for obj in queryset.iterator(chunk_size=resources.EXPORT_CHUNK_ROWS):
        yield row(obj)


def stream_csv(resource, queryset, *, selected_fields=None, encoding: str = "utf-8-sig") -> Iterator[bytes]:
    """A CSV export as bytes, chunk by chunk: the header first (before any row is read, so the
    browser starts the download at once), then STREAM_ROWS rows at a time."""
    encoder = codecs.getincrementalencoder(encoding)()
    writer = csv.writer(_Line())  # the dialect tablib's CSV uses (Excel's)
    yield encoder.encode(writer.writerow(resource.get_export_headers(selected_fields=selected_fields)))
    chunk: list[str] = []
    for row in export_rows(resource, queryset, selected_fields=selected_fields, native=False):
        chunk.append(writer.writerow(row))
        if len(chunk) >= STREAM_ROWS:
            yield encoder.encode("".join(chunk))
            chunk = []
    yield encoder.encode("".join(chunk), final=True)


def is_large(queryset, limit: int) -> bool:
    """More than `limit` rows (a bounded read of their ids, never a full count)."""
    return len(queryset.order_by().values_list("pk", flat=True)[: limit + 1]) > limit


def start_export_job(
    *, resource, queryset, selected_fields, file_format: str, filename: str, actor
) -> ExportJob:
    """Queue an export of `queryset` (the list's own query: filters, search, ordering) through
    `resource`; the task cluster writes it (`run_export_job`)."""
    job = ExportJob.objects.create(
        created_by=actor if getattr(actor, "pk", None) else None,
        model_label=queryset.model._meta.label_lower,
        resource_path=f"{type(resource).__module__}.{type(resource).__qualname__}",
        selected_fields=list(selected_fields or []),
        query=pickle.dumps(queryset.query),
        file_format=file_format,
        filename=filename[:200],
    )
    transaction.on_commit(lambda: enqueue(job.pk))
    return job


def enqueue(job_id: int) -> None:
    async_task("orders.tasks.run_export", job_id, task_name=f"export-{job_id}")


def _stale_before():
    return timezone.now() - timedelta(seconds=settings.EXPORT_HEARTBEAT_STALE_SECONDS)


def _claimable() -> Q:
    return Q(status=ExportJob.Status.QUEUED) | Q(
        status=ExportJob.Status.RUNNING, heartbeat_at__lt=_stale_before()
    )


def due_export_ids() -> list[int]:
    """Jobs the dispatcher queues again: queued and never picked up, or whose worker died."""
    stale = _stale_before()
    return list(
        ExportJob.objects.filter(
            Q(status=ExportJob.Status.QUEUED, created_at__lt=stale)
            | Q(status=ExportJob.Status.RUNNING, heartbeat_at__lt=stale)
        ).values_list("pk", flat=True)
    )


class TakenOver(Exception):
    pass


def run_export_job(job_id: int) -> str:
    """Claim the job (or take over a dead worker's), write the file with progress and heartbeat
    every EXPORT_CHUNK_ROWS rows, store it, and mark it ready. A run that finds the job claimed
    by a live worker, or finished, does nothing."""
    me = f"{worker_name()}:{timezone.now().timestamp():.3f}"
    now = timezone.now()
    if not ExportJob.objects.filter(_claimable(), pk=job_id).update(
        status=ExportJob.Status.RUNNING, claimed_by=me, heartbeat_at=now, done=0
    ):
        return "not claimed"
    job = ExportJob.objects.get(pk=job_id)
    mine = ExportJob.objects.filter(pk=job_id, claimed_by=me, status=ExportJob.Status.RUNNING)
    try:
        model = apps.get_model(job.model_label)
        queryset = model._default_manager.all()
        queryset.query = pickle.loads(job.query)  # noqa: S301 - written by start_export_job only
        resource = import_string(job.resource_path)()
        mine.update(total=queryset.count(), heartbeat_at=timezone.now())
        rows = _with_progress(
            export_rows(
                resource,
                queryset,
                selected_fields=job.selected_fields or None,
                native=job.file_format == "xlsx",
            ),
            mine,
        )
        headers = resource.get_export_headers(selected_fields=job.selected_fields or None)
        with tempfile.TemporaryFile() as out:
            if job.file_format == "xlsx":
                write_xlsx(out, headers, rows, title=str(model._meta.verbose_name_plural))
            else:
                text = codecs.getwriter("utf-8-sig")(out)
                for chunk in _csv_lines(headers, rows):
                    text.write(chunk)
            out.seek(0)
            job.file.save(job.filename, File(out), save=False)
        if not mine.update(status=ExportJob.Status.DONE, file=job.file.name, finished_at=timezone.now()):
            job.file.delete(save=False)  # another worker took over meanwhile: its file counts
            return "taken over"
    except TakenOver:
        return "taken over"
    except Exception as exc:  # noqa: BLE001 - staff see why, and the claim is released
        log.exception("export %s failed", job_id)
        mine.update(
            status=ExportJob.Status.FAILED,
            error=f"{exc.__class__.__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
        )
        return "failed"
    return "done"


def _csv_lines(headers, rows: Iterable[list]) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield writer.writerow(headers)
    for row in rows:
        yield writer.writerow(row)


def _with_progress(rows: Iterable[list], mine) -> Iterator[list]:
    done = 0
    for row in rows:
        yield row
        done += 1
        if done % resources.EXPORT_CHUNK_ROWS == 0 and not mine.update(
            done=done, heartbeat_at=timezone.now()
        ):
            raise TakenOver
    mine.update(done=done, heartbeat_at=timezone.now())
