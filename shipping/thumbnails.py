"""Label thumbnails: the first page of a shipment's label PDF rendered to a small PNG with PDFium
(pypdfium2), made once, on first view, and kept beside the label in media storage. Its name comes
from the label's own file name, so a relabel (a new PDF) gets a new thumbnail and a stale one is
never shown."""

from __future__ import annotations

import io
import logging
import threading
from pathlib import PurePosixPath

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

log = logging.getLogger(__name__)
_PDFIUM = threading.Lock()
WIDTH_PX = 240  # about 4 × 6 inches at 40 dpi: the address and barcode are recognisable


def thumbnail_name(label_name: str) -> str:
    path = PurePosixPath(label_name)
    return str(path.parent / "thumbs" / f"{path.stem}.png")


def render_first_page(pdf: bytes, *, width: int = WIDTH_PX) -> bytes:
    """The PDF's first page as PNG bytes, `width` pixels wide, on white."""
    import pypdfium2

    # PDFium is not thread-safe (gunicorn threads, the test server), and the image `to_pil()` gives
    # shares the bitmap's memory: copy it out (convert) before the document is closed, all under
    # one lock. Both were seen crashing the process (a segfault in PIL's PNG encoder).
    with _PDFIUM:
        document = pypdfium2.PdfDocument(pdf)
        try:
            page = document[0]
            bitmap = page.render(scale=width / page.get_width(), fill_color=(255, 255, 255, 255))
            image = bitmap.to_pil().convert("L")  # labels are black on white; a copy of the pixels
        finally:
            document.close()
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def label_thumbnail(shipment) -> str | None:
    """The storage name of the shipment's label thumbnail, rendered now if it was never made;
    None when it has no label or the PDF cannot be rendered (the page then shows the link only)."""
    if not shipment.label:
        return None
    name = thumbnail_name(shipment.label.name)
    if default_storage.exists(name):
        return name
    try:
        with shipment.label.open("rb") as f:
            png = render_first_page(f.read())
    except Exception:  # noqa: BLE001 - a broken or missing PDF must not break the page showing it
        log.warning("label of shipment %s could not be rendered", shipment.pk, exc_info=True)
        return None
    if default_storage.exists(name):  # another request made it meanwhile
        return name
    return default_storage.save(name, ContentFile(png))
