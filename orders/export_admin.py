"""The admin side of exports (the UI layer of orders.exporting): the response a list's export
gives (a streamed CSV, an XLSX written inline, or a job page for a large XLSX), and the export
jobs' pages (progress, download)."""

from django.conf import settings
from django.contrib import admin
from django.http import FileResponse, Http404, HttpResponseRedirect, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from orders import exporting
from orders.models import ExportJob
from orders.resources import export_file

REFRESH_SECONDS = 2


def export_response(
    resource, queryset, *, request, xlsx: bool, selected_fields, encoding, content_type, filename
):
    """A CSV of up to EXPORT_STREAM_MAX_ROWS rows streams (first bytes at once, memory flat); an
    XLSX of up to EXPORT_INLINE_MAX_ROWS rows is written in the request. A bigger one is queued
    as an ExportJob and staff are sent to its page, which offers the file when it is ready: a
    response that outlives gunicorn's worker timeout (30 s) would be cut off."""
    limit = settings.EXPORT_INLINE_MAX_ROWS if xlsx else settings.EXPORT_STREAM_MAX_ROWS
    if exporting.is_large(queryset, limit):
        job = exporting.start_export_job(
            resource=resource,
            queryset=queryset,
            selected_fields=selected_fields,
            file_format="xlsx" if xlsx else "csv",
            filename=filename,
            actor=request.user,
        )
        return HttpResponseRedirect(reverse("admin:orders_exportjob_progress", args=[job.pk]))
    if not xlsx:
        response = StreamingHttpResponse(
            exporting.stream_csv(resource, queryset, selected_fields=selected_fields, encoding=encoding),
            content_type=content_type,
        )
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
    file = export_file(resource, queryset, xlsx=True, selected_fields=selected_fields, encoding=encoding)
    return FileResponse(file, as_attachment=True, content_type=content_type, filename=filename)


def job_state(job: ExportJob) -> dict:
    return {
        "id": job.pk,
        "status": job.status,
        "status_label": job.get_status_display(),
        "total": job.total,
        "done": job.done,
        "percent": job.percent,
        "finished": job.is_finished,
        "error": job.error,
        "download": reverse("admin:orders_exportjob_download", args=[job.pk])
        if job.status == ExportJob.Status.DONE
        else "",
    }


@admin.register(ExportJob)
class ExportJobAdmin(admin.ModelAdmin):
    """Staff see their own exports (a superuser sees all): the file holds customers' addresses."""

    list_display = ["__str__", "status", "progress", "created_by", "created_at", "open_link"]
    list_filter = ["status"]
    list_select_related = ["created_by"]
    show_facets = admin.ShowFacets.NEVER

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_staff

    def get_queryset(self, request):
        qs = super().get_queryset(request).defer("query")
        return qs if request.user.is_superuser else qs.filter(created_by=request.user)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/progress/", view(self.progress_view), name="orders_exportjob_progress"),
            path("<int:pk>/status.json", view(self.status_view), name="orders_exportjob_status"),
            path("<int:pk>/download/", view(self.download_view), name="orders_exportjob_download"),
        ] + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return HttpResponseRedirect(reverse("admin:orders_exportjob_progress", args=[object_id]))

    def _job(self, request, pk) -> ExportJob:
        return get_object_or_404(self.get_queryset(request), pk=pk)

    def progress_view(self, request, pk):
        job = self._job(request, pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": ExportJob._meta,
            "job": job,
            "state": job_state(job),
            "title": str(job),
            "refresh": REFRESH_SECONDS,
        }
        return TemplateResponse(request, "admin/orders/exportjob_progress.html", context)

    def status_view(self, request, pk):
        return JsonResponse(job_state(self._job(request, pk)))

    def download_view(self, request, pk):
        job = self._job(request, pk)
        if job.status != ExportJob.Status.DONE or not job.file:
            raise Http404(_("Not ready"))
        content_type = (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            if job.file_format == "xlsx"
            else "text/csv"
        )
        return FileResponse(
            job.file.open("rb"), as_attachment=True, content_type=content_type, filename=job.filename
        )

    @admin.display(description=gettext_lazy("Progress"))
    def progress(self, obj):
        return f"{obj.done} / {obj.total}"

    @admin.display(description="")
    def open_link(self, obj):
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:orders_exportjob_progress", args=[obj.pk]), _("Open")
        )
