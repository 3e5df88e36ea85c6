"""Background jobs staff started (bulk bookings): the progress page (each order's outcome, and
for an unfinished job what is pending and why), its JSON, the print files and "retry failed"."""

from django.contrib import admin, messages
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from orders.admin import badge
from shipping import bulk, printing
from shipping.admin.shipments import label_link, tracking_link
from shipping.models import BulkJob, BulkJobItem

REFRESH_SECONDS = 2


def progress_url(job: BulkJob) -> str:
    return reverse("admin:shipping_bulkjob_progress", args=[job.pk])


def job_state(job: BulkJob) -> dict:
    files = {}
    if job.output_file:
        files["labels"] = reverse("admin:shipping_bulkjob_file", args=[job.pk, "labels"])
    if job.slips_file:
        files["slips"] = reverse("admin:shipping_bulkjob_file", args=[job.pk, "slips"])
    if job.is_finished and job.items.filter(shipment__label_format="zpl").exists():
        files["zpl"] = reverse("admin:shipping_bulkjob_file", args=[job.pk, "zpl"])
    return {
        "id": job.pk,
        "status": job.status,
        "status_label": job.get_status_display(),
        "total": job.total,
        "done": job.done,
        "failed": job.failed,
        "percent": job.percent,
        "finished": job.is_finished,
        "message": job.message,
        "files": files,
    }


class StuckFilter(admin.SimpleListFilter):
    """The desk's "stuck jobs" queue: unfinished bookings with no sign of life (bulk.stuck_jobs)."""

    title = _("progress")
    parameter_name = "stuck"

    def lookups(self, request, model_admin):
        return [("yes", _("Stuck (no progress)"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(pk__in=bulk.stuck_jobs().values("pk"))
        return queryset


@admin.register(BulkJob)
class BulkJobAdmin(admin.ModelAdmin):
    list_display = ["__str__", "state", "progress", "created_by", "created_at", "finished_at", "open_link"]
    list_filter = ["kind", "status", StuckFilter]
    list_select_related = ["created_by"]
    show_facets = admin.ShowFacets.NEVER

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/progress/", view(self.progress_view), name="shipping_bulkjob_progress"),
            path("<int:pk>/status.json", view(self.status_view), name="shipping_bulkjob_status"),
            path("<int:pk>/file/<str:which>/", view(self.file_view), name="shipping_bulkjob_file"),
            path("<int:pk>/retry/", view(require_POST(self.retry_view)), name="shipping_bulkjob_retry"),
        ] + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return HttpResponseRedirect(reverse("admin:shipping_bulkjob_progress", args=[object_id]))

    def _job(self, request, pk) -> BulkJob:
        job = get_object_or_404(BulkJob, pk=pk)
        if not self.has_view_permission(request, job):
            raise Http404
        return job

    def progress_view(self, request, pk):
        """Works without JavaScript (the page refreshes itself until the job is done); with it,
        the bar follows the JSON endpoint instead of reloading."""
        job = self._job(request, pk)
        items = list(job.items.select_related("shipment")) if job.kind == BulkJob.Kind.BOOK_ORDERS else []
        for item in items:
            if item.shipment_id and item.state == BulkJobItem.State.BOOKED:
                item.tracking_html, item.label_html = tracking_link(item.shipment), label_link(item.shipment)
        context = {
            **self.admin_site.each_context(request),
            "opts": BulkJob._meta,
            "job": job,
            "state": job_state(job),
            "title": str(job),
            "refresh": REFRESH_SECONDS,
            "failures": job.failures,
            "retry_of": job.params.get("retry_of"),
            "items": items,
            "pending": bulk.pending_items(job) if items and not job.is_finished else [],
            "stuck": dict(bulk.problem_jobs()).get(job) if not job.is_finished else None,
        }
        return TemplateResponse(request, "admin/shipping/bulkjob_progress.html", context)

    def status_view(self, request, pk):
        return JsonResponse(job_state(self._job(request, pk)))

    def file_view(self, request, pk, which):
        job = self._job(request, pk)
        if which == "zpl":
            data = bulk.zpl_labels(job)
            if not data:
                raise Http404("No ZPL labels")
            response = HttpResponse(data, content_type="application/zpl")
            response["Content-Disposition"] = f'attachment; filename="labels-job-{job.pk}.zpl"'
            return response
        field = {"labels": job.output_file, "slips": job.slips_file}.get(which)
        if not field:
            raise Http404("Not ready")
        name = f"{'labels' if which == 'labels' else 'packing-slips'}-job-{job.pk}.pdf"
        if which == "labels":
            printing.mark_printed(
                job.items.filter(shipment__isnull=False).values_list("shipment_id", flat=True)
            )
        return FileResponse(field.open("rb"), content_type="application/pdf", filename=name)

    def retry_view(self, request, pk):
        job = self._job(request, pk)
        if not request.user.has_perm("shipping.add_shipment"):
            raise Http404
        retry = bulk.retry_failed(job, actor=request.user)
        if retry is None:
            self.message_user(request, "None of the failed orders still awaits shipment.", messages.WARNING)
            return HttpResponseRedirect(progress_url(job))
        self.message_user(request, f"Booking the {retry.total} failed order(s) again.", messages.SUCCESS)
        return HttpResponseRedirect(progress_url(retry))

    @admin.display(description="Status", ordering="status")
    def state(self, obj):
        colour = {
            "done": "sent",
            "failed": "failed",
            "running": "pending",
            "merging": "pending",
            "queued": "pending",
        }.get(obj.status)
        return badge(colour, obj.get_status_display())

    @admin.display(description="Progress")
    def progress(self, obj):
        return format_html(
            "{} / {}{}",
            obj.done + obj.failed,
            obj.total,
            format_html(' <span style="color:#c62828">({} failed)</span>', obj.failed) if obj.failed else "",
        )

    @admin.display(description="")
    def open_link(self, obj):
        return format_html('<a href="{}">Open</a>', progress_url(obj))
