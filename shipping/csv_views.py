"""Admin pages for spreadsheet uploads: thin views over shipping.csv_import (the order and
shipment exports are on their lists: orders.admin.SpreadsheetExportMixin). Mounted at
/admin/shipping/csv/ by config/urls.py; each view is wrapped in admin_site.admin_view (staff
only) and checks its own permission."""

from __future__ import annotations

import csv
import io

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from channels.models import Channel
from shipping import csv_import
from shipping.models import BulkJob, CarrierAccount
from shipping.resources import ROW_RESOURCES

IMPORT_PERMISSION = "orders.import_shipments"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _allowed(request, permission: str = IMPORT_PERMISSION) -> None:
    if not request.user.has_perm(permission):
        raise PermissionDenied


def _page(request, template: str, title: str, **context) -> TemplateResponse:
    return TemplateResponse(
        request,
        f"admin/shipping/csv/{template}",
        {**admin.site.each_context(request), "title": title, **context},
    )


class UploadForm(forms.Form):
    mode = forms.ChoiceField(
        label="What the rows do",
        widget=forms.RadioSelect,
        initial="record",
        choices=[
            ("record", "Record shipments booked elsewhere: the tracking goes to the channel"),
            ("book", "Book shipments: buy a label for each row (one PDF for the batch)"),
        ],
    )
    file = forms.FileField(
        label="CSV or Excel file",
        allow_empty_file=True,
        help_text=(
            "CSV (UTF-8 or Windows-1252; commas or semicolons) or .xlsx. One row per order; the first row names "
            "the columns."
        ),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.size:
            raise forms.ValidationError(
                "The file is empty (0 bytes). Save it again from Excel and upload it."
            )
        return upload


def upload(request):
    _allowed(request)
    form, refusal = UploadForm(), ""
    limit = settings.CSV_MAX_UPLOAD_MB * 1024 * 1024
    if request.method == "POST":
        # Refuse a too-big upload from its announced length, before Django reads it.
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if length > limit + 64 * 1024:
            refusal = (
                f"The upload is {length / 1024 / 1024:,.1f} MB; the limit is {settings.CSV_MAX_UPLOAD_MB} MB. "
                "Split it into several files."
            )
        else:
            form = UploadForm(request.POST, request.FILES)
            if form.is_valid():
                try:
                    job = csv_import.start_import(
                        mode=form.cleaned_data["mode"], upload=form.cleaned_data["file"], actor=request.user
                    )
                except csv_import.UploadRefused as exc:
                    form.add_error("file", str(exc))
                else:
                    return redirect("shipping_csv:job", pk=job.pk)
    uses = [{"mode": mode, "title": r.title, "columns": r().columns()} for mode, r in ROW_RESOURCES.items()]
    recent = _labelled(_jobs().select_related("created_by")[:5])
    return _page(
        request,
        "upload.html",
        "Import shipments from a spreadsheet",
        form=form,
        refusal=refusal,
        uses=uses,
        recent=recent,
        limits={"mb": settings.CSV_MAX_UPLOAD_MB, "rows": settings.CSV_MAX_ROWS},
    )


def _jobs():
    return BulkJob.objects.filter(kind__in=csv_import.KINDS.values()).order_by("-pk")


def _labelled(jobs) -> list[BulkJob]:
    jobs = list(jobs)
    for j in jobs:
        j.phase_label = csv_import.PHASES.get(csv_import.phase_of(j), j.get_status_display())
    return jobs


def jobs(request):
    _allowed(request)
    page = Paginator(_jobs().select_related("created_by"), 50).get_page(request.GET.get("page"))
    return _page(request, "jobs.html", "Spreadsheet imports", page=page, jobs=_labelled(page.object_list))


def _status(job: BulkJob) -> dict:
    phase = csv_import.phase_of(job)
    total = job.total or 0
    if phase == "validate":
        percent = int(100 * job.done / total) if total else 0
    elif phase in ("import", "merging"):
        percent = int(100 * (job.done + job.failed) / total) if total else 100
    else:
        percent = 100
    return {
        "id": job.pk,
        "phase": phase,
        "label": csv_import.PHASES.get(phase, phase),
        "status": job.status,
        "percent": min(percent, 100),
        "done": job.done,
        "failed": job.failed,
        "total": total,
        "message": job.message,
        "finished": phase not in ("validate", "import", "merging"),
    }


def job(request, pk: int):
    _allowed(request)
    job = get_object_or_404(_jobs().select_related("created_by"), pk=pk)
    status = _status(job)
    only = request.GET.get("only", "")
    try:
        page_number = max(1, int(request.GET.get("page", 1)))
    except ValueError:
        page_number = 1
    rows, has_next = ([], False)
    if status["finished"] and job.params.get("rows_file"):
        rows, has_next = csv_import.preview_page(job, only=only, page=page_number)
    counts = (
        {t: job.params.get("counts", {}).get(t, 0) for t in ("new", "updated", "skipped", "error")}
        if job.params.get("counts")
        else {}
    )
    todo = counts.get("new", 0) + counts.get("updated", 0)
    return _page(
        request,
        "job.html",
        f"{job.get_kind_display()} #{job.pk}",
        job=job,
        state=status,
        rows=rows,
        only=only,
        page_number=page_number,
        has_next=has_next,
        counts=counts,
        todo=todo,
        mode=csv_import.mode_of(job),
        can_confirm=status["phase"] == "preview" and not counts.get("error") and todo > 0,
        can_confirm_valid=status["phase"] == "preview" and counts.get("error") and todo > 0,
        refresh=not status["finished"],
    )


@require_GET
def job_status(request, pk: int):
    _allowed(request)
    job = get_object_or_404(_jobs(), pk=pk)
    return JsonResponse(_status(job))


@require_POST
def confirm(request, pk: int):
    _allowed(request)
    job = get_object_or_404(_jobs(), pk=pk)
    valid_only = request.POST.get("valid_rows_only") == "1"
    if csv_import.confirm_job(job, actor=request.user, valid_rows_only=valid_only):
        messages.success(request, "Import started." if csv_import.phase_of(job) == "import" else job.message)
    else:
        messages.error(
            request,
            "This file is not waiting for confirmation (already imported, discarded, or it has errors).",
        )
    return redirect("shipping_csv:job", pk=job.pk)


@require_POST
def discard(request, pk: int):
    _allowed(request)
    job = get_object_or_404(_jobs(), pk=pk)
    if csv_import.discard_job(job, actor=request.user):
        messages.success(request, "Discarded: nothing was imported.")
    return redirect("shipping_csv:job", pk=job.pk)


def download(request, pk: int, what: str):
    _allowed(request)
    job = get_object_or_404(_jobs(), pk=pk)
    names = {
        "source": (job.source_file.name, job.params.get("original_name") or "upload"),
        "errors": (job.params.get("error_file"), f"errors-import-{job.pk}.csv"),
        "failed": (job.params.get("failed_file"), f"failed-import-{job.pk}.csv"),
        "labels": (job.output_file.name, f"labels-import-{job.pk}.pdf"),
    }
    name, filename = names.get(what, (None, None))
    if not name or not default_storage.exists(name):
        raise Http404("No such file for this import")
    return FileResponse(default_storage.open(name, "rb"), as_attachment=True, filename=filename)


def _example(mode: str) -> dict[str, str]:
    values = {c.column_name: c.example for c in ROW_RESOURCES[mode]().columns()}
    channel = Channel.objects.order_by("name").values_list("name", flat=True).first()
    if channel:
        values["channel"] = channel
    if mode == "record":
        values["ship_date"] = timezone.localdate().isoformat()
    else:
        account = CarrierAccount.objects.filter(is_active=True).order_by("-is_default", "name").first()
        values["carrier_account"] = account.name if account else ""
    return values


@require_GET
def template(request, mode: str, fmt: str):
    _allowed(request)
    if mode not in ROW_RESOURCES or fmt not in ("csv", "xlsx"):
        raise Http404
    example = _example(mode)
    headers = list(example)
    filename = f"shipdesk-{mode}-template.{fmt}"
    if fmt == "csv":
        out = io.StringIO()
        out.write("\ufeff")
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerows([headers, [example[h] for h in headers]])
        response = HttpResponse(out.getvalue().encode("utf-8"), content_type="text/csv; charset=utf-8")
    else:
        import openpyxl

        book = openpyxl.Workbook()
        sheet = book.active
        sheet.title = mode
        sheet.append(headers)
        sheet.append([example[h] for h in headers])
        for i, header in enumerate(headers, start=1):
            # Text columns stay text: Excel would turn 9400111899223100000000 into 9.4E+21.
            if header in ("order_number", "tracking_number"):
                for cell in sheet.iter_cols(min_col=i, max_col=i, min_row=1, max_row=1000):
                    for c in cell:
                        c.number_format = "@"
            sheet.column_dimensions[openpyxl.utils.get_column_letter(i)].width = max(14, len(header) + 4)
        out = io.BytesIO()
        book.save(out)
        response = HttpResponse(out.getvalue(), content_type=XLSX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
