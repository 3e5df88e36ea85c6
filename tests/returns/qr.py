"""Reading back the QR codes carriers hand out, to check what they encode: the PNG's pixels,
sampled at the centre of each module, against the symbol segno builds for the expected text."""

from __future__ import annotations

import struct
import zlib

import segno

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(png: bytes) -> tuple[int, int]:
    assert png.startswith(PNG_SIGNATURE) and png[12:16] == b"IHDR"
    return struct.unpack(">II", png[16:24])


def _pixels(png: bytes) -> list[list[int]]:
    """1 for a dark pixel. Greyscale PNGs without interlacing (what segno writes); anything else
    fails loudly rather than reading wrong."""
    width, height = png_size(png)
    bit_depth, colour_type, _, _, interlace = png[24:29]
    assert (colour_type, interlace) == (0, 0) and bit_depth in (1, 8), (bit_depth, colour_type, interlace)
    data, pos = b"", 8
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos : pos + 8])
        if kind == b"IDAT":
            data += png[pos + 8 : pos + 8 + length]
        pos += 12 + length
    raw = zlib.decompress(data)
    stride = (width * bit_depth + 7) // 8
    rows, previous = [], bytes(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):  # undo the row filter (one byte a pixel group at these depths)
            left, up = line[i - 1] if i else 0, previous[i]
            up_left = previous[i - 1] if i else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - up_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else up_left)) & 0xFF
        previous = bytes(line)
        if bit_depth == 1:
            rows.append([0 if (line[x // 8] >> (7 - x % 8)) & 1 else 1 for x in range(width)])
        else:
            rows.append([1 if line[x] < 128 else 0 for x in range(width)])
    return rows


def encodes(png: bytes, text: str) -> bool:
    """Whether the PNG shows exactly the QR symbol of `text` (any scale, any quiet zone)."""
    symbol = segno.make(text, error="m", micro=False)
    modules = [[1 if m else 0 for m in row] for row in symbol.matrix]
    pixels = _pixels(png)
    width, _ = png_size(png)
    # The quiet zone is light: the first dark pixel of the top-left finder pattern gives the border.
    first_dark = next(y for y, row in enumerate(pixels) if any(row))
    scale = (width - 2 * first_dark) // len(modules)
    if scale < 1 or first_dark + scale * len(modules) > width:
        return False
    return all(
        pixels[first_dark + r * scale + scale // 2][first_dark + c * scale + scale // 2] == modules[r][c]
        for r in range(len(modules))
        for c in range(len(modules))
    )
