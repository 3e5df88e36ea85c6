"""Postal addresses as lines, in the order each country's post expects them.

One function for the order's shipping address, our own addresses and the parties on a label, so
the label, the portal, the purchase order and the admin all write an address the same way."""

from __future__ import annotations

# Where the postal code follows the town. The UK, Ireland and a few others put it on a line of its
# own; North America and Australia after the state ("Portland, OR 97201"); most of continental
# Europe and elsewhere before the town ("75011 Paris"), which is the default.
OWN_LINE = {"GB", "IE", "IM", "JE", "GG", "LV", "UA", "RU", "KR"}
AFTER_STATE = {"US", "CA", "AU", "PR", "GU", "VI"}


def address_lines(*, name: str = "", company: str = "", line1: str = "", line2: str = "", city: str = "",
                  state: str = "", postal_code: str = "", country: str = "") -> list[str]:
    """The non-empty lines of an address: name, company, street lines, the town line(s) in the
    destination country's order, and the country code last (carriers and staff read it there)."""
    country = (country or "").upper()
    if country in AFTER_STATE:
        town = [", ".join(x for x in (city, " ".join(x for x in (state, postal_code) if x)) if x)]
    elif country in OWN_LINE:
        town = [city, state, postal_code]
    else:
        town = [" ".join(x for x in (postal_code, city) if x), state]
    return [x for x in (name, company, line1, line2, *town, country) if x]
