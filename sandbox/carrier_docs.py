"""Documents the direct-carrier stand-ins hand out (UPS, MyDHL, Canada Post): a label as a real
PDF, as the PNG image UPS returns for image labels, or as ZPL for thermal printers, each carrying
the tracking number (printed and as a Code 128 barcode), and a customs invoice PDF."""

from __future__ import annotations

import base64
import io

from shipping.labels import LabelContent, render_label


def label_pdf(
    *,
    tracking: str,
    sender: list[str],
    recipient: list[str],
    reference: str,
    weight_g: int,
    service: str,
    carrier: str,
) -> bytes:
    return render_label(
        LabelContent(
            tracking_number=tracking,
            sender_lines=[x for x in sender if x],
            recipient_lines=[x for x in recipient if x],
            order_number=reference or tracking,
            weight_g=weight_g,
            service=service,
            carrier=carrier,
        )
    )


def label_png(pdf: bytes, *, rotate: int = 90) -> bytes:
    """The label as UPS sends an image label: a PNG, on its side (Karrio turns it back)."""
    import pypdfium2

    document = pypdfium2.PdfDocument(io.BytesIO(pdf))
    try:
        image = document[0].render(scale=300 / 72).to_pil()
    finally:
        document.close()
    buffer = io.BytesIO()
    image.convert("L").rotate(rotate, expand=True).save(buffer, format="PNG")
    return buffer.getvalue()


def label_zpl(*, tracking: str, recipient: list[str], service: str) -> bytes:
    lines = "".join(
        f"^FO40,{200 + 40 * i}^A0N,30,30^FD{text[:40]}^FS" for i, text in enumerate(recipient[:6])
    )
    return (
        f"^XA^CI28^FO40,40^A0N,40,40^FD{service[:30]}^FS{lines}^FO40,560^BY3^BCN,160,Y,N,N^FD{tracking}^FS^XZ"
    ).encode()


def invoice_pdf(*, number: str, lines: list[str]) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    c = canvas.Canvas(buffer, pagesize=A4)
    c.setFont("Helvetica-Bold", 14)
    c.drawString(50, 800, f"COMMERCIAL INVOICE {number}")
    c.setFont("Helvetica", 10)
    for i, text in enumerate(lines[:40]):
        c.drawString(50, 770 - 16 * i, text[:100])
    c.showPage()
    c.save()
    return buffer.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
