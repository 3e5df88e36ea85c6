"""PDF labels with reportlab: one 4×6 inch page per parcel, a Code 128 barcode of the
tracking number, sender, recipient, order number, weight and service."""

from __future__ import annotations

import io
from dataclasses import dataclass

from reportlab.graphics.barcode import code128
from reportlab.lib.units import inch, mm
from reportlab.pdfgen import canvas

LABEL_SIZE = (4 * inch, 6 * inch)


@dataclass
class LabelContent:
    tracking_number: str
    sender_lines: list[str]
    recipient_lines: list[str]
    order_number: str
    weight_g: int
    service: str
    carrier: str
    brand: str = ""


def draw_label(c: canvas.Canvas, label: LabelContent, origin=(0, 0), size=LABEL_SIZE) -> None:
    x0, y0 = origin
    w, h = size
    m = 6 * mm
    c.setLineWidth(1)
    c.rect(x0 + 3 * mm, y0 + 3 * mm, w - 6 * mm, h - 6 * mm)
    top = y0 + h - m
    c.setFont("Helvetica-Bold", 12)
    c.drawString(x0 + m, top - 10, (label.carrier or "Shipment")[:40])
    c.setFont("Helvetica", 9)
    c.drawRightString(x0 + w - m, top - 10, (label.service or "")[:40])
    c.setFont("Helvetica", 7)
    y = top - 26
    c.drawString(x0 + m, y, "FROM:")
    for line in label.sender_lines[:5]:
        y -= 9
        c.drawString(x0 + m, y, line[:60])
    y -= 18
    c.setFont("Helvetica-Bold", 9)
    c.drawString(x0 + m, y, "TO:")
    c.setFont("Helvetica-Bold", 12)
    for line in label.recipient_lines[:7]:
        y -= 15
        c.drawString(x0 + m + 6, y, line[:38])
    c.setFont("Helvetica", 9)
    y -= 22
    c.drawString(x0 + m, y, f"Order {label.order_number}")
    c.drawRightString(x0 + w - m, y, f"{label.weight_g / 1000:.3f} kg" if label.weight_g else "")
    if label.brand:
        y -= 12
        c.drawString(x0 + m, y, label.brand[:50])
    barcode = code128.Code128(label.tracking_number, barHeight=22 * mm, barWidth=0.33 * mm)
    bx = x0 + (w - barcode.width) / 2
    barcode.drawOn(c, max(bx, x0 + m), y0 + 20 * mm)
    c.setFont("Helvetica-Bold", 11)
    c.drawCentredString(x0 + w / 2, y0 + 13 * mm, label.tracking_number)


def render_label(label: LabelContent) -> bytes:
    buffer = io.BytesIO()
    c = canvas.Canvas(buffer, pagesize=LABEL_SIZE)
    c.setTitle(f"Label {label.tracking_number}")
    draw_label(c, label)
    c.showPage()
    c.save()
    return buffer.getvalue()


def merge_pdfs(documents: list[bytes]) -> bytes:
    """One PDF from many (each label keeps its own page size)."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    for document in documents:
        writer.append(io.BytesIO(document))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
