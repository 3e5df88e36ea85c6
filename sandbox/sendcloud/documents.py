"""Parcel documents on the Sendcloud stand-in: label URLs, the label as a PDF (A6 for label
printers, a quadrant of an A4 sheet for normal printers) and the QR code of label-free returns.

A store whose settings say `"stock_labels": true` answers every label request with one label
rendered once per size and printer position (a specimen: the same PDF for every parcel), as a
real carrier's label is drawn on the carrier's machines, not on ours: the booking benchmark sets
it, so that drawing 1,000 labels in the stand-in does not take the cores Shipdesk is measured on.
Without it (the default, and in tests) each label carries its parcel's own tracking number and
addresses."""

from __future__ import annotations

import io
import threading
from decimal import Decimal

import segno
from django.http import HttpResponse, JsonResponse

from orders.addresses import address_lines
from sandbox.faults import mangle
from sandbox.models import SandboxOrder
from sandbox.sendcloud.plumbing import _error, _get_parcel, _guard
from shipping.labels import LabelContent, render_label, render_label_sheet

A6 = (297.64, 419.53)
_stock: dict[int | None, bytes] = {}  # printer position (None: A6 label printer) -> the specimen PDF
_stock_lock = threading.Lock()


def _stock_label(quadrant: int | None) -> bytes:
    with _stock_lock:
        if quadrant not in _stock:
            specimen = LabelContent(
                tracking_number="SENDCLOUD-SPECIMEN",
                sender_lines=["Sandbox sender", "1 Example Street", "Leeds LS1 4AB", "United Kingdom"],
                recipient_lines=["Sandbox recipient", "12 Kerkstraat", "3511 AB Utrecht", "Netherlands"],
                order_number="SPECIMEN",
                weight_g=1000,
                service="Sandbox stock label",
                carrier="Sendcloud",
            )
            _stock[quadrant] = (
                render_label(specimen, size=A6)
                if quadrant is None
                else render_label_sheet(specimen, quadrant=quadrant)
            )
        return _stock[quadrant]


def _label_pdf(parcel: SandboxOrder, *, quadrant: int | None = None) -> bytes:
    if (parcel.store.settings or {}).get("stock_labels"):
        return _stock_label(quadrant)
    d = parcel.data
    content = LabelContent(
        tracking_number=d["tracking_number"],
        sender_lines=d.get("_sender") or [],
        # As the carrier prints it: the destination country's address order, the state included.
        recipient_lines=address_lines(
            name=d.get("name") or "",
            company=d.get("company_name") or "",
            line1=f"{d.get('address') or ''} {d.get('house_number') or ''}".strip(),
            line2=d.get("address_2") or "",
            city=d.get("city") or "",
            state=d.get("to_state") or "",
            postal_code=d.get("postal_code") or "",
            country=d["country"]["iso_2"],
        ),
        order_number=d.get("order_number") or str(d["id"]),
        weight_g=int(Decimal(d.get("weight") or "0") * 1000),
        service=(d.get("shipment") or {}).get("name", ""),
        carrier=d["carrier"]["code"].replace("_", " ").title(),
    )
    if quadrant is None:
        return render_label(content, size=A6)
    return render_label_sheet(content, quadrant=quadrant)


def _pdf(data: bytes, name: str) -> HttpResponse:
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{name}"'
    return response


def _labelled(request, parcel_id):
    store, early, fault = _guard(request)
    if early:
        return None, early, None
    parcel = _get_parcel(store, parcel_id)
    if parcel is None:
        return None, _error(404, "No Parcel matches the given query.", request), None
    if not parcel.data.get("tracking_number") or parcel.data["status"]["id"] in (999, 1002):
        return None, _error(404, "This parcel has no label.", request), None
    parcel.store = store  # already read: its settings say whether labels are stock ones
    return parcel, None, fault


def label_urls(request, parcel_id):
    parcel, early, fault = _labelled(request, parcel_id)
    if early:
        return early
    return mangle(JsonResponse({"label": parcel.data["label"]}), fault)


def label_printer(request, parcel_id):
    parcel, early, fault = _labelled(request, parcel_id)
    if early:
        return early
    return mangle(_pdf(_label_pdf(parcel), f"label-{parcel_id}.pdf"), fault)


def normal_printer(request, parcel_id):
    parcel, early, fault = _labelled(request, parcel_id)
    if early:
        return early
    try:
        start = int(request.GET.get("start_from", 0))
    except ValueError:
        start = 0
    if not 0 <= start <= 3:
        return _error(400, "start_from must be 0, 1, 2 or 3.", request)
    return mangle(_pdf(_label_pdf(parcel, quadrant=start), f"label-{parcel_id}-a4.pdf"), fault)


def document(request, parcel_id, doc_type):
    if doc_type == "qr":
        return qr_document(request, parcel_id)
    if doc_type != "label":
        return _error(404, f"No {doc_type} document for this parcel.", request)
    return label_printer(request, parcel_id)


def qr_png(payload: str) -> bytes:
    """The QR code as carriers print it on their drop-off slips: error correction M, a quiet zone
    of four modules, eight pixels a module (about 260 px: sharp on any phone screen)."""
    buffer = io.BytesIO()
    segno.make(payload, error="m", micro=False).save(buffer, kind="png", scale=8, border=4)
    return buffer.getvalue()


def qr_document(request, parcel_id):
    """The label-free drop-off code: only parcels of a QR return option have one (404 for the
    others, as for any document a parcel does not have). PNG or PDF by Accept."""
    parcel, early, fault = _labelled(request, parcel_id)
    if early:
        return early
    payload = parcel.data.get("_qr_payload")
    if not payload:
        return _error(404, "No qr document for this parcel.", request)
    accept = request.headers.get("Accept", "") or "*/*"
    if "image/png" in accept:
        return mangle(HttpResponse(qr_png(payload), content_type="image/png"), fault)
    if "application/pdf" in accept or "*/*" in accept:
        buffer = io.BytesIO()
        segno.make(payload, error="m", micro=False).save(buffer, kind="pdf", scale=8, border=4)
        return mangle(_pdf(buffer.getvalue(), f"qr-{parcel_id}.pdf"), fault)
    return _error(
        406, f"The qr document is available as image/png or application/pdf, not {accept}.", request
    )
