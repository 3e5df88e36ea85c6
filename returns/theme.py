"""A brand's colours made safe and readable for the portal: only #rrggbb reaches the CSS, and
every text colour is chosen or darkened until it meets WCAG AA contrast (4.5:1)."""

from __future__ import annotations

import re

HEX = re.compile(r"^#([0-9a-fA-F]{6})$")
WHITE, INK = "#ffffff", "#1a1a1a"
AA = 4.5


def clean(value: str, fallback: str) -> str:
    value = (value or "").strip()
    if re.fullmatch(r"#[0-9a-fA-F]{3}", value):
        value = "#" + "".join(c * 2 for c in value[1:])
    return value.lower() if HEX.match(value) else fallback


def _rgb(value: str) -> tuple[int, int, int]:
    return int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16)


def luminance(value: str) -> float:
    def channel(c: int) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in _rgb(value))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def text_on(background: str) -> str:
    """White or near-black, whichever reads better on `background`."""
    return WHITE if contrast(WHITE, background) >= contrast(INK, background) else INK


def darken_until_readable(colour: str, background: str = WHITE, ratio: float = AA) -> str:
    """`colour`, darkened in small steps until it reaches `ratio` against `background`."""
    r, g, b = _rgb(colour)
    for _ in range(60):
        candidate = f"#{r:02x}{g:02x}{b:02x}"
        if contrast(candidate, background) >= ratio:
            return candidate
        r, g, b = int(r * 0.92), int(g * 0.92), int(b * 0.92)
    return INK


def readable_pair(background: str) -> tuple[str, str]:
    """(background, text) for a filled area: the brand colour with white or ink text, or, for a
    mid-tone neither reads on, the colour darkened until white text does."""
    text = text_on(background)
    if contrast(text, background) >= AA:
        return background, text
    return darken_until_readable(background, WHITE), WHITE


def for_brand(brand) -> dict[str, str]:
    primary, on_primary = readable_pair(clean(brand.primary_color, "#1f4e79"))
    accent, on_accent = readable_pair(clean(brand.accent_color, "#f2b134"))
    return {
        "primary": primary,
        "on_primary": on_primary,
        "accent": accent,
        "on_accent": on_accent,
        # Links and focus rings sit on the white page: the brand colour, as dark as it must be.
        "link": darken_until_readable(primary),
    }
