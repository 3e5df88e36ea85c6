"""Label thumbnails: the first page of a shipment's label PDF rendered to a small PNG with PDFium
(pypdfium2), made once, on first view, and kept beside the label in media storage. Its name comes
from the label's own file name, so a relabel (a new PDF) gets a new thumbnail and a stale one is
never shown."""

from __future__ import annotations

import io
import logging
from pathlib import PurePosixPath

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

log = logging.getLogger(__name__)
WIDTH_PX = 240  # about 4 × 6 inches at 40 dpi: the address and barcode are recognisable


def thumbnail_name(label_name: str) -> str:
    path = PurePosixPath(label_name)
    return str(path.parent / "thumbs" / f"{path.stem}.png")


def render_first_page(pdf: bytes, *, width: int = WIDTH_PX) -> bytes:
    """The PDF's first page as PNG bytes, `width` pixels wide, on white."""
    import pypdfium2

    document = pypdfium2.PdfDocument(pdf)
    try:
        page = document[0]
        image = page.render(scale=width / page.get_width(), fill_color=(255, 255, 255, 255)).to_pil()
    finally:
        document.close()
    out = io.BytesIO()
    image.convert("L").save(out, format="PNG", optimize=True)  # labels are black on white
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
