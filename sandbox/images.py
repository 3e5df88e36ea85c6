"""Product pictures for every sandbox channel. The generated orders and catalogues point at these
(under the site's own address, SITE_URL) instead of CDN hosts that do not exist, so the demo's order
lines, packing slips and emails show real thumbnails. Each picture is a coloured tile: the same key
always gives the same colour."""

from __future__ import annotations

import colorsys
import io
import zlib
from functools import lru_cache

from django.conf import settings
from django.http import Http404, HttpResponse
from django.views.decorators.cache import cache_control

KINDS = ("etsy", "shopify", "ebay", "amazon", "ecwid")


def url(kind: str, key: str) -> str:
    """The address a generated payload gives for a product picture: `key` is the file's path in the
    shape the channel's CDN uses (e.g. eBay's `…/295000000102/s-l500.jpg`), ending in .jpg."""
    return f"{settings.SITE_URL.rstrip('/')}/sandbox/images/{kind}/{key}"


def hue_of(key: str) -> int:
    return zlib.crc32(key.encode()) % 360


@lru_cache(maxsize=256)
def jpeg_tile(hue: int) -> bytes:
    from PIL import Image

    r, g, b = (int(c * 255) for c in colorsys.hls_to_rgb(hue / 360, 0.55, 0.45))
    out = io.BytesIO()
    Image.new("RGB", (170, 135), (r, g, b)).save(out, "JPEG", quality=80)
    return out.getvalue()


@cache_control(public=True, max_age=86400)
def image(request, kind: str, key: str):
    if kind not in KINDS or not key.endswith(".jpg"):
        raise Http404("No such channel")
    return HttpResponse(jpeg_tile(hue_of(key)), content_type="image/jpeg")
