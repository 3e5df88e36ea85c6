"""PDF labels with reportlab: one 4×6 inch page per parcel, a Code 128 barcode of the
tracking number, sender, recipient, order number, weight and service. Also the print files
of a bulk booking: labels merged one per page or four to an A4 sheet, and packing slips."""

from __future__ import annotations

import io
from dataclasses import dataclass

from reportlab.graphics.barcode import code128
from reportlab.lib.pagesizes import A4, A6
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
    logo: bytes = b""  # the brand's logo (PNG or JPEG); the brand's name is printed without one


# Images drawn into PDFs (brand logos, product pictures) are decoded with Pillow first: a file
# that is not a picture, or one that would decode into a huge bitmap, is left out, never fatal.
MAX_IMAGE_PIXELS = 25_000_000


def image_reader(data: bytes | None):
    """A reportlab ImageReader for PNG/JPEG/GIF/WebP bytes, or None when they are not a usable
    picture (an SVG logo, a broken download, a decompression bomb)."""
    if not data:
        return None
    from PIL import Image
    from reportlab.lib.utils import ImageReader

    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.width * probe.height > MAX_IMAGE_PIXELS:
                return None
            probe.verify()
        image = Image.open(io.BytesIO(data))
        image.load()
        if image.mode not in ("RGB", "RGBA", "L"):
            image = image.convert("RGBA")
        return ImageReader(image)
    except Exception:  # noqa: BLE001 - Pillow raises many kinds of error for a bad file
        return None


def _fit_lines(
    lines: list[str], font: str, size: float, width: float, *, min_size: float
) -> tuple[list[str], float]:
    """The lines at the biggest size (down to `min_size`) at which none is wider than `width`;
    what is still too wide at `min_size` wraps onto a further line instead of being cut off
    (the end of a US town line is the state and ZIP code)."""
    from reportlab.lib.utils import simpleSplit
    from reportlab.pdfbase.pdfmetrics import stringWidth

    while size > min_size and any(stringWidth(line, font, size) > width for line in lines):
        size -= 0.5
    wrapped = [part for line in lines for part in (simpleSplit(line, font, size, width) or [line])]
    return wrapped, size


def draw_label(c: canvas.Canvas, label: LabelContent, origin=(0, 0), size=LABEL_SIZE) -> None:
    x0, y0 = origin
    w, h = size
    m = 6 * mm
    inner = w - 2 * m
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
    sender, sender_size = _fit_lines(label.sender_lines, "Helvetica", 7, inner, min_size=5.5)
    c.setFont("Helvetica", sender_size)
    for line in sender[:8]:
        y -= sender_size + 2
        c.drawString(x0 + m, y, line)
    y -= 18
    c.setFont("Helvetica-Bold", 9)
    c.drawString(x0 + m, y, "TO:")
    # Every line of the address is printed (the state too): a long one makes the type smaller.
    recipient, size_to = _fit_lines(label.recipient_lines, "Helvetica-Bold", 12, inner - 6, min_size=8)
    if len(recipient) > 7:
        size_to = min(size_to, 10)
    c.setFont("Helvetica-Bold", size_to)
    for line in recipient[:10]:
        y -= size_to + 3
        c.drawString(x0 + m + 6, y, line)
    c.setFont("Helvetica", 9)
    y -= 22
    c.drawString(x0 + m, y, f"Order {label.order_number}")
    c.drawRightString(x0 + w - m, y, f"{label.weight_g / 1000:.3f} kg" if label.weight_g else "")
    barcode_top = y0 + 20 * mm + 22 * mm + 4
    logo = image_reader(label.logo)
    room = y - 6 - barcode_top
    if logo is not None and room >= 14:
        lw, lh = logo.getSize()
        scale = min(min(room, 40) / lh, min(inner * 0.6, 140) / lw)
        c.drawImage(logo, x0 + m, y - 6 - lh * scale, width=lw * scale, height=lh * scale, mask="auto")
    elif label.brand:
        y -= 12
        c.drawString(x0 + m, y, label.brand[:50])
    barcode = code128.Code128(label.tracking_number, barHeight=22 * mm, barWidth=0.33 * mm)
    bx = x0 + (w - barcode.width) / 2
    barcode.drawOn(c, max(bx, x0 + m), y0 + 20 * mm)
    c.setFont("Helvetica-Bold", 11)
    c.drawCentredString(x0 + w / 2, y0 + 13 * mm, label.tracking_number)


def render_label(label: LabelContent, *, size=LABEL_SIZE) -> bytes:
    buffer = io.BytesIO()
    c = canvas.Canvas(buffer, pagesize=size)
    c.setTitle(f"Label {label.tracking_number}")
    draw_label(c, label, size=size)
    c.showPage()
    c.save()
    return buffer.getvalue()


def render_label_sheet(label: LabelContent, *, quadrant: int = 0) -> bytes:
    """An A4 sheet with the label in one quadrant (0 top-left, 1 top-right, 2 bottom-left,
    3 bottom-right), for sheets of four sticky labels in an office printer."""
    buffer = io.BytesIO()
    c = canvas.Canvas(buffer, pagesize=A4)
    c.setTitle(f"Label {label.tracking_number}")
    w, h = A4[0] / 2, A4[1] / 2
    draw_label(c, label, origin=((quadrant % 2) * w, (1 - quadrant // 2) * h), size=(w, h))
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


def _pages(document: bytes):
    from pypdf import PdfReader

    return PdfReader(io.BytesIO(document)).pages


def zpl_file(shipments) -> tuple[bytes, int, int]:
    """The ZPL labels of `shipments` (in their order) as one file for a thermal printer, ZPL
    documents simply following one another. Returns (file, ZPL labels in it, other labels left out)."""
    parts, other = [], 0
    for shipment in shipments:
        if shipment.label_format != "zpl" or not shipment.label:
            other += bool(shipment.label)
            continue
        with shipment.label.open("rb") as f:
            parts.append(f.read().strip())
    return b"\n".join(parts) + (b"\n" if parts else b""), len(parts), other


def merge_labels(documents: list[bytes], *, layout: str = "a6") -> bytes:
    """The print file of many labels: "a6" keeps one label per page; "a4" puts four labels on
    each A4 sheet (top-left, top-right, bottom-left, bottom-right), scaled to fit.

    The sheets reuse each label page as a form XObject instead of merging content streams,
    which keeps 1,000 labels to about a second."""
    if layout != "a4":
        return merge_pdfs(documents)
    from pypdf import PdfWriter
    from pypdf.generic import ArrayObject, DictionaryObject, FloatObject, NameObject, StreamObject

    writer = PdfWriter()
    cell_w, cell_h = A4[0] / 2, A4[1] / 2
    sources = [page for document in documents for page in _pages(document)]
    for start in range(0, len(sources), 4):
        sheet = writer.add_blank_page(*A4)
        xobjects = DictionaryObject()
        ops = []
        for quadrant, src in enumerate(sources[start : start + 4]):
            box = [float(v) for v in src.mediabox]
            sw, sh = box[2] - box[0], box[3] - box[1]
            scale = min(cell_w / sw, cell_h / sh, 1.0)
            x = (quadrant % 2) * cell_w + (cell_w - sw * scale) / 2 - box[0] * scale
            y = (1 - quadrant // 2) * cell_h + (cell_h - sh * scale) / 2 - box[1] * scale
            contents = src.get("/Contents")
            contents = contents.get_object() if contents is not None else None
            if isinstance(contents, list | ArrayObject):
                data = b"\n".join(part.get_object().get_data() for part in contents)
            else:
                data = contents.get_data() if contents is not None else b""
            form = StreamObject()
            form.set_data(data)
            form.update(
                {
                    NameObject("/Type"): NameObject("/XObject"),
                    NameObject("/Subtype"): NameObject("/Form"),
                    NameObject("/BBox"): ArrayObject([FloatObject(v) for v in box]),
                    NameObject("/Resources"): src["/Resources"].clone(writer)
                    if "/Resources" in src
                    else DictionaryObject(),
                }
            )
            form = form.flate_encode()
            name = f"/Label{quadrant}"
            xobjects[NameObject(name)] = writer._add_object(form)
            ops.append(f"q {scale:.5f} 0 0 {scale:.5f} {x:.3f} {y:.3f} cm {name} Do Q")
        sheet[NameObject("/Resources")] = DictionaryObject({NameObject("/XObject"): xobjects})
        content = StreamObject()
        content.set_data("\n".join(ops).encode())
        sheet[NameObject("/Contents")] = writer._add_object(content)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@dataclass
class SlipContent:
    order_number: str
    channel: str
    ordered_at: str
    ship_to: list[str]
    # What the parcel holds: (sku, title, options, quantity) or (sku, title, options, quantity, image URL)
    lines: list[tuple]
    tracking_number: str = ""
    brand: str = ""
    sender_lines: list[str] | None = None
    gift_message: str = ""
    customer_note: str = ""


# Product pictures on packing slips come from the channels' image URLs: fetched with a short
# timeout and a size cap, each URL once per print file, and no longer than IMAGE_BUDGET_S in all
# (a bulk job of a thousand slips must not wait on a slow CDN). A picture that cannot be had is
# left out; the slip is printed all the same.
IMAGE_TIMEOUT_S = 3
IMAGE_MAX_BYTES = 2 * 1024 * 1024
IMAGE_BUDGET_S = 30


def fetch_image(
    url: str, *, timeout: float = IMAGE_TIMEOUT_S, max_bytes: int = IMAGE_MAX_BYTES, session=None
) -> bytes | None:
    """The bytes at an http(s) URL, or None: another scheme, an error status, a timeout, or
    more than `max_bytes` (read no further than that)."""
    import requests

    if not (url or "").lower().startswith(("http://", "https://")):
        return None
    http = session or requests
    try:
        with http.get(
            url, timeout=timeout, stream=True, headers={"Accept": "image/png,image/jpeg,image/*"}
        ) as r:
            if r.status_code != 200:
                return None
            if int(r.headers.get("Content-Length") or 0) > max_bytes:
                return None
            data = bytearray()
            for chunk in r.iter_content(64 * 1024):
                data += chunk
                if len(data) > max_bytes:
                    return None
            return bytes(data)
    except (requests.RequestException, ValueError):
        return None


class ImageFetcher:
    """url -> ImageReader or None, each URL fetched once, within one overall time budget."""

    def __init__(self, *, budget_s: float = IMAGE_BUDGET_S, fetch=fetch_image):
        import time

        import requests

        self._clock = time.monotonic
        self._deadline = self._clock() + budget_s
        self._fetch = fetch
        self._session = requests.Session()
        self._session.max_redirects = 3
        self._cache: dict[str, object] = {}

    def __call__(self, url: str):
        if not url:
            return None
        if url not in self._cache:
            if self._clock() > self._deadline:
                return None  # out of time: the rest of the slips print without pictures
            data = self._fetch(url, session=self._session) if self._fetch is fetch_image else self._fetch(url)
            self._cache[url] = image_reader(data)
        return self._cache[url]

    def close(self) -> None:
        self._session.close()


def render_packing_slips(slips: list[SlipContent], *, layout: str = "a6", images=None) -> bytes:
    """One page per parcel (A6, or A4 for an office printer): what is in it, each line with its
    picture when the channel gave one. `images` (url -> ImageReader or None) defaults to an
    ImageFetcher over HTTP."""
    own = images is None
    images = ImageFetcher() if own else images
    try:
        return _render_slips(slips, layout=layout, images=images)
    finally:
        if own:
            images.close()


def _render_slips(slips: list[SlipContent], *, layout: str, images) -> bytes:
    size = A4 if layout == "a4" else A6
    w, h = size
    m = 8 * mm
    buffer = io.BytesIO()
    c = canvas.Canvas(buffer, pagesize=size)
    c.setTitle("Packing slips")
    big = layout == "a4"
    text_size = 9 if big else 7
    thumb = 26 if big else 16  # the picture's square, in points
    for slip in slips:
        y = h - m - 6
        c.setFont("Helvetica-Bold", 16 if big else 11)
        c.drawString(m, y, (slip.brand or "Packing slip")[:48])
        c.setFont("Helvetica", text_size)
        c.drawRightString(w - m, y, f"Order {slip.order_number}"[:40])
        y -= 12
        c.drawRightString(w - m, y, f"{slip.channel} · {slip.ordered_at}"[:60])
        y -= 14 if big else 10
        c.setFont("Helvetica-Bold", text_size)
        c.drawString(m, y, "Ship to")
        c.setFont("Helvetica", text_size)
        for line in slip.ship_to[:10]:
            y -= 11 if big else 9
            c.drawString(m, y, line[:60])
        y -= 16 if big else 11
        c.setFont("Helvetica-Bold", text_size)
        c.drawString(m, y, "Qty")
        c.drawString(m + 28 + thumb + 6, y, "Item")
        c.line(m, y - 3, w - m, y - 3)
        c.setFont("Helvetica", text_size)
        bottom = m + 12 + (40 if (slip.gift_message or slip.customer_note) else 0)
        drawn = 0
        for sku, title, options, qty, *rest in slip.lines:
            picture = images(rest[0]) if rest and rest[0] else None
            row = max(thumb + 4 if picture is not None else 0, 12 if big else 10)
            if y - row < bottom:
                break
            y -= row
            c.drawString(m, y + (row - text_size) / 2 - 1 if picture is not None else y, str(qty))
            if picture is not None:
                iw, ih = picture.getSize()
                scale = min(thumb / iw, thumb / ih)
                c.drawImage(
                    picture,
                    m + 28 + (thumb - iw * scale) / 2,
                    y + 2,
                    width=iw * scale,
                    height=ih * scale,
                    mask="auto",
                )
            text = " · ".join(x for x in (title, options, sku) if x)
            c.drawString(
                m + 28 + thumb + 6,
                y + (row - text_size) / 2 - 1 if picture is not None else y,
                text[: 88 if big else 46],
            )
            drawn += 1
        if drawn < len(slip.lines):
            y -= 10
            c.drawString(m + 28 + thumb + 6, y, f"… and {len(slip.lines) - drawn} more lines")
        for heading, text in (("Gift message", slip.gift_message), ("Note", slip.customer_note)):
            if text and y > 40:
                y -= 16
                c.setFont("Helvetica-Bold", 8 if big else 7)
                c.drawString(m, y, heading)
                c.setFont("Helvetica-Oblique", 8 if big else 7)
                y -= 10
                c.drawString(m, y, " ".join(text.split())[: 95 if big else 55])
        if slip.tracking_number:
            c.setFont("Helvetica", 7)
            c.drawString(m, m, f"Tracking {slip.tracking_number}")
        c.showPage()
    if not slips:
        c.showPage()
    c.save()
    return buffer.getvalue()
