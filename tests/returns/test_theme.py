"""Brand colours: only hex reaches the CSS, and text always meets WCAG AA contrast."""

import pytest

from returns import theme
from tests.factories import BrandFactory


@pytest.mark.parametrize(
    "primary",
    ["#ffffff", "#ffe600", "#808080", "#777777", "#1f4e79", "#ff0000", "#00ff00", "#000000", "#abc"],
)
def test_text_on_the_brand_colour_and_links_on_white_meet_aa(db, primary):
    colours = theme.for_brand(BrandFactory.build(primary_color=primary, accent_color=primary))
    assert theme.contrast(colours["primary"], colours["on_primary"]) >= 4.5
    assert theme.contrast(colours["accent"], colours["on_accent"]) >= 4.5
    assert theme.contrast(colours["link"], "#ffffff") >= 4.5


def test_a_readable_brand_colour_is_kept_as_it_is():
    assert theme.readable_pair("#1f4e79") == ("#1f4e79", "#ffffff")
    assert theme.readable_pair("#ffe600") == ("#ffe600", "#1a1a1a")


@pytest.mark.parametrize("value", ["red", "#12345", "#1234567", "url(x)", "", None])
def test_anything_but_hex_falls_back(value):
    assert theme.clean(value, "#010203") == "#010203"


def test_known_contrast_values():
    assert round(theme.contrast("#000000", "#ffffff"), 1) == 21.0
    assert round(theme.contrast("#767676", "#ffffff"), 2) == 4.54
