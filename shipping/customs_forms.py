"""The customs form Shipdesk draws when the carrier returns none (self-print, Sendcloud v2): a
CN22 for a parcel worth up to customs.CN22_LIMIT, a CN23 above, appended to the label PDF."""

from __future__ import annotations

import io
from decimal import Decimal

from reportlab.lib.pagesizes import A6
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas

from shipping.carriers.base import BookingRequest
from shipping.customs import form_kind
from shipping.labels import merge_pdfs


def render_customs_form(request: BookingRequest, *, tracking_number: str) -> bytes:
    """One A6 page per form: sender, recipient, each line (description, quantity, weight,
    value, HS code, origin), totals, the contents category and the sender's declaration."""
    customs = request.customs
    currency = customs.currency if customs else request.currency
    total = sum((Decimal(i.unit_price) * i.quantity for i in request.item_lines), Decimal("0"))
    kind = form_kind(total, currency)
    buffer = io.BytesIO()
    width, height = A6
    c = canvas.Canvas(buffer, pagesize=A6)
    c.setTitle(f"{kind} customs declaration {tracking_number}")
    m = 6 * mm
    y = height - m - 4 * mm
    c.setFont("Helvetica-Bold", 12)
    c.drawString(m, y, f"{kind} CUSTOMS DECLARATION")
    c.setFont("Helvetica", 7)
    c.drawRightString(width - m, y, "Déclaration en douane")
    y -= 5 * mm
    c.drawString(m, y, f"Tracking {tracking_number} · Order {request.order_number}")
    if customs and customs.invoice_number:
        c.drawRightString(width - m, y, f"Invoice {customs.invoice_number}")
    y -= 5 * mm
    for title, lines in (("From", request.sender.lines), ("To", request.recipient.lines)):
        c.setFont("Helvetica-Bold", 7)
        c.drawString(m, y, title)
        c.setFont("Helvetica", 7)
        for line in lines[:5]:
            y -= 3.2 * mm
            c.drawString(m + 8 * mm, y, line[:70])
        y -= 4 * mm
    contents = customs.contents if customs else "merchandise"
    c.drawString(
        m, y, f"Category: {contents.replace('_', ' ')} · Incoterm {customs.incoterm if customs else 'DAP'}"
    )
    y -= 5 * mm
    c.setFont("Helvetica-Bold", 6.5)
    columns = (m, m + 42 * mm, m + 50 * mm, m + 62 * mm, m + 76 * mm)
    for x, head in zip(columns, ("Description", "Qty", "Weight g", "Value", "HS code / origin"), strict=True):
        c.drawString(x, y, head)
    c.setFont("Helvetica", 6.5)
    count = sum(i.quantity for i in request.item_lines) or 1
    for item in request.item_lines:
        y -= 3.5 * mm
        if y < 25 * mm:
            c.drawString(m, y, "… continued on the commercial invoice")
            break
        weight = (item.weight_g or request.weight_g // count) * item.quantity
        value = Decimal(item.unit_price) * item.quantity
        cells = (
            (item.customs_description or item.title)[:30],
            str(item.quantity),
            str(weight),
            f"{value:.2f}",
            f"{item.hs_code} / {item.origin_country}",
        )
        for x, cell in zip(columns, cells, strict=True):
            c.drawString(x, y, cell)
    y -= 6 * mm
    c.setFont("Helvetica-Bold", 7)
    c.drawString(m, y, f"Total: {request.weight_g} g · {total:.2f} {currency}")
    c.setFont("Helvetica", 6)
    c.drawString(m, 12 * mm, "I certify that the particulars given in this declaration are correct and that")
    c.drawString(m, 9 * mm, "this item does not contain any dangerous article prohibited by regulations.")
    c.drawString(m, 5 * mm, f"Sender: {request.sender.name}")
    c.showPage()
    c.save()
    return buffer.getvalue()


def with_customs_form(label_pdf: bytes, request: BookingRequest, *, tracking_number: str) -> bytes:
    """The label followed by the customs form Shipdesk draws."""
    return merge_pdfs([label_pdf, render_customs_form(request, tracking_number=tracking_number)])
