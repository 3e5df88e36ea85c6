"""The supplier's private page: a tokenised link per supplier where they type or upload
tracking numbers for the orders they have. No login; the link is the key, so it is never
cached, indexed or leaked through the Referer header to another site."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache

from suppliers import tracking
from suppliers.forms import TrackingCsvForm
from suppliers.models import Supplier, SupplierOrder

MAX_LISTED = 500


def _rows_from_post(post, references: set[str]) -> list[dict]:
    rows = []
    for reference in sorted(references):
        number = post.get(f"tracking-{reference}", "").strip()[:100]
        if number:
            rows.append(
                {
                    "reference": reference,
                    "tracking_number": number,
                    "carrier": post.get(f"carrier-{reference}", "").strip()[:100],
                    "tracking_url": post.get(f"url-{reference}", "").strip()[:500],
                }
            )
    return rows


@never_cache
def upload(request, token):
    supplier = get_object_or_404(Supplier, upload_token=token, is_active=True)
    open_orders = list(
        supplier.orders.filter(status=SupplierOrder.Status.PLACED)
        .select_related("order")
        .prefetch_related("lines")
        .order_by("placed_at", "id")[:MAX_LISTED]
    )
    form = TrackingCsvForm()
    if request.method == "POST":
        source = f"{supplier.name}'s upload page"
        try:
            if request.FILES:
                form = TrackingCsvForm(request.POST, request.FILES)
                if not form.is_valid():
                    raise tracking.TrackingError("; ".join(e for errs in form.errors.values() for e in errs))
                summary = tracking.import_csv(
                    form.cleaned_data["file"].read(), supplier=supplier, source=source
                )
            else:
                rows = _rows_from_post(request.POST, {so.reference for so in open_orders})
                if not rows:
                    raise tracking.TrackingError("type at least one tracking number")
                summary = tracking.submit(rows, supplier=supplier, source=source)
        except tracking.TrackingError as exc:
            messages.error(request, f"Nothing recorded: {exc}.")
        else:
            if summary.recorded or summary.unchanged:
                messages.success(request, f"Thank you: {summary}.")
            for problem in summary.problems:
                messages.error(request, problem)
            return redirect("suppliers:upload", token=token)
    shipped = (
        supplier.orders.filter(
            status=SupplierOrder.Status.SHIPPED, shipped_at__gte=timezone.now() - timedelta(days=30)
        )
        .select_related("order")
        .order_by("-shipped_at")[:100]
    )
    response = TemplateResponse(
        request,
        "suppliers/upload.html",
        {
            "supplier": supplier,
            "open_orders": open_orders,
            "shipped": shipped,
            "form": form,
        },
    )
    # "same-origin", not "no-referrer": the link never leaves the site in a Referer header, and the
    # page's own form still tells Django where it came from (with "no-referrer" Chromium sends
    # `Origin: null` and the CSRF check refuses the supplier's tracking numbers).
    response["Referrer-Policy"] = "same-origin"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response
