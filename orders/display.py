"""How a line's options read on pages and in emails customers see. A value that is a web address
(a personalisation preview, an uploaded design) is a link labelled "your customisation", not a raw
URL; any other value is text."""

from __future__ import annotations

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _


def is_web_address(value) -> bool:
    return isinstance(value, str) and value.strip().lower().startswith(("https://", "http://"))


def options_html(options: dict | None) -> SafeString:
    """`Colour: Blue, Design: <a …>your customisation</a>` (escaped; only http(s) links)."""
    return format_html_join(
        ", ",
        "{}: {}",
        (
            (
                key,
                format_html(
                    '<a href="{}" target="_blank" rel="noopener noreferrer">{}</a>',
                    value.strip(),
                    _("your customisation"),
                )
                if is_web_address(value)
                else value,
            )
            for key, value in (options or {}).items()
        ),
    )
