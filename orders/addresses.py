"""Postal addresses as lines, in the order each country's post expects them.

One function for the order's shipping address, our own addresses and the parties on a label, so
the label, the portal, the purchase order and the admin all write an address the same way."""

from __future__ import annotations

import re

# Where the postal code follows the town. The UK, Ireland and a few others put it on a line of its
# own; North America and Australia after the state ("Portland, OR 97201"); most of continental
# Europe and elsewhere before the town ("75011 Paris"), which is the default.
OWN_LINE = {"GB", "IE", "IM", "JE", "GG", "LV", "UA", "RU", "KR"}
AFTER_STATE = {"US", "CA", "AU", "PR", "GU", "VI"}
# Channels hand over address fields with line breaks in them ("Flat 2\nRose House"): each part is a
# line of its own. Other control characters (a tab, a NUL) print as a black box: a space instead.
_BREAKS = re.compile(r"\r\n|[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _parts(value: str) -> list[str]:
    """A field's lines: split at line breaks, control characters made spaces, blanks dropped."""
    parts = (" ".join(_CONTROL.sub(" ", part).split()) for part in _BREAKS.split(value or ""))
    return [p for p in parts if p]


def _one_line(value: str) -> str:
    return ", ".join(_parts(value))


def address_lines(
    *,
    name: str = "",
    company: str = "",
    line1: str = "",
    line2: str = "",
    city: str = "",
    state: str = "",
    postal_code: str = "",
    country: str = "",
) -> list[str]:
    """The non-empty lines of an address: name, company, street lines, the town line(s) in the
    destination country's order, and the country code last (carriers and staff read it there)."""
    country = _one_line(country).upper()
    # The town line's parts are kept on one line each (a break inside a city name is noise);
    # the free-text fields keep their breaks as lines of their own.
    city, state, postal_code = _one_line(city), _one_line(state), _one_line(postal_code)
    if country in AFTER_STATE:
        town = [", ".join(x for x in (city, " ".join(x for x in (state, postal_code) if x)) if x)]
    elif country in OWN_LINE:
        town = [city, state, postal_code]
    else:
        town = [" ".join(x for x in (postal_code, city) if x), state]
    free = [part for field in (name, company, line1, line2) for part in _parts(field)]
    return [x for x in (*free, *town, country) if x]
